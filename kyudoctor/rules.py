"""From check outcomes to a report: catalog entries, fixes rendered with real values, ranking.

Ranking puts the most likely root cause first: severity, then the layer the problem lives in
(platform and driver before toolkit, toolkit before Python packages, host before server), then
the order of the checks. Checks themselves avoid reporting consequences of a missing
prerequisite (they are ``skipped`` with the reason), so the list stays one problem, one line.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kyudoctor import catalog
from kyudoctor.facts import compact
from kyudoctor.model import (
    CheckResult,
    Finding,
    Fix,
    RenderedFinding,
    Report,
    Severity,
    Status,
    Summary,
)
from kyudoctor.runner import Executed, ProbeOutcome

FAMILY_ORDER: tuple[str, ...] = (
    "ENV",
    "GPU",
    "CUDA",
    "CXX",
    "BIN",
    "PY",
    "TORCH",
    "CFG",
    "DOCKER",
    "NET",
    "TLS",
    "WS",
    "LOAD",
)

FAIL_ON_RANK = {"error": Severity.ERROR.rank, "warning": Severity.WARNING.rank, "never": None}

PLEASE_REPORT = (
    "this is a bug in kyudoctor; please report it with the output of "
    "`kyudoctor check -v` (or `--format json`)"
)


def severity_of(finding: Finding) -> Severity:
    """The finding's own severity, else the catalog default for its code."""
    if finding.severity is not None:
        return finding.severity
    return Severity(catalog.get(finding.code).severity)


def render_fix(finding: Finding, base_params: Mapping[str, Any]) -> Fix:
    """The catalog's fix text and commands, filled with the finding's values."""
    symptom = catalog.get(finding.code)
    params = {**base_params, **finding.params}
    text = catalog.render(symptom.fix, params)
    if finding.commands is not None:
        commands = finding.commands
    else:
        rendered = (catalog.render_command(t, params) for t in symptom.commands)
        commands = tuple(c for c in rendered if c is not None)
    return Fix(text=text, commands=tuple(commands))


def parse_code_list(values: Iterable[str]) -> frozenset[str]:
    """Expand ``--select``/``--ignore`` values (codes, slugs or family prefixes) to codes.

    Raises :class:`kyudoctor.catalog.UnknownCode` for a value that names nothing.
    """
    items = [v.strip() for value in values for v in value.split(",") if v.strip()]
    codes: set[str] = set()
    for item in items:
        symptom = catalog.find(item)
        if symptom is not None:
            codes.add(symptom.code)
        else:
            codes |= catalog.codes_matching([item])
    return frozenset(codes)


def build_report(
    executed: Sequence[Executed],
    probes: Mapping[str, ProbeOutcome],
    *,
    kyudoctor_version: str,
    targets: Mapping[str, Any],
    duration_ms: float,
    select: frozenset[str] | None = None,
    ignore: frozenset[str] = frozenset(),
    fail_on: str = "error",
    insecure: bool = False,
    base_params: Mapping[str, Any] | None = None,
    created: str | None = None,
) -> Report:
    """Assemble the report: statuses, rendered and ranked findings, summary and exit code."""
    params = dict(base_params or {})
    results: list[CheckResult] = []
    rendered: list[tuple[tuple[Any, ...], RenderedFinding]] = []
    order = {e.check.id: i for i, e in enumerate(executed)}
    for item in executed:
        check = item.check
        shown = {
            name: compact(name, probes[name].facts)
            for name in check.probes
            if name in probes and probes[name].facts
        }
        if item.outcome is None:
            status = item.status or Status.CRASHED
            summary = _failure_summary(status, item.error)
            results.append(
                CheckResult(
                    check.id,
                    check.group,
                    check.title,
                    status,
                    summary,
                    round(item.duration_ms, 1),
                    shown,
                    (),
                    item.traceback,
                )
            )
            continue
        outcome = item.outcome
        kept = [f for f in outcome.findings if select is None or f.code in select]
        worst: Severity | None = None
        ignored_codes = []
        for finding in kept:
            severity = severity_of(finding)
            symptom = catalog.get(finding.code)
            is_ignored = finding.code in ignore
            if is_ignored:
                ignored_codes.append(finding.code)
            elif worst is None or severity.rank > worst.rank:
                worst = severity
            key = (
                is_ignored,
                -severity.rank,
                _family_rank(symptom.family),
                order[check.id],
                finding.code,
            )
            rendered.append(
                (
                    key,
                    RenderedFinding(
                        code=finding.code,
                        slug=symptom.slug,
                        severity=severity,
                        check=check.id,
                        title=symptom.title,
                        message=finding.message,
                        evidence=dict(finding.evidence),
                        fix=render_fix(finding, params),
                        docs=f"explain {finding.code}",
                        ignored=is_ignored,
                    ),
                )
            )
        if outcome.skipped:
            status = Status.SKIPPED
        elif worst is Severity.ERROR:
            status = Status.ERROR
        elif worst is Severity.WARNING:
            status = Status.WARNING
        else:
            status = Status.OK
        summary = outcome.summary
        if ignored_codes:
            summary += f" (ignored: {', '.join(sorted(set(ignored_codes)))})"
        results.append(
            CheckResult(
                check.id,
                check.group,
                check.title,
                status,
                summary,
                round(item.duration_ms, 1),
                {**shown, **outcome.details},
                tuple(kept),
            )
        )
    findings = tuple(f for _, f in sorted(rendered, key=lambda kf: kf[0]))
    summary_counts = _summarise(results, findings, duration_ms)
    exit_code = compute_exit_code(findings, results, fail_on)
    return Report(
        kyudoctor_version=kyudoctor_version,
        created=created or now_rfc3339(),
        targets=dict(targets),
        checks=tuple(results),
        findings=findings,
        summary=summary_counts,
        exit_code=exit_code,
        insecure=insecure,
        fail_on=fail_on,
        facts={name: p.facts for name, p in probes.items() if p.facts is not None},
    )


def compute_exit_code(
    findings: Sequence[RenderedFinding], results: Sequence[CheckResult], fail_on: str
) -> int:
    """0 clean, 1 a finding at or above ``fail_on``, 3 a check crashed or timed out otherwise."""
    threshold = FAIL_ON_RANK[fail_on]
    if threshold is not None and any(
        not f.ignored and f.severity.rank >= threshold for f in findings
    ):
        return 1
    if any(r.status in (Status.CRASHED, Status.TIMEOUT) for r in results):
        return 3
    return 0


def now_rfc3339() -> str:
    """The current time in UTC, RFC 3339, second precision."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _failure_summary(status: Status, error: str | None) -> str:
    if status is Status.TIMEOUT:
        return f"timed out: {error}" if error else "timed out"
    return f"crashed: {error}; {PLEASE_REPORT}"


def _family_rank(family: str) -> int:
    try:
        return FAMILY_ORDER.index(family)
    except ValueError:
        return len(FAMILY_ORDER)


def _summarise(
    results: Sequence[CheckResult], findings: Sequence[RenderedFinding], duration_ms: float
) -> Summary:
    active = [f for f in findings if not f.ignored]
    return Summary(
        errors=sum(f.severity is Severity.ERROR for f in active),
        warnings=sum(f.severity is Severity.WARNING for f in active),
        infos=sum(f.severity is Severity.INFO for f in active),
        ignored=sum(f.ignored for f in findings),
        crashed=sum(r.status is Status.CRASHED for r in results),
        timeouts=sum(r.status is Status.TIMEOUT for r in results),
        duration_ms=round(duration_ms, 1),
    )
