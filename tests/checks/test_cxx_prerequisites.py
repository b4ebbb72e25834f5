"""cxx.prerequisites: CXX006 listing what is missing among pkg-config, OpenSSL headers, git."""

from __future__ import annotations

from typing import Any

import pytest

from kyudoctor.checks import cxx_prerequisites
from kyudoctor.model import Outcome
from tests.healthy import facts, status

NOT_BUILT = {"install": None, "cargo_binary": None, "candidates": []}
NO_PKG_CONFIG = {
    "pkg_config": {"path": None, "version": None, "error": "not found"},
    "openssl": {"found": False, "version": None, "via": None, "error": "pkg-config not found"},
}
NO_OPENSSL = {
    "openssl": {
        "found": False,
        "version": None,
        "via": "pkg-config",
        "error": "exited with status 1",
    }
}
NO_GIT = {"git": {"path": None, "version": None, "error": "not found"}}


def run(**overrides: Any) -> Outcome:
    return cxx_prerequisites.CHECK.run(facts(**overrides))


@pytest.mark.parametrize(
    ("toolchain", "binary", "command", "expected_status"),
    [
        ({}, {}, None, "ok"),
        (NO_PKG_CONFIG, NOT_BUILT, "sudo apt-get install -y pkg-config libssl-dev", "error"),
        (NO_OPENSSL, NOT_BUILT, "sudo apt-get install -y libssl-dev", "error"),
        (NO_GIT, NOT_BUILT, "sudo apt-get install -y git", "error"),
        (
            {**NO_PKG_CONFIG, **NO_GIT},
            NOT_BUILT,
            "sudo apt-get install -y pkg-config libssl-dev git",
            "error",
        ),
        (NO_GIT, {}, "sudo apt-get install -y git", "warning"),
    ],
    ids=["healthy", "no-pkg-config", "no-openssl", "no-git", "nothing", "no-git-built"],
)
def test_cxx_prerequisites(
    toolchain: dict[str, Any], binary: dict[str, Any], command: str | None, expected_status: str
) -> None:
    """One CXX006 finding whose single command installs exactly what is missing."""
    outcome = run(toolchain=toolchain, binary=binary)
    assert status(outcome) == expected_status
    if command is None:
        assert outcome.findings == ()
    else:
        assert [f.code for f in outcome.findings] == ["CXX006"]
        assert outcome.findings[0].commands == (command,)


def test_package_names_follow_the_package_manager() -> None:
    """On Fedora the packages are pkgconf-pkg-config and openssl-devel; root needs no sudo."""
    outcome = run(toolchain=NO_PKG_CONFIG, system={"package_manager": "dnf", "is_root": True})
    assert outcome.findings[0].commands == ("dnf install -y pkgconf-pkg-config openssl-devel",)


def test_message_says_what_is_missing() -> None:
    """The message names each missing piece, in the user's terms."""
    message = run(toolchain={**NO_OPENSSL, **NO_GIT}, binary=NOT_BUILT).findings[0].message
    assert message == (
        "`pkg-config --exists openssl` fails: no OpenSSL development headers; no git on PATH"
    )
