"""Support bundles: made by the installed `kyudoctor bundle`, read back or refused in one line,
replayed with the same codes on every server scenario (the real simulator, hostile servers, TLS,
a moshi-server still starting) of tests/probes/test_server_probe.py and every hostile server of
tests/test_session.py, and replayed by a newer kyudoctor when the bundle lacks a probe."""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import io
import json
import os
import re
import socket
import stat
import subprocess
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped, unused-ignore]  # no stubs installed
import pytest

from kyudoctor import __version__, rules
from kyudoctor import bundle as bundles
from kyudoctor.api import CheckOptions, run_check
from kyudoctor.checks import (  # type: ignore[import-not-found, unused-ignore]  # mapped dir
    cuda_nvcc,
    env_platform,
    gpu_capability,
    gpu_driver,
    gpu_driver_cuda,
    torch_wheel,
)
from kyudoctor.cli import main
from kyudoctor.errors import UsageError
from kyudoctor.model import Check, Report, Status
from kyudoctor.probes.server import probe as server_probe
from kyudoctor.runner import ProbeOutcome, run_checks, run_probes
from tests import hostile
from tests import test_session as session_scenarios
from tests.healthy import facts as healthy_facts
from tests.probes import test_server_probe as server_scenarios
from tests.reportschema import schema, validate_report
from tests.scenarios import KYUDOCTOR

HOST_CHECKS: tuple[Check, ...] = tuple(
    m.CHECK
    for m in (env_platform, gpu_driver, gpu_capability, gpu_driver_cuda, cuda_nvcc, torch_wheel)
)
TARGETS: dict[str, Any] = {
    "python": "/srv/tts/.venv/bin/python",
    "urls": [],
    "config": None,
    "pyproject": None,
}


def validate_bundle(data: Any) -> None:
    """Raise when ``data`` is not a valid kyudoctor.bundle/1 (its report a valid report)."""
    jsonschema.Draft202012Validator(schema("bundle.schema.json")).validate(data)
    validate_report(data["report"])


def shape(report: Report) -> dict[str, Any]:
    """Statuses per check, findings in order with severity, the exit status."""
    return {
        "checks": [(c.id, c.status.value) for c in report.checks],
        "findings": [(f.code, f.severity.value, f.check, f.ignored) for f in report.findings],
        "exit_code": report.exit_code,
    }


def outcomes_of(probe_facts: Mapping[str, Any]) -> dict[str, ProbeOutcome]:
    """Probe outcomes from facts (None: that probe timed out)."""
    return {
        name: ProbeOutcome(name, Status.OK, value, 12.5)
        if value is not None
        else ProbeOutcome(name, Status.TIMEOUT, None, 2000.0, error="did not finish within 2 s")
        for name, value in probe_facts.items()
    }


def made(probe_facts: Mapping[str, Any], **options: Any) -> tuple[Report, dict[str, Any]]:
    """The report of ``probe_facts`` under HOST_CHECKS and the bundle of that run."""
    opts = CheckOptions(env={"HOME": "/home/kyu", "USER": "kyu"}, **options)
    outcomes = outcomes_of(probe_facts)
    report = run_check(opts, checks=HOST_CHECKS, outcomes=outcomes, targets=TARGETS)
    return report, bundles.create(opts, outcomes, report, hostname="gpu-node-7")


@pytest.fixture
def cpu_torch_bundle(tmp_path: Path) -> tuple[Report, Path]:
    """A bundle of a host whose torch is a CPU build (TORCH002) and whose nvcc probe timed out."""
    probe_facts = healthy_facts()
    probe_facts["python"]["torch"].update(version="2.9.1+cpu", cuda=None)
    probe_facts["python"]["distributions"]["torch"]["version"] = "2.9.1+cpu"
    probe_facts["nvcc"] = None
    report, data = made(probe_facts)
    path = tmp_path / "bundle.json"
    path.write_text(bundles.dumps(data), encoding="utf-8")
    return report, path


def run_cli(*argv: str) -> tuple[int, str, str]:
    """The CLI in-process: exit status, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


# -- replay ----------------------------------------------------------------------------------


def test_replay_gives_the_original_codes_and_statuses(
    cpu_torch_bundle: tuple[Report, Path],
) -> None:
    """Replaying a bundle gives the original run's statuses (a timeout stays a timeout) and
    findings, in order."""
    report, path = cpu_torch_bundle
    replayed = bundles.replay(bundles.load(str(path)), checks=HOST_CHECKS)
    assert shape(replayed) == shape(report)
    assert ("torch.wheel", "error") in shape(replayed)["checks"]
    assert ("cuda.nvcc", "timeout") in shape(replayed)["checks"]
    assert replayed.targets == TARGETS


def test_replay_honours_selection_options(cpu_torch_bundle: tuple[Report, Path]) -> None:
    """--only, --ignore and --fail-on given to the replay replace the bundle's own."""
    _, path = cpu_torch_bundle
    loaded = bundles.load(str(path))
    only = bundles.replay(loaded, checks=HOST_CHECKS, only=["torch.wheel"])
    assert [c.id for c in only.checks] == ["torch.wheel"]
    ignored = bundles.replay(loaded, checks=HOST_CHECKS, ignore=frozenset({"TORCH002"}))
    torch002 = [f for f in ignored.findings if f.code == "TORCH002"]
    assert torch002 and all(f.ignored for f in torch002)
    assert ignored.exit_code == 3  # the nvcc timeout is all that is left
    never = bundles.replay(loaded, checks=HOST_CHECKS, fail_on="never")
    assert never.exit_code == 3


def test_replay_runs_no_probe(
    cpu_torch_bundle: tuple[Report, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The replay never calls run_probes: the rules judge the bundle's facts only."""
    report, path = cpu_torch_bundle

    def no_probe(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a replay ran a probe")

    monkeypatch.setattr("kyudoctor.api.run_probes", no_probe)
    assert shape(bundles.replay(bundles.load(str(path)), checks=HOST_CHECKS)) == shape(report)


def test_installed_command_replays_with_no_path_no_home_no_network(tmp_path: Path) -> None:
    """`kyudoctor bundle` then `kyudoctor check --from-bundle` in real processes: the replay,
    with an empty PATH, a HOME that does not exist and no proxy or DNS, gives the same codes."""
    path = tmp_path / "b.json"
    made_run = subprocess.run(
        [str(KYUDOCTOR), "bundle", "-o", str(path), "--only", "env,gpu", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert made_run.returncode in (0, 1), made_run.stderr
    original = json.loads(made_run.stdout)
    env = {"PATH": "", "HOME": str(tmp_path / "nowhere"), "LANG": "C.UTF-8"}
    replayed = subprocess.run(
        [str(KYUDOCTOR), "check", "--from-bundle", str(path), "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    data = json.loads(replayed.stdout)
    validate_report(data)
    assert [(c["id"], c["status"]) for c in data["checks"]] == [
        (c["id"], c["status"]) for c in original["checks"]
    ]
    assert [f["code"] for f in data["findings"]] == [f["code"] for f in original["findings"]]
    assert replayed.returncode == made_run.returncode == data["exit_code"]
    assert replayed.stderr.startswith(f"replaying {path}: made by kyudoctor ")


def test_bundle_from_an_older_kyudoctor_is_read(cpu_torch_bundle: tuple[Report, Path]) -> None:
    """A bundle of the same schema from an older kyudoctor, without a probe checks now need, is
    replayed: those checks are skipped "not in the bundle", the others judged as before."""
    report, path = cpu_torch_bundle
    data = json.loads(path.read_text(encoding="utf-8"))
    data["kyudoctor_version"] = "0.0.9"
    del data["probes"]["gpu"]
    data["probes"]["a-probe-of-the-future"] = {
        "status": "ok",
        "duration_ms": 1.0,
        "facts": {"x": 1},
        "error": None,
        "traceback": None,
    }
    replayed = bundles.replay(bundles.parse(json.dumps(data)), checks=HOST_CHECKS)
    status = {c.id: c for c in replayed.checks}
    for check_id in ("gpu.driver", "gpu.capability", "gpu.driver_cuda"):
        assert status[check_id].status is Status.SKIPPED
        assert status[check_id].summary.startswith("not in the bundle")
    assert status["torch.wheel"].status is Status.ERROR
    assert "TORCH002" in [f.code for f in replayed.findings]
    assert [c for c in shape(replayed)["checks"] if not c[0].startswith("gpu.")] == [
        c for c in shape(report)["checks"] if not c[0].startswith("gpu.")
    ]


# -- refused in one line ---------------------------------------------------------------------


def valid_text() -> str:
    """A real bundle's text (healthy facts)."""
    return bundles.dumps(made(healthy_facts())[1])


BROKEN: list[tuple[str, Callable[[str], bytes], str]] = [
    ("not JSON", lambda good: b"hello\n", "not valid JSON at line 1 column 1"),
    ("empty", lambda good: b"", "not valid JSON"),
    ("truncated", lambda good: good[: len(good) // 2].encode(), "truncated?"),
    ("binary", lambda good: b"\x00\xff\xfe\x89PNG" * 50, "not UTF-8 text"),
    ("a list", lambda good: b"[1, 2]", "not a kyudoctor bundle (a JSON list)"),
    ("nested", lambda good: b"[" * 200000 + b"]" * 200000, "nested too deeply"),
    (
        "a report",
        lambda good: json.dumps({"schema": "kyudoctor.report/1"}).encode(),
        "a kyudoctor report, not a bundle",
    ),
    ("no schema", lambda good: b'{"probes": {}}', 'not a kyudoctor bundle (no "schema"'),
    (
        "newer",
        lambda good: (
            good.replace("kyudoctor.bundle/1", "kyudoctor.bundle/2")
            .replace(f'"kyudoctor_version": "{__version__}"', '"kyudoctor_version": "9.0.0"')
            .encode()
        ),
        "bundle schema kyudoctor.bundle/2 (written by kyudoctor 9.0.0) is newer than this "
        f"kyudoctor {__version__} reads (kyudoctor.bundle/1); upgrade kyudoctor",
    ),
    (
        "older",
        lambda good: good.replace("kyudoctor.bundle/1", "kyudoctor.bundle/0").encode(),
        f"bundle schema kyudoctor.bundle/0 (written by kyudoctor {__version__}) is older than this",
    ),
    (
        "unknown schema",
        lambda good: good.replace("kyudoctor.bundle/1", "kyudoctor.bundle/next").encode(),
        "unknown bundle schema 'kyudoctor.bundle/next'",
    ),
    (
        "bad status",
        lambda good: good.replace('"status": "ok"', '"status": "fine"', 1).encode(),
        "not a valid kyudoctor.bundle/1 bundle: probes.",
    ),
    (
        "no report",
        lambda good: good.replace('"report": {', '"rapport": {').encode(),
        "report.targets is missing",
    ),
]


@pytest.mark.parametrize(("make", "expected"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_unreadable_bundle_is_one_line_exit_2(
    tmp_path: Path, make: Callable[[str], bytes], expected: str
) -> None:
    """A file that is not a bundle this kyudoctor reads: exit 2, one line naming the file."""
    path = tmp_path / "bundle.json"
    path.write_bytes(make(valid_text()))
    code, out, err = run_cli("check", "--from-bundle", str(path), "--format", "json")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"kyudoctor: --from-bundle {path}: ")
    assert expected in err, err


def test_places_that_are_no_bundle_file(tmp_path: Path) -> None:
    """A missing file, a directory, a FIFO and a file above the size cap: exit 2, one line."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    huge = tmp_path / "huge.json"
    with huge.open("wb") as handle:  # sparse: nothing is written to disk
        handle.truncate(bundles.MAX_BYTES + 1)
    cases = {
        tmp_path / "none.json": "no such file",
        tmp_path: "is a directory",
        fifo: "not a regular file",
        huge: "larger than the 64 MB a bundle may be; not read",
    }
    for path, expected in cases.items():
        code, _, err = run_cli("check", "--from-bundle", str(path))
        assert code == 2 and err.count("\n") == 1 and expected in err, (path, err)


def test_bundle_with_a_bom_and_from_stdin_is_read(tmp_path: Path) -> None:
    """A bundle saved with a UTF-8 BOM is read; `--from-bundle -` reads standard input."""
    text = valid_text()
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert bundles.load(str(path)).schema == bundles.SCHEMA
    assert bundles.load("-", stdin=io.BytesIO(text.encode())).kyudoctor_version == __version__
    with pytest.raises(UsageError, match="larger than 64 MB"):
        bundles.load("-", stdin=io.BytesIO(b" " * (bundles.MAX_BYTES + 1)))


def test_replay_output_file_never_over_the_bundle(cpu_torch_bundle: tuple[Report, Path]) -> None:
    """--output takes the replayed report; naming the bundle itself is refused, nothing written."""
    _, path = cpu_torch_bundle
    before = path.read_bytes()
    out = path.parent / "replayed.json"
    code, stdout, _ = run_cli(
        "check",
        "--from-bundle",
        str(path),
        "--only",
        "env",
        "--format",
        "json",
        "--output",
        str(out),
    )
    report = json.loads(out.read_text(encoding="utf-8"))
    validate_report(report)
    assert code == report["exit_code"] and "report written to" in stdout
    assert [c["id"] for c in report["checks"]][0] == "env.platform"
    code, _, err = run_cli("check", "--from-bundle", str(path), "--output", str(path))
    assert code == 2 and "is one of the inputs" in err
    assert path.read_bytes() == before


def test_probe_options_are_ignored_with_a_note(cpu_torch_bundle: tuple[Report, Path]) -> None:
    """--url or --python beside --from-bundle change nothing and are named on stderr."""
    _, path = cpu_torch_bundle
    code, out, err = run_cli(
        "check", "--from-bundle", str(path), "--url", "ws://example.invalid/x", "--only", "env"
    )
    assert "ignored with --from-bundle: --url" in err
    assert "env.platform" in out and code in (0, 1)


# -- the bundle command ----------------------------------------------------------------------


def bundle_cli(tmp_path: Path, *args: str, env: Mapping[str, str] | None = None) -> Any:
    """The installed `kyudoctor bundle --only env.platform ARGS` in ``tmp_path``."""
    return subprocess.run(
        [str(KYUDOCTOR), "bundle", "--only", "env.platform", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


def test_default_file_name_mode_and_messages(tmp_path: Path) -> None:
    """Without -o: kyudoctor-bundle-<host-hash>-<date>.json here, readable by its owner only,
    the host name nowhere in it; the report on stdout, where and what was redacted on stderr."""
    proc = bundle_cli(tmp_path)
    assert proc.returncode in (0, 1), proc.stderr
    (path,) = tmp_path.glob("kyudoctor-bundle-*.json")
    digest = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
    assert re.fullmatch(rf"kyudoctor-bundle-{digest}-\d{{8}}-\d{{6}}\.json", path.name)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text(encoding="utf-8"))
    validate_bundle(data)
    assert data["host"]["hash"] == digest
    assert "env.platform" in proc.stdout
    lines = proc.stderr.splitlines()
    assert lines[0] == f"bundle written to {path.name}"
    assert lines[1].startswith("redacted: ")
    again = bundle_cli(tmp_path)  # a second bundle in the same second gets its own name
    assert again.returncode == proc.returncode
    assert len(list(tmp_path.glob("kyudoctor-bundle-*.json"))) == 2


def test_bundle_to_stdout(tmp_path: Path) -> None:
    """-o - writes the bundle alone on stdout (the report is not mixed into it)."""
    proc = bundle_cli(tmp_path, "-o", "-")
    data = json.loads(proc.stdout)
    validate_bundle(data)
    assert proc.stderr.splitlines()[0] == "bundle written to standard output"
    assert list(tmp_path.iterdir()) == []


def test_never_over_an_input_or_the_report(tmp_path: Path) -> None:
    """-o naming an input file or the --output file is refused: exit 2, nothing written."""
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "moshi-server"\n')
    proc = bundle_cli(tmp_path, "--pyproject", str(pyproject), "-o", str(pyproject))
    assert proc.returncode == 2 and "is one of the inputs" in proc.stderr
    assert pyproject.read_text() == '[project]\nname = "moshi-server"\n'
    same = bundle_cli(tmp_path, "--output", "r.json", "-o", "r.json")
    assert same.returncode == 2 and "is the --output file too" in same.stderr
    missing = bundle_cli(tmp_path, "-o", str(tmp_path / "no" / "b.json"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pyproject.toml"]


def test_no_redact_says_so_and_still_masks_secrets(tmp_path: Path) -> None:
    """--no-redact keeps the home directory and says so, top level and header; the API key is
    masked anyway."""
    key = "kd-NOREDACT-KEY-51c0"
    proc = bundle_cli(tmp_path, "--no-redact", "--api-key", key, "-o", "b.json")
    text = (tmp_path / "b.json").read_text(encoding="utf-8")
    data = json.loads(text)
    validate_bundle(data)
    assert data["redacted"] is False and data["redaction"]["enabled"] is False
    assert data["redaction"]["classes"]["home"]["how"] == "not redacted (--no-redact)"
    assert os.path.expanduser("~") in text
    assert key not in text and key not in proc.stdout + proc.stderr
    assert data["options"]["extra"]["api_key"] == {"source": "--api-key", "length": len(key)}
    assert "NOT redacted (--no-redact)" in proc.stderr


# -- every server scenario, replayed ---------------------------------------------------------


def expand(function: Callable[..., Any]) -> list[tuple[str, dict[str, Any]]]:
    """The cases of a test function: one per parameter set of its parametrize marks."""
    cases: list[tuple[str, dict[str, Any]]] = [("", {})]
    for mark in getattr(function, "pytestmark", []):
        if mark.name != "parametrize":
            continue
        names = mark.args[0]
        names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
        ids = mark.kwargs.get("ids")
        expanded = []
        for index, values in enumerate(mark.args[1]):
            values = getattr(values, "values", values)
            row = dict(zip(names, values if len(names) > 1 else (values,), strict=True))
            label = ids[index] if ids else "-".join(str(v) for v in row.values())
            for prefix, kwargs in cases:
                expanded.append((f"{prefix}{label}", {**kwargs, **row}))
        cases = expanded
    return cases


SERVER_CASES = [
    (f"{name}[{label}]" if label else name, name, kwargs)
    for name, function in sorted(vars(server_scenarios).items())
    if name.startswith("test_")
    and inspect.isfunction(function)
    and "report" in function.__code__.co_names
    for label, kwargs in expand(function)
]


def assert_replays_alike(
    opts: Mapping[str, Any],
    env: Mapping[str, str],
    outcomes: Mapping[str, ProbeOutcome],
    original: Report,
) -> Report:
    """Bundle a server run as `kyudoctor bundle` does, read it back, replay it, and assert the
    replay's statuses, findings and messages are the original's; return the replay."""
    options = CheckOptions(extra=dict(opts), env=env)
    text = bundles.dumps(bundles.create(options, outcomes, original, env=env))
    assert server_scenarios.KEY not in text
    data = json.loads(text)
    validate_bundle(data)
    replayed = bundles.replay(bundles.parse(text), checks=server_scenarios.CHECKS)
    assert shape(replayed) == shape(original)
    assert [f.message for f in replayed.findings] == [
        f["message"] for f in data["report"]["findings"]
    ]
    return replayed


@pytest.fixture
def bundled_server_reports(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every report of a server scenario is bundled, read back and replayed; returns the codes
    of each replay."""
    replays: list[str] = []
    recorded: list[tuple[Mapping[str, Any], Mapping[str, ProbeOutcome]]] = []
    run_probes = getattr(server_scenarios, "run_probes")  # noqa: B009 - imported there, not exported
    report = server_scenarios.report

    def recording_run_probes(*args: Any, **kwargs: Any) -> Any:
        outcomes = run_probes(*args, **kwargs)
        recorded.append((kwargs.get("env") or {}, outcomes))
        return outcomes

    def bundled_report(opts: Mapping[str, Any], *args: Any, **kwargs: Any) -> Report:
        original = report(opts, *args, **kwargs)
        env, outcomes = recorded[-1]
        replayed = assert_replays_alike(opts, env, outcomes, original)
        replays.append(",".join(f.code for f in replayed.findings))
        return original

    monkeypatch.setattr(server_scenarios, "run_probes", recording_run_probes)
    monkeypatch.setattr(server_scenarios, "report", bundled_report)
    yield replays


@pytest.mark.parametrize(
    ("name", "kwargs"), [c[1:] for c in SERVER_CASES], ids=[c[0] for c in SERVER_CASES]
)
def test_server_scenario_replays_alike(
    name: str,
    kwargs: dict[str, Any],
    tmp_path: Path,
    make_ctx: Any,
    bundled_server_reports: list[str],
) -> None:
    """Each server scenario of tests/probes/test_server_probe.py still holds, and the bundle of
    each of its runs replays to the same statuses, codes, severities and messages."""
    function = getattr(server_scenarios, name)
    available = {"tmp_path": tmp_path, "make_ctx": make_ctx, **kwargs}
    function(**{p: available[p] for p in inspect.signature(function).parameters})
    assert bundled_server_reports, f"{name} made no report"


def test_session_hostile_servers_replay_alike() -> None:
    """Each hostile server of tests/test_session.py, met by the server probe and checks, gives
    a bundle that replays to the same statuses and codes (five served at a time: 20 at once on 2
    busy cores made a probe time out now and then, and a timeout has no code to compare)."""
    env = {"PATH": os.defpath}

    def one(handler: Any) -> str:
        with hostile.Served(handler) as server:
            opts = server_scenarios.options(server.url())
            outcomes = run_probes(
                ["server"], env=env, options=opts, timeout=5.0, load=lambda name: server_probe
            )
        original = rules.build_report(
            run_checks(server_scenarios.CHECKS, outcomes),
            outcomes,
            kyudoctor_version="test",
            targets={"urls": [server.url()], "python": None, "config": None},
            duration_ms=0.0,
        )
        return ",".join(
            f.code for f in assert_replays_alike(opts, env, outcomes, original).findings
        )

    handlers = [h[1] for h in session_scenarios.HOSTILE]
    with ThreadPoolExecutor(5) as pool:
        codes = list(pool.map(one, handlers))
    assert len(codes) == len(handlers) and all(codes)


def test_a_bundle_cut_anywhere_says_truncated() -> None:
    """Cut inside a literal, a number, a string or an escape, the file still reads as cut short.

    CI once cut a real bundle in the middle of ``true``: the decoder points at the token's
    start, not the file's end, and the one-line error lost its "truncated?" hint.
    """
    tokens = '{"a": [true, false, null, -12.5e+3, "x\\u00e9\\n\\"y"], "b": {"c": 0}}'
    good = valid_text().rstrip()  # cut before the closing brace: the rest is whitespace
    cuts = [tokens[:n] for n in range(1, len(tokens))]
    cuts += [good[:n] for n in range(1, len(good), max(1, len(good) // 400))]
    cuts += [good[:n] for n in range(len(good) - 40, len(good))]
    for text in cuts:
        with pytest.raises(UsageError) as caught:
            bundles.parse(text)
        assert "truncated?" in str(caught.value), (text[-40:], str(caught.value))
