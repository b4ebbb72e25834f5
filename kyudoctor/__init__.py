"""kyudoctor: diagnostics and troubleshooting for Kyutai TTS deployments (moshi-server).

The package import is kept free of heavy modules so that ``kyudoctor --version`` starts
fast; the public names below are loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "CheckResult",
    "Finding",
    "Report",
    "Severity",
    "Status",
    "__version__",
    "run_check",
]

if TYPE_CHECKING:  # pragma: no cover
    from kyudoctor.api import run_check
    from kyudoctor.model import CheckResult, Finding, Report, Severity, Status

_LAZY = {
    "CheckResult": "kyudoctor.model",
    "Finding": "kyudoctor.model",
    "Report": "kyudoctor.model",
    "Severity": "kyudoctor.model",
    "Status": "kyudoctor.model",
    "run_check": "kyudoctor.api",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kyudoctor' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
