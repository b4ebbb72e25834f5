"""binary.install: BIN001 missing, BIN002 off PATH, BIN003 shadowed by the Python script."""

from __future__ import annotations

from typing import Any

import pytest

from kyudoctor.checks import bin_install
from kyudoctor.model import Outcome
from kyudoctor.rules import render_fix, severity_of
from tests.healthy import binary as healthy_binary
from tests.healthy import facts

BINARY = healthy_binary.BINARY
CARGO_BIN = healthy_binary.CARGO_BIN
VENV_PYTHON = "/home/kyu/tts/.venv/bin/python"
SCRIPT = "/home/kyu/tts/.venv/bin/moshi-server"


def elf(path: str = BINARY, on_path: bool = True) -> dict[str, Any]:
    return {
        "path": path,
        "kind": "elf",
        "on_path": on_path,
        "shebang": None,
        "realpath": path,
        "executable": True,
        "interpreter": None,
    }


def script(
    path: str = SCRIPT, interpreter: str | None = VENV_PYTHON, kind: str = "python-script"
) -> dict[str, Any]:
    shebang = f"#!{interpreter}" if interpreter and "/" in interpreter else "#!/usr/bin/env python3"
    return {
        "path": path,
        "kind": kind,
        "on_path": True,
        "shebang": shebang if kind == "python-script" else "#!/bin/sh",
        "realpath": path,
        "executable": True,
        "interpreter": interpreter if kind == "python-script" else None,
    }


def binary_facts(candidates: list[dict[str, Any]], **changes: Any) -> dict[str, Any]:
    """Binary facts with these candidates; the derived keys follow them unless given."""
    first = next((c for c in candidates if c["on_path"]), None)
    out: dict[str, Any] = {
        "candidates": candidates,
        "first_on_path": first["path"] if first else None,
        "first_kind": first["kind"] if first else None,
        "cargo_binary": BINARY if any(c["path"] == BINARY for c in candidates) else None,
        "cargo_bin_on_path": any(c["path"] == BINARY and c["on_path"] for c in candidates),
    }
    out.update(changes)
    return out


def run(binary: dict[str, Any]) -> Outcome:
    return bin_install.CHECK.run(facts(binary=binary))


def commands(outcome: Outcome, code: str) -> tuple[str, ...]:
    finding = next(f for f in outcome.findings if f.code == code)
    return render_fix(finding, {"config": "configs/config-tts.toml"}).commands


def test_healthy() -> None:
    """A cargo-built ELF first on PATH is ok and named in the summary."""
    outcome = bin_install.CHECK.run(facts())
    assert not outcome.skipped and outcome.findings == ()
    assert outcome.summary == f"moshi-server: {BINARY} (ELF binary), first on PATH"


@pytest.mark.parametrize(
    ("candidates", "codes"),
    [
        ([], ["BIN001"]),
        ([elf(on_path=False)], ["BIN002"]),
        ([script(), elf()], ["BIN003"]),
        ([script(), elf(on_path=False)], ["BIN003"]),
        ([script()], ["BIN001", "BIN003"]),
        ([elf(), script()], []),
        ([script(kind="script"), elf()], []),
        ([script(kind="other")], []),
    ],
    ids=[
        "nothing",
        "cargo-off-path",
        "script-first",
        "script-and-off-path-elf",
        "script-only",
        "elf-first",
        "shell-wrapper-first",
        "other-first",
    ],
)
def test_codes(candidates: list[dict[str, Any]], codes: list[str]) -> None:
    """Each arrangement of candidates on PATH gives exactly its codes."""
    outcome = run(binary_facts(candidates))
    assert not outcome.skipped
    assert [f.code for f in outcome.findings] == codes


def test_missing_everywhere() -> None:
    """BIN001 is an error naming cargo's bin and installs the recommended version with cuda."""
    outcome = run(binary_facts([]))
    (finding,) = outcome.findings
    assert severity_of(finding).value == "error"
    assert finding.message == f"no moshi-server on PATH nor in cargo's bin directory {CARGO_BIN}"
    assert commands(outcome, "BIN001") == ("cargo install --features cuda moshi-server@0.6.4",)


def test_not_on_path() -> None:
    """BIN002 is a warning whose commands add cargo's real bin to PATH or use the full path."""
    outcome = run(binary_facts([elf(on_path=False)]))
    (finding,) = outcome.findings
    assert severity_of(finding).value == "warning"
    assert BINARY in finding.message and f"{CARGO_BIN} is not on PATH" in finding.message
    assert commands(outcome, "BIN002") == (
        f'export PATH="{CARGO_BIN}:$PATH"',
        f"{BINARY} worker --config configs/config-tts.toml",
    )


def test_not_on_path_odd_directory() -> None:
    """A cargo bin path with shell characters stays one word in the computed commands."""
    odd_bin = '/home/k y/$cargo"/bin'
    outcome = run(binary_facts([elf(f"{odd_bin}/moshi-server", on_path=False)], cargo_bin=odd_bin))
    assert commands(outcome, "BIN002") == (
        'export PATH="/home/k y/\\$cargo\\"/bin:$PATH"',
        "'/home/k y/$cargo\"/bin/moshi-server' worker --config configs/config-tts.toml",
    )


def test_shadowed_by_python_script() -> None:
    """BIN003 names the script and its venv; the fixes run the ELF and upgrade that venv's moshi."""
    outcome = run(binary_facts([script(), elf()]))
    (finding,) = outcome.findings
    assert severity_of(finding).value == "error"
    assert SCRIPT in finding.message and VENV_PYTHON in finding.message
    assert f"the Rust binary is {BINARY}" in finding.message
    assert commands(outcome, "BIN003") == (
        f"{CARGO_BIN}/moshi-server worker --config configs/config-tts.toml",
        f"{VENV_PYTHON} -m pip install -U 'moshi>=0.2.8'",
    )


def test_shadowed_env_shebang() -> None:
    """A ``#!/usr/bin/env python3`` script gets the upgrade through ``python3``."""
    outcome = run(binary_facts([script(interpreter="python3"), elf()]))
    assert commands(outcome, "BIN003")[1] == "python3 -m pip install -U 'moshi>=0.2.8'"


def test_shadowed_without_rust_binary() -> None:
    """With no ELF anywhere, BIN001 comes first and BIN003 keeps only the upgrade command."""
    outcome = run(binary_facts([script()]))
    assert [f.code for f in outcome.findings] == ["BIN001", "BIN003"]
    assert "no Rust moshi-server binary exists" in outcome.findings[1].message
    assert commands(outcome, "BIN003") == (f"{VENV_PYTHON} -m pip install -U 'moshi>=0.2.8'",)


def test_elf_outside_cargo() -> None:
    """The Rust binary outside cargo's bin is the one to call by full path."""
    other = "/usr/local/bin/moshi-server"
    outcome = run(binary_facts([script(), elf(other)]))
    assert commands(outcome, "BIN003")[0] == f"{other} worker --config configs/config-tts.toml"
