"""python.embedded (PY005): healthy facts with one field changed."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kyudoctor.checks import python_embedded
from kyudoctor.model import Severity
from tests.healthy import binary as healthy_binary
from tests.healthy import facts
from tests.healthy import python as healthy_python

SYSTEM_312 = "/usr/lib/x86_64-linux-gnu/libpython3.12.so.1.0"


def linked(soname: str, path: str | None) -> dict[str, Any]:
    """Binary facts whose ldd shows this libpython (``None``: not found)."""
    ldd = copy.deepcopy(healthy_binary.FACTS["ldd"])
    resolved = {k: v for k, v in ldd["resolved"].items() if not k.startswith("libpython")}
    if path is None:
        ldd["not_found"] = [soname]
    else:
        resolved[soname] = path
    ldd["resolved"] = resolved
    return {"ldd": ldd}


def without_hf_hub() -> dict[str, Any]:
    dists = copy.deepcopy(healthy_python.FACTS["distributions"])
    del dists["huggingface-hub"]
    return {"distributions": dists}


def test_healthy() -> None:
    """moshi-server linked to the venv interpreter's own libpython is ok."""
    outcome = python_embedded.check(facts())
    assert not outcome.skipped and not outcome.findings
    assert healthy_python.LIBDIR in outcome.summary


@pytest.mark.parametrize(
    ("binary", "python", "severity", "words"),
    [
        pytest.param(
            linked("libpython3.11.so.1.0", "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0"),
            {},
            Severity.ERROR,
            "moshi-server embeds Python 3.11 (/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0), "
            "but the target Python is 3.12.8",
            id="other-python-version",
        ),
        pytest.param(
            linked("libpython3.12.so.1.0", SYSTEM_312),
            {},
            Severity.WARNING,
            f"moshi-server embeds {SYSTEM_312}, another Python 3.12 installation",
            id="same-version-other-install",
        ),
        pytest.param(
            {},
            without_hf_hub(),
            Severity.ERROR,
            "huggingface_hub is not installed in /home/kyu/tts/.venv",
            id="hf-hub-missing",
        ),
    ],
)
def test_py005(
    binary: dict[str, Any], python: dict[str, Any], severity: Severity, words: str
) -> None:
    """Another libpython, or a venv without huggingface_hub, is PY005 with the real paths."""
    outcome = python_embedded.check(facts(binary=binary, python=python))
    (finding,) = outcome.findings
    assert finding.code == "PY005"
    assert (finding.severity or Severity.ERROR) is severity
    assert words in finding.message


def test_rebuild_commands_are_computed() -> None:
    """The fix activates the venv, exports its LIBDIR and reinstalls the same moshi-server."""
    change = linked("libpython3.11.so.1.0", "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0")
    (finding,) = python_embedded.check(facts(binary=change)).findings
    assert finding.commands == (
        "source /home/kyu/tts/.venv/bin/activate",
        f"export LD_LIBRARY_PATH={healthy_python.LIBDIR}:$LD_LIBRARY_PATH",
        "cargo install --force --features cuda moshi-server@0.6.4",
    )
    assert finding.params["libdir"] == healthy_python.LIBDIR


def test_outdated_server_is_rebuilt_at_the_recommended_version() -> None:
    """An old moshi-server is reinstalled at the recommended version, not its own."""
    install = {**healthy_binary.FACTS["install"], "version": "0.6.1"}
    change = {**linked("libpython3.11.so.1.0", "/usr/lib/libpython3.11.so.1.0"), "install": install}
    (finding,) = python_embedded.check(facts(binary=change)).findings
    assert finding.commands is not None
    assert finding.commands[-1] == "cargo install --force --features cuda moshi-server@0.6.4"


def test_usrmerge_alias_is_the_same_library() -> None:
    """ldd's /lib/... spelling of the target's /usr/lib/... libpython is not a mismatch."""
    python = {
        "libdir": "/usr/lib/x86_64-linux-gnu",
        "instsoname": "libpython3.12.so.1.0",
        "libpython_paths": [SYSTEM_312, "/lib/x86_64-linux-gnu/libpython3.12.so.1.0"],
    }
    binary = linked("libpython3.12.so.1.0", "/lib/x86_64-linux-gnu/libpython3.12.so.1.0")
    outcome = python_embedded.check(facts(binary=binary, python=python))
    assert not outcome.findings and not outcome.skipped


def test_hf_hub_fix_with_pyproject() -> None:
    """With --pyproject, a missing huggingface_hub is fixed by syncing the venv from the lock."""
    requirements = {**healthy_python.FACTS["requirements"], "path": "/srv/moshi/pyproject.toml"}
    change = {**without_hf_hub(), "requirements": requirements}
    (finding,) = python_embedded.check(facts(python=change)).findings
    assert finding.commands == (
        "source /home/kyu/tts/.venv/bin/activate",
        "cd /srv/moshi && uv sync --locked",
    )


@pytest.mark.parametrize(
    ("binary", "words"),
    [
        pytest.param(None, "binary probe failed", id="binary-probe-failed"),
        pytest.param({"candidates": []}, "BIN001", id="no-binary"),
        pytest.param(linked("libpython3.12.so.1.0", None), "BIN005", id="libpython-not-found"),
        pytest.param(
            {"ldd": {"ran": False, "error": "ldd: not found", "resolved": {}, "not_found": []}},
            "ldd: not found",
            id="ldd-did-not-run",
        ),
    ],
)
def test_skips_what_it_cannot_compare(binary: dict[str, Any] | None, words: str) -> None:
    """Without a resolved libpython to compare, the check is skipped and names the root code."""
    outcome = python_embedded.check(facts(binary=binary))
    assert outcome.skipped and words in outcome.summary


def test_hf_hub_missing_is_reported_without_a_binary() -> None:
    """huggingface_hub is judged even when there is no binary to compare with."""
    outcome = python_embedded.check(facts(binary={"candidates": []}, python=without_hf_hub()))
    assert [f.code for f in outcome.findings] == ["PY005"]
    assert "BIN001" in outcome.summary


def test_skips_when_only_the_version_is_known() -> None:
    """A Python too old for the introspection script gives a skip pointing at PY001."""
    python = {"introspected": False, "distributions": None, "error": "SyntaxError"}
    outcome = python_embedded.check(facts(python=python))
    assert outcome.skipped and "PY001" in outcome.summary
