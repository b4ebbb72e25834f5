"""Validation of JSON reports against the published schema (used by every JSON-producing test)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import jsonschema


@cache
def schema(name: str = "report.schema.json") -> dict[str, Any]:
    """The schema shipped in the package data."""
    text = (resources.files("kyudoctor") / "data" / name).read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def validate_report(data: Any) -> None:
    """Raise jsonschema.ValidationError when ``data`` is not a valid kyudoctor.report/1."""
    jsonschema.Draft202012Validator(schema()).validate(data)
