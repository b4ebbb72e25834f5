"""GitHub Actions workflow commands: each finding becomes an annotation on the run (and on the
file and line, for a finding about a place in a file), then one plain summary line.

Sample (``kyudoctor check --format github`` in a workflow step)::

    ::error file=configs/config-tts.toml,line=12,title=CFG003 ignored config key::CFG003: ...
    ::error title=TORCH002 CPU-only torch::TORCH002: torch 2.9.1+cpu has no CUDA support.%0AFix: ...
    ::warning title=CXX005 cmake 4::CXX005: cmake 4.0.2 ...%0A  $ export CMAKE_POLICY_VERSION_MINIMUM=3.5
    kyudoctor: failed · 2 errors, 1 warning · exit 1

Severity error is ``::error``, warning ``::warning``, info ``::notice``; ignored findings are
not annotated. A crashed or timed out check is an ``::error`` (kyudoctor could not finish). A
report made with ``--insecure`` starts with a ``::warning`` saying so. The file comes from the
finding's ``evidence["file"]`` (and ``line``, ``column``); the runner takes paths relative to
the workspace or absolute under it. Data is escaped as the runner expects (``%``, CR, LF), and
property values also escape ``:`` and ``,``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TextIO

from kyudoctor.model import RenderedFinding, Report, Status
from kyudoctor.report._text import INSECURE_NOTICE, counts, fix_lines, verdict

COMMAND = {"error": "error", "warning": "warning", "info": "notice"}


def render(report: Report, stream: TextIO) -> None:
    """Write one workflow command per annotation, then the summary line."""
    lines = []
    if report.insecure:
        lines.append(command("warning", {"title": "kyudoctor --insecure"}, INSECURE_NOTICE))
    for check in report.checks:
        if check.status in (Status.CRASHED, Status.TIMEOUT):
            title = f"kyudoctor {check.id} {check.status.value}"
            lines.append(command("error", {"title": title}, f"{check.id}: {check.summary}"))
    for finding in report.findings:
        if finding.ignored:
            continue
        properties = {**location(finding.evidence), "title": f"{finding.code} {finding.title}"}
        lines.append(command(COMMAND[finding.severity.value], properties, _message(finding)))
    lines.append(f"kyudoctor: {verdict(report)} · {counts(report)}")
    stream.write("\n".join(lines) + "\n")


def command(name: str, properties: Mapping[str, str], message: str) -> str:
    """One workflow command line, ``::name key=value,...::message``, escaped."""
    props = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items())
    return f"::{name}{' ' + props if props else ''}::{escape_data(message)}"


def location(evidence: Mapping[str, Any]) -> dict[str, str]:
    """``file``/``line``/``col`` properties from a finding's evidence (none without a file)."""
    file = evidence.get("file")
    if not isinstance(file, str) or not file.strip():
        return {}
    out = {"file": file}
    line = evidence.get("line")
    if _positive_int(line):
        out["line"] = str(line)
        column = evidence.get("column", evidence.get("col"))
        if _positive_int(column):
            out["col"] = str(column)
    return out


def escape_data(text: str) -> str:
    """The message part, escaped as @actions/core's ``escapeData``."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A property value, escaped as @actions/core's ``escapeProperty``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _message(finding: RenderedFinding) -> str:
    return "\n".join([f"{finding.code}: {finding.message}", *fix_lines(finding)])


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1
