r"""The markdown report: pasteable into a GitHub issue, a merge request or a chat with support.

Sample (``kyudoctor check --format markdown``)::

    ## kyudoctor: failed · 1 error, 0 warnings · exit 1

    kyudoctor 0.1.0 · 2026-11-25T03:14:55Z · fail-on error · python `/srv/tts/.venv/bin/python`

    | Check | Status | Summary |
    |---|---|---|
    | gpu.driver | ✗ error | no NVIDIA driver |
    | gpu.driver\_cuda | \- skipped | skipped: no NVIDIA driver (GPU001) |

    ### Findings, most likely root cause first

    #### 1. `GPU001` NVIDIA driver not found · error

    no NVIDIA driver answered (NVML: NVML Shared Library Not Found; nvidia-smi: not found on PATH)

    **Fix:** Install the NVIDIA driver and reboot.

    ```sh
    sudo apt-get install -y nvidia-driver
    ```

    `nvidia-driver-missing` · check `gpu.driver` · more: `kyudoctor explain GPU001`

    <details><summary>Facts of every check</summary>

    ```json
    {
      "gpu.driver": {...}
    }
    ```

    </details>

A report made with ``--insecure`` starts with a quoted notice. Text from the machine (messages,
summaries, paths) is escaped, so a ``|``, ``*`` or ``<`` in it is shown as typed; commands and
facts are in fenced code blocks whose fence is longer than any run of backticks inside. The only
HTML is ``<details>``/``<summary>``, which GitHub, GitLab and Gitea render collapsed.
"""

from __future__ import annotations

import json
import re
from typing import Any, TextIO

from kyudoctor.model import RenderedFinding, Report, Status
from kyudoctor.report._text import INSECURE_NOTICE, counts, fails, status_summary, verdict

STATUS = {
    Status.OK: "✓ ok",
    Status.WARNING: "! warning",
    Status.ERROR: "✗ error",
    Status.SKIPPED: "- skipped",
    Status.TIMEOUT: "⌛ timeout",
    Status.CRASHED: "✗ crashed",
}

# Characters with a meaning anywhere in a line of CommonMark/GFM text (emphasis, code, links,
# HTML, entities, table cells, strikethrough); CommonMark lets a backslash escape any of them.
_INLINE = re.compile(r"([\\`*_\[\]<>|~&])")
# What makes a line start a block (heading, list, quote, thematic break, setext underline).
_BLOCK_START = re.compile(r"^([#+\-=]|\d+[.)])")
_BACKTICKS = re.compile(r"`+")
# A code span: a run of backticks, then text, then a run of the same length (CommonMark 6.1).
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")


def render(report: Report, stream: TextIO) -> None:
    """Write the report as GitHub-flavoured markdown."""
    out: list[str] = []
    if report.insecure:
        out += [f"> **Warning:** {escape(INSECURE_NOTICE)}", ""]
    out += [f"## kyudoctor: {verdict(report)} · {escape(counts(report))}", ""]
    out += [_about(report), ""]
    out += ["| Check | Status | Summary |", "|---|---|---|"]
    for check in report.checks:
        summary = status_summary(check.status, check.summary)
        out.append(f"| {cell(check.id)} | {cell(STATUS[check.status])} | {cell(summary)} |")
    out.append("")
    if report.findings:
        out += ["### Findings, most likely root cause first", ""]
        for rank, finding in enumerate(report.findings, start=1):
            out += _finding(report, rank, finding)
    else:
        out += ["No findings.", ""]
    facts = {check.id: check.facts for check in report.checks}
    out += _details("Facts of every check", "json", _json(facts))
    tracebacks = [c for c in report.checks if c.traceback]
    if tracebacks:
        body = "\n\n".join(f"{c.id}:\n{(c.traceback or '').rstrip()}" for c in tracebacks)
        out += _details("Tracebacks (a bug in kyudoctor: report it with this text)", "text", body)
    stream.write("\n".join(out).rstrip("\n") + "\n")


def escape(text: str, *, table: bool = False) -> str:
    """``text`` as markdown that renders as ``text`` reads: specials escaped, line breaks kept,
    and the `code spans` that kyudoctor's messages and fixes use kept as code spans."""
    lines = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        out, end = [], 0
        line = line.strip()
        for match in _CODE_SPAN.finditer(line):
            out.append(_escape_text(line[end : match.start()], at_start=end == 0))
            span = match.group(0)
            out.append(span.replace("|", "\\|") if table else span)
            end = match.end()
        out.append(_escape_text(line[end:], at_start=end == 0))
        lines.append("".join(out))
    return "\n".join(lines)


def cell(text: str) -> str:
    """``text`` for one GFM table cell: escaped, on one line (``|`` escaped in code spans too)."""
    return escape(" ".join(text.split()), table=True) or " "


def code(text: str) -> str:
    """``text`` as an inline code span, whatever backticks it holds."""
    flat = " ".join(text.split())
    fence = "`" * (_longest_backticks(flat) + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def fenced(body: str, info: str = "") -> list[str]:
    """Lines of a fenced code block holding ``body`` verbatim."""
    fence = "`" * max(3, _longest_backticks(body) + 1)
    return [f"{fence}{info}", *body.rstrip("\n").split("\n"), fence]


def _escape_text(text: str, *, at_start: bool) -> str:
    text = _INLINE.sub(r"\\\1", text)
    if at_start:
        text = _BLOCK_START.sub(lambda m: _escape_block_start(m.group(1)), text)
    return text


def _escape_block_start(marker: str) -> str:
    if marker[0].isdigit():
        return f"{marker[:-1]}\\{marker[-1]}"
    return f"\\{marker}"


def _longest_backticks(text: str) -> int:
    return max((len(m) for m in _BACKTICKS.findall(text)), default=0)


def _about(report: Report) -> str:
    parts = [
        escape(f"kyudoctor {report.kyudoctor_version}"),
        escape(report.created),
        escape(f"fail-on {report.fail_on}"),
    ]
    targets = report.targets
    if targets.get("python"):
        parts.append(f"python {code(str(targets['python']))}")
    for key in ("config", "pyproject"):
        if targets.get(key):
            parts.append(f"{key} {code(str(targets[key]))}")
    urls = targets.get("urls") or []
    if urls:
        parts.append("url " + ", ".join(code(str(u)) for u in urls))
    return " · ".join(parts)


def _finding(report: Report, rank: int, finding: RenderedFinding) -> list[str]:
    severity = finding.severity.value
    if finding.ignored:
        severity += " (ignored)"
    elif not fails(report, finding) and finding.severity.value != "info":
        severity += f" (below --fail-on {report.fail_on})"
    out = [f"#### {rank}. {code(finding.code)} {escape(finding.title)} · {escape(severity)}", ""]
    out += [escape(finding.message), ""]
    if finding.fix.text.strip():
        out += [f"**Fix:** {escape(finding.fix.text.strip())}", ""]
    if finding.fix.commands:
        out += [*fenced("\n".join(finding.fix.commands), "sh"), ""]
    out += [
        f"{code(finding.slug)} · check {code(finding.check)} · "
        f"more: {code(f'kyudoctor {finding.docs}')}",
        "",
    ]
    return out


def _details(summary: str, info: str, body: str) -> list[str]:
    # Blank lines around the fenced block: GitHub renders markdown inside <details> only then.
    return [
        f"<details><summary>{escape(summary)}</summary>",
        "",
        *fenced(body, info),
        "",
        "</details>",
        "",
    ]


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)
