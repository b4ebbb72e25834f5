"""The console output of ``kyudoctor triage``: the problems named in a log, root cause first.

Sample (``kyudoctor triage docker.log``)::

    kyudoctor 0.1.0 · triage of docker.log · 1,204 lines, 96.3 kB

    2 problems, most likely root cause first:

     ✗ GPU006 cuda-out-of-memory: CUDA ran out of GPU memory (confidence 0.98)
       line 1041: torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB
       Fix: Lower `batch_size` in `<config>`, stop other processes using the GPU, ...
         $ nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv
       More: kyudoctor explain GPU006
       ↳ WS007 model-loop-dead (line 1050, 3 lines): a consequence of GPU006

    2 errors, 0 warnings · exit 1

A consequence is one line under its cause (its own fix block with ``-v``). ``-v`` also shows
every evidence line, ignored findings and which matcher scanned the log; ``-q`` shows only the
causes' first lines. Text from the log is printed as text, never as markup.
"""

from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from kyudoctor.model import Severity
from kyudoctor.report.console import SEVERITY_STYLE, make_console
from kyudoctor.triage import NOTHING_FOUND_HINT, TriageFinding, TriageResult


def size(count: int) -> str:
    """A byte count for people: ``812 B``, ``96.3 kB``, ``1.2 GB``."""
    value = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{count} B"  # pragma: no cover - the loop always returns


def about(result: TriageResult) -> str:
    """``triage of FILE · N lines, SIZE``."""
    source = "standard input" if result.source in ("-", "<stdin>") else result.source
    noun = "line" if result.lines == 1 else "lines"
    return f"triage of {source} · {result.lines:,} {noun}, {size(result.bytes)}"


def render(
    result: TriageResult, stream: TextIO, *, verbose: bool = False, quiet: bool = False
) -> None:
    """Write the console output."""
    console = make_console(stream)
    if not quiet:
        console.print(Text(f"kyudoctor {result.kyudoctor_version} · {about(result)}", style="bold"))
        if verbose:
            console.print(
                Text(
                    f"  matcher {result.matcher}, encoding {result.encoding}, "
                    f"{result.duration_ms / 1000:.2f} s",
                    style="dim",
                )
            )
        console.print()
    shown = [f for f in result.findings if verbose or not f.ignored]
    if not shown:
        console.print(Text(NOTHING_FOUND_HINT))
    else:
        causes = [f for f in shown if f.explained_by is None or not _shown(shown, f.explained_by)]
        noun = "problem" if len(shown) == 1 else "problems"
        console.print(Text(f"{len(shown)} {noun}, most likely root cause first:", style="bold"))
        for finding in causes:
            console.print()
            _block(console, finding, verbose=verbose, quiet=quiet)
            _consequences(console, shown, finding.code, verbose=verbose, quiet=quiet, depth=1)
    console.print()
    console.print(summary_line(result))


def _shown(findings: list[TriageFinding], code: str) -> bool:
    return any(f.code == code for f in findings)


def _consequences(
    console: Console,
    findings: list[TriageFinding],
    cause: str,
    *,
    verbose: bool,
    quiet: bool,
    depth: int,
) -> None:
    for finding in findings:
        if finding.explained_by != cause:
            continue
        indent = "   " * depth
        if verbose:
            console.print(Text(f"{indent}↳ a consequence of {cause}:", style="dim"))
            _block(console, finding, verbose=True, quiet=False, indent=indent)
        elif not quiet:
            lines = f"{finding.count} lines" if finding.count > 1 else "1 line"
            text = Text(f"{indent}↳ ")
            text.append(f"{finding.code} {finding.slug}", style="bold")
            text.append(f" (line {finding.line}, {lines}): a consequence of {cause}", style="dim")
            console.print(text)
        _consequences(
            console, findings, finding.code, verbose=verbose, quiet=quiet, depth=depth + 1
        )


def _block(
    console: Console, finding: TriageFinding, *, verbose: bool, quiet: bool, indent: str = ""
) -> None:
    symbol, style = SEVERITY_STYLE[finding.severity]
    head = Text(f"{indent} ")
    head.append(symbol, style=style)
    head.append(f" {finding.code}", style=f"bold {style}")
    head.append(f" {finding.slug}: {finding.title}", style="bold")
    head.append(f" (confidence {finding.confidence:.2f})", style="dim")
    if finding.ignored:
        head.append("  (ignored)", style="dim")
    console.print(head)
    pad = indent + "   "
    seen = f" ({finding.count} lines)" if finding.count > 1 else ""
    console.print(Text(f"{pad}line {finding.line}{seen}: {finding.excerpt}"))
    if quiet:
        return
    if verbose:
        for evidence in finding.evidence[1:]:
            console.print(Text(f"{pad}line {evidence.line}: {evidence.text}", style="dim"))
    if finding.fix.text:
        console.print(Text(f"{pad}Fix: {finding.fix.text.strip()}"))
    for command in finding.fix.commands:
        console.print(f"{pad}  [dim]$[/] [bold]{escape(command)}[/]")
    console.print(Text(f"{pad}More: kyudoctor {finding.docs}", style="dim"))


def summary_line(result: TriageResult) -> Text:
    """The closing line: counts and the exit status."""
    active = result.active
    errors = sum(f.severity is Severity.ERROR for f in active)
    warnings = sum(f.severity is Severity.WARNING for f in active)
    infos = sum(f.severity is Severity.INFO for f in active)
    parts = [f"{errors} error{'s' if errors != 1 else ''}"]
    parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
    if infos:
        parts.append(f"{infos} info")
    ignored = len(result.findings) - len(active)
    if ignored:
        parts.append(f"{ignored} ignored")
    style = "red" if result.exit_code == 1 else "green"
    text = Text(", ".join(parts), style=f"bold {style}")
    text.append(f" · exit {result.exit_code}", style="dim")
    return text
