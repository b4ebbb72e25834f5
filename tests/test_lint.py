"""The house rules for code: mypy --strict and ruff over the package and the checks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_mypy_strict() -> None:
    """kyudoctor/ and checks/ type-check under mypy --strict."""
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "kyudoctor", "checks"],
        cwd=REPO,
        check=False,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff() -> None:
    """ruff finds nothing to report in the package, the checks, the tests and the benchmarks."""
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "kyudoctor", "checks", "tests", "bench"],
        cwd=REPO,
        check=False,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
