"""``kyudoctor explain CODE|SLUG`` and ``kyudoctor explain --list``: print catalog entries.

The text of one entry comes from :func:`body_lines`, which also makes the body of the generated
pages in ``docs/codes/`` (with Markdown headings and links), so the terminal and the docs cannot
say different things. Plain text only: this command must start fast.

Sample output (``kyudoctor explain BIN006``, shortened)::

    BIN006 moshi-server-outdated (warning)
    moshi-server is outdated

    Severity: warning by default; error when the log proves it

    What it means
    moshi-server 0.6.3 and older have a bug where a new client can receive audio ...

    How it is detected
    Live check: Installed version < 0.6.4.

    In logs: "missing field `script`" (0.6.0 and 0.6.1 required `script` in a `Py` ...

    How to fix
    Install the recommended version of moshi-server.

        cargo install --force --features cuda moshi-server@<moshi_server_version>
    ...
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from kyudoctor import catalog
from kyudoctor.catalog import Symptom

__all__ = ["SCHEMA", "WIDTH", "body_lines", "plain_ref", "run", "to_json", "wrap"]

SCHEMA = "kyudoctor.explain/1"
WIDTH = 79

# Words that would open a Markdown block inside a paragraph (bullet, quote, heading, fence,
# setext underline; an ordered list only when it starts at 1) when they start a line: the
# wrapper never starts a line with one, so the docs render as the text reads.
_BLOCK_START = re.compile(r"[-+*]|>.*|#{1,6}|1[.)]|=+|-+|`{3,}.*|~{3,}.*")


def _units(paragraph: str, width: int) -> list[str]:
    """Words, with a short `code span` that contains spaces kept as one unit."""
    words = paragraph.split()
    units: list[str] = []
    i = 0
    while i < len(words):
        unit, j = words[i], i + 1
        while unit.count("`") % 2 and j < len(words) and len(unit) < width:
            unit, j = f"{unit} {words[j]}", j + 1
        if unit.count("`") % 2 or len(unit) > width:
            unit, j = words[i], i + 1  # unclosed or too long: wrap it like plain words
        units.append(unit)
        i = j
    return units


def wrap(paragraph: str, width: int = WIDTH) -> list[str]:
    """Greedy word wrap that keeps long words (commands, URLs) and short code spans whole, and
    never starts a line with something Markdown would read as the start of a block."""
    lines: list[str] = []
    line = ""
    for word in _units(paragraph, width):
        if not line:
            line = word
        elif len(line) + 1 + len(word) <= width or _BLOCK_START.fullmatch(word):
            line = f"{line} {word}"
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    return lines


def _paragraphs(text: str, label: str = "") -> list[str]:
    """Wrapped paragraphs separated by blank lines; ``label`` prefixes the first one."""
    out: list[str] = []
    for i, paragraph in enumerate(text.split("\n\n")):
        if out:
            out.append("")
        out.extend(wrap(f"{label}{paragraph}" if i == 0 and label else paragraph))
    return out


def plain_ref(symptom: Symptom) -> str:
    """How a related entry is named in text: ``CODE slug``."""
    return f"{symptom.code} {symptom.slug}"


def severity_line(symptom: Symptom) -> str:
    """``Severity: warning``, with the condition under which it differs when there is one."""
    if symptom.severity_note:
        return f"Severity: {symptom.severity} by default; {symptom.severity_note}"
    return f"Severity: {symptom.severity}"


def body_lines(
    symptom: Symptom,
    *,
    heading: Callable[[str], str] = str,
    ref: Callable[[Symptom], str] = plain_ref,
) -> list[str]:
    """The entry as lines: title, severity, then the sections (shared by explain and docs).

    ``heading`` formats a section heading and ``ref`` a related entry, so that the Markdown
    page differs from the terminal text only by ``## `` headings and links.
    """
    lines = [*wrap(symptom.title), "", *wrap(severity_line(symptom))]

    def section(title: str, content: list[str]) -> None:
        lines.extend(["", heading(title), *content])

    section("What it means", _paragraphs(symptom.cause))

    detection: list[str] = []
    if symptom.live:
        detection.extend(_paragraphs(symptom.live, "Live check: "))
    if symptom.log:
        if detection:
            detection.append("")
        detection.extend(_paragraphs(symptom.log, "In logs: "))
    section("How it is detected", detection)

    fix = _paragraphs(catalog.render(symptom.fix, {}))
    if symptom.commands:
        fix.append("")
        fix.extend(f"    {catalog.render(command, {})}" for command in symptom.commands)
    section("How to fix", fix)

    if symptom.folklore:
        folklore: list[str] = []
        for row in symptom.folklore:
            if folklore:
                folklore.append("")
            folklore.extend(wrap(f'Recipe in circulation: "{row.recipe}"'))
            folklore.append("")
            folklore.extend(wrap(f"What is true: {row.truth}"))
        section("Folklore", folklore)

    if symptom.related:
        related = [catalog.get(code) for code in symptom.related]
        section("Related", [f"- {ref(other)}: {other.title}" for other in related])
    return lines


def text(symptom: Symptom) -> str:
    """The terminal text of one entry."""
    header = f"{symptom.code} {symptom.slug} ({symptom.severity})"
    return "\n".join([header, *body_lines(symptom)]) + "\n"


def list_text(symptoms: Sequence[Symptom]) -> str:
    """One aligned line per entry: ``CODE  severity  slug  title``."""
    code_w = max(len(s.code) for s in symptoms)
    sev_w = max(len(s.severity) for s in symptoms)
    slug_w = max(len(s.slug) for s in symptoms)
    return "".join(
        f"{s.code:<{code_w}}  {s.severity:<{sev_w}}  {s.slug:<{slug_w}}  {s.title}\n"
        for s in symptoms
    )


def to_json(symptom: Symptom) -> dict[str, Any]:
    """The entry as JSON types (templates left unrendered: the placeholders are the contract)."""
    return {
        "code": symptom.code,
        "slug": symptom.slug,
        "family": symptom.family,
        "severity": symptom.severity,
        "title": symptom.title,
        "cause": symptom.cause,
        "live": symptom.live,
        "log": symptom.log,
        "fix": symptom.fix,
        "commands": list(symptom.commands),
        "related": list(symptom.related),
        "folklore": [{"recipe": f.recipe, "truth": f.truth} for f in symptom.folklore],
        "severity_note": symptom.severity_note,
    }


def _fail(message: str) -> int:
    print(f"kyudoctor: {message}", file=sys.stderr)
    return 2


def run(target: str | None, *, list_all: bool, fmt: str, stream: TextIO) -> int:
    """Print one entry (``target``), or every entry (``list_all``; ``target`` then filters by
    code prefix); returns the exit status (0, or 2 for a bad invocation or unknown code)."""
    if fmt not in ("text", "json"):
        return _fail(f"unknown format {fmt!r} for explain (text or json)")
    try:
        if list_all:
            symptoms = catalog.all_symptoms()
            if target is not None:
                selected = catalog.codes_matching([target])
                symptoms = tuple(s for s in symptoms if s.code in selected)
        elif target is None:
            return _fail("explain needs a CODE or SLUG, or --list")
        else:
            symptoms = (catalog.get(target),)
    except catalog.UnknownCode as exc:
        return _fail(str(exc))

    if fmt == "json":
        document = {"schema": SCHEMA, "symptoms": [to_json(s) for s in symptoms]}
        stream.write(json.dumps(document, indent=2, sort_keys=True) + "\n")
    elif list_all:
        stream.write(list_text(symptoms))
    else:
        stream.write(text(symptoms[0]))
    return 0
