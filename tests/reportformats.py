"""Validators of every report format, used on hand-made reports and on every scenario's report.

- JUnit: valid against Jenkins xUnit's ``junit-10.xsd`` (``xmlschema``), one testcase per check,
  counts that add up, failures exactly for the findings that count for the exit status.
- markdown: parsed as CommonMark + GFM tables (``markdown-it-py``): one table row per check,
  every finding code in a heading, messages rendered as typed, balanced ``<details>``, no other
  HTML, the facts block is the JSON of every check's facts.
- github: every line a well-formed workflow command or plain text; one annotation per finding
  that is not ignored, with ``file``/``line`` from its evidence.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path
from typing import Any

import xmlschema
from markdown_it import MarkdownIt
from markdown_it.token import Token

from kyudoctor.model import (
    CheckResult,
    Fix,
    RenderedFinding,
    Report,
    Severity,
    Status,
    Summary,
)
from kyudoctor.report import FORMATS, render
from kyudoctor.report import json as json_report
from tests.reportschema import validate_report

XSD = Path(__file__).parent / "data" / "junit" / "junit-10.xsd"
FAIL_ON_RANK = {"error": 2, "warning": 1, "never": 99}
ALLOWED_HTML = re.compile(r"^(?:<details>|</details>|<summary>|</summary>|\s)*$")


def report_from_json(data: dict[str, Any]) -> Report:
    """The :class:`Report` a ``--format json`` document was rendered from (checked by a round trip)."""
    report = Report(
        kyudoctor_version=data["kyudoctor_version"],
        created=data["created"],
        targets=data["targets"],
        checks=tuple(
            CheckResult(
                id=c["id"],
                group=c["group"],
                title=c["title"],
                status=Status(c["status"]),
                summary=c["summary"],
                duration_ms=c["duration_ms"],
                facts=c["facts"],
                traceback=c.get("traceback"),
            )
            for c in data["checks"]
        ),
        findings=tuple(
            RenderedFinding(
                code=f["code"],
                slug=f["slug"],
                severity=Severity(f["severity"]),
                check=f["check"],
                title=f["title"],
                message=f["message"],
                evidence=f["evidence"],
                fix=Fix(f["fix"]["text"], tuple(f["fix"]["commands"])),
                docs=f["docs"],
                ignored=f["ignored"],
            )
            for f in data["findings"]
        ),
        summary=Summary(**data["summary"]),
        exit_code=data["exit_code"],
        insecure=data["insecure"],
        fail_on=data["fail_on"],
    )
    assert json_report.to_dict(report) == data, "report_from_json lost something"
    return report


def rendered(report: Report, fmt: str) -> str:
    """The report in format ``fmt``, as a string."""
    import io

    stream = io.StringIO()
    render(fmt, report, stream)
    return stream.getvalue()


def validate_every_format(report: Report) -> dict[str, str]:
    """Render ``report`` in every format, validate each; return format -> text."""
    out = {fmt: rendered(report, fmt) for fmt in FORMATS}
    validate_report(json.loads(out["json"]))
    validate_junit(out["junit"], report)
    validate_markdown(out["markdown"], report)
    validate_github(out["github"], report)
    return out


def fails(report: Report, finding: RenderedFinding) -> bool:
    """Whether the finding counts for the exit status (what JUnit makes a failure)."""
    return not finding.ignored and finding.severity.rank >= FAIL_ON_RANK[report.fail_on]


# --- JUnit -------------------------------------------------------------------------------------


@cache
def junit_schema() -> xmlschema.XMLSchema10:
    """Jenkins xUnit's JUnit schema (tests/data/junit/junit-10.xsd)."""
    return xmlschema.XMLSchema10(str(XSD))


def validate_junit(text: str, report: Report) -> ET.Element:
    """Schema-valid, and the testcases, counts and failures are those of ``report``."""
    errors = list(junit_schema().iter_errors(text))
    assert not errors, "\n".join(str(e) for e in errors[:3])
    root = ET.fromstring(text)
    assert root.tag == "testsuites"
    cases = [case for suite in root.iter("testsuite") for case in suite.iter("testcase")]
    expected_ids = [c.id for c in report.checks]
    assert [c.get("name") for c in cases][: len(expected_ids)] == sorted(
        expected_ids, key=_group_order(report)
    )
    by_id = {c.get("name"): c for c in cases}
    for check in report.checks:
        case = by_id[check.id]
        assert case.get("classname") == check.group
        assert re.fullmatch(r"\d+\.\d{3}", case.get("time") or "")
        mine = [f for f in report.findings if f.check == check.id]
        failing = [f for f in mine if fails(report, f)]
        kinds = [child.tag for child in case if child.tag != "system-out"]
        if check.status in (Status.CRASHED, Status.TIMEOUT):
            assert kinds == ["error"]
        elif failing:
            assert kinds == ["failure"]
            failure = case.find("failure")
            assert failure is not None
            for finding in failing:
                assert finding.code in (failure.get("message") or "")
                assert finding.code in (failure.text or "")
            for finding in mine:
                if not fails(report, finding):
                    assert f"{finding.code}:" not in (failure.get("message") or "")
        elif check.status is Status.SKIPPED:
            assert kinds == ["skipped"]
        else:
            assert kinds == []
    for suite in [root, *root.iter("testsuite")]:
        scope = list(suite.iter("testcase"))
        assert int(suite.get("tests") or -1) == len(scope)
        assert int(suite.get("failures") or -1) == sum(c.find("failure") is not None for c in scope)
        assert int(suite.get("errors") or -1) == sum(c.find("error") is not None for c in scope)
        if suite.tag == "testsuite":
            skipped = sum(c.find("skipped") is not None for c in scope)
            assert int(suite.get("skipped") or -1) == skipped
    return root


def _group_order(report: Report) -> Any:
    groups = list(dict.fromkeys(c.group for c in report.checks))
    position = {c.id: (groups.index(c.group), i) for i, c in enumerate(report.checks)}
    return lambda check_id: position[check_id]


# --- markdown ----------------------------------------------------------------------------------


def markdown_parser() -> MarkdownIt:
    """CommonMark with GFM tables and strikethrough, as GitHub renders issues."""
    return MarkdownIt("commonmark").enable(["table", "strikethrough"])


def inline_text(token: Token) -> str:
    """The text an inline token shows, code spans written back with their backticks; any
    emphasis, link, image or HTML comes out as a visible marker, so that it fails comparisons.
    A leading bold label (the reporter's own ``**Fix:**``) is shown as plain text."""
    out = []
    children = [c for c in token.children or [] if c.type != "text" or c.content]
    if [c.type for c in children[:3]] == ["strong_open", "text", "strong_close"]:
        out.append(children[1].content)
        children = children[3:]
    for child in children:
        if child.type == "text":
            out.append(child.content)
        elif child.type == "code_inline":
            out.append(f"{child.markup}{child.content}{child.markup}")
        elif child.type in ("softbreak", "hardbreak"):
            out.append("\n")
        else:
            out.append(f"<<{child.type}>>")
    return "".join(out)


def flat(text: str) -> str:
    """Whitespace collapsed, as a renderer shows it."""
    return " ".join(text.split())


def validate_markdown(text: str, report: Report, *, same_run: bool = True) -> list[Token]:
    """Renders as GitHub would: the table, the findings, the facts, balanced details.

    ``same_run=False`` when ``report`` comes from another run of the same command: measured
    facts (latencies) differ, so only the checks the facts block names are compared."""
    tokens = markdown_parser().parse(text)
    # The insecure notice comes first, then the verdict heading.
    if report.insecure:
        assert tokens[0].type == "blockquote_open"
        assert "--insecure" in inline_text(tokens[2])
    headings = [tokens[i + 1] for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert headings and inline_text(headings[0]).startswith("kyudoctor: ")
    assert f"exit {report.exit_code}" in inline_text(headings[0])
    # One table, one row per check, cells rendered as the check's id, status and summary.
    assert [t.type for t in tokens].count("table_open") == 1
    # A table without rows has no tbody.
    start = next((i for i, t in enumerate(tokens) if t.type == "tbody_open"), len(tokens))
    rows: list[list[str]] = []
    for token in tokens[start:]:
        if token.type == "tr_open":
            rows.append([])
        elif token.type == "inline":
            rows[-1].append(inline_text(token))
        elif token.type == "tbody_close":
            break
    assert [r[0] for r in rows] == [c.id for c in report.checks]
    for row, check in zip(rows, report.checks, strict=True):
        assert len(row) == 3
        assert row[1].endswith(check.status.value)
        assert flat(row[2]).endswith(flat(check.summary)), (row[2], check.summary)
    # Every finding has a heading naming its code, then its message as typed.
    finding_headings = [inline_text(h) for h in headings if re.match(r"\d+\. `", inline_text(h))]
    assert len(finding_headings) == len(report.findings)
    for heading, finding in zip(finding_headings, report.findings, strict=True):
        assert f"`{finding.code}`" in heading
    paragraphs = [
        inline_text(tokens[i + 1]) for i, t in enumerate(tokens) if t.type == "paragraph_open"
    ]
    for finding in report.findings:
        assert any(flat(p) == flat(finding.message) for p in paragraphs), finding.message
        if finding.fix.text.strip():
            assert f"Fix: {flat(finding.fix.text)}" in [flat(p) for p in paragraphs]
    fences = [t for t in tokens if t.type == "fence"]
    for finding in report.findings:
        if finding.fix.commands:
            assert any(t.content == "\n".join(finding.fix.commands) + "\n" for t in fences)
    # HTML: details and summary only, balanced, each holding one fenced block.
    depth = 0
    for token in tokens:
        html = [token] if token.type == "html_block" else []
        html += [c for c in token.children or [] if c.type == "html_inline"]
        for item in html:
            assert ALLOWED_HTML.match(re.sub(r"<summary>.*?</summary>", "", item.content)), item
            depth += item.content.count("<details>") - item.content.count("</details>")
            assert depth in (0, 1), "details blocks are not balanced"
    assert depth == 0, "a details block is not closed"
    [facts] = [t for t in fences if t.info == "json"]
    expected = json.loads(json.dumps({c.id: c.facts for c in report.checks}, default=str))
    if same_run:
        assert json.loads(facts.content) == expected
    else:
        assert json.loads(facts.content).keys() == expected.keys()
    return tokens


# --- github ------------------------------------------------------------------------------------

COMMAND = re.compile(
    r"^::(error|warning|notice)(?: ([a-zA-Z]+=[^,:]*(?:,[a-zA-Z]+=[^,:]*)*))?::(.*)$"
)


def unescape(text: str) -> str:
    """Undo the workflow-command escaping (what the Actions runner does)."""
    for encoded, char in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(encoded, char)
    return text


def parse_github(text: str) -> tuple[list[tuple[str, dict[str, str], str]], list[str]]:
    """(annotations as (command, properties, message), plain lines)."""
    annotations, plain = [], []
    assert text.endswith("\n") and "\r" not in text
    # The runner splits stdout on LF (and CR) only, not on Python's other line boundaries.
    for line in text[:-1].split("\n"):
        if line.startswith("::"):
            match = COMMAND.match(line)
            assert match, f"not a valid workflow command: {line!r}"
            props = {}
            for item in (match.group(2) or "").split(",") if match.group(2) else []:
                key, value = item.split("=", 1)
                props[key] = unescape(value)
            annotations.append((match.group(1), props, unescape(match.group(3))))
        else:
            plain.append(line)
    return annotations, plain


def validate_github(text: str, report: Report) -> list[tuple[str, dict[str, str], str]]:
    """Well-formed lines; one annotation per finding not ignored, at its file and line."""
    annotations, plain = parse_github(text)
    assert plain == [text[:-1].split("\n")[-1]] and plain[0].startswith("kyudoctor: ")
    level = {"error": "error", "warning": "warning", "info": "notice"}
    by_code = [a for a in annotations if re.match(r"[A-Z]+\d{3} ", a[1].get("title", ""))]
    shown = [f for f in report.findings if not f.ignored]
    assert len(by_code) == len(shown)
    for (command, props, message), finding in zip(by_code, shown, strict=True):
        assert command == level[finding.severity.value]
        assert props["title"].startswith(f"{finding.code} ")
        assert message.startswith(f"{finding.code}: {finding.message}")
        file, line = finding.evidence.get("file"), finding.evidence.get("line")
        if isinstance(file, str) and file:
            assert props["file"] == file
            if isinstance(line, int) and line >= 1:
                assert props["line"] == str(line)
        else:
            assert "file" not in props and "line" not in props
    failed = [c for c in report.checks if c.status in (Status.CRASHED, Status.TIMEOUT)]
    assert sum(1 for a in annotations if a not in by_code and a[0] == "error") == len(failed)
    return annotations
