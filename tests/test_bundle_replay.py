"""`check --from-bundle` reproduces the original run on every host scenario of tests/test_scenarios.

Each scenario of ``tests/test_scenarios.py`` is run here with its ``invoke`` swapped for one that
runs the installed ``kyudoctor bundle -o FILE`` (same options, same fake machine) instead of
``kyudoctor check``: the scenario's own assertions then hold for the report ``bundle`` prints,
which proves it is the report ``check`` gives. The redacted bundle is then replayed with
``check --from-bundle`` under an empty PATH, a HOME that does not exist and no network (nothing
may be probed), and the replay must give the same checks with the same statuses and the same
findings, in the same order, with the same severities and messages. One bundle run per scenario
run, not a check run besides: the suite stays close to the scenarios' own time.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped, unused-ignore]  # no stubs installed
import pytest

from kyudoctor.cli import main
from tests import scenarios, test_scenarios
from tests.reportschema import schema, validate_report
from tests.scenarios import Host, Result
from tests.test_scenarios import elves  # noqa: F401 - the session fixture the scenarios take

SCENARIOS = sorted(
    name
    for name, value in vars(test_scenarios).items()
    if name.startswith("test_") and inspect.isfunction(value)
)
OPTIONS_WITH_VALUE = ("--timeout", "--fail-on", "--python", "--pyproject", "--select", "--ignore")

pytestmark = test_scenarios.pytestmark


def validate_bundle(data: Any) -> None:
    """Raise when ``data`` is not a valid kyudoctor.bundle/1 (its report a valid report)."""
    jsonschema.Draft202012Validator(schema("bundle.schema.json")).validate(data)
    validate_report(data["report"])


def shape(report: dict[str, Any]) -> dict[str, Any]:
    """What a replay must reproduce: statuses per check, findings in order, the exit status."""
    return {
        "checks": [(c["id"], c["status"]) for c in report["checks"]],
        "findings": [
            (f["code"], f["severity"], f["check"], f["ignored"], f["message"])
            for f in report["findings"]
        ],
        "exit_code": report["exit_code"],
    }


@contextlib.contextmanager
def offline(monkeypatch: pytest.MonkeyPatch, root: Path) -> Iterator[None]:
    """No PATH, a HOME that does not exist, and no way to open a socket: nothing to probe."""
    import socket

    def no_network(*args: Any, **kwargs: Any) -> Any:
        raise OSError("network unreachable (the replay must not connect)")

    with monkeypatch.context() as patch:
        patch.setenv("PATH", "")
        patch.setenv("HOME", str(root / "no-such-home"))
        patch.setattr(socket, "create_connection", no_network)
        patch.setattr(socket.socket, "connect", no_network)
        patch.setattr("kyudoctor.api.run_probes", no_probe)
        yield


def no_probe(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("a replay ran a probe")


def replay(bundle: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    """``kyudoctor check --from-bundle BUNDLE --format json ARGS`` in-process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["check", "--from-bundle", str(bundle), "--format", "json", *args])
    assert "Traceback" not in err.getvalue(), err.getvalue()
    return code, json.loads(out.getvalue()), err.getvalue()


run_kyudoctor = scenarios.invoke
"""The scenarios' own runner, taken before the tests below put :func:`bundling_invoke` in its
place."""


def bundling_invoke(monkeypatch: pytest.MonkeyPatch, runs: list[str]) -> Callable[..., Result]:
    """An ``invoke`` for the scenarios that runs ``kyudoctor bundle`` and checks its replay."""

    def invoke(
        host: Host,
        *args: str,
        fmt: str = "json",
        env: dict[str, str] | None = None,
        timeout: float = 60,
        python_arg: bool = True,
    ) -> Result:
        bundle = host.root / f"bundle-{len(runs)}.json"
        result = run_kyudoctor(
            host,
            *args,
            fmt=fmt,
            env=env,
            timeout=timeout,
            python_arg=python_arg,
            command=("bundle", "-o", str(bundle)),
        )
        assert result.exit_code in (0, 1, 3), result.stderr
        assert f"bundle written to {bundle}" in result.stderr, result.stderr
        report = result.report
        data = json.loads(bundle.read_text(encoding="utf-8"))
        validate_bundle(data)
        assert data["redacted"] is True
        # The fake HOME never shows: the bundle says ~.
        assert str(host.home) not in bundle.read_text(encoding="utf-8")
        original = data["report"] if report is None else report
        fail_on = [a for i, a in enumerate(args) if i and args[i - 1] == "--fail-on"]
        with offline(monkeypatch, host.root):
            code, replayed, stderr = replay(bundle, *(["--fail-on", *fail_on] if fail_on else []))
        validate_report(replayed)
        assert shape(replayed) == shape(data["report"])
        assert shape(replayed)["checks"] == shape(original)["checks"]
        assert [f[:4] for f in shape(replayed)["findings"]] == [
            f[:4] for f in shape(original)["findings"]
        ]
        assert code == replayed["exit_code"] == result.exit_code
        assert "no probe runs" in stderr
        runs.append(bundle.name)
        return result

    return invoke


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_replay_reproduces_the_scenario(
    scenario: str,
    tmp_path: Path,
    elves: test_scenarios.Elves,  # noqa: F811 - the fixture imported above
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The scenario holds for `kyudoctor bundle`'s report, and its replay gives the same
    statuses, codes, severities and messages, offline."""
    runs: list[str] = []
    invoke = bundling_invoke(monkeypatch, runs)
    monkeypatch.setattr(scenarios, "invoke", invoke)
    monkeypatch.setattr(test_scenarios, "invoke", invoke)
    function = getattr(test_scenarios, scenario)
    available = {"tmp_path": tmp_path, "elves": elves}
    function(**{name: available[name] for name in inspect.signature(function).parameters})
    assert runs, f"{scenario} ran no check"
