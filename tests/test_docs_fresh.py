"""The generated pages in docs/codes match the catalog, and say what `explain` says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kyudoctor import catalog, docsgen, explain

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "codes"
REGENERATE = "run: python -m kyudoctor.docsgen"


def _on_disk() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(DOCS.glob("*.md"))}


def test_generated_docs_are_fresh() -> None:
    """Every file in docs/codes is exactly what the generator makes from the catalog."""
    expected = docsgen.expected_files()
    on_disk = _on_disk()
    stale = sorted(n for n in set(expected) & set(on_disk) if expected[n] != on_disk[n])
    missing = sorted(set(expected) - set(on_disk))
    extra = sorted(set(on_disk) - set(expected))
    assert not (stale or missing or extra), (
        f"docs/codes is out of date ({REGENERATE}): stale={stale} missing={missing} extra={extra}"
    )


def test_every_code_has_a_page_and_no_page_is_extra() -> None:
    """One page per catalog code, named CODE-slug.md, plus the README index."""
    pages = {p.name for p in DOCS.glob("*.md")} - {"README.md"}
    assert pages == {f"{s.code}-{s.slug}.md" for s in catalog.all_symptoms()}, REGENERATE
    assert (DOCS / "README.md").is_file(), REGENERATE


def test_index_links_every_page() -> None:
    """The README table links each code to its page."""
    index = docsgen.render_index()
    for symptom in catalog.all_symptoms():
        assert f"| [{symptom.code}]({docsgen.page_name(symptom)}) |" in index


def _page_as_text(page: str) -> str:
    """A page turned back into explain's text: headings, links and the frame removed."""
    lines = page.splitlines()
    assert lines[0] == docsgen.GENERATED and lines[1] == ""
    assert lines[-2] == "" and lines[-1].startswith("Shown by `kyudoctor explain ")
    code, slug = lines[2].removeprefix("# ").split()
    severity = catalog.get(code).severity
    body = [
        re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", line.removeprefix("## ")) for line in lines[3:-2]
    ]
    assert body[0] == ""
    return "\n".join([f"{code} {slug} ({severity})", *body[1:]]) + "\n"


@pytest.mark.parametrize("symptom", catalog.all_symptoms(), ids=lambda s: s.code)
def test_page_says_what_explain_prints(symptom: catalog.Symptom) -> None:
    """A page differs from `explain CODE` only by Markdown headings, links and its frame."""
    page = docsgen.render_page(symptom)
    assert _page_as_text(page) == explain.text(symptom)
    assert page.endswith(f"Shown by `kyudoctor explain {symptom.code}`.\n")


def test_check_reports_missing_stale_and_extra(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--check exits 1 naming each bad file; writing fixes them all; --check then passes."""
    assert docsgen.main(["--check", "--docs-dir", str(tmp_path)]) == 1
    assert "missing: README.md" in capsys.readouterr().out

    assert docsgen.main(["--docs-dir", str(tmp_path)]) == 0
    assert docsgen.main(["--check", "--docs-dir", str(tmp_path)]) == 0
    capsys.readouterr()

    (tmp_path / "GPU001-nvidia-driver-missing.md").write_text("edited\n")
    (tmp_path / "GPU999-retired.md").write_text("old\n")
    (tmp_path / "WS005-no-free-channels.md").unlink()
    assert docsgen.main(["--check", "--docs-dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert REGENERATE in out
    assert "stale: GPU001-nvidia-driver-missing.md" in out
    assert "missing: WS005-no-free-channels.md" in out
    assert "extra: GPU999-retired.md" in out

    assert docsgen.main(["--docs-dir", str(tmp_path)]) == 0
    assert not (tmp_path / "GPU999-retired.md").exists()
    assert {p.name: p.read_text() for p in tmp_path.glob("*.md")} == docsgen.expected_files()


def test_default_docs_dir_is_found_from_a_subdirectory(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Run from anywhere in the checkout, the generator finds the repository's docs/codes."""
    monkeypatch.chdir(REPO / "tests")
    assert docsgen.main(["--check"]) == 0, capsys.readouterr().out
    assert str(DOCS) in capsys.readouterr().out


def test_checks_page_and_schema_copy_are_fresh() -> None:
    """docs/checks.md (from the checks' docstrings) and docs/report.schema.json are current."""
    for name, content in docsgen.docs_files().items():
        path = REPO / "docs" / name
        assert path.is_file() and path.read_text(encoding="utf-8") == content, (
            f"docs/{name} is out of date ({REGENERATE})"
        )


def test_checks_page_covers_every_check_and_its_codes() -> None:
    """Every registered check has a section naming its codes, linked to their pages."""
    from kyudoctor.checks import all_checks

    page = docsgen.render_checks()
    for check in all_checks():
        assert f"## `{check.id}`: {check.title}" in page
        for code in check.codes:
            assert f"[{code}](codes/{code}-" in page
