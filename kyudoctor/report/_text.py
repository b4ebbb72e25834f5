"""Plain-text pieces shared by the reporters that must not import rich (markdown, junit, github)."""

from __future__ import annotations

from kyudoctor.model import RenderedFinding, Report, Status

INSECURE_NOTICE = "TLS verification was turned off (--insecure) for this report."

_FAIL_ON_RANK = {"error": 2, "warning": 1}


def fails(report: Report, finding: RenderedFinding) -> bool:
    """Whether ``finding`` counts for the exit status: not ignored, at or above ``--fail-on``."""
    threshold = _FAIL_ON_RANK.get(report.fail_on)
    return not finding.ignored and threshold is not None and finding.severity.rank >= threshold


def fix_lines(finding: RenderedFinding) -> list[str]:
    """``Fix: ...``, one ``  $ command`` line per command, ``More: kyudoctor explain CODE``."""
    lines = [f"Fix: {finding.fix.text.strip()}"] if finding.fix.text.strip() else []
    lines += [f"  $ {command}" for command in finding.fix.commands]
    lines.append(f"More: kyudoctor {finding.docs}")
    return lines


def verdict(report: Report) -> str:
    """One word for the outcome of the run: passed (exit 0), failed (1) or incomplete (3)."""
    return {0: "passed", 1: "failed"}.get(report.exit_code, "incomplete")


def count_parts(report: Report) -> list[str]:
    """``["2 errors", "1 warning", "1 ignored"]``: the counts of the closing line."""
    s = report.summary
    parts = [_plural(s.errors, "error"), _plural(s.warnings, "warning")]
    if s.infos:
        parts.append(f"{s.infos} info")
    if s.ignored:
        parts.append(f"{s.ignored} ignored")
    if s.timeouts:
        parts.append(f"{s.timeouts} timed out")
    if s.crashed:
        parts.append(f"{s.crashed} crashed")
    return parts


def counts(report: Report) -> str:
    """``2 errors, 1 warning, 1 ignored · exit 1``: the closing line of the console, in plain text."""
    return f"{', '.join(count_parts(report))} · exit {report.exit_code}"


def status_summary(status: Status, summary: str) -> str:
    """A check's summary, prefixed the way the console shows a skipped check."""
    if status is Status.SKIPPED and not summary.startswith("skipped"):
        return f"skipped: {summary}"
    return summary


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
