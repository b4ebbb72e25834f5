"""The runner: probes run concurrently under limits; failures become statuses, never tracebacks."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kyudoctor.errors import ProbeTimeout, UnusableInput
from kyudoctor.model import Check, Facts, Finding, Outcome, Status
from kyudoctor.probes import ProbeContext
from kyudoctor.runner import run_checks, run_probes

ProbeFn = Callable[[ProbeContext], dict[str, Any]]


def _run(probes: dict[str, ProbeFn], timeout: float = 5.0) -> dict[str, Any]:
    return run_probes(
        probes, env={"PATH": "/usr/bin:/bin"}, options={}, timeout=timeout, load=probes.__getitem__
    )


def _sleepy(seconds: float) -> ProbeFn:
    def probe(ctx: ProbeContext) -> dict[str, Any]:
        time.sleep(seconds)
        return {"slept": seconds}

    return probe


def test_probes_run_concurrently() -> None:
    """Three probes of 0.5 s each finish together in well under 1.5 s."""
    started = time.monotonic()
    outcomes = _run({"a": _sleepy(0.5), "b": _sleepy(0.5), "c": _sleepy(0.5)})
    assert time.monotonic() - started < 1.2
    assert {o.status for o in outcomes.values()} == {Status.OK}


def test_exception_becomes_crashed_with_traceback() -> None:
    """A probe that raises becomes `crashed` with the exception and its traceback."""

    def boom(ctx: ProbeContext) -> dict[str, Any]:
        raise KeyError("driver_version")

    outcome = _run({"gpu": boom})["gpu"]
    assert outcome.status is Status.CRASHED
    assert "KeyError" in (outcome.error or "") and "Traceback" in (outcome.traceback or "")


def test_hang_in_python_code_becomes_timeout_without_waiting() -> None:
    """A probe stuck outside our control is abandoned at its limit (plus a small grace)."""
    started = time.monotonic()
    outcomes = _run({"stuck": _sleepy(30), "fast": _sleepy(0)}, timeout=0.5)
    assert time.monotonic() - started < 1.0
    assert outcomes["stuck"].status is Status.TIMEOUT
    assert outcomes["fast"].status is Status.OK


def test_probe_timeout_exception_becomes_timeout() -> None:
    """A probe whose command hit the deadline (ProbeTimeout) is `timeout`, with the reason."""

    def slow(ctx: ProbeContext) -> dict[str, Any]:
        raise ProbeTimeout("nvidia-smi did not finish within 2.0 s")

    outcome = _run({"gpu": slow})["gpu"]
    assert outcome.status is Status.TIMEOUT and "nvidia-smi" in (outcome.error or "")


def test_unusable_input_is_reported_as_such() -> None:
    """UnusableInput from a probe is carried to the caller (exit status 2), not a crash report."""

    def bad(ctx: ProbeContext) -> dict[str, Any]:
        raise UnusableInput("--python /bin/ls: not a Python interpreter")

    assert _run({"python": bad})["python"].unusable == "--python /bin/ls: not a Python interpreter"


def _check(
    run: Callable[[Facts], Outcome], probes: tuple[str, ...] = ("a",), uses: tuple[str, ...] = ()
) -> Check:
    return Check("t.check", "host", "Test", ("GPU001",), probes, run, uses)


def test_required_probe_failure_gives_the_check_its_status() -> None:
    """A check whose required probe timed out is `timeout` and is not run."""
    calls = []
    outcomes = _run({"a": _sleepy(30)}, timeout=0.3)
    executed = run_checks([_check(lambda f: calls.append(f) or Outcome.ok("x"))], outcomes)
    assert executed[0].status is Status.TIMEOUT and calls == []


def test_optional_probe_failure_gives_none() -> None:
    """A check sees None for an optional probe that failed, and still runs."""

    def boom(ctx: ProbeContext) -> dict[str, Any]:
        raise RuntimeError("x")

    outcomes = _run({"a": _sleepy(0), "b": boom})
    seen: list[Any] = []
    check = _check(lambda f: seen.append(f["b"]) or Outcome.ok("fine"), uses=("b",))
    executed = run_checks([check], outcomes)
    assert seen == [None] and executed[0].outcome == Outcome.ok("fine")


def test_check_exception_becomes_crashed() -> None:
    """A check that raises is `crashed` with its traceback; the other checks still run."""
    outcomes = _run({"a": _sleepy(0)})

    def bad(facts: Facts) -> Outcome:
        return Outcome.found("x", Finding("GPU001", str(facts["a"]["missing"])))

    good = Check("t.good", "host", "Good", ("GPU001",), ("a",), lambda f: Outcome.ok("ok"))
    executed = run_checks([_check(bad), good], outcomes)
    assert executed[0].status is Status.CRASHED and "KeyError" in (executed[0].error or "")
    assert executed[1].outcome == Outcome.ok("ok")
