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
import importlib
import inspect
import sys
import textwrap
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from kyudoctor import catalog, explain
from kyudoctor.catalog import Symptom

__all__ = [
    "docs_files",
    "expected_files",
    "main",
    "page_name",
    "render_checks",
    "render_index",
    "render_page",
]

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


SECTION_HEADINGS = ("What it checks", "Why it matters", "How to fix")


def _docstring_markdown(doc: str) -> list[str]:
    """A check module's docstring (after its first line) as Markdown: headings in bold, the
    indented section bodies dedented so they read as paragraphs and lists, not code."""
    body = inspect.cleandoc(doc).split("\n")[1:]
    out: list[str] = []
    section: list[str] = []

    def flush() -> None:
        if section:
            out.extend(textwrap.dedent("\n".join(section)).strip("\n").split("\n"))
            out.append("")
            section.clear()

    for line in body:
        if line.strip() in SECTION_HEADINGS and not line.startswith(" "):
            flush()
            out.extend([f"**{line.strip()}**", ""])
        else:
            section.append(line)
    flush()
    while out and not out[0].strip():
        out.pop(0)
    return out


def render_checks() -> str:
    """``docs/checks.md``: every check in report order, from the registry and its docstrings."""
    from kyudoctor import checks as registry

    symptoms = {s.code: s for s in catalog.all_symptoms()}
    lines = [
        "<!-- Generated from the docstrings of checks/ by `python -m kyudoctor.docsgen`; "
        "do not edit. -->",
        "",
        "# Checks",
        "",
        "Every check of `kyudoctor check`, in report order. Each is one module of `checks/`; this",
        "page is generated from their docstrings (`python -m kyudoctor.docsgen`).",
        "",
    ]
    for name in registry.MODULES:
        module = importlib.import_module(f"kyudoctor.checks.{name}")
        check = module.CHECK
        doc = module.__doc__ or ""
        codes = ", ".join(f"[{c}](codes/{page_name(symptoms[c])})" for c in check.codes)
        optional = f"; uses {', '.join(check.uses)} when available" if check.uses else ""
        lines += [
            f"## `{check.id}`: {check.title}",
            "",
            f"Codes: {codes}. Group: `{check.group}`. Facts: {', '.join(check.probes)}{optional}.",
            "",
            *_docstring_markdown(doc),
        ]
    return "\n".join(lines).rstrip("\n") + "\n"


def docs_files() -> dict[str, str]:
    """Generated files directly under ``docs/``: the checks page and the JSON report schema."""
    schema = (resources.files("kyudoctor") / "data" / "report.schema.json").read_text("utf-8")
    return {"checks.md": render_checks(), "report.schema.json": schema}


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
    top = docs_dir.parent
    top_files = docs_files()
    top_stale = sorted(
        name
        for name, content in top_files.items()
        if not (top / name).is_file() or (top / name).read_bytes() != content.encode("utf-8")
    )

    if args.check:
        for name in top_stale:
            print(f"{top}: out of date; run: python -m kyudoctor.docsgen")
            print(f"  stale: {name}")
        if top_stale and not (stale or missing or extra):
            return 1
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
    for name in top_stale:
        (top / name).write_bytes(top_files[name].encode("utf-8"))
    changed = len(stale) + len(missing) + len(top_stale)
    print(f"{docs_dir}: {changed} written, {len(extra)} removed, {len(expected)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
