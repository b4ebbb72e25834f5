"""Helpers shared by the Python environment and torch checks: pure functions of facts."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from kyudoctor import policy

from ._util import quote


def describe(python: Mapping[str, Any]) -> str:
    """``Python 3.12.8 at /path/bin/python`` (the venv's interpreter as the user named it)."""
    return f"Python {python.get('version')} at {python.get('interpreter')}"


def unusable(python: Mapping[str, Any] | None) -> str | None:
    """Why a check cannot judge the target's packages, or None when it can."""
    if python is None:
        return "the target Python was not examined (the python probe failed)"
    if python.get("introspected") is False or python.get("distributions") is None:
        why = python.get("error") or "kyudoctor could not list its packages"
        return f"{describe(python)}: only its version is known ({why}); see PY001"
    return None


def project_dir(python: Mapping[str, Any]) -> str | None:
    """The directory of the pyproject.toml the requirements came from, when one was given."""
    path = (python.get("requirements") or {}).get("path")
    return os.path.dirname(path) if isinstance(path, str) and path else None


def sync_command(python: Mapping[str, Any]) -> str | None:
    """``cd <moshi-server's python project> && uv sync --locked``, when its directory is known."""
    directory = project_dir(python)
    return f"cd {quote(directory)} && uv sync --locked" if directory else None


def public_version(version: str | None) -> str | None:
    """A version without its local part: ``2.9.1+cu128`` -> ``2.9.1``."""
    parsed = policy.parse_version(version)
    return parsed.public if parsed is not None else None
