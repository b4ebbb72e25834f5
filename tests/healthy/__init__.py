"""Facts of a healthy GPU host, one module per probe, for table-driven check tests.

``facts(gpu={"driver_version": None})`` returns a deep copy of the healthy facts with the given
top-level keys of each probe replaced: a check test is "take facts, change one field, assert".
A probe name mapped to ``None`` means that probe failed.
"""

from __future__ import annotations

import copy
import importlib
from typing import Any

PROBES = ("system", "gpu", "nvcc", "toolchain", "python", "binary", "server", "config", "files")


def healthy() -> dict[str, Any]:
    """A deep copy of every probe's healthy facts."""
    out: dict[str, Any] = {}
    for name in PROBES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError:
            continue
        out[name] = copy.deepcopy(module.FACTS)
    return out


def facts(**overrides: Any) -> dict[str, Any]:
    """Healthy facts with per-probe overrides (``{key: value}`` merged, or ``None``)."""
    out = healthy()
    for name, change in overrides.items():
        if change is None:
            out[name] = None
        else:
            merged = dict(out.get(name) or {})
            merged.update(change)
            out[name] = merged
    return out


def status(outcome: Any) -> str:
    """The status a check's outcome gives: skipped, or its worst finding's severity, else ok."""
    from kyudoctor.rules import severity_of

    if outcome.skipped:
        return "skipped"
    worst = {severity_of(f).value for f in outcome.findings}
    return next((s for s in ("error", "warning", "info") if s in worst), "ok")
