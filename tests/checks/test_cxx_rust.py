"""cxx.rust: CXX007 when cargo/rustc are missing, broken, or installed but not on PATH."""

from __future__ import annotations

from typing import Any

import pytest

from kyudoctor.checks import cxx_rust
from kyudoctor.model import Outcome
from tests.healthy import facts, status
from tests.healthy import toolchain as healthy_toolchain

NOT_BUILT = {"install": None, "cargo_binary": None, "candidates": []}
RUSTUP = "curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y"


def tool(name: str, **changes: Any) -> dict[str, Any]:
    return {**healthy_toolchain.FACTS[name], **changes}


ABSENT = {
    "cargo": tool("cargo", path=None, version=None, on_path=False, error="not found"),
    "rustc": tool("rustc", path=None, version=None, on_path=False, error="not found"),
}
OFF_PATH = {"cargo": tool("cargo", on_path=False), "rustc": tool("rustc", on_path=False)}
NO_DEFAULT = {
    "cargo": tool(
        "cargo",
        version=None,
        error="exited with status 1: error: rustup could not choose a version of cargo to run, "
        "because one wasn't specified explicitly, and no default is configured.",
    )
}


def run(**overrides: Any) -> Outcome:
    return cxx_rust.CHECK.run(facts(**overrides))


@pytest.mark.parametrize(
    ("overrides", "commands", "expected_status"),
    [
        ({}, None, "ok"),
        (
            {"toolchain": ABSENT, "binary": NOT_BUILT},
            (RUSTUP, 'source "$HOME/.cargo/env"'),
            "error",
        ),
        ({"toolchain": ABSENT}, (RUSTUP, 'source "$HOME/.cargo/env"'), "warning"),
        (
            {"toolchain": {"rustc": ABSENT["rustc"]}, "binary": NOT_BUILT},
            (RUSTUP, 'source "$HOME/.cargo/env"'),
            "error",
        ),
        ({"toolchain": OFF_PATH, "binary": NOT_BUILT}, ('source "$HOME/.cargo/env"',), "warning"),
        (
            {
                "toolchain": {
                    "cargo": tool(
                        "cargo",
                        on_path=False,
                        cargo_home="/opt/rust/cargo",
                        path="/opt/rust/cargo/bin/cargo",
                    ),
                    "rustc": tool(
                        "rustc",
                        on_path=False,
                        cargo_home="/opt/rust/cargo",
                        path="/opt/rust/cargo/bin/rustc",
                    ),
                }
            },
            ('export PATH=/opt/rust/cargo/bin:"$PATH"',),
            "warning",
        ),
        ({"toolchain": NO_DEFAULT, "binary": NOT_BUILT}, ("rustup default stable",), "error"),
    ],
    ids=[
        "healthy",
        "absent",
        "absent-built",
        "no-rustc",
        "off-path",
        "custom-cargo-home",
        "no-default-toolchain",
    ],
)
def test_cxx_rust(
    overrides: dict[str, Any], commands: tuple[str, ...] | None, expected_status: str
) -> None:
    """Each situation gives CXX007 (or not) with the expected commands and status."""
    outcome = run(**overrides)
    assert status(outcome) == expected_status
    if commands is None:
        assert outcome.findings == ()
    else:
        assert [f.code for f in outcome.findings] == ["CXX007"]
        assert outcome.findings[0].commands == commands


def test_messages() -> None:
    """Messages say where cargo was looked for, or that its directory is not on PATH."""
    assert run(toolchain=ABSENT, binary=NOT_BUILT).findings[0].message == (
        "cargo and rustc not found on PATH nor in /home/kyu/.cargo/bin"
    )
    off = run(toolchain=OFF_PATH).findings[0].message
    assert off.startswith("cargo 1.85.0 is installed in /home/kyu/.cargo/bin, which is not on PATH")
    assert "no default is configured" in run(toolchain=NO_DEFAULT).findings[0].message
