"""env.platform: the operating system and CPU architecture moshi-server would run on.

What it checks
    The ``system`` probe's platform: the OS (Linux, Windows, macOS), whether Linux is really WSL
    (and which WSL), and the machine architecture.

Why it matters
    moshi-server runs on Linux x86_64 only in practice. Native Windows and macOS have no build of
    its CUDA path (and macOS has no CUDA at all). WSL2 works, with the GPU passed through by the
    Windows driver; WSL1 has no GPU access. On Linux aarch64 (Grace Hopper, Jetson) CUDA torch
    wheels exist only for some releases and the setup is untested: it may work, with effort.

How to fix
    Run the server on Linux x86_64, or in WSL2 on Windows (``wsl --install``; an existing WSL1
    distribution converts with ``wsl --set-version <distribution> 2``, run from Windows).
    ENV001 is an error on Windows, macOS and WSL1, and a warning on non-x86_64 Linux.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kyudoctor.model import Check, Facts, Finding, Outcome, Severity

from ._util import probe_facts

_X86_64 = ("x86_64", "amd64")
_WINDOWS_PREFIXES = ("windows", "cygwin", "msys", "mingw")


def check(facts: Facts) -> Outcome:
    """ENV001 for native Windows, macOS, WSL1 and (as a warning) non-x86_64 Linux."""
    system = probe_facts(facts, "system")
    os_facts: Mapping[str, Any] = (system or {}).get("os") or {}
    name = str(os_facts.get("system") or "")
    if not name:
        return Outcome.skip("the operating system is unknown (the system probe gave no os facts)")
    release = str(os_facts.get("release") or "")
    machine = str(os_facts.get("machine") or "unknown")
    seen = " ".join(p for p in (name, release, f"({machine})") if p)
    evidence = {"system": name, "release": release, "machine": machine}

    if name.lower().startswith(_WINDOWS_PREFIXES):
        return Outcome.found(
            f"native Windows: {seen}",
            Finding(
                "ENV001",
                f"running on native Windows ({seen}): moshi-server runs on Linux; "
                "WSL2 gives it a Linux with the GPU passed through",
                evidence=evidence,
                commands=("wsl --install",),
            ),
        )
    if name == "Darwin":
        return Outcome.found(
            f"macOS: {seen}",
            Finding(
                "ENV001",
                f"running on macOS ({seen}): macOS has no CUDA, and moshi-server's TTS needs an "
                "NVIDIA GPU; run the server on a Linux machine with one",
                evidence=evidence,
            ),
        )
    if name != "Linux":
        return Outcome.found(
            f"unsupported system: {seen}",
            Finding(
                "ENV001",
                f"running on {seen}: moshi-server runs on Linux x86_64 only",
                evidence=evidence,
            ),
        )

    label = "Linux"
    if os_facts.get("is_wsl"):
        wsl_version = os_facts.get("wsl_version")
        label = f"Linux (WSL{wsl_version})" if wsl_version else "Linux (WSL)"
        if wsl_version == 1:
            distro = ((system or {}).get("env") or {}).get("WSL_DISTRO_NAME")
            return Outcome.found(
                f"{label}: {release}",
                Finding(
                    "ENV001",
                    f"running in WSL1 (kernel {release}): WSL1 has no GPU access, so CUDA and "
                    "moshi-server's TTS cannot run; convert the distribution to WSL2 "
                    "(from Windows PowerShell)",
                    evidence={**evidence, "wsl_version": 1},
                    commands=(f'wsl --set-version "{distro}" 2',) if distro else ("wsl -l -v",),
                ),
            )
    if machine.lower() not in _X86_64:
        return Outcome.found(
            f"{label} on {machine}",
            Finding(
                "ENV001",
                f"running on {label} {machine}: moshi-server is used on x86_64 only in practice; "
                f"CUDA torch wheels for {machine} exist only for some torch releases (none on "
                "PyPI for older ones) and this setup is untested",
                evidence=evidence,
                severity=Severity.WARNING,
            ),
        )
    return Outcome.ok(f"{label} {machine}, kernel {release}")


CHECK = Check(
    id="env.platform",
    group="host",
    title="Operating system and architecture",
    codes=("ENV001",),
    probes=("system",),
    run=check,
)
