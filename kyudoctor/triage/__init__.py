"""Log triage: name the problems in a pasted log with the catalog's codes, root cause first.

``kyudoctor triage [FILE|-]`` enters the pipeline at the rules step: instead of probes and
checks, the log's lines are matched against the signatures of the catalog
(``[[symptom.signature]]`` in ``data/symptoms.toml``), and each code found becomes a finding
with the same title and fix ``check`` would give. See :mod:`kyudoctor.triage._scan` for how a
log of any size is read in flat memory, and :mod:`kyudoctor.triage._rank` for the ranking rules.

>>> result = triage_text("tts-1  | torch.OutOfMemoryError: CUDA out of memory.\\n")
>>> [(f.code, f.line) for f in result.findings]
[('GPU006', 1)]
"""

from __future__ import annotations

import importlib
import io
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, BinaryIO, TextIO

from kyudoctor import __version__, catalog
from kyudoctor.model import Finding, Fix, Severity
from kyudoctor.triage._rank import Evidence, RankedCode, rank

__all__ = [
    "FORMATS",
    "NOTHING_FOUND_HINT",
    "SCHEMA",
    "Evidence",
    "TriageFinding",
    "TriageResult",
    "available_matchers",
    "render",
    "to_dict",
    "triage",
    "triage_path",
    "triage_text",
]

SCHEMA = "kyudoctor.triage/1"

FORMATS = ("console", "json", "markdown")
"""Output formats of ``kyudoctor triage``: ``kyudoctor/report/triage_<format>.py``."""

NOTHING_FOUND_HINT = (
    "No known problem recognised in this log. Run `kyudoctor check` on the machine that has "
    "the problem, or ask for a support bundle (`kyudoctor bundle`)."
)


@dataclass(frozen=True)
class TriageFinding:
    """A code found in the log, with its catalog entry and fix attached."""

    code: str
    slug: str
    severity: Severity
    confidence: float
    line: int
    excerpt: str
    title: str
    fix: Fix
    docs: str
    count: int = 1
    evidence: tuple[Evidence, ...] = ()
    explained_by: str | None = None
    ignored: bool = False


@dataclass(frozen=True)
class TriageResult:
    """One run of ``kyudoctor triage``: the ranked findings of one log."""

    kyudoctor_version: str
    source: str
    lines: int
    bytes: int
    findings: tuple[TriageFinding, ...]
    exit_code: int
    fail_on: str = "error"
    matcher: str = "python"
    encoding: str = "utf-8"
    duration_ms: float = 0.0

    @property
    def active(self) -> tuple[TriageFinding, ...]:
        """The findings that are not ignored."""
        return tuple(f for f in self.findings if not f.ignored)


def available_matchers() -> tuple[str, ...]:
    """The anchor matchers usable here: ``("hyperscan", "python")`` or ``("python",)``."""
    from kyudoctor.triage._scan import available_matchers as _available

    return _available()


def _base_params() -> dict[str, Any]:
    from kyudoctor.policy import load as load_policy

    policy = load_policy()
    return {
        "moshi_server_version": policy.moshi_server_recommended,
        "recommended_cuda": policy.cuda_recommended,
    }


def _finding(item: RankedCode, params: dict[str, Any], ignored: bool) -> TriageFinding:
    from kyudoctor.rules import render_fix

    symptom = catalog.get(item.code)
    severity = Severity(item.severity or symptom.severity)
    fix = render_fix(Finding(code=item.code, message="", params=dict(item.params)), params)
    return TriageFinding(
        code=item.code,
        slug=symptom.slug,
        severity=severity,
        confidence=item.confidence,
        line=item.line,
        excerpt=item.excerpt,
        title=symptom.title,
        fix=fix,
        docs=f"explain {item.code}",
        count=item.count,
        evidence=item.evidence,
        explained_by=item.explained_by,
        ignored=ignored,
    )


def _exit_code(findings: Iterable[TriageFinding], fail_on: str) -> int:
    from kyudoctor.rules import FAIL_ON_RANK

    threshold = FAIL_ON_RANK[fail_on]
    if threshold is None:
        return 0
    return int(any(not f.ignored and f.severity.rank >= threshold for f in findings))


def triage(
    stream: BinaryIO,
    *,
    source: str = "<stdin>",
    select: frozenset[str] | None = None,
    ignore: frozenset[str] = frozenset(),
    fail_on: str = "error",
    matcher: str | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> TriageResult:
    """Read ``stream`` (binary) to its end and return the ranked findings.

    ``select`` keeps only those codes; ``ignore`` marks codes ignored (still listed, never
    counted for the exit code); ``matcher`` forces ``"hyperscan"`` or ``"python"`` (default:
    ``$KYUDOCTOR_TRIAGE_MATCHER``, else the fastest available). Any bytes are accepted;
    ``OSError`` from reading the stream propagates.
    """
    from kyudoctor.triage import _signatures
    from kyudoctor.triage._scan import make_matcher, scan

    started = time.monotonic()
    sigset = _signatures.load()
    result = scan(stream, sigset, make_matcher(sigset.anchors, matcher), on_progress=on_progress)
    ranked = rank(sigset, result, keep=select)
    params = _base_params()
    findings = tuple(_finding(r, params, r.code in ignore) for r in ranked)
    return TriageResult(
        kyudoctor_version=__version__,
        source=source,
        lines=result.lines,
        bytes=result.bytes,
        findings=findings,
        exit_code=_exit_code(findings, fail_on),
        fail_on=fail_on,
        matcher=result.matcher,
        encoding=result.encoding,
        duration_ms=round((time.monotonic() - started) * 1000.0, 1),
    )


def triage_path(path: str | os.PathLike[str], **options: Any) -> TriageResult:
    """:func:`triage` of the file at ``path`` (``OSError`` when it cannot be read)."""
    with open(path, "rb") as stream:
        return triage(stream, source=os.fspath(path), **options)


def triage_text(text: str | bytes, **options: Any) -> TriageResult:
    """:func:`triage` of a string or bytes already in memory (tests, the API)."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    options.setdefault("source", "<text>")
    return triage(io.BytesIO(data), **options)


def to_dict(result: TriageResult) -> dict[str, Any]:
    """The result as JSON-ready data, the shape of ``kyudoctor/data/triage.schema.json``."""
    active = result.active
    return {
        "schema": SCHEMA,
        "kyudoctor_version": result.kyudoctor_version,
        "source": result.source,
        "lines": result.lines,
        "bytes": result.bytes,
        "encoding": result.encoding,
        "matcher": result.matcher,
        "fail_on": result.fail_on,
        "findings": [
            {
                "code": f.code,
                "slug": f.slug,
                "severity": f.severity.value,
                "confidence": f.confidence,
                "line": f.line,
                "excerpt": f.excerpt,
                "count": f.count,
                "evidence": [{"line": e.line, "text": e.text} for e in f.evidence],
                "explained_by": f.explained_by,
                "title": f.title,
                "fix": {"text": f.fix.text, "commands": list(f.fix.commands)},
                "docs": f.docs,
                "ignored": f.ignored,
            }
            for f in result.findings
        ],
        "summary": {
            "errors": sum(f.severity is Severity.ERROR for f in active),
            "warnings": sum(f.severity is Severity.WARNING for f in active),
            "infos": sum(f.severity is Severity.INFO for f in active),
            "ignored": len(result.findings) - len(active),
            "duration_ms": result.duration_ms,
        },
        "exit_code": result.exit_code,
    }


def render(fmt: str, result: TriageResult, stream: TextIO, **options: Any) -> None:
    """Write ``result`` in format ``fmt`` (one of :data:`FORMATS`); console takes ``verbose``
    and ``quiet``. Imported by name, so a JSON run never imports rich."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown triage format {fmt!r}")
    module = importlib.import_module(f"kyudoctor.report.triage_{fmt}")
    if fmt == "console":
        module.render(result, stream, **options)
    else:
        module.render(result, stream)
