"""cxx.cmake: is there a cmake that can build sentencepiece?

What it checks
    CXX005: cmake missing, not answering ``cmake --version``, or of a major version at or above
    the policy's ``cmake_broken_major`` (CMake 4) without ``CMAKE_POLICY_VERSION_MINIMUM`` set.

Why it matters
    The sentencepiece crate builds its C++ library with cmake ("is `cmake` not installed?").
    CMake 4 removed compatibility with projects declaring ``cmake_minimum_required`` below 3.5,
    which sentencepiece does: "Compatibility with CMake < 3.5 has been removed from CMake".

How to fix
    Install cmake (a 3.x one, as Debian/Ubuntu ship), or keep CMake 4 and ``export
    CMAKE_POLICY_VERSION_MINIMUM=3.5`` (the policy's workaround) before ``cargo install``.

Build-only: when a current CUDA build of moshi-server is already installed, CXX005 is a
warning saying cmake is needed only to (re)build it.
"""

from __future__ import annotations

from kyudoctor.model import Check, Facts, Finding, Outcome, Severity
from kyudoctor.policy import load

from ._cuda import BUILD_ONLY_NOTE, prebuilt_moshi_server
from ._util import install_command, probe_facts


def check(facts: Facts) -> Outcome:
    """CXX005 when cmake is missing or a major that breaks the sentencepiece build."""
    policy = load()
    toolchain = probe_facts(facts, "toolchain")
    if toolchain is None:
        return Outcome.skip("the toolchain probe did not run")
    system = probe_facts(facts, "system")
    env = (system or {}).get("env") or {}
    cmake = toolchain.get("cmake") or {}
    variable, _, _ = policy.cmake_policy_workaround.partition("=")
    commands: tuple[str, ...]
    if not cmake.get("path"):
        message = "no cmake on PATH"
        commands = (install_command(system, "cmake"),)
    elif not isinstance(cmake.get("major"), int):
        message = f"cmake at {cmake['path']} does not work: `cmake --version` {cmake.get('error')}"
        commands = (install_command(system, "cmake"),)
    elif cmake["major"] >= policy.cmake_broken_major:
        if env.get(variable):
            return Outcome.ok(f"cmake {cmake.get('version')} with {variable}={env[variable]}")
        message = (
            f"cmake {cmake.get('version')} at {cmake['path']}: CMake {policy.cmake_broken_major} "
            "and newer refuse sentencepiece's cmake_minimum_required"
        )
        commands = (f"export {policy.cmake_policy_workaround}",)
    else:
        return Outcome.ok(f"cmake {cmake.get('version')} at {cmake['path']}")
    severity = None
    prebuilt = prebuilt_moshi_server(facts, policy)
    if prebuilt:
        message += f"; {prebuilt}, so cmake is {BUILD_ONLY_NOTE}"
        severity = Severity.WARNING
    finding = Finding(
        "CXX005",
        message,
        evidence={"cmake": cmake.get("path"), "version": cmake.get("version")},
        severity=severity,
        commands=commands,
    )
    return Outcome.found("cmake missing or incompatible", finding)


CHECK = Check(
    id="cxx.cmake",
    group="host",
    title="cmake",
    codes=("CXX005",),
    probes=("toolchain",),
    run=check,
    uses=("system", "binary"),
)
