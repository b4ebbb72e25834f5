"""binary.install: is there a moshi-server, and is it the Rust server that ``moshi-server`` runs?

What it checks
    Every ``moshi-server`` on PATH (in PATH order) and in cargo's bin directory
    (``$CARGO_HOME/bin``, default ``~/.cargo/bin``), as the ``binary`` probe classified them:
    an ELF binary (the Rust server), a Python console script, another script, or something else.

Why it matters
    - BIN001: without the binary there is no server; ``cargo install`` builds it.
    - BIN002: cargo installs into ``~/.cargo/bin``; a shell whose PATH lacks it says
      "moshi-server: command not found" although the server is installed.
    - BIN003: older releases of the Python ``moshi`` package install a console script named
      ``moshi-server`` (a different, Python server). When it comes first on PATH,
      ``moshi-server worker --config ...`` runs the Python one, which fails with
      "unrecognized arguments: worker".

How to fix
    BIN001: ``cargo install --features cuda moshi-server@<recommended version>``.
    BIN002: ``export PATH="<cargo bin>:$PATH"`` (or ``source "$HOME/.cargo/env"``), or call the
    binary by its full path. BIN003: run the Rust binary by its full path, and upgrade (or
    uninstall) the Python ``moshi`` in the environment that owns the script: newer releases name
    their script ``moshi-server-py``. When no Rust binary exists at all, BIN001 is reported too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from kyudoctor import policy
from kyudoctor.model import Check, Facts, Finding, Outcome

from ._util import probe_facts, quote

# The command Kyutai's documentation uses to start the TTS server from its repository.
CONFIG = "configs/config-tts.toml"


def _double_quoted(value: str) -> str:
    """``value`` made safe inside double quotes (so ``$PATH`` next to it still expands)."""
    for char in ("\\", '"', "$", "`"):
        value = value.replace(char, "\\" + char)
    return value


def _elf(candidates: Sequence[Mapping[str, Any]], cargo_binary: str | None) -> str | None:
    """The Rust binary to call by full path: cargo's when it is an ELF, else the first ELF."""
    elves = [str(c["path"]) for c in candidates if c.get("kind") == "elf"]
    if cargo_binary in elves:
        return cargo_binary
    return elves[0] if elves else None


def check(facts: Facts) -> Outcome:
    """BIN001 nothing installed; BIN002 only in cargo's bin, off PATH; BIN003 Python shim first."""
    binary = probe_facts(facts, "binary") or {}
    candidates: list[Mapping[str, Any]] = [
        c for c in (binary.get("candidates") or []) if isinstance(c, Mapping)
    ]
    cargo_bin = str(binary.get("cargo_bin") or "~/.cargo/bin")
    cargo_binary = binary.get("cargo_binary")
    recommended = policy.load().moshi_server_recommended
    missing_params = {"moshi_server_version": recommended, "cargo_bin": cargo_bin}

    if not candidates:
        return Outcome.found(
            "moshi-server is not installed",
            Finding(
                "BIN001",
                f"no moshi-server on PATH nor in cargo's bin directory {cargo_bin}",
                evidence={"cargo_bin": cargo_bin},
                params=missing_params,
            ),
        )

    first = next((c for c in candidates if c.get("on_path")), None)
    elf = _elf(candidates, cargo_binary if isinstance(cargo_binary, str) else None)

    if first is None:
        # Not on PATH at all: the probe only lists off-PATH files from cargo's bin.
        target = str(cargo_binary or candidates[0]["path"])
        return Outcome.found(
            f"{target} is not on PATH",
            Finding(
                "BIN002",
                f"moshi-server is installed at {target}, but {cargo_bin} is not on PATH: "
                "`moshi-server` by name is not found",
                evidence={"path": target, "cargo_bin": cargo_bin},
                params={"cargo_bin": cargo_bin, "binary": target},
                commands=(
                    f'export PATH="{_double_quoted(cargo_bin)}:$PATH"',
                    f"{quote(target)} worker --config {CONFIG}",
                ),
            ),
        )

    first_path = str(first["path"])
    if first.get("kind") == "python-script":
        return _shadowed(first, first_path, elf, cargo_bin, missing_params)

    kind = first.get("kind")
    if kind == "elf":
        return Outcome.ok(f"moshi-server: {first_path} (ELF binary), first on PATH")
    described = "a script" if kind == "script" else "not an ELF binary nor a script"
    return Outcome.ok(f"moshi-server: {first_path} ({described}), first on PATH")


def _shadowed(
    first: Mapping[str, Any],
    first_path: str,
    elf: str | None,
    cargo_bin: str,
    missing_params: Mapping[str, Any],
) -> Outcome:
    interpreter = first.get("interpreter")
    owner = f" (interpreter {interpreter})" if interpreter else ""
    where = f"; the Rust binary is {elf}" if elf else "; no Rust moshi-server binary exists"
    params: dict[str, Any] = {
        "python": quote(str(interpreter)) if interpreter else "python3",
    }
    if elf:
        # The catalog's command is "{cargo_bin}/moshi-server worker ...": the ELF's directory.
        params["cargo_bin"] = quote(os.path.dirname(elf))
        params["binary"] = elf
    findings = [
        Finding(
            "BIN003",
            f"the first moshi-server on PATH, {first_path}, is the Python moshi package's console "
            f"script{owner}, not the Rust server: `moshi-server worker` fails with "
            f'"unrecognized arguments: worker"{where}',
            evidence={"path": first_path, "shebang": first.get("shebang"), "elf": elf},
            params=params,
        )
    ]
    if elf is None:
        findings.insert(
            0,
            Finding(
                "BIN001",
                f"the only moshi-server found is the Python moshi package's script {first_path}; "
                f"the Rust moshi-server is not installed (not on PATH, not in {cargo_bin})",
                evidence={"cargo_bin": cargo_bin, "python_script": first_path},
                params=missing_params,
            ),
        )
    return Outcome.found(f"{first_path} is a Python script, first on PATH", *findings)


CHECK = Check(
    id="binary.install",
    group="host",
    title="moshi-server binary installed and first on PATH",
    codes=("BIN001", "BIN002", "BIN003"),
    probes=("binary",),
    run=check,
)
