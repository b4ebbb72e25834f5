"""cxx.prerequisites: pkg-config, the OpenSSL headers and git, which the build also needs.

What it checks
    CXX006, one finding listing everything missing:

    - ``pkg-config`` not on PATH (then the OpenSSL headers cannot be looked up either, and
      ``libssl-dev`` is listed too);
    - ``pkg-config --exists openssl`` failing: no OpenSSL development headers;
    - ``git`` not on PATH.

Why it matters
    moshi-server downloads models over HTTPS with native TLS: the ``openssl-sys`` crate finds
    OpenSSL through pkg-config ("Could not find directory of OpenSSL installation",
    "pkg-config command could not be found"); cargo and build scripts fetch git sources.

How to fix
    Install just what is missing with the system's package manager (the check prints the exact
    command, e.g. ``sudo apt-get install -y pkg-config libssl-dev git``).

Build-only: when a current CUDA build of moshi-server is already installed, CXX006 is a
warning saying these are needed only to (re)build it.
"""

from __future__ import annotations

from kyudoctor.model import Check, Facts, Finding, Outcome, Severity
from kyudoctor.policy import load

from ._cuda import BUILD_ONLY_NOTE, prebuilt_moshi_server
from ._util import install_command, probe_facts


def check(facts: Facts) -> Outcome:
    """CXX006 listing the missing ones among pkg-config, OpenSSL headers and git."""
    toolchain = probe_facts(facts, "toolchain")
    if toolchain is None:
        return Outcome.skip("the toolchain probe did not run")
    pkg_config = toolchain.get("pkg_config") or {}
    openssl = toolchain.get("openssl") or {}
    git = toolchain.get("git") or {}
    missing: list[str] = []
    seen: list[str] = []
    if not pkg_config.get("path"):
        missing += ["pkg-config", "libssl-dev"]
        seen.append("no pkg-config on PATH (so the OpenSSL headers cannot be found either)")
    elif not openssl.get("found"):
        missing.append("libssl-dev")
        seen.append("`pkg-config --exists openssl` fails: no OpenSSL development headers")
    if not git.get("path"):
        missing.append("git")
        seen.append("no git on PATH")
    if not missing:
        return Outcome.ok(
            f"pkg-config {pkg_config.get('version')}, OpenSSL {openssl.get('version')}, "
            f"git {git.get('version')}"
        )
    system = probe_facts(facts, "system")
    message = "; ".join(seen)
    severity = None
    prebuilt = prebuilt_moshi_server(facts, load())
    if prebuilt:
        message += f"; {prebuilt}, so these are {BUILD_ONLY_NOTE}"
        severity = Severity.WARNING
    finding = Finding(
        "CXX006",
        message,
        evidence={"missing": missing},
        severity=severity,
        commands=(install_command(system, *missing),),
    )
    return Outcome.found(f"missing: {', '.join(missing)}", finding)


CHECK = Check(
    id="cxx.prerequisites",
    group="host",
    title="pkg-config, OpenSSL headers, git",
    codes=("CXX006",),
    probes=("toolchain",),
    run=check,
    uses=("system", "binary"),
)
