"""cxx.compiler: is there a C++ compiler, and is its GCC version one the build accepts?

What it checks
    Two compilers matter to a moshi-server build:

    - the **build compiler** (cargo's cc crate and cmake, for sentencepiece): the one ``CXX``
      names when set, else ``c++``, else ``g++``;
    - **nvcc's host compiler**: the one ``NVCC_CCBIN`` names when set, else ``g++`` on PATH.

    Codes:

    - CXX001: no ``g++``/``c++`` at all, or ``CXX`` / ``NVCC_CCBIN`` naming a compiler that is
      not installed (error; a warning when a current CUDA build of moshi-server is installed:
      the compiler is needed only to rebuild it);
    - CXX002: a GCC older than the policy's ``gxx_min_major``;
    - CXX003: nvcc's host GCC newer than the newest that nvcc release accepts (the policy's
      table from NVIDIA's ``crt/host_config.h``), or a build GCC at or above the policy's
      sentencepiece-breaking major (GCC 15) without ``-include cstdint`` in ``CXXFLAGS``.

    Only GCC versions are compared: a clang build compiler is reported as such, not judged.

Why it matters
    nvcc refuses newer host compilers ("unsupported GNU version! gcc versions later than N are
    not supported"); GCC 15 breaks the sentencepiece bindings; older GCCs lack C++ library
    features the dependencies use.

How to fix
    Select an accepted GCC through ``CC``/``CXX``/``NVCC_CCBIN``. When one is already installed
    (a ``g++-N`` on PATH) the check prints just the ``export`` line; otherwise the install
    command too. For the GCC 15 sentencepiece case alone, ``export CXXFLAGS="-include cstdint"``
    is enough.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from kyudoctor.model import Check, Facts, Finding, Outcome, Severity
from kyudoctor.policy import Policy, load

from ._cuda import BUILD_ONLY_NOTE, build_only, nvcc_unusable, prebuilt_moshi_server
from ._util import install_command, probe_facts

_VERSIONED = re.compile(r"^(g\+\+|gcc|clang\+\+|clang)-\d+$")


def _gcc_major(record: Mapping[str, Any] | None) -> int | None:
    if not record or record.get("compiler") != "gcc" or not isinstance(record.get("major"), int):
        return None
    major: int = record["major"]
    return major


def _describe(record: Mapping[str, Any]) -> str:
    return f"{record.get('path')} ({record.get('banner') or record.get('version')})"


def _short(record: Mapping[str, Any]) -> str:
    return f"{record.get('path')} ({record.get('compiler')} {record.get('version')})"


def _workaround_flag(policy: Policy) -> str:
    """``-include cstdint`` out of the policy's ``CXXFLAGS="-include cstdint"``."""
    return policy.gcc_sentencepiece_workaround.split("=", 1)[-1].strip().strip("\"'")


def _select(
    upper: int,
    install: int,
    toolchain: Mapping[str, Any],
    system: Mapping[str, Any] | None,
    policy: Policy,
) -> tuple[int, tuple[str, ...], str]:
    """(gcc major, commands, note): the newest installed g++-N between the floor and ``upper``,
    else ``install`` with its install command."""
    installed = sorted(
        (
            int(v["major"])
            for v in toolchain.get("gxx_versions") or []
            if isinstance(v, Mapping)
            and isinstance(v.get("major"), int)
            and policy.gxx_min_major <= v["major"] <= upper
        ),
        reverse=True,
    )
    major = installed[0] if installed else install
    export = f"export CC=gcc-{major} CXX=g++-{major} NVCC_CCBIN=g++-{major}"
    if installed:
        return major, (export,), f"g++-{major} is already installed"
    manager = (system or {}).get("package_manager") or "apt-get"
    if manager == "apt-get":
        return major, (install_command(system, f"gcc-{major}", f"g++-{major}"), export), ""
    return major, (export,), f"install GCC {major} with {manager} first"


def _named_fix(value: str, var: str, system: Mapping[str, Any] | None) -> str:
    """Install the versioned g++ a variable names, or unset the variable."""
    name = os.path.basename(value.split()[-1]) if value.split() else value
    if _VERSIONED.match(name):
        return install_command(system, name)
    return f"unset {var}"


def check(facts: Facts) -> Outcome:
    """CXX001 no compiler; CXX002 GCC too old; CXX003 GCC too new for nvcc or sentencepiece."""
    policy = load()
    toolchain = probe_facts(facts, "toolchain")
    if toolchain is None:
        return Outcome.skip("the toolchain probe did not run")
    system = probe_facts(facts, "system")
    env = (system or {}).get("env") or {}
    nvcc_facts = probe_facts(facts, "nvcc")
    gxx, cxx = toolchain.get("gxx") or {}, toolchain.get("cxx") or {}
    cxx_env, ccbin = toolchain.get("cxx_env"), toolchain.get("ccbin")
    prebuilt = prebuilt_moshi_server(facts, policy)

    missing: list[str] = []
    if cxx_env and not cxx_env.get("path"):
        missing.append(f"CXX={cxx_env.get('value')} names a compiler that is not installed")
    if ccbin and not ccbin.get("path"):
        missing.append(f"NVCC_CCBIN={ccbin.get('value')} names a compiler that is not installed")
    if not gxx.get("path") and not cxx.get("path") and not cxx_env:
        missing.append("no g++ or c++ on PATH")
    if missing:
        severity = None
        message = "; ".join(missing)
        if prebuilt:
            message += f"; {prebuilt}, so a compiler is {BUILD_ONLY_NOTE}"
            severity = Severity.WARNING
        fixes: list[str] = []
        for var, record in (("CXX", cxx_env), ("NVCC_CCBIN", ccbin)):
            if record and not record.get("path"):
                fixes.append(_named_fix(str(record.get("value")), var, system))
        if not gxx.get("path") and not cxx.get("path"):
            fixes.insert(0, install_command(system, "build-essential"))
        commands: tuple[str, ...] = tuple(fixes)
        finding = Finding(
            "CXX001", message, evidence={"missing": missing}, severity=severity, commands=commands
        )
        return Outcome.found("C++ compiler missing", finding)

    build = cxx_env if cxx_env else (cxx if cxx.get("path") else gxx)
    host = ccbin if ccbin else gxx
    findings: list[Finding] = []
    notes: list[str] = []

    # CXX002: any GCC in play older than the floor.
    old = [
        r
        for r in {id(r): r for r in (build, host)}.values()
        if r and r.get("path") and (_gcc_major(r) or policy.gxx_min_major) < policy.gxx_min_major
    ]
    skip_nvcc = nvcc_unusable(nvcc_facts, policy)
    nvcc_version = (nvcc_facts or {}).get("nvcc", {}).get("version") if skip_nvcc is None else None
    nvcc_max = policy.nvcc_max_gcc_major(nvcc_version) if nvcc_version else None
    # Every GCC a fix selects must pass both nvcc's ceiling and the sentencepiece breakage.
    upper = policy.gcc_sentencepiece_broken_major - 1
    if nvcc_max is not None:
        upper = min(upper, nvcc_max)
    if old:
        # The newest installed GCC every limit accepts, else the floor (the most widely packaged).
        major, commands, note = _select(upper, policy.gxx_min_major, toolchain, system, policy)
        message = "; ".join(f"{_describe(r)} is older than GCC {policy.gxx_min_major}" for r in old)
        findings.append(
            Finding(
                "CXX002",
                message + (f"; {note}" if note else ""),
                evidence={"compilers": [r.get("path") for r in old]},
                params={"gcc_major": major},
                commands=commands,
            )
        )

    # CXX003: nvcc's ceiling for its host compiler, and sentencepiece's GCC 15 breakage.
    problems: list[str] = []
    limit: int | None = None
    host_major = _gcc_major(host)
    if skip_nvcc:
        notes.append(f"host compiler not compared with nvcc: {skip_nvcc}")
    elif nvcc_max is None:
        notes.append(f"nvcc {nvcc_version}: its host GCC limit is not in the policy data")
    elif host_major is not None and host_major > nvcc_max:
        via = "NVCC_CCBIN" if ccbin else "g++"
        problems.append(
            f"nvcc {nvcc_version} accepts host GCC up to {nvcc_max}, and its host compiler "
            f"({via}) is {_describe(host)}"
        )
        limit = nvcc_max
    build_major = _gcc_major(build)
    flag = _workaround_flag(policy)
    sentencepiece = (
        build_major is not None
        and build_major >= policy.gcc_sentencepiece_broken_major
        and flag not in str(env.get("CXXFLAGS") or "")
    )
    if sentencepiece:
        problems.append(
            f"{_describe(build)} is GCC {build_major}, which breaks the sentencepiece build "
            f"(GCC {policy.gcc_sentencepiece_broken_major} and newer) unless CXXFLAGS has {flag}"
        )
    if problems:
        if limit is None:
            # sentencepiece only: the flag is the lightest fix.
            current = env.get("CXXFLAGS")
            flags = f"{flag} {current}" if current else flag
            commands = (f'export CXXFLAGS="{flags}"',)
            major = policy.gcc_sentencepiece_fallback_major
            note = f"or select GCC {major} through CC/CXX"
        else:
            install = (
                min(upper, policy.gcc_sentencepiece_fallback_major) if sentencepiece else upper
            )
            major, commands, note = _select(upper, install, toolchain, system, policy)
        findings.append(
            Finding(
                "CXX003",
                "; ".join(problems) + (f"; {note}" if note else ""),
                evidence={
                    "host": host.get("path"),
                    "build": build.get("path"),
                    "nvcc_max_gcc": nvcc_max,
                },
                params={"gcc_major": major},
                commands=commands,
            )
        )

    if findings:
        findings = [build_only(f, prebuilt, "this compiler") for f in findings]
        return Outcome.found("C++ compiler version not accepted", *findings, notes=notes)
    kind = build.get("compiler")
    summary = f"build compiler {_short(build)}"
    if kind != "gcc":
        summary += " (GCC limits not compared)"
    if host is not build and host.get("path"):
        summary += f"; nvcc host compiler {_short(host)}"
    if nvcc_max is not None:
        summary += f"; nvcc accepts GCC up to {nvcc_max}"
    return Outcome.ok(summary, notes=notes)


CHECK = Check(
    id="cxx.compiler",
    group="host",
    title="C++ compiler",
    codes=("CXX001", "CXX002", "CXX003"),
    probes=("toolchain",),
    run=check,
    uses=("nvcc", "system", "binary"),
)
