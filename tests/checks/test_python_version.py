"""python.version (PY001): healthy facts with one field changed."""

from __future__ import annotations

from typing import Any

import pytest

from kyudoctor.checks import python_version
from kyudoctor.model import Severity
from tests.healthy import facts


def _version(text: str, **extra: Any) -> dict[str, Any]:
    parts = [int(p) for p in text.split(".")]
    return {"version": text, "version_info": parts, **extra}


MINIMAL_27 = {
    "introspected": False,
    "error": "Python 2.7.18 could not run kyudoctor's introspection script: SyntaxError",
    "version": "2.7.18",
    "version_info": [2, 7, 18],
    "distributions": None,
    "markers": None,
    "torch": None,
}


@pytest.mark.parametrize(
    ("change", "severity", "words"),
    [
        pytest.param(_version("3.9.18"), Severity.ERROR, "too old", id="3.9-too-old"),
        pytest.param(_version("3.14.0"), Severity.ERROR, "too new", id="3.14-too-new"),
        pytest.param(MINIMAL_27, Severity.ERROR, "2.7.18 at", id="python2-minimal-facts"),
        pytest.param(_version("3.11.9"), Severity.INFO, "made for Python 3.12", id="3.11-info"),
        pytest.param(_version("3.13.1"), Severity.INFO, "made for Python 3.12", id="3.13-info"),
        pytest.param(
            _version("3.12.3"), Severity.INFO, "requires-python ==3.12.8", id="3.12.3-vs-pin"
        ),
        pytest.param({"implementation": "pypy"}, Severity.ERROR, "not CPython", id="pypy"),
    ],
)
def test_py001(change: dict[str, Any], severity: Severity, words: str) -> None:
    """A target Python outside 3.10-3.13 is an error; a supported non-pinned one is info."""
    outcome = python_version.check(facts(python=change))
    assert not outcome.skipped
    (finding,) = outcome.findings
    assert finding.code == "PY001"
    assert (finding.severity or Severity.ERROR) is severity
    assert words in finding.message
    assert finding.commands and finding.commands[0].startswith("uv venv -p 3.12")


def test_exact_pin_gives_exact_venv_command() -> None:
    """A 3.12 patch release other than the pinned one is info, fixed with `uv venv -p 3.12.8`."""
    outcome = python_version.check(facts(python=_version("3.12.3")))
    assert outcome.findings[0].commands == ("uv venv -p 3.12.8",)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({}, id="healthy"),
        pytest.param(
            {**_version("3.12.3"), "requirements": {"requires_python": None}}, id="no-pin-given"
        ),
        pytest.param(
            {**_version("3.12.3"), "requirements": {"requires_python": ">=3.10"}}, id="range-pin"
        ),
    ],
)
def test_ok(change: dict[str, Any]) -> None:
    """The pinned 3.12 (or a 3.12 the requirements accept) gives no finding."""
    outcome = python_version.check(facts(python=change))
    assert not outcome.skipped and not outcome.findings
    assert "Python 3.12" in outcome.summary


@pytest.mark.parametrize(
    "python",
    [pytest.param(None, id="probe-failed"), pytest.param({"version": None}, id="no-version")],
)
def test_skips_without_a_version(python: dict[str, Any] | None) -> None:
    """Without the target's version the check is skipped, never ok."""
    assert python_version.check(facts(python=python)).skipped
