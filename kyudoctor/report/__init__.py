"""Reporters: one small module per output format, each ``render(report, stream)``.

Imported lazily by name so that a JSON run never imports rich.
"""

from __future__ import annotations

import importlib
from typing import Any, TextIO

from kyudoctor.model import Report

FORMATS = ("console", "json", "markdown", "junit", "github")


def render(fmt: str, report: Report, stream: TextIO, **options: Any) -> None:
    """Render ``report`` in format ``fmt`` (one of FORMATS) to ``stream``."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    module = importlib.import_module(f"{__name__}.{fmt}")
    if fmt == "console":
        module.render(report, stream, **options)
    else:
        module.render(report, stream)
