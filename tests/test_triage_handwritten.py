"""Reports written by hand from what the real tools print, after the signatures were written.

They were the first check that triage generalises beyond ../shared/corpus (58 one-to-four-line
reports, one per line of tests/data/triage/handwritten.txt: ``CODE|||text`` with ``\\n`` for a
line break); they stay as a regression test of the first answer.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kyudoctor.triage import triage_text

CASES = [
    tuple(line.split("|||", 1))
    for line in (Path(__file__).parent / "data/triage/handwritten.txt").read_text().splitlines()
    if line.strip()
]


@pytest.mark.parametrize(
    ("code", "text"), CASES, ids=[f"{c}-{i}" for i, (c, _) in enumerate(CASES)]
)
def test_first_answer(code: str, text: str) -> None:
    """The expected code is triage's first finding."""
    result = triage_text(text.replace("\\n", "\n"))
    assert result.findings and result.findings[0].code == code, [f.code for f in result.findings]
