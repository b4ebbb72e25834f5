"""env.platform: ENV001 for native Windows, macOS, WSL1 and (warning) non-x86_64 Linux."""

from __future__ import annotations

from typing import Any

import pytest

from kyudoctor.checks import env_platform
from kyudoctor.model import Outcome
from kyudoctor.rules import render_fix, severity_of
from tests.healthy import facts


def os_facts(system: str = "Linux", release: str = "6.8.0-57-generic", machine: str = "x86_64",
             wsl: int | None = None) -> dict[str, Any]:  # fmt: skip
    return {
        "system": system,
        "release": release,
        "machine": machine,
        "is_wsl": wsl is not None,
        "wsl_version": wsl,
    }


def run(os: dict[str, Any], **system: Any) -> Outcome:
    return env_platform.CHECK.run(facts(system={"os": os, **system}))


@pytest.mark.parametrize(
    ("os", "code_severity", "summary"),
    [
        (os_facts(), None, "Linux x86_64, kernel 6.8.0-57-generic"),
        (
            os_facts(release="5.15.167.4-microsoft-standard-WSL2", wsl=2),
            None,
            "Linux (WSL2) x86_64, kernel 5.15.167.4-microsoft-standard-WSL2",
        ),
        (os_facts("Windows", "10", "AMD64"), "error", "native Windows: Windows 10 (AMD64)"),
        (os_facts("CYGWIN_NT-10.0-19045", "3.5.4-1.x86_64"), "error", None),
        (os_facts("Darwin", "24.3.0", "arm64"), "error", "macOS: Darwin 24.3.0 (arm64)"),
        (os_facts("FreeBSD", "14.1-RELEASE", "amd64"), "error", None),
        (os_facts(release="4.4.0-19041-Microsoft", wsl=1), "error", None),
        (os_facts(machine="aarch64"), "warning", "Linux on aarch64"),
        (os_facts(machine="AMD64"), None, None),
    ],
    ids=["linux", "wsl2", "windows", "cygwin", "macos", "freebsd", "wsl1", "aarch64", "amd64"],
)
def test_platforms(os: dict[str, Any], code_severity: str | None, summary: str | None) -> None:
    """Each platform gives ENV001 at its severity, or ok with the platform named."""
    outcome = run(os)
    assert not outcome.skipped
    if code_severity is None:
        assert outcome.findings == ()
    else:
        (finding,) = outcome.findings
        assert (finding.code, severity_of(finding).value) == ("ENV001", code_severity)
    if summary is not None:
        assert outcome.summary == summary


def test_windows_fix() -> None:
    """Native Windows: the message names the real system and the command installs WSL."""
    (finding,) = run(os_facts("Windows", "10", "AMD64")).findings
    assert finding.message.startswith("running on native Windows (Windows 10 (AMD64))")
    assert render_fix(finding, {}).commands == ("wsl --install",)


def test_wsl1_fix_names_distribution() -> None:
    """WSL1: the conversion command names the distribution when WSL_DISTRO_NAME is known."""
    wsl1 = os_facts(release="4.4.0-19041-Microsoft", wsl=1)
    (finding,) = run(wsl1, env={"WSL_DISTRO_NAME": "Ubuntu-22.04"}).findings
    assert "WSL1 has no GPU access" in finding.message
    assert render_fix(finding, {}).commands == ('wsl --set-version "Ubuntu-22.04" 2',)
    (unnamed,) = run(wsl1, env={}).findings
    assert render_fix(unnamed, {}).commands == ("wsl -l -v",)


def test_aarch64_message() -> None:
    """aarch64: a warning saying x86_64 only in practice and the torch wheel situation."""
    (finding,) = run(os_facts(machine="aarch64")).findings
    assert "x86_64 only in practice" in finding.message
    assert "CUDA torch wheels for aarch64" in finding.message


def test_unknown_os_skips() -> None:
    """With no os facts the check cannot look and says so."""
    outcome = env_platform.CHECK.run(facts(system={"os": None}))
    assert outcome.skipped
