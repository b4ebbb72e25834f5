"""Per-code log fixtures (tests/triage/<CODE>/*.log): each names its code first, with both
matchers. The files are written as users paste them: compose prefixes, timestamps, ANSI
colours, CRLF, progress bars, wrapped lines, Windows paths, UTF-16."""

from __future__ import annotations

from pathlib import Path

import pytest

from kyudoctor import catalog
from kyudoctor.triage import available_matchers, triage_path

FIXTURES = Path(__file__).resolve().parent / "triage"
FILES = sorted(FIXTURES.glob("*/*.log"))
MATCHERS = available_matchers()


def test_there_is_a_fixture_for_every_code_with_signatures() -> None:
    """Every code that has log signatures has at least one fixture directory."""
    with_signatures = {s.code for s in catalog.all_symptoms() if s.signatures}
    with_fixtures = {path.parent.name for path in FILES}
    assert with_signatures <= with_fixtures
    assert with_fixtures <= {s.code for s in catalog.all_symptoms()}


@pytest.mark.parametrize("matcher", MATCHERS)
@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fixture_names_its_code_first(path: Path, matcher: str) -> None:
    """The first finding of a fixture is the code of its directory, with a real line number."""
    result = triage_path(path, matcher=matcher)
    assert result.findings, "nothing recognised"
    first = result.findings[0]
    assert first.code == path.parent.name, [(f.code, f.confidence) for f in result.findings]
    assert first.explained_by is None
    assert 1 <= first.line <= max(result.lines, 1)
    assert first.excerpt and "\x1b" not in first.excerpt
