"""Run probes concurrently, each under its own time limit, then run the checks on their facts.

Guarantees: every probe starts at once in its own daemon thread; each gets ``timeout`` seconds
(its commands are killed with their process groups when it runs out); the runner never waits
longer than the slowest limit plus a small grace, even for a probe stuck inside a library call
(that thread is abandoned, and being a daemon it cannot keep the process alive). An exception
in a probe or a check becomes ``crashed`` with its traceback, a hang becomes ``timeout``.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kyudoctor import probes as probe_registry
from kyudoctor.errors import ProbeTimeout, UnusableInput
from kyudoctor.model import Check, Outcome, Status
from kyudoctor.probes import ProbeContext
from kyudoctor.probes._proc import ProcessRunner

GRACE_S = 0.25
"""How long past its limit a probe stuck outside our control is waited for before abandoning it."""


@dataclass(frozen=True)
class ProbeOutcome:
    """How one probe ended: ``ok`` with facts, ``timeout``, or ``crashed`` with a traceback."""

    name: str
    status: Status
    facts: dict[str, Any] | None
    duration_ms: float
    error: str | None = None
    traceback: str | None = None
    unusable: str | None = None


@dataclass(frozen=True)
class Executed:
    """One check after the run: its outcome, or the probe/check failure that replaced it."""

    check: Check
    outcome: Outcome | None
    status: Status | None  # TIMEOUT or CRASHED when there is no outcome
    error: str | None
    traceback: str | None
    duration_ms: float


ProbeCallback = Callable[[ProbeOutcome], None]


def run_probes(
    names: Iterable[str],
    *,
    env: Mapping[str, str],
    options: Mapping[str, Any],
    timeout: float,
    cwd: Path | None = None,
    on_done: ProbeCallback | None = None,
    load: Callable[[str], Callable[[ProbeContext], dict[str, Any]]] | None = None,
) -> dict[str, ProbeOutcome]:
    """Run the named probes concurrently; return how each ended."""
    loader = load or (lambda name: probe_registry.get(name).load())
    started = time.monotonic()
    deadline = started + timeout
    results: dict[str, ProbeOutcome] = {}
    lock = threading.Lock()
    workers: list[tuple[str, threading.Thread, ProcessRunner]] = []

    def finish(outcome: ProbeOutcome) -> None:
        with lock:
            if outcome.name in results:  # already declared timed out by the runner
                return
            results[outcome.name] = outcome
        if on_done is not None:
            on_done(outcome)

    def work(name: str, runner: ProcessRunner) -> None:
        t0 = time.monotonic()
        ctx = ProbeContext(env=env, runner=runner, options=options, cwd=cwd or Path.cwd())
        try:
            facts = loader(name)(ctx)
            outcome = ProbeOutcome(name, Status.OK, facts, _ms(t0))
        except ProbeTimeout as exc:
            outcome = ProbeOutcome(name, Status.TIMEOUT, None, _ms(t0), error=str(exc))
        except UnusableInput as exc:
            outcome = ProbeOutcome(name, Status.CRASHED, None, _ms(t0), str(exc), unusable=str(exc))
        except Exception as exc:  # noqa: BLE001 - a probe bug must become a result, never a traceback
            outcome = ProbeOutcome(
                name,
                Status.CRASHED,
                None,
                _ms(t0),
                error=f"{type(exc).__name__}: {exc}",
                traceback=traceback.format_exc(),
            )
        finish(outcome)

    for name in dict.fromkeys(names):
        runner = ProcessRunner(env, deadline)
        thread = threading.Thread(
            target=work, args=(name, runner), name=f"probe-{name}", daemon=True
        )
        workers.append((name, thread, runner))
        thread.start()

    for name, thread, runner in workers:
        thread.join(max(0.0, deadline + GRACE_S - time.monotonic()))
        if thread.is_alive():
            runner.cancel()
            finish(
                ProbeOutcome(
                    name,
                    Status.TIMEOUT,
                    None,
                    _ms(started),
                    error=f"did not finish within {timeout:g} s",
                )
            )
    return results


def run_checks(checks: Iterable[Check], probes: Mapping[str, ProbeOutcome]) -> list[Executed]:
    """Run each check on the facts of its probes (pure functions: no time limit needed)."""
    facts = {name: p.facts if p.status is Status.OK else None for name, p in probes.items()}
    executed = []
    for check in checks:
        probe_ms = max((probes[n].duration_ms for n in check.probes if n in probes), default=0.0)
        failed = [
            probes[n] for n in check.probes if n in probes and probes[n].status is not Status.OK
        ]
        missing = [n for n in check.probes if n not in probes]
        if missing:
            raise RuntimeError(f"check {check.id} needs probes that did not run: {missing}")
        if failed:
            first = failed[0]
            executed.append(
                Executed(
                    check,
                    None,
                    first.status,
                    f"{first.name} probe: {first.error}",
                    first.traceback,
                    probe_ms,
                )
            )
            continue
        t0 = time.monotonic()
        try:
            outcome = check.run(facts)
            executed.append(Executed(check, outcome, None, None, None, probe_ms + _ms(t0)))
        except Exception as exc:  # noqa: BLE001 - a check bug must become a result
            executed.append(
                Executed(
                    check,
                    None,
                    Status.CRASHED,
                    f"{type(exc).__name__}: {exc}",
                    traceback.format_exc(),
                    probe_ms + _ms(t0),
                )
            )
    return executed


def _ms(started: float) -> float:
    return (time.monotonic() - started) * 1000.0
