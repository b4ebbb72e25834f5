"""No version number is hard-coded in a check: versions live in kyudoctor/data/policy.toml.

Scans every ``checks/**/*.py`` with :mod:`ast` and looks at constants only (docstrings, also
attribute docstrings, and comments are free to mention versions):

- a string constant (f-string parts included) holding a version-like number: ``"2.6"``,
  ``"12.4.131"``, ``"525.60.13"``, ``"v0.6.4"``, or a wheel flavour / GPU arch such as
  ``"cu124"`` / ``"sm_89"``; IPv4 addresses (``"127.0.0.1"``) and all-zero placeholders
  (``"0.0"``) are not versions;
- a float constant other than a fraction in [0, 1] or a unit scale (100.0, 1e9, 1024.0...):
  ``8.0``, ``5.3``, ``12.4`` are thresholds that belong in the policy;
- a tuple of two to four small integers, the usual spelling of a version (``(12, 4)``), where
  it is an operand of an ordering comparison or a module-level constant (``x in (0, 1)`` is
  spared).

Bare integers are not scanned: too many are legitimate (indices, exit codes, sizes).

A line that really needs such a literal says why with ``# allow-version-literal: <reason>``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

CHECKS_DIR = Path(__file__).resolve().parents[1] / "checks"
ALLOW_MARK = "# allow-version-literal"

_VERSION_IN_STRING = re.compile(
    r"(?<![\w.])[vV]?\d+\.\d+(?:\.\d+)*(?![\w.])"  # 2.6, 12.4.131, v0.6.4
    r"|\bcu\d{3}\b"  # cu124
    r"|\bsm_\d{2,3}\b"  # sm_89
)
_IPV4 = re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w.])")
_ALL_ZERO = re.compile(r"0+(?:\.0+)+")
_UNIT_SCALES = {float(10**k) for k in range(1, 13)} | {float(2 ** (10 * k)) for k in range(1, 5)}
_SMALL_INT_LIMIT = 1000


def _docstring_nodes(tree: ast.AST) -> set[int]:
    """ids of the string constants that are statements of their own: docstrings of modules,
    classes, functions and attributes, which document and never run."""
    return {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    }


def _string_offences(text: str) -> list[str]:
    # A dotted quad is an address, not a version ("0.0.0.0", "127.0.0.1").
    addresses = [m.span() for m in _IPV4.finditer(text)]
    return [
        match.group(0)
        for match in _VERSION_IN_STRING.finditer(text)
        if not any(lo <= match.start() and match.end() <= hi for lo, hi in addresses)
        # An all-zero "0.0" is a placeholder default, not a version.
        and not _ALL_ZERO.fullmatch(match.group(0))
    ]


def _version_tuple_candidates(tree: ast.Module) -> Iterator[ast.expr]:
    """Operands of ordering comparisons, and values of module-level assignments."""
    ordering = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and any(isinstance(op, ordering) for op in node.ops):
            yield node.left
            yield from node.comparators
    for statement in tree.body:
        if isinstance(statement, (ast.Assign, ast.AnnAssign)) and statement.value is not None:
            yield statement.value


def _small_int_tuple(node: ast.expr) -> tuple[int, ...] | None:
    if not isinstance(node, ast.Tuple) or not 2 <= len(node.elts) <= 4:
        return None
    items = [
        e.value
        for e in node.elts
        if isinstance(e, ast.Constant) and type(e.value) is int and 0 <= e.value < _SMALL_INT_LIMIT
    ]
    return tuple(items) if len(items) == len(node.elts) else None


def _float_is_version_like(value: float) -> bool:
    return not (0.0 <= value <= 1.0 or value in _UNIT_SCALES)


def offences(source: str, filename: str = "<check>") -> list[str]:
    """``"line: literal"`` for every version-like constant in ``source`` outside docstrings."""
    tree = ast.parse(source, filename=filename)
    lines = source.splitlines()
    docstrings = _docstring_nodes(tree)
    found: list[str] = []

    def allowed(node: ast.AST) -> bool:
        lineno = getattr(node, "lineno", 0)
        end = getattr(node, "end_lineno", lineno) or lineno
        return any(
            ALLOW_MARK in lines[i - 1] for i in range(lineno, end + 1) if 0 < i <= len(lines)
        )

    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and id(node) not in docstrings and not allowed(node):
            value = node.value
            if isinstance(value, str):
                found.extend(f"{node.lineno}: {token!r}" for token in _string_offences(value))
            elif isinstance(value, float) and _float_is_version_like(value):
                found.append(f"{node.lineno}: {value!r}")
    for candidate in _version_tuple_candidates(tree):
        items = _small_int_tuple(candidate)
        if items is not None and not allowed(candidate):
            found.append(f"{candidate.lineno}: {items!r}")
    found.sort(key=lambda entry: int(entry.split(":", 1)[0]))
    return found


def _check_files() -> Iterator[Path]:
    if CHECKS_DIR.is_dir():
        yield from sorted(CHECKS_DIR.rglob("*.py"))


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('MIN = "2.6"\n', ["1: '2.6'"]),
        ('x = f"torch=={v} needs 12.4"\n', ["1: '12.4'"]),
        ('DRIVER = "525.60.13"\n', ["1: '525.60.13'"]),
        ('URL = "https://download.pytorch.org/whl/cu124"\n', ["1: 'cu124'"]),
        ("if cc >= 8.0:\n    pass\n", ["1: 8.0"]),
        ("if cuda >= (12, 4):\n    pass\n", ["1: (12, 4)"]),
        ("MIN_CUDA = (11, 4)\n", ["1: (11, 4)"]),
        ("if code in (0, 1):\n    pass\nf(x, (2, 3))\n", []),
        ('"""Needs CUDA 12.4 or newer."""\nX = 1\n', []),
        ('def f():\n    """torch 2.6 docs."""\n    return 1\n', []),
        ('class C:\n    x: str\n    """e.g. 12.4."""\n', []),
        ("# gcc 13 is fine\nX = 0.5 * 1024.0 / 1e9\n", []),
        ('HOST = "127.0.0.1"\nANY = "0.0.0.0"\n', []),
        ('major, _, minor = (cc or "0.0").partition(".")\n', []),
        ('x = "sm_89"  # allow-version-literal: example in a message\n', []),
        ('msg = "retry in a few seconds"\nn = 3\n', []),
    ],
)
def test_scanner(source: str, expected: list[str]) -> None:
    """The scanner flags version-like constants and spares docstrings, comments and addresses."""
    assert offences(source) == expected


def test_no_version_literals_in_checks() -> None:
    """No check under checks/ hard-codes a version number; they ask kyudoctor.policy."""
    report = []
    for path in _check_files():
        for offence in offences(path.read_text(encoding="utf-8"), str(path)):
            report.append(f"{path.relative_to(CHECKS_DIR.parent)}:{offence}")
    assert not report, "version literals in checks (move them to policy.toml):\n" + "\n".join(
        report
    )
