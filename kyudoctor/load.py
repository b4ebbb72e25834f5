"""``kyudoctor load``: ramp concurrent TTS sessions against a server; measure capacity and latency.

Each level opens N sessions together, each sending a short text one word at a time and Eos, and
ending properly (Eos + close: a load test must never leak the server's slots). Per level:
accepted (got Ready), rejected ("no free channels"), errors, close codes, time to first audio
p50/p95 and real-time factor. The ramp stops after the first level where sessions are rejected:
the measured capacity is the most sessions accepted at once (``batch_size`` minus the slots
already held). Afterwards ``/api/modules_info`` is read to confirm the server got its slots back.

The N sessions of a level start spread over a short ramp-up (``--ramp-up``; by default 3 ms per
session, at most 0.5 s), as arriving clients do, rather than in the same millisecond: sessions
last seconds, so all N still hold their slots at the same time, but the time to first audio
measures the server instead of a burst of N x 11 frames on both sides of one loopback
(measured by ``bench/server.py``). ``--ramp-up 0`` starts them all at once.

Findings: LOAD001 (some sessions rejected; an error with ``--expect-concurrency N`` above the
measured capacity), LOAD002 (p95 time to first audio at the highest fully accepted level above
3x the single-session value, or real-time factor above 1), WS005 (even one session is
rejected: every slot is already taken).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from kyudoctor import __version__, rules
from kyudoctor.model import Check, Finding, Outcome, Report, Severity
from kyudoctor.redact import redact_url
from kyudoctor.runner import Executed

DEFAULT_LEVELS = (1, 2, 4, 8, 16, 32)
RAMP_UP_PER_SESSION_S = 0.003
RAMP_UP_MAX_S = 0.5
DEGRADATION_FACTOR = 3.0
"""LOAD002 when p95 TTFA at the highest accepted level exceeds this multiple of one session's."""


@dataclass(frozen=True)
class Level:
    """The outcome of one concurrency level."""

    concurrency: int
    accepted: int
    rejected: int
    errors: int
    close_codes: dict[str, int]
    outcomes: dict[str, int]
    ttfa_p50_s: float | None
    ttfa_p95_s: float | None
    rtf_p50: float | None
    rtf_max: float | None
    wall_s: float
    cpu_s: float

    def fact(self) -> dict[str, Any]:
        """JSON-ready facts of this level."""
        return {
            "concurrency": self.concurrency,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "errors": self.errors,
            "close_codes": self.close_codes,
            "outcomes": self.outcomes,
            "ttfa_p50_ms": _ms(self.ttfa_p50_s),
            "ttfa_p95_ms": _ms(self.ttfa_p95_s),
            "rtf_p50": _round(self.rtf_p50),
            "rtf_max": _round(self.rtf_max),
            "wall_s": round(self.wall_s, 3),
            "kyudoctor_cpu_ms_per_session": round(self.cpu_s * 1000 / max(self.concurrency, 1), 2),
        }


@dataclass(frozen=True)
class LoadRun:
    """Every level of one ramp, the slots in use before and after, and what was expected."""

    url: str
    levels: tuple[Level, ...]
    slots_before: tuple[int, int] | None
    slots_after: tuple[int, int] | None
    expect_concurrency: int | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def capacity(self) -> int:
        """The most sessions the server accepted at once."""
        return max((level.accepted for level in self.levels), default=0)


def default_ramp_up(concurrency: int) -> float:
    """Seconds over which a level's session starts are spread when ``--ramp-up`` is not given."""
    return min(RAMP_UP_MAX_S, RAMP_UP_PER_SESSION_S * max(0, concurrency - 1))


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The nearest-rank percentile of ``values`` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


async def run_level(
    url: str,
    concurrency: int,
    *,
    api_key: str | None,
    text: str,
    voice: str | None,
    timeout: float,
    ssl_context: ssl.SSLContext | None,
    ramp_up_s: float | None = None,
) -> Level:
    """Open ``concurrency`` sessions, their starts spread over ``ramp_up_s``, and wait for all."""
    from kyudoctor.session import SessionResult, run_session

    spread = default_ramp_up(concurrency) if ramp_up_s is None else ramp_up_s
    step = spread / concurrency if concurrency > 1 else 0.0

    async def one(index: int) -> SessionResult:
        if index and step:
            await asyncio.sleep(index * step)
        return await run_session(
            url, api_key=api_key, text=text, voice=voice, timeout=timeout, ssl=ssl_context
        )

    cpu0, wall0 = time.process_time(), time.perf_counter()
    results = await asyncio.gather(*(one(i) for i in range(concurrency)))
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    ttfa = [r.ttfa_s for r in results if r.ttfa_s is not None]
    rtf = [r.rtf for r in results if r.rtf is not None]
    rejected = sum(r.outcome == "no-free-channels" for r in results)
    accepted = sum(r.ready for r in results)
    errors = sum(r.outcome not in ("ok", "no-free-channels") for r in results)
    return Level(
        concurrency=concurrency,
        accepted=accepted,
        rejected=rejected,
        errors=errors,
        close_codes=dict(Counter(str(r.close_code) for r in results)),
        outcomes=dict(Counter(r.outcome for r in results)),
        ttfa_p50_s=percentile(ttfa, 0.5),
        ttfa_p95_s=percentile(ttfa, 0.95),
        rtf_p50=statistics.median(rtf) if rtf else None,
        rtf_max=max(rtf) if rtf else None,
        wall_s=wall,
        cpu_s=cpu,
    )


async def slots(
    url: str, *, timeout: float, ssl_context: ssl.SSLContext | None
) -> tuple[int, int] | None:
    """(used, total) slots of the module serving ``url``'s path, from ``/api/modules_info``."""
    from kyudoctor.session import fetch

    parts = urlsplit(url)
    scheme = "https" if parts.scheme == "wss" else "http"
    info_url = urlunsplit((scheme, parts.netloc, "/api/modules_info", "", ""))
    response = await fetch(info_url, timeout=timeout, ssl=ssl_context)
    if response.status != 200:
        return None
    try:
        modules = json.loads(response.body)
        for module in modules:
            if module.get("path") == parts.path:
                return int(module["used_slots"]), int(module["total_slots"])
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return None


async def ramp(
    url: str,
    levels: Sequence[int],
    *,
    api_key: str | None,
    text: str,
    voice: str | None,
    timeout: float,
    ssl_context: ssl.SSLContext | None,
    expect_concurrency: int | None = None,
    on_level: Callable[[Level], None] | None = None,
    ramp_up_s: float | None = None,
) -> LoadRun:
    """Run the levels in order, stopping after the first one with rejected sessions."""
    before = await slots(url, timeout=timeout, ssl_context=ssl_context)
    done: list[Level] = []
    for concurrency in levels:
        level = await run_level(
            url,
            concurrency,
            api_key=api_key,
            text=text,
            voice=voice,
            timeout=timeout,
            ssl_context=ssl_context,
            ramp_up_s=ramp_up_s,
        )
        done.append(level)
        if on_level is not None:
            on_level(level)
        if level.rejected or level.accepted == 0:
            break
    after = None
    for _ in range(20):  # the server frees a slot once it has processed Eos: give it a moment
        after = await slots(url, timeout=timeout, ssl_context=ssl_context)
        if after is None or before is None or after[0] <= before[0]:
            break
        await asyncio.sleep(0.1)
    return LoadRun(redact_url(url), tuple(done), before, after, expect_concurrency)


def judge(run: LoadRun) -> Outcome:
    """LOAD001, LOAD002 and WS005 from a ramp (a pure function of the measurements)."""
    findings: list[Finding] = []
    levels = run.levels
    table = [level.fact() for level in levels]
    if not levels:
        return Outcome.skip("no level was run")
    capacity = run.capacity
    first = levels[0]
    if first.accepted == 0 and first.rejected:
        findings.append(
            Finding(
                "WS005",
                f'{run.url}: even {first.concurrency} session got "no free channels": every slot is '
                f"already taken{_slots_text(run.slots_before)}",
                evidence={"levels": table, "slots_before": run.slots_before},
            )
        )
    elif any(level.rejected for level in levels):
        saturated = next(level for level in levels if level.rejected)
        severity = None
        expect = run.expect_concurrency
        if expect is not None and capacity < expect:
            severity = Severity.ERROR
        message = (
            f"{run.url}: capacity {capacity} concurrent sessions: at {saturated.concurrency}, "
            f'{saturated.rejected} got "no free channels"'
            + (f" (expected at least {expect})" if expect is not None else "")
            + _slots_text(run.slots_before)
        )
        findings.append(
            Finding(
                "LOAD001",
                message,
                evidence={"capacity": capacity, "levels": table, "slots_before": run.slots_before},
                # The demand seen: the level that overflowed, or what CI says it needs.
                params={"batch_size": max(expect or 0, saturated.concurrency)},
                severity=severity,
            )
        )
    elif run.expect_concurrency is not None and capacity < run.expect_concurrency:
        findings.append(
            Finding(
                "LOAD001",
                f"{run.url}: measured up to {capacity} concurrent sessions, all accepted, but "
                f"--expect-concurrency is {run.expect_concurrency}: raise the levels to reach it",
                evidence={"capacity": capacity, "levels": table},
                severity=Severity.WARNING,
            )
        )
    full = [
        level
        for level in levels
        if level.accepted == level.concurrency and level.ttfa_p95_s is not None
    ]
    single = next((level for level in levels if level.concurrency == 1 and level.ttfa_p50_s), None)
    if full and single is not None and single.ttfa_p50_s:
        top = full[-1]
        slow = (
            top.ttfa_p95_s is not None and top.ttfa_p95_s > DEGRADATION_FACTOR * single.ttfa_p50_s
        )
        late = top.rtf_max is not None and top.rtf_max > 1.0
        if top.concurrency > 1 and (slow or late):
            findings.append(
                Finding(
                    "LOAD002",
                    f"{run.url}: at {top.concurrency} sessions time to first audio p95 is "
                    f"{_ms(top.ttfa_p95_s)} ms vs {_ms(single.ttfa_p50_s)} ms for one session"
                    + (f", real-time factor up to {top.rtf_max:.2f}" if top.rtf_max else ""),
                    evidence={"levels": table},
                )
            )
    if run.slots_before and run.slots_after and run.slots_after[0] > run.slots_before[0]:
        findings.append(
            Finding(
                "WS011",
                f"{run.url}: {run.slots_after[0]} slots in use after the test vs "
                f"{run.slots_before[0]} before: sessions that ended did not free their slots",
                evidence={"slots_before": run.slots_before, "slots_after": run.slots_after},
            )
        )
    summary = f"capacity {capacity} ({', '.join(f'{lv.accepted}/{lv.concurrency}' for lv in levels)} accepted)"
    return Outcome.found(summary, *findings, levels=table, capacity=capacity)


def _slots_text(used_total: tuple[int, int] | None) -> str:
    if used_total is None:
        return ""
    return f"; /api/modules_info showed {used_total[0]} of {used_total[1]} slots in use before the test"


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def build_report(run: LoadRun, *, duration_ms: float, fail_on: str, insecure: bool) -> Report:
    """The load run as a kyudoctor.report/1 (one check per URL, its levels in the facts)."""
    outcome = judge(run)
    check = Check(
        "load.capacity",
        "server",
        "Concurrent TTS sessions",
        ("LOAD001", "LOAD002", "WS005", "WS011"),
        (),
        lambda _facts: outcome,
    )
    executed = [Executed(check, outcome, None, None, None, duration_ms)]
    return rules.build_report(
        executed,
        {},
        kyudoctor_version=__version__,
        targets={"urls": [run.url], "python": None, "config": None},
        duration_ms=duration_ms,
        fail_on=fail_on,
        insecure=insecure,
        base_params={"config": "configs/config-tts.toml"},
    )


# -- the command ------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``kyudoctor load``."""
    parser.add_argument("--url", required=True, help="the TTS WebSocket endpoint (ws:// or wss://)")
    parser.add_argument(
        "--api-key", default=None, help="API key (default: $KYUTAI_API_KEY, else public_token)"
    )
    levels = parser.add_mutually_exclusive_group()
    levels.add_argument(
        "--levels", default=None, help="comma list of concurrency levels (default 1,2,4,8,16,32)"
    )
    levels.add_argument("--max", type=int, default=None, help="ramp 1,2,4,... up to N sessions")
    parser.add_argument(
        "--expect-concurrency",
        type=int,
        default=None,
        metavar="N",
        help="capacity below N is an error (for CI)",
    )
    parser.add_argument(
        "--text",
        default="Hello, this is a short load test sentence.",
        help="what each session says",
    )
    parser.add_argument("--voice", default=None)
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="time limit of each session (default 30)"
    )
    parser.add_argument(
        "--ramp-up",
        type=_ramp_up,
        default=None,
        metavar="SECONDS",
        help="spread each level's session starts over this long (default: 3 ms per session, "
        "at most 0.5 s; 0: all at once)",
    )
    parser.add_argument("--cacert", default=None, help="CA bundle for wss://")
    parser.add_argument(
        "--insecure", action="store_true", help="do not verify TLS; the report says so"
    )


def _ramp_up(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= value <= 60:
        raise argparse.ArgumentTypeError(f"must be between 0 and 60 seconds: {text!r}")
    return value


def parse_levels(levels: str | None, maximum: int | None) -> tuple[int, ...]:
    """``--levels 1,2,4`` or ``--max 64`` (powers of two up to it) as a tuple of levels."""
    from kyudoctor.errors import UsageError

    if maximum is not None:
        if maximum < 1:
            raise UsageError("--max must be at least 1")
        out, n = [], 1
        while n < maximum:
            out.append(n)
            n *= 2
        return (*out, maximum)
    if levels is None:
        return DEFAULT_LEVELS
    try:
        parsed = tuple(int(v) for v in levels.split(",") if v.strip())
    except ValueError:
        raise UsageError(f"--levels {levels!r}: a comma list of positive integers") from None
    if not parsed or min(parsed) < 1:
        raise UsageError(f"--levels {levels!r}: a comma list of positive integers")
    return parsed


def run(
    ns: argparse.Namespace, *, fmt: str, output: Any, verbose: bool, quiet: bool, fail_on: str
) -> Report:
    """Run the ramp and return the report (the CLI renders it)."""
    import os

    from kyudoctor.errors import UsageError

    if not ns.url.startswith(("ws://", "wss://")):
        raise UsageError(f"--url {redact_url(ns.url)}: must start with ws:// or wss://")
    levels = parse_levels(ns.levels, ns.max)
    context: ssl.SSLContext | None = None
    if ns.url.startswith("wss://"):
        context = ssl.create_default_context(cafile=ns.cacert)
        if ns.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
    api_key = ns.api_key or os.environ.get("KYUTAI_API_KEY") or "public_token"
    started = time.perf_counter()
    progress = _Progress(enabled=not quiet and fmt == "console" and sys.stderr.isatty())
    with progress:
        load_run = asyncio.run(
            ramp(
                ns.url,
                levels,
                api_key=api_key,
                text=ns.text,
                voice=ns.voice,
                timeout=ns.timeout,
                ssl_context=context,
                expect_concurrency=ns.expect_concurrency,
                on_level=progress.level_done,
                ramp_up_s=ns.ramp_up,
            )
        )
    return build_report(
        load_run,
        duration_ms=(time.perf_counter() - started) * 1000,
        fail_on=fail_on,
        insecure=ns.insecure,
    )


def render_table(report: Report, stream: Any) -> None:
    """The per-level table of a load report (console)."""
    from rich.console import Console
    from rich.table import Table

    levels = report.checks[0].facts.get("levels") or []
    capacity = report.checks[0].facts.get("capacity")
    table = Table(
        title=f"kyudoctor load · {', '.join(report.targets.get('urls') or [])}",
        caption=f"measured capacity: {capacity} concurrent sessions",
    )
    headings: tuple[str, ...] = ("sessions", "ok", "rejected", "errors", "close codes")
    headings += ("TTFA p50 ms", "TTFA p95 ms", "RTF p50", "CPU ms/session")
    for column in headings:
        table.add_column(column, justify="right")
    for level in levels:
        codes = ", ".join(f"{k}: {v}" for k, v in sorted(level["close_codes"].items()))
        table.add_row(
            str(level["concurrency"]),
            str(level["accepted"]),
            str(level["rejected"]),
            str(level["errors"]),
            codes,
            _cell(level["ttfa_p50_ms"]),
            _cell(level["ttfa_p95_ms"]),
            _cell(level["rtf_p50"]),
            _cell(level["kyudoctor_cpu_ms_per_session"]),
        )
    width = None if getattr(stream, "isatty", lambda: False)() else 120
    Console(file=stream, soft_wrap=True, highlight=False, width=width).print(table)


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)


class _Progress:
    """A live line on stderr while levels run (terminal only)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._status: Any = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.console import Console

            self._status = Console(file=sys.stderr).status("kyudoctor load: level 1…")
            self._status.start()
        return self

    def level_done(self, level: Level) -> None:
        if self._status is not None:
            self._status.update(
                f"kyudoctor load: {level.concurrency} sessions: {level.accepted} accepted, "
                f"{level.rejected} rejected; next level…"
            )

    def __exit__(self, *exc: object) -> None:
        if self._status is not None:
            self._status.stop()


__all__ = [
    "DEFAULT_LEVELS",
    "Level",
    "LoadRun",
    "add_arguments",
    "build_report",
    "judge",
    "parse_levels",
    "percentile",
    "ramp",
    "render_table",
    "run",
]
