"""From signature matches to ranked codes: one finding per code, root cause first.

Rules, all general (nothing here knows a particular code):

1. A match counts with its signature's confidence, changed by its context (``near``); a match
   whose confidence is 0 does not count.
2. One line, one problem: when several codes match the same line, only the most confident
   survive (ties kept). "No module named 'torch'" is TORCH001, not also PY002. A less
   confident match whose ``explained_by`` names a winner of that line survives as that
   winner's consequence (``task failed name="model_loop" err=...out of memory`` is GPU006,
   with WS007 folded under it); so does a less confident match that a winner's
   ``explained_by`` names as its cause, when that match is itself confident (``task failed
   name="model_loop" err=DriverError(CUDA_ERROR_NOT_FOUND...)``: WS007 wins the line, GPU005
   stays and WS007 folds under it; a weak guess never takes a stronger match over).
3. Repeated matches of one code count once: the first line, the number of lines, and up to
   three evidence lines (the first match of each distinct signature).
4. A code's confidence is its best match's, a little higher when several distinct signatures
   agree.
5. A code all of whose matches name, in ``explained_by``, a code (or family) also found is a
   consequence: it folds under that cause and is listed right after it.
6. Causes are ordered by confidence (in steps of 0.1, rounded down: 0.75 and 0.7 are one
   step, below 0.8), then by layer (platform and driver
   before toolkit, toolkit before Python, host before server and client), then by the line
   where they first appear.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kyudoctor.rules import FAMILY_ORDER
from kyudoctor.triage._scan import Hit, ScanResult
from kyudoctor.triage._signatures import SignatureSet

__all__ = ["Evidence", "RankedCode", "rank"]

AGREEMENT_BONUS = 0.03  # per extra distinct signature of the same code
MAX_CONFIDENCE = 0.99
MAX_EVIDENCE = 3
CONFIDENT = 0.5  # the catalog's "reads as confident" (see symptoms.toml's header)


@dataclass(frozen=True)
class Evidence:
    """A log line that shows the problem (1-based line number, excerpt)."""

    line: int
    text: str


@dataclass(frozen=True)
class RankedCode:
    """One code found in the log, with where and how surely."""

    code: str
    confidence: float
    line: int
    excerpt: str
    count: int
    evidence: tuple[Evidence, ...]
    params: Mapping[str, str]
    severity: str  # "" for the catalog's default
    explained_by: str | None


@dataclass
class _Code:
    code: str
    hits: list[tuple[int, float, Hit]]  # (signature index, confidence, hit)
    overflow: int = 0


def _family_rank(code: str) -> int:
    family = code.rstrip("0123456789")
    return FAMILY_ORDER.index(family) if family in FAMILY_ORDER else len(FAMILY_ORDER)


def _causes(prefixes: Iterable[str], present: Iterable[str], code: str) -> set[str]:
    return {c for c in present if c != code and any(c.startswith(p) for p in prefixes)}


def rank(
    sigset: SignatureSet, result: ScanResult, keep: Iterable[str] | None = None
) -> list[RankedCode]:
    """The codes of ``result``, ranked; with ``keep``, only those codes take part."""
    allowed = None if keep is None else set(keep)
    by_line: dict[int, list[tuple[int, float, Hit]]] = {}
    overflow: dict[str, int] = {}
    for index, hits in enumerate(result.hits):
        code = sigset.signatures[index].code
        if allowed is not None and code not in allowed:
            continue
        counted = 0
        for hit in hits:
            confidence = hit.confidence or 0.0
            if confidence <= 0:
                continue
            counted += 1
            by_line.setdefault(hit.line, []).append((index, confidence, hit))
        if counted and result.counts[index] > len(hits):
            overflow[code] = overflow.get(code, 0) + result.counts[index] - len(hits)

    codes: dict[str, _Code] = {}
    for line in sorted(by_line):
        entries = by_line[line]
        best = max(confidence for _, confidence, _ in entries)
        winners = {sigset.signatures[i].code for i, c, _ in entries if c >= best}
        # What the winners name as their possible causes: a less confident code of the line
        # that is one of them is the cause the winner is a consequence of, and stays.
        winner_causes = [
            prefix
            for i, c, _ in entries
            if c >= best
            for prefix in sigset.signatures[i].signature.explained_by
        ]
        for index, confidence, hit in entries:
            code = sigset.signatures[index].code
            if (
                confidence < best
                and not _causes(sigset.signatures[index].signature.explained_by, winners, code)
                and not (
                    confidence >= CONFIDENT
                    and any(code.startswith(prefix) for prefix in winner_causes)
                )
            ):
                continue
            codes.setdefault(code, _Code(code, [])).hits.append((index, confidence, hit))

    ranked: list[RankedCode] = []
    for code, data in codes.items():
        ranked.append(_summarise(sigset, data, overflow.get(code, 0)))
    return _order(sigset, ranked, codes)


def _summarise(sigset: SignatureSet, data: _Code, overflow: int) -> RankedCode:
    hits = sorted(data.hits, key=lambda h: (h[2].line, -h[1]))
    best = max(confidence for _, confidence, _ in hits)
    distinct = {index for index, _, _ in hits}
    confidence = min(MAX_CONFIDENCE, best + AGREEMENT_BONUS * (len(distinct) - 1))
    first = hits[0][2]
    evidence: list[Evidence] = []
    seen_signatures: set[int] = set()
    for index, _, hit in hits:
        if index in seen_signatures or any(e.line == hit.line for e in evidence):
            continue
        seen_signatures.add(index)
        evidence.append(Evidence(hit.line, hit.excerpt))
        if len(evidence) >= MAX_EVIDENCE:
            break
    params: dict[str, str] = {}
    for _, _, hit in hits:
        for name, value in hit.params.items():
            params.setdefault(name, value)
    severities = {sigset.signatures[i].signature.severity for i in distinct} - {""}
    severity = ""
    for level in ("error", "warning", "info"):
        if level in severities:
            severity = level
            break
    return RankedCode(
        code=data.code,
        confidence=round(confidence, 2),
        line=first.line,
        excerpt=first.excerpt,
        count=len({h.line for _, _, h in hits}) + overflow,
        evidence=tuple(evidence),
        params=params,
        severity=severity,
        explained_by=None,
    )


def _order(
    sigset: SignatureSet, ranked: list[RankedCode], codes: Mapping[str, _Code]
) -> list[RankedCode]:
    present = {r.code for r in ranked}

    def key(r: RankedCode) -> tuple[float, int, int, str]:
        return (-int(r.confidence * 10 + 1e-9), _family_rank(r.code), r.line, r.code)

    ranked.sort(key=key)
    # A code folds under a cause only when every one of its matches names it.
    candidates: dict[str, set[str]] = {}
    for r in ranked:
        common: set[str] | None = None
        for index, _, _ in codes[r.code].hits:
            causes = _causes(sigset.signatures[index].signature.explained_by, present, r.code)
            common = causes if common is None else common & causes
        candidates[r.code] = common or set()
    parent: dict[str, str] = {}
    for r in ranked:
        for cause in (c.code for c in ranked if c.code in candidates[r.code]):
            if _root(parent, cause) != r.code:
                parent[r.code] = cause
                break
    by_code = {r.code: r for r in ranked}
    out: list[RankedCode] = []

    def emit(code: str, cause: str | None) -> None:
        item = by_code[code]
        out.append(item if cause is None else _with_cause(item, cause))
        for child in ranked:
            if parent.get(child.code) == code:
                emit(child.code, code)

    for r in ranked:
        if r.code not in parent:
            emit(r.code, None)
    return out


def _root(parent: Mapping[str, str], code: str) -> str:
    seen = {code}
    while code in parent and parent[code] not in seen:
        code = parent[code]
        seen.add(code)
    return code


def _with_cause(item: RankedCode, cause: str) -> RankedCode:
    return RankedCode(
        code=item.code,
        confidence=item.confidence,
        line=item.line,
        excerpt=item.excerpt,
        count=item.count,
        evidence=item.evidence,
        params=item.params,
        severity=item.severity,
        explained_by=cause,
    )
