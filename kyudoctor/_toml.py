"""TOML on every supported Python, and the names of TOML's value types.

``tomllib`` is the standard library's parser from Python 3.11 and ``tomli`` (the same code,
a dependency only below 3.11) before it: import it from here, not with a version check of
one's own. :func:`type_name` names a parsed value's TOML type for facts and error messages.
"""

from __future__ import annotations

import datetime as _dt
import sys
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

__all__ = ["a_type_name", "tomllib", "type_name"]


def type_name(value: Any) -> str:
    """``"boolean"``, ``"integer"``, ``"float"``, ``"string"``, ``"datetime"``, ``"array"``
    or ``"table"``: the TOML type of a value :mod:`tomllib` returned."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (_dt.date, _dt.time)):
        return "datetime"
    if isinstance(value, list):
        return "array"
    return "table"


_PROSE = {
    "integer": "a number",
    "float": "a number",
    "datetime": "a date or time",
    "array": "an array",
}


def a_type_name(value: Any) -> str:
    """The type of a value for a sentence: ``"a number"``, ``"a date or time"``, ``"a table"``."""
    name = type_name(value)
    return _PROSE.get(name, f"a {name}")
