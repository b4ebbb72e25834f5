"""env.disk: free space where the model downloads and where cargo keeps moshi-server.

What it checks
    Free space on the filesystem of the Hugging Face cache (``$HF_HOME``, default
    ``~/.cache/huggingface``) and of cargo's home (``$CARGO_HOME``, default ``~/.cargo``), measured
    by the ``system`` probe at the nearest existing directory, against the policy's minimum
    (``disk_min_free_gb``). Two paths on one filesystem are judged once.

Why it matters
    moshi-server downloads its model, tokenizer and voices into the Hugging Face cache at first
    start, and ``cargo install`` needs room for the build. A disk that fills up midway fails the
    download (CFG008) or the build with errors that do not say "disk full" plainly.

How to fix
    Free space on that filesystem, or point ``HF_HOME`` (and ``CARGO_TARGET_DIR`` for the build)
    at a larger one; in Docker, mount volumes for the HF cache and the cargo target.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kyudoctor import policy
from kyudoctor.model import Check, Facts, Finding, Outcome

from ._util import probe_facts

BYTES_PER_GB = 1000**3
PURPOSES: Mapping[str, str] = {"hf_cache": "the Hugging Face cache", "cargo": "cargo's home"}


def _gb(value: float) -> str:
    return f"{value / BYTES_PER_GB:.1f} GB"


def _where(entries: Sequence[Mapping[str, Any]]) -> str:
    return " and ".join(f"{PURPOSES[e['purpose']]} ({e['path']})" for e in entries)


def check(facts: Facts) -> Outcome:
    """ENV002 for each filesystem of the HF cache / cargo home below the policy's minimum."""
    threshold_gb = policy.load().disk_min_free_gb
    system = probe_facts(facts, "system") or {}
    entries = [
        d
        for d in (system.get("disk") or [])
        if isinstance(d, Mapping) and d.get("purpose") in PURPOSES
    ]
    measured = [d for d in entries if isinstance(d.get("free_bytes"), int)]
    unmeasured = [d for d in entries if d not in measured]
    if not measured:
        reasons = "; ".join(f"{d.get('path')}: {d.get('error') or 'not measured'}" for d in entries)
        return Outcome.skip(f"free disk space could not be measured ({reasons or 'no paths'})")

    groups: dict[Any, list[Mapping[str, Any]]] = {}
    for entry in measured:
        key = entry.get("device")
        if key is None:
            key = ("path", entry.get("measured_at") or entry.get("path"))
        groups.setdefault(key, []).append(entry)

    minimum = float(threshold_gb) * BYTES_PER_GB
    findings: list[Finding] = []
    parts: list[str] = []
    for group in groups.values():
        free = int(group[0]["free_bytes"])
        parts.append(f"{_gb(free)} free for {_where(group)}")
        if free < minimum:
            findings.append(
                Finding(
                    "ENV002",
                    f"{_gb(free)} free on the filesystem of {_where(group)}: the model download "
                    f"and the moshi-server build want at least {threshold_gb:g} GB",
                    evidence={
                        "paths": [e["path"] for e in group],
                        "measured_at": group[0].get("measured_at"),
                        "free_bytes": free,
                        "total_bytes": group[0].get("total_bytes"),
                        "minimum_gb": threshold_gb,
                    },
                )
            )
    summary = "; ".join(parts)
    if unmeasured:
        summary += "; not measured: " + ", ".join(
            f"{d.get('path')} ({d.get('error') or 'unknown'})" for d in unmeasured
        )
    if findings:
        return Outcome.found(summary, *findings)
    if unmeasured:
        return Outcome.skip(summary)
    return Outcome.ok(summary)


CHECK = Check(
    id="env.disk",
    group="host",
    title="Free disk space for the model cache and the build",
    codes=("ENV002",),
    probes=("system",),
    run=check,
)
