"""cxx.libstdcxx: does g++ find the libstdc++ it links C++ code against?

What it checks
    CXX004: ``g++ -print-file-name=libstdc++.so``. GCC prints the full path of the library when
    it finds one, and just the bare name ``libstdc++.so`` when it does not; the probe records
    whether the printed path exists.

Why it matters
    moshi-server's C++ dependencies (sentencepiece) link against libstdc++. Without the
    development files of the libstdc++ that matches the g++ version, the link fails with
    "/usr/bin/ld: cannot find -lstdc++". This happens when g++ was switched to a version whose
    ``libstdc++-N-dev`` package is not installed (e.g. a g++-13 from a PPA, or clang using a
    GCC installation without it).

How to fix
    Install the development files matching the g++ major version: ``libstdc++-N-dev`` on
    Debian/Ubuntu, ``libstdc++-devel`` on Fedora/RHEL/openSUSE, ``gcc`` on Arch.

Skipped when there is no g++ (CXX001) or when ``g++ -print-file-name`` itself failed.
"""

from __future__ import annotations

from kyudoctor.model import Check, Facts, Finding, Outcome
from kyudoctor.policy import load

from ._cuda import build_only, prebuilt_moshi_server
from ._util import install_command, probe_facts

_DEVEL = {
    "dnf": "libstdc++-devel",
    "yum": "libstdc++-devel",
    "zypper": "libstdc++-devel",
    "pacman": "gcc",
}


def check(facts: Facts) -> Outcome:
    """CXX004 when ``g++ -print-file-name=libstdc++.so`` does not name an existing file."""
    toolchain = probe_facts(facts, "toolchain")
    if toolchain is None:
        return Outcome.skip("the toolchain probe did not run")
    gxx = toolchain.get("gxx") or {}
    lib = toolchain.get("libstdcxx") or {}
    if not gxx.get("path"):
        return Outcome.skip("no g++ (CXX001)")
    printed = lib.get("printed")
    if printed is None:
        return Outcome.skip(f"`g++ -print-file-name=libstdc++.so` failed: {lib.get('error')}")
    if lib.get("exists"):
        return Outcome.ok(f"g++ links {printed}")
    major = gxx.get("major")
    system = probe_facts(facts, "system")
    manager = (system or {}).get("package_manager") or "apt-get"
    package = _DEVEL.get(str(manager)) or (f"libstdc++-{major}-dev" if major else None)
    seen = f"`{gxx['path']} -print-file-name=libstdc++.so` prints {printed!r}" + (
        ", a file that does not exist"
        if printed != "libstdc++.so"
        else ": it finds no libstdc++.so"
    )
    finding = Finding(
        "CXX004",
        f"{seen} ({gxx.get('banner') or 'g++'})",
        evidence={"printed": printed, "gxx": gxx["path"]},
        params={"gcc_major": major} if major else {},
        commands=(install_command(system, package),) if package else None,
    )
    finding = build_only(finding, prebuilt_moshi_server(facts, load()), "libstdc++")
    return Outcome.found("libstdc++ development files missing", finding)


CHECK = Check(
    id="cxx.libstdcxx",
    group="host",
    title="libstdc++ for g++",
    codes=("CXX004",),
    probes=("toolchain",),
    run=check,
    uses=("system", "binary"),
)
