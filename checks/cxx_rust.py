"""cxx.rust: is there a Rust toolchain (cargo, rustc) to build moshi-server with?

What it checks
    CXX007:

    - no ``cargo`` or no ``rustc``, neither on PATH nor in ``$CARGO_HOME/bin`` (``~/.cargo/bin``,
      where rustup installs them): error;
    - a ``cargo``/``rustc`` that does not answer ``--version`` (for instance rustup with no
      default toolchain): error;
    - both installed in ``$CARGO_HOME/bin`` but that directory not on PATH: **warning** (a
      choice: everything is installed, only this shell does not see it; the fix is one line).

Why it matters
    moshi-server is installed with ``cargo install``; "cargo: command not found" is the usual
    first error after installing rustup in another shell.

How to fix
    Install rustup (``curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y``)
    and load its environment (``source "$HOME/.cargo/env"``); with rustup but no toolchain,
    ``rustup default stable``.

Build-only: when a current CUDA build of moshi-server is already installed, a missing toolchain
is a warning saying it is needed only to (re)build moshi-server.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from kyudoctor.model import Check, Facts, Finding, Outcome, Severity
from kyudoctor.policy import load

from ._cuda import BUILD_ONLY_NOTE, prebuilt_moshi_server
from ._util import probe_facts, quote

RUSTUP = "curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y"
DEFAULT_ENV = 'source "$HOME/.cargo/env"'


def _activate(cargo_home: str, home: str | None) -> str:
    """The line that puts cargo's bin directory on PATH in this shell."""
    if home and os.path.normpath(cargo_home) == os.path.join(os.path.normpath(home), ".cargo"):
        return DEFAULT_ENV
    return f'export PATH={quote(os.path.join(cargo_home, "bin"))}:"$PATH"'


def check(facts: Facts) -> Outcome:
    """CXX007 when cargo/rustc are missing, broken, or installed but not on PATH."""
    toolchain = probe_facts(facts, "toolchain")
    if toolchain is None:
        return Outcome.skip("the toolchain probe did not run")
    system = probe_facts(facts, "system")
    home = (system or {}).get("home")
    tools: dict[str, Mapping[str, Any]] = {
        name: toolchain.get(name) or {} for name in ("cargo", "rustc")
    }
    cargo_home = str(
        tools["cargo"].get("cargo_home") or tools["rustc"].get("cargo_home") or "~/.cargo"
    )
    absent = [name for name, t in tools.items() if not t.get("path")]
    broken = [name for name, t in tools.items() if t.get("path") and not t.get("version")]
    off_path = [name for name, t in tools.items() if t.get("path") and not t.get("on_path")]

    severity: Severity | None = None
    commands: tuple[str, ...]
    if absent:
        message = f"{' and '.join(absent)} not found on PATH nor in {cargo_home}/bin"
        commands = (RUSTUP, _activate(cargo_home, home))
    elif broken:
        errors = "; ".join(
            f"`{tools[n]['path']} --version` {tools[n].get('error')}" for n in broken
        )
        message = f"{' and '.join(broken)} installed but not working: {errors}"
        no_default = any("default" in str(tools[n].get("error") or "") for n in broken)
        commands = ("rustup default stable",) if no_default else (RUSTUP,)
    elif off_path:
        message = (
            f"cargo {tools['cargo'].get('version')} is installed in {cargo_home}/bin, which is not "
            'on PATH: `cargo` is "command not found" in this shell'
        )
        return Outcome.found(
            "Rust toolchain not on PATH",
            Finding(
                "CXX007",
                message,
                evidence={"cargo": tools["cargo"].get("path"), "on_path": False},
                severity=Severity.WARNING,
                commands=(_activate(cargo_home, home),),
            ),
        )
    else:
        return Outcome.ok(
            f"cargo {tools['cargo'].get('version')}, rustc {tools['rustc'].get('version')} "
            f"({os.path.dirname(str(tools['cargo']['path']))})"
        )
    prebuilt = prebuilt_moshi_server(facts, load())
    if prebuilt:
        message += f"; {prebuilt}, so the Rust toolchain is {BUILD_ONLY_NOTE}"
        severity = Severity.WARNING
    finding = Finding(
        "CXX007",
        message,
        evidence={n: t.get("path") for n, t in tools.items()},
        severity=severity,
        commands=commands,
    )
    return Outcome.found("Rust toolchain missing", finding)


CHECK = Check(
    id="cxx.rust",
    group="host",
    title="Rust toolchain",
    codes=("CXX007",),
    probes=("toolchain",),
    run=check,
    uses=("system", "binary"),
)
