"""The console report: one line per check, then the findings, root cause first, with fixes.

Sample (``kyudoctor check``)::

    kyudoctor 0.1.0 · target python /srv/tts/.venv/bin/python

     ✓ env.platform        Linux x86_64 (Debian GNU/Linux 12 (bookworm))
     ✗ gpu.driver          no NVIDIA driver: NVML Shared Library Not Found; nvidia-smi not found
     - gpu.capability      skipped: no NVIDIA driver (GPU001)
     ✗ cuda.nvcc           nvcc 13.0.88: moshi-server builds with CUDA 11.4 to 12.9

    2 problems, most likely root cause first:

     ✗ GPU001 nvidia-driver-missing: NVIDIA driver missing
       NVML cannot be loaded (NVML Shared Library Not Found) and nvidia-smi is not on PATH.
       Fix: install the NVIDIA driver and reboot. ...
         $ sudo apt-get install -y nvidia-driver
       More: kyudoctor explain GPU001

    2 errors, 0 warnings · exit 1

``verbose`` adds the facts and timing of every check, info findings, ignored findings and
tracebacks; ``quiet`` shows only checks with problems and their findings. Colour follows the
terminal and ``NO_COLOR``; long commands are never wrapped, so they copy and paste intact.
"""

from __future__ import annotations

import json
from typing import TextIO

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from kyudoctor.model import CheckResult, RenderedFinding, Report, Severity, Status

SYMBOL = {
    Status.OK: ("✓", "green"),
    Status.WARNING: ("!", "yellow"),
    Status.ERROR: ("✗", "red"),
    Status.SKIPPED: ("-", "dim"),
    Status.TIMEOUT: ("⌛", "magenta"),
    Status.CRASHED: ("✗", "bold magenta"),
}
SEVERITY_STYLE = {
    Severity.ERROR: ("✗", "red"),
    Severity.WARNING: ("!", "yellow"),
    Severity.INFO: ("i", "cyan"),
}


def make_console(stream: TextIO) -> Console:
    """A rich console for ``stream``: colour only on a terminal, honouring NO_COLOR, no wrapping."""
    return Console(file=stream, highlight=False, soft_wrap=True, emoji=False)


def render(report: Report, stream: TextIO, *, verbose: bool = False, quiet: bool = False) -> None:
    """Write the console report."""
    console = make_console(stream)
    if report.insecure:
        console.print("[bold red]TLS verification was turned off (--insecure) for this report.[/]")
    if not quiet:
        python = report.targets.get("python")
        head = f"kyudoctor {report.kyudoctor_version}"
        if python:
            head += f" · target python {python}"
        console.print(Text(head, style="bold"))
        if report.targets.get("python_source") == "kyudoctor":
            console.print(
                Text(
                    "  (kyudoctor's own interpreter: activate moshi-server's virtualenv "
                    "or pass --python to check that environment)",
                    style="dim",
                )
            )
        console.print()
    width = max((len(c.id) for c in report.checks), default=10) + 2
    for check in report.checks:
        if quiet and check.status in (Status.OK, Status.SKIPPED):
            continue
        _check_line(console, check, width, verbose)
    findings = [
        f for f in report.findings if verbose or (not f.ignored and f.severity is not Severity.INFO)
    ]
    if quiet:
        findings = [f for f in findings if not f.ignored and f.severity is not Severity.INFO]
    if findings:
        console.print()
        noun = "problem" if len(findings) == 1 else "problems"
        if any(f.severity is Severity.INFO or f.ignored for f in findings):
            noun = "finding" if len(findings) == 1 else "findings"
        console.print(Text(f"{len(findings)} {noun}, most likely root cause first:", style="bold"))
        for finding in findings:
            console.print()
            _finding_block(console, finding)
    console.print()
    console.print(summary_line(report))


def _check_line(console: Console, check: CheckResult, width: int, verbose: bool) -> None:
    symbol, style = SYMBOL[check.status]
    line = Text(" ")
    line.append(symbol, style=style)
    line.append(" ")
    line.append(check.id.ljust(width), style="bold" if check.status is not Status.OK else "")
    summary = check.summary
    if check.status is Status.SKIPPED and not summary.startswith("skipped"):
        summary = f"skipped: {summary}"
    line.append(summary, style="dim" if check.status is Status.SKIPPED else "")
    if verbose:
        line.append(f"  ({check.duration_ms:.0f} ms)", style="dim")
    console.print(line)
    if verbose and check.facts:
        for key, value in check.facts.items():
            rendered = value if isinstance(value, str) else json.dumps(value, default=str)
            console.print(Text(f"     {key}: {rendered}", style="dim"))
    if verbose and check.traceback:
        console.print(Text(check.traceback.rstrip(), style="dim"))


def _finding_block(console: Console, finding: RenderedFinding) -> None:
    symbol, style = SEVERITY_STYLE[finding.severity]
    head = Text(" ")
    head.append(symbol, style=style)
    head.append(f" {finding.code}", style=f"bold {style}")
    head.append(f" {finding.slug}: {finding.title}", style="bold")
    if finding.ignored:
        head.append("  (ignored)", style="dim")
    console.print(head)
    console.print(Text(f"   {finding.message}"))
    if finding.fix.text:
        console.print(Text(f"   Fix: {finding.fix.text.strip()}"))
    for command in finding.fix.commands:
        console.print(f"     [dim]$[/] [bold]{escape(command)}[/]")
    console.print(Text(f"   More: kyudoctor {finding.docs}", style="dim"))


def summary_line(report: Report) -> Text:
    """The closing line: counts, duration and the exit status."""
    from kyudoctor.report._text import count_parts

    s = report.summary
    parts = count_parts(report)
    style = "red" if report.exit_code == 1 else ("magenta" if report.exit_code == 3 else "green")
    text = Text(", ".join(parts), style=f"bold {style}")
    text.append(f" · {s.duration_ms / 1000:.1f} s · exit {report.exit_code}", style="dim")
    return text
