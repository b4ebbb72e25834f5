"""Generate ``docs/codes/``: one Markdown page per catalog code, and an index.

Usage::

    python -m kyudoctor.docsgen            # rewrite docs/codes/ from the catalog
    python -m kyudoctor.docsgen --check    # exit 1, listing stale, missing and extra files

The page body is :func:`kyudoctor.explain.body_lines` with Markdown headings and links, so a
page says exactly what ``kyudoctor explain CODE`` prints. The directory is wholly generated:
writing removes ``.md`` files that no longer belong to a code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from kyudoctor import catalog, explain
from kyudoctor.catalog import Symptom

__all__ = ["expected_files", "main", "page_name", "render_index", "render_page"]

GENERATED = (
    "<!-- Generated from kyudoctor/data/symptoms.toml by `python -m kyudoctor.docsgen`; "
    "do not edit. -->"
)


def page_name(symptom: Symptom) -> str:
    """The file name of a code's page: ``CODE-slug.md``."""
    return f"{symptom.code}-{symptom.slug}.md"


def _link(symptom: Symptom) -> str:
    return f"[{explain.plain_ref(symptom)}]({page_name(symptom)})"


def render_page(symptom: Symptom) -> str:
    """The Markdown page of one code."""
    body = explain.body_lines(symptom, heading=lambda title: f"## {title}", ref=_link)
    lines = [
        GENERATED,
        "",
        f"# {symptom.code} {symptom.slug}",
        "",
        *body,
        "",
        f"Shown by `kyudoctor explain {symptom.code}`.",
    ]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_index() -> str:
    """``docs/codes/README.md``: a table of every code, linked to its page."""
    lines = [
        GENERATED,
        "",
        "# Symptom codes",
        "",
        (
            "Every problem kyudoctor names has a stable code and a slug that names the problem. "
            "Live checks and log triage report the same codes; `kyudoctor explain CODE` prints "
            "the page of a code, and `kyudoctor explain --list` this table."
        ),
        "",
        "| Code | Slug | Severity | Title |",
        "|---|---|---|---|",
    ]
    for symptom in catalog.all_symptoms():
        lines.append(
            f"| [{symptom.code}]({page_name(symptom)}) | `{symptom.slug}` "
            f"| {symptom.severity} | {_cell(symptom.title)} |"
        )
    return "\n".join(lines) + "\n"


def expected_files() -> dict[str, str]:
    """Every generated file: path relative to ``docs/codes`` -> content."""
    files = {page_name(s): render_page(s) for s in catalog.all_symptoms()}
    files["README.md"] = render_index()
    return files


def _default_docs_dir() -> Path:
    """``docs/codes`` of the checkout containing the current directory (else under it)."""
    cwd = Path.cwd()
    for directory in (cwd, *cwd.parents):
        if (directory / "kyudoctor" / "data" / "symptoms.toml").is_file():
            return directory / "docs" / "codes"
    return cwd / "docs" / "codes"


def _compare(docs_dir: Path, expected: dict[str, str]) -> tuple[list[str], list[str], list[str]]:
    """(stale, missing, extra) file names."""
    on_disk = {p.name for p in docs_dir.glob("*.md")} if docs_dir.is_dir() else set()
    missing = sorted(set(expected) - on_disk)
    extra = sorted(on_disk - set(expected))
    stale = sorted(
        name
        for name in set(expected) & on_disk
        if (docs_dir / name).read_bytes() != expected[name].encode("utf-8")
    )
    return stale, missing, extra


def main(argv: Sequence[str] | None = None) -> int:
    """Write (or with ``--check`` verify) the generated docs; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m kyudoctor.docsgen",
        description="Generate docs/codes/ from the symptom catalog.",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when a file is stale, missing or extra",
    )
    parser.add_argument(
        "--docs-dir",
        type=Path,
        default=None,
        help="directory of the pages (default: docs/codes of this checkout)",
    )
    args = parser.parse_args(argv)
    docs_dir: Path = args.docs_dir if args.docs_dir is not None else _default_docs_dir()
    expected = expected_files()
    stale, missing, extra = _compare(docs_dir, expected)

    if args.check:
        if not (stale or missing or extra):
            print(f"{docs_dir}: up to date ({len(expected)} files)")
            return 0
        print(f"{docs_dir}: out of date; run: python -m kyudoctor.docsgen")
        for label, names in (("stale", stale), ("missing", missing), ("extra", extra)):
            for name in names:
                print(f"  {label}: {name}")
        return 1

    docs_dir.mkdir(parents=True, exist_ok=True)
    for name in (*stale, *missing):
        (docs_dir / name).write_bytes(expected[name].encode("utf-8"))
    for name in extra:
        (docs_dir / name).unlink()
    changed = len(stale) + len(missing)
    print(f"{docs_dir}: {changed} written, {len(extra)} removed, {len(expected)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
