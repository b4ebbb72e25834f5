"""The result model: what checks say, and what a run reports.

Everything here is a frozen value. Probes produce plain facts (dicts of JSON types), checks turn
facts into an :class:`Outcome`, the runner wraps each outcome into a :class:`CheckResult` (status,
timing, traceback when it crashed), and the rules turn findings into :class:`RenderedFinding`
values with the catalog's title, severity and fix rendered with the real values.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Facts = Mapping[str, Any]
"""Facts of one run: probe name -> that probe's facts (``None`` when the probe failed)."""


class Status(str, enum.Enum):
    """The status of one check, exactly the vocabulary of the CLI contract."""

    OK = "ok"
    WARNING = "warning"
    ERROR = "error"
    SKIPPED = "skipped"
    TIMEOUT = "timeout"
    CRASHED = "crashed"

    def __str__(self) -> str:
        return self.value


class Severity(str, enum.Enum):
    """How bad a finding is: error (cannot work), warning (works badly), info (worth knowing)."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Larger is worse: info 0, warning 1, error 2."""
        return _SEVERITY_RANK[self]

    def __str__(self) -> str:
        return self.value


_SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


@dataclass(frozen=True)
class Finding:
    """One problem a check found, before the catalog is attached.

    ``params`` fill the placeholders of the catalog's fix text and command templates;
    ``commands``, when given, are exact commands computed for this machine and take the place of
    the catalog's templates; ``severity`` overrides the catalog default where the catalog says the
    severity depends on the situation.
    """

    code: str
    message: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    severity: Severity | None = None
    commands: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Outcome:
    """What a check function returns: a one-line summary and its findings (or a skip)."""

    summary: str
    findings: tuple[Finding, ...] = ()
    skipped: bool = False
    details: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def ok(cls, summary: str, **details: Any) -> Outcome:
        """Nothing wrong was seen, and the check could look."""
        return cls(summary=summary, details=details)

    @classmethod
    def skip(cls, reason: str) -> Outcome:
        """Not applicable, or a prerequisite failed: ``reason`` says which."""
        return cls(summary=reason, skipped=True)

    @classmethod
    def found(cls, summary: str, *findings: Finding, **details: Any) -> Outcome:
        """The check looked and has findings (possibly none)."""
        return cls(summary=summary, findings=tuple(findings), details=details)


@dataclass(frozen=True)
class Check:
    """A registered check: an id, the probes whose facts it judges, and the pure function.

    ``probes`` are required: when one of them timed out or crashed, the check takes that status
    without running. ``uses`` are optional: the check runs with ``None`` for a failed one.
    """

    id: str
    group: str
    title: str
    codes: tuple[str, ...]
    probes: tuple[str, ...]
    run: Callable[[Facts], Outcome]
    uses: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckResult:
    """The result of one check in one run."""

    id: str
    group: str
    title: str
    status: Status
    summary: str
    duration_ms: float
    facts: Mapping[str, Any] = field(default_factory=dict)
    findings: tuple[Finding, ...] = ()
    traceback: str | None = None


@dataclass(frozen=True)
class Fix:
    """How to fix a finding: prose and the exact commands, rendered with the real values."""

    text: str
    commands: tuple[str, ...] = ()


@dataclass(frozen=True)
class RenderedFinding:
    """A finding with its catalog entry attached: what every reporter shows."""

    code: str
    slug: str
    severity: Severity
    check: str
    title: str
    message: str
    evidence: Mapping[str, Any]
    fix: Fix
    docs: str
    ignored: bool = False


@dataclass(frozen=True)
class Summary:
    """Counts over a report; ignored findings count only under ``ignored``."""

    errors: int = 0
    warnings: int = 0
    infos: int = 0
    ignored: int = 0
    crashed: int = 0
    timeouts: int = 0
    duration_ms: float = 0.0


@dataclass(frozen=True)
class Report:
    """One run of ``kyudoctor check``: every check result and the ranked findings."""

    kyudoctor_version: str
    created: str
    targets: Mapping[str, Any]
    checks: tuple[CheckResult, ...]
    findings: tuple[RenderedFinding, ...]
    summary: Summary
    exit_code: int
    insecure: bool = False
    fail_on: str = "error"
    facts: Mapping[str, Any] = field(default_factory=dict)
