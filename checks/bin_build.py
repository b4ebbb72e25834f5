"""binary.build: how cargo built the installed moshi-server: its version and its features.

What it checks
    cargo's install record (``$CARGO_HOME/.crates2.json``, or ``.crates.toml`` which holds only
    the version) for moshi-server: whether it was built with the ``cuda`` feature (BIN004) and
    whether its version is older than the recommended one in the policy data (BIN006).
    The binary has no ``--version`` flag, so the record is the only place the version shows.

Why it matters
    - BIN004: without ``--features cuda`` the Rust side of moshi-server runs on the CPU.
    - BIN006: older releases have known bugs (a new client can receive audio left over from the
      previous user of its slot; an idle model loop busy-spins a CPU core), and the oldest ones
      refuse Kyutai's current configs ("missing field `script`").

How to fix
    ``cargo install --force --features cuda moshi-server@<recommended version>``.

When there is no record of the binary (it was copied, or installed into another
``CARGO_HOME``), the comparison is skipped: ``cargo install --list`` shows what cargo
installed. A corrupt ``.crates2.json`` is named in the summary with its parse error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kyudoctor import policy
from kyudoctor.model import Check, Facts, Finding, Outcome

from ._util import probe_facts

LIST_HINT = "`cargo install --list` shows what cargo installed"


def check(facts: Facts) -> Outcome:
    """BIN004 record without ``cuda``; BIN006 version older than the policy's recommended one."""
    binary = probe_facts(facts, "binary") or {}
    candidates = [c for c in (binary.get("candidates") or []) if isinstance(c, Mapping)]
    elves = [str(c["path"]) for c in candidates if c.get("kind") == "elf"]
    if not elves:
        if any(c.get("kind") == "python-script" for c in candidates):
            return Outcome.skip(
                "no Rust moshi-server binary, only the Python script (BIN001, BIN003)"
            )
        return Outcome.skip("moshi-server is not installed (BIN001)")

    install: Mapping[str, Any] | None = binary.get("install")
    error = binary.get("install_error")
    cargo_home = str(binary.get("cargo_home") or binary.get("cargo_bin") or "$CARGO_HOME")
    cargo_binary = binary.get("cargo_binary")

    if install is None:
        if error:
            return Outcome.skip(f"cargo's install record could not be read: {error}")
        if cargo_binary is None:
            return Outcome.skip(
                f"{elves[0]} is not in cargo's install record ({cargo_home}): its version and "
                f"features are unknown; {LIST_HINT}"
            )
        return Outcome.skip(
            f"no install record for {cargo_binary} in {cargo_home}/.crates2.json: version and "
            f"features unknown; {LIST_HINT}"
        )
    if cargo_binary is None:
        return Outcome.skip(
            f"cargo's record lists moshi-server {install.get('version')}, but it is not in "
            f"{cargo_home}/bin; the version of {elves[0]} is unknown; {LIST_HINT}"
        )

    the_policy = policy.load()
    recommended = the_policy.moshi_server_recommended
    version = str(install.get("version") or "")
    record = str(install.get("record") or cargo_home)
    features = install.get("features")
    params = {"moshi_server_version": recommended, "binary": cargo_binary}
    findings: list[Finding] = []

    has_cuda: bool | None = None
    if isinstance(features, list):
        has_cuda = "cuda" in features or install.get("all_features") is True
        if not has_cuda:
            shown = ", ".join(str(f) for f in features) or "none"
            findings.append(
                Finding(
                    "BIN004",
                    f"cargo built moshi-server {version} without the cuda feature (features: "
                    f"{shown}, in {record}): its Rust side runs on the CPU",
                    evidence={"version": version, "features": list(features), "record": record},
                    params=params,
                )
            )

    if the_policy.moshi_server_outdated(version):
        consequences = list(the_policy.moshi_server_known_bugs(version))
        if the_policy.moshi_server_requires_script(version):
            consequences.append(
                "it requires `script` in the Py module, which Kyutai's current configs leave out "
                '("missing field `script`")'
            )
        why = f": {'; '.join(consequences)}" if consequences else ""
        findings.append(
            Finding(
                "BIN006",
                f"moshi-server {version} is installed (per {record}); {recommended} is "
                f"recommended{why}",
                evidence={"version": version, "recommended": recommended, "record": record},
                params=params,
            )
        )

    built = f"moshi-server {version}"
    if has_cuda:
        built += " with cuda"
    summary = f"{built} ({record})"
    if error:
        summary += f"; {error}"
    if findings:
        return Outcome.found(summary, *findings)
    if has_cuda is None:
        why = error or f"{record} does not record features"
        return Outcome.skip(f"{built} is current; whether it has cuda is unknown: {why}")
    return Outcome.ok(summary)


CHECK = Check(
    id="binary.build",
    group="host",
    title="moshi-server build: version and cuda feature",
    codes=("BIN004", "BIN006"),
    probes=("binary",),
    run=check,
)
