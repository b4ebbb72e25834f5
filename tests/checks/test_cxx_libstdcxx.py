"""cxx.libstdcxx: CXX004 when g++ does not resolve libstdc++.so."""

from __future__ import annotations

from typing import Any

import pytest

from kyudoctor.checks import cxx_libstdcxx
from kyudoctor.model import Outcome
from kyudoctor.rules import render_fix, severity_of
from tests.healthy import facts, status
from tests.healthy import toolchain as healthy_toolchain

BARE = {"libstdcxx": {"printed": "libstdc++.so", "exists": False, "error": None}}


NOT_BUILT = {"install": None, "cargo_binary": None, "candidates": []}


def run(**overrides: Any) -> Outcome:
    """Run the check before moshi-server is built, unless the test says otherwise."""
    overrides.setdefault("binary", NOT_BUILT)
    return cxx_libstdcxx.CHECK.run(facts(**overrides))


def test_missing_libstdcxx_warns_once_a_current_build_is_installed() -> None:
    """CXX004 is build-only: with a current CUDA build installed it is a warning."""
    from tests.healthy import binary as healthy_binary

    broken = {"libstdcxx": {"printed": "libstdc++.so", "exists": False, "error": None}}
    outcome = run(toolchain=broken, binary=healthy_binary.FACTS)
    assert [severity_of(f).value for f in outcome.findings] == ["warning"]


@pytest.mark.parametrize(
    ("overrides", "codes", "expected_status"),
    [
        ({}, [], "ok"),
        ({"toolchain": BARE}, ["CXX004"], "error"),
        (
            {
                "toolchain": {
                    "libstdcxx": {"printed": "/gone/libstdc++.so", "exists": False, "error": None}
                }
            },
            ["CXX004"],
            "error",
        ),
        ({"toolchain": {"gxx": {**healthy_toolchain.FACTS["gxx"], "path": None}}}, [], "skipped"),
        (
            {"toolchain": {"libstdcxx": {"printed": None, "exists": False, "error": "timed out"}}},
            [],
            "skipped",
        ),
        ({"toolchain": None}, [], "skipped"),
    ],
    ids=["healthy", "bare-name", "printed-path-missing", "no-gxx", "gxx-failed", "no-facts"],
)
def test_cxx_libstdcxx(overrides: dict[str, Any], codes: list[str], expected_status: str) -> None:
    """Each situation gives exactly the expected codes and status."""
    outcome = run(**overrides)
    assert [f.code for f in outcome.findings] == codes
    assert status(outcome) == expected_status


@pytest.mark.parametrize(
    ("system", "command"),
    [
        ({}, "sudo apt-get install -y libstdc++-12-dev"),
        ({"package_manager": "dnf"}, "sudo dnf install -y libstdc++-devel"),
        ({"package_manager": "pacman", "is_root": True}, "pacman -S --noconfirm gcc"),
    ],
    ids=["apt", "dnf", "pacman-root"],
)
def test_fix_names_the_package_of_this_system(system: dict[str, Any], command: str) -> None:
    """The install command matches the package manager and the g++ major."""
    finding = run(toolchain=BARE, system=system).findings[0]
    assert finding.commands == (command,)


def test_message_and_catalog_text() -> None:
    """The message quotes what g++ printed; the catalog text gets the g++ major."""
    finding = run(toolchain=BARE).findings[0]
    assert finding.message.startswith(
        "`/usr/bin/g++ -print-file-name=libstdc++.so` prints 'libstdc++.so': "
        "it finds no libstdc++.so"
    )
    assert "libstdc++-12-dev" in render_fix(finding, {}).text
