"""cuda.libraries: can the linker and the loader find the CUDA libraries moshi-server uses?

What it checks
    CUDA004, for libcudart, libcublas, libnvrtc and libcurand:

    - a library found nowhere: not in ``LD_LIBRARY_PATH``, not in the ``ldconfig`` cache, not in
      the toolkit's ``lib64``/``lib``/``targets/*/lib`` (error);
    - a CUDA library the installed moshi-server binary needs and ``ldd`` reports "not found"
      (error), libcuda included when a driver is present (without one that is GPU001);
    - a library present only in the toolkit directory, which the loader does not search: the
      build links, the server does not start (warning).

Why it matters
    moshi-server loads these libraries when it starts ("libcublas.so.12: cannot open shared
    object file"); a build against a toolkit whose libraries are missing fails to link
    ("cannot find -lcudart").

How to fix
    Add the toolkit's library directory to ``LD_LIBRARY_PATH`` for the shell that runs
    moshi-server, or register it once for the whole system (``/etc/ld.so.conf.d`` then
    ``ldconfig``, which survives reboots and package updates unlike ``ldconfig <dir>``); the
    check prints both lines with the real directory. A library missing everywhere comes with
    the toolkit's libraries (``cuda-libraries-X-Y`` in NVIDIA's repository).

Root cause first: without a usable, supported nvcc (CUDA001/CUDA003) and with no moshi-server
binary installed, the libraries are not judged: installing the supported toolkit brings them.
The ``libpython`` entries of ``ldd`` are BIN005's, never this check's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from kyudoctor.model import Check, Facts, Finding, Outcome, Severity
from kyudoctor.policy import load

from ._cuda import nvcc_unusable
from ._util import CUDA_SONAME, probe_facts, quote, sudo

LIBRARIES = ("libcudart", "libcublas", "libnvrtc", "libcurand")


def _family(soname: str) -> str | None:
    match = CUDA_SONAME.match(soname)
    if match is None:
        return None
    name = match.group(1)
    return "libcublas" if name == "libcublasLt" else name


def _binary_installed(binary: Mapping[str, Any] | None) -> bool:
    if not binary:
        return False
    return bool(
        binary.get("install") or binary.get("cargo_binary") or (binary.get("ldd") or {}).get("ran")
    )


def _loader_commands(libdir: str, system: Mapping[str, Any] | None) -> tuple[str, ...]:
    su = sudo(system)
    return (
        f'export LD_LIBRARY_PATH="{libdir}:$LD_LIBRARY_PATH"',
        f"echo {quote(libdir)} | {su}tee /etc/ld.so.conf.d/cuda.conf && {su}ldconfig",
    )


def check(facts: Facts) -> Outcome:
    """CUDA004 for CUDA libraries that do not resolve (anywhere, for ldd, or for the loader)."""
    policy = load()
    nvcc_facts = probe_facts(facts, "nvcc") or {}
    binary = probe_facts(facts, "binary")
    system = probe_facts(facts, "system")
    gpu = probe_facts(facts, "gpu")
    reason = nvcc_unusable(nvcc_facts, policy)
    if reason is not None and not _binary_installed(binary):
        return Outcome.skip(
            f"{reason}, and moshi-server is not built yet: a supported toolkit brings its libraries"
        )
    libraries = {
        k: v for k, v in (nvcc_facts.get("libraries") or {}).items() if isinstance(v, Mapping)
    }
    toolkit = nvcc_facts.get("toolkit_root")
    notes: list[str] = []

    missing = [lib for lib in LIBRARIES if lib in libraries and not libraries[lib].get("resolved")]
    ldd = (binary or {}).get("ldd") or {}
    ldd_missing: list[str] = []
    for soname in ldd.get("not_found") or []:
        family = _family(str(soname))
        if family is None:
            continue
        if family == "libcuda" and (gpu is None or gpu.get("source") is None):
            notes.append(f"{soname} is the NVIDIA driver's library (GPU001)")
            continue
        ldd_missing.append(str(soname))
    toolkit_only = [
        lib for lib in LIBRARIES if (libraries.get(lib) or {}).get("where") == "toolkit"
    ]

    findings: list[Finding] = []
    if missing or ldd_missing:
        parts = []
        if missing:
            where = (
                f"LD_LIBRARY_PATH, the ldconfig cache or {toolkit}"
                if toolkit
                else ("LD_LIBRARY_PATH or the ldconfig cache")
            )
            parts.append(f"{', '.join(missing)} not found in {where}")
        if ldd_missing:
            binary_path = ldd.get("binary") or "moshi-server"
            parts.append(f"`ldd {binary_path}`: {', '.join(ldd_missing)} => not found")
        # When ldd's missing library is in the toolkit, pointing the loader at it is the fix.
        dirs = {
            os.path.dirname(str(libraries[f]["in_toolkit"]))
            for f in (_family(s) for s in ldd_missing)
            if f in libraries and libraries[f].get("in_toolkit")
        }
        commands: tuple[str, ...] = ()
        if dirs and not missing:
            commands = _loader_commands(min(dirs), system)
        else:
            release = ((nvcc_facts.get("nvcc") or {}).get("release")) or policy.cuda_recommended
            if not policy.cuda_build_supported(str(release)):
                release = policy.cuda_recommended
            parts.append(
                f"they ship with the CUDA {release} libraries "
                f"(`cuda-libraries-{str(release).replace('.', '-')}` in NVIDIA's repository)"
            )
        findings.append(
            Finding(
                "CUDA004",
                "; ".join(parts),
                evidence={"missing": missing, "ldd_not_found": ldd_missing, "toolkit": toolkit},
                params={"cuda_home": toolkit} if toolkit else {},
                commands=commands,
            )
        )
    if toolkit_only:
        libdir = os.path.dirname(str(libraries[toolkit_only[0]]["in_toolkit"]))
        findings.append(
            Finding(
                "CUDA004",
                f"{', '.join(toolkit_only)} only in {libdir}, which is neither in LD_LIBRARY_PATH "
                "nor in the ldconfig cache: the build links, but moshi-server cannot load them",
                evidence={"toolkit_only": toolkit_only, "libdir": libdir},
                params={"cuda_home": toolkit} if toolkit else {},
                severity=Severity.WARNING,
                commands=_loader_commands(libdir, system),
            )
        )
    if findings:
        return Outcome.found("CUDA libraries do not all resolve", *findings, notes=notes)
    resolved = ", ".join(
        f"{lib} ({libraries[lib].get('where')})" for lib in LIBRARIES if lib in libraries
    )
    summary = f"{resolved} resolve" if resolved else "no CUDA library facts"
    if not resolved:
        return Outcome.skip(summary)
    return Outcome.ok(summary + (f"; {'; '.join(notes)}" if notes else ""))


CHECK = Check(
    id="cuda.libraries",
    group="host",
    title="CUDA libraries",
    codes=("CUDA004",),
    probes=("nvcc",),
    run=check,
    uses=("binary", "system", "gpu"),
)
