"""The Markdown output of ``kyudoctor triage``: the reply a support engineer pastes into a ticket.

Sample (``kyudoctor triage --format markdown docker.log``)::

    ### kyudoctor triage: 2 problems found in `docker.log`

    1,204 lines read · most likely root cause first · kyudoctor 0.1.0

    #### 1. `GPU006` CUDA ran out of GPU memory

    error · confidence 0.98 · line 1041 (3 lines in all):

    ```text
    1041: torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB
    ```

    **Fix:** Lower `batch_size` in `<config>`, stop other processes using the GPU, ...

    ```sh
    nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv
    ```

    It also explains `WS007` model-loop-dead (line 1050).

    More: `kyudoctor explain GPU006`

Consequences are not numbered: they are named under their cause. Lines from the log go in
fenced blocks whose fence is longer than any run of backticks inside, so a log cannot break the
reply's formatting; secrets in them are already masked.
"""

from __future__ import annotations

import re
from typing import TextIO

from kyudoctor.triage import NOTHING_FOUND_HINT, TriageFinding, TriageResult


def _fence(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _code(text: str) -> str:
    """An inline code span that holds ``text`` whatever backticks it contains."""
    flat = " ".join(text.split())
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def _block(body: str, info: str) -> list[str]:
    fence = _fence(body)
    return [f"{fence}{info}", *body.split("\n"), fence]


def _source(result: TriageResult) -> str:
    return "standard input" if result.source in ("-", "<stdin>") else _code(result.source)


def render(result: TriageResult, stream: TextIO) -> None:
    """Write the Markdown reply."""
    findings = [f for f in result.findings if not f.ignored]
    causes = [
        f
        for f in findings
        if f.explained_by is None or not any(c.code == f.explained_by for c in findings)
    ]
    lines: list[str] = []
    if not findings:
        lines += [
            f"### kyudoctor triage: no known problem found in {_source(result)}",
            "",
            f"{result.lines:,} lines read · kyudoctor {result.kyudoctor_version}",
            "",
            NOTHING_FOUND_HINT,
        ]
    else:
        noun = "problem" if len(findings) == 1 else "problems"
        lines += [
            f"### kyudoctor triage: {len(findings)} {noun} found in {_source(result)}",
            "",
            f"{result.lines:,} lines read · most likely root cause first · "
            f"kyudoctor {result.kyudoctor_version}",
        ]
        for number, finding in enumerate(causes, 1):
            lines += ["", *_finding(number, finding, findings)]
    stream.write("\n".join(lines).rstrip("\n") + "\n")


def _finding(number: int, finding: TriageFinding, findings: list[TriageFinding]) -> list[str]:
    where = f"line {finding.line}"
    if finding.count > 1:
        where += f" ({finding.count} lines in all)"
    evidence = finding.evidence or ()
    body = (
        "\n".join(f"{e.line}: {e.text}" for e in evidence) or f"{finding.line}: {finding.excerpt}"
    )
    out = [
        f"#### {number}. {_code(finding.code)} {finding.title}",
        "",
        f"{finding.severity.value} · confidence {finding.confidence:.2f} · {where}:",
        "",
        *_block(body, "text"),
        "",
        f"**Fix:** {finding.fix.text.strip()}",
    ]
    if finding.fix.commands:
        out += ["", *_block("\n".join(finding.fix.commands), "sh")]
    consequences = _descendants(finding.code, findings)
    if consequences:
        named = ", ".join(f"{_code(c.code)} {c.slug} (line {c.line})" for c in consequences)
        out += ["", f"It also explains {named}."]
    out += ["", f"More: {_code('kyudoctor ' + finding.docs)}"]
    return out


def _descendants(code: str, findings: list[TriageFinding]) -> list[TriageFinding]:
    out: list[TriageFinding] = []
    for finding in findings:
        if finding.explained_by == code:
            out.append(finding)
            out += _descendants(finding.code, findings)
    return out
