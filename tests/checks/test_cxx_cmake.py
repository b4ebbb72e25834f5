"""cxx.cmake: CXX005 when cmake is missing, broken, or CMake 4 without the policy workaround."""

from __future__ import annotations

from typing import Any

import pytest

from kyudoctor.checks import cxx_cmake
from kyudoctor.model import Outcome
from tests.healthy import facts, status
from tests.healthy import system as healthy_system

NOT_BUILT = {"install": None, "cargo_binary": None, "candidates": []}
CMAKE4 = {"cmake": {"path": "/usr/bin/cmake", "version": "4.0.2", "major": 4, "error": None}}
NO_CMAKE = {"cmake": {"path": None, "version": None, "major": None, "error": "not found"}}
BROKEN = {
    "cmake": {
        "path": "/usr/bin/cmake",
        "version": None,
        "major": None,
        "error": "killed by SIGSEGV",
    }
}


def env(**values: str) -> dict[str, Any]:
    return {"env": {**healthy_system.FACTS["env"], **values}}


def run(**overrides: Any) -> Outcome:
    return cxx_cmake.CHECK.run(facts(**overrides))


@pytest.mark.parametrize(
    ("overrides", "codes", "expected_status"),
    [
        ({}, [], "ok"),
        ({"toolchain": NO_CMAKE, "binary": NOT_BUILT}, ["CXX005"], "error"),
        ({"toolchain": NO_CMAKE}, ["CXX005"], "warning"),
        ({"toolchain": BROKEN, "binary": NOT_BUILT}, ["CXX005"], "error"),
        ({"toolchain": CMAKE4, "binary": NOT_BUILT}, ["CXX005"], "error"),
        ({"toolchain": CMAKE4}, ["CXX005"], "warning"),
        ({"toolchain": CMAKE4, "system": env(CMAKE_POLICY_VERSION_MINIMUM="3.5")}, [], "ok"),
    ],
    ids=[
        "healthy",
        "missing",
        "missing-built",
        "broken",
        "cmake4",
        "cmake4-built",
        "cmake4-workaround-set",
    ],
)
def test_cxx_cmake(overrides: dict[str, Any], codes: list[str], expected_status: str) -> None:
    """Each situation gives exactly the expected codes and status."""
    outcome = run(**overrides)
    assert [f.code for f in outcome.findings] == codes
    assert status(outcome) == expected_status


def test_cmake4_fix_is_the_policy_workaround() -> None:
    """CMake 4: the message names the version, the fix exports the policy's workaround."""
    finding = run(toolchain=CMAKE4, binary=NOT_BUILT).findings[0]
    assert finding.message.startswith("cmake 4.0.2 at /usr/bin/cmake: CMake 4 and newer refuse")
    assert finding.commands == ("export CMAKE_POLICY_VERSION_MINIMUM=3.5",)


def test_missing_cmake_is_installed_with_the_system_tool() -> None:
    """No cmake: the package manager's install line; a built binary makes it build-only."""
    finding = run(toolchain=NO_CMAKE, system={"package_manager": "dnf"}).findings[0]
    assert finding.commands == ("sudo dnf install -y cmake",)
    assert "needed only to (re)build moshi-server" in finding.message
