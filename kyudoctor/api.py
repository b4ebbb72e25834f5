"""The ``check`` pipeline as a function: choose checks, run their probes, build the report."""

from __future__ import annotations

import importlib
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kyudoctor import __version__
from kyudoctor.errors import UnusableInput, UsageError
from kyudoctor.model import Check, Outcome, Report, Status
from kyudoctor.redact import redact_url
from kyudoctor.runner import Executed, ProbeCallback, ProbeOutcome, run_checks, run_probes

GROUPS = ("host", "server", "files")
DEFAULT_CONFIG = "configs/config-tts.toml"


@dataclass(frozen=True)
class CheckOptions:
    """Everything ``kyudoctor check`` needs, already parsed and validated by the CLI."""

    python: str | None = None
    pyproject: str | None = None
    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    select: frozenset[str] | None = None
    ignore: frozenset[str] = frozenset()
    fail_on: str = "error"
    timeout: float = 10.0
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def default_python(env: Mapping[str, str]) -> str:
    """The target interpreter: the active virtualenv's, else the one running kyudoctor."""
    venv = env.get("VIRTUAL_ENV")
    if venv:
        for name in ("python", "python3"):
            candidate = Path(venv) / "bin" / name
            if candidate.exists():
                return str(candidate)
    return sys.executable


def select_checks(
    checks: Sequence[Check], only: Sequence[str], skip: Sequence[str], select: frozenset[str] | None
) -> list[Check]:
    """Apply ``--only``/``--skip`` (groups, check ids or id prefixes) and ``--select`` (codes)."""

    def names(check: Check, item: str) -> bool:
        return item in (check.group, check.id) or check.id.startswith(item + ".")

    for item in (*only, *skip):
        if item not in GROUPS and not any(names(c, item) for c in checks):
            raise UsageError(
                f"unknown group or check id {item!r} (groups: {', '.join(GROUPS)}; check ids "
                "and their prefixes such as gpu, torch.wheel: see `kyudoctor check -v`)"
            )
    chosen = []
    for check in checks:
        if only and not any(names(check, item) for item in only):
            continue
        if any(names(check, item) for item in skip):
            continue
        if select is not None and not select.intersection(check.codes):
            continue
        chosen.append(check)
    return chosen


def run_check(
    options: CheckOptions,
    *,
    checks: Sequence[Check] | None = None,
    on_probe_done: ProbeCallback | None = None,
    outcomes: Mapping[str, ProbeOutcome] | None = None,
    targets: Mapping[str, Any] | None = None,
) -> Report:
    """Run ``kyudoctor check`` in-process and return the report (no output).

    With ``outcomes`` (a support bundle's, see :mod:`kyudoctor.bundle`) no probe runs: the same
    checks and rules judge those facts, a check whose probe is not among them is skipped, and
    ``targets`` (the bundle's) are reported as they are.
    """
    from kyudoctor import rules
    from kyudoctor.policy import load as load_policy

    # Imported by name: kyudoctor.checks is the top-level checks/ directory, mapped by setuptools,
    # which static type checkers cannot follow.
    all_checks: Callable[[], Sequence[Check]] = importlib.import_module(
        "kyudoctor.checks"
    ).all_checks

    env = dict(os.environ if options.env is None else options.env)
    python = options.python or (targets or {}).get("python") or default_python(env)
    chosen = select_checks(
        list(checks if checks is not None else all_checks()),
        options.only,
        options.skip,
        options.select,
    )
    probe_names = list(dict.fromkeys(n for c in chosen for n in (*c.probes, *c.uses)))
    probe_options = {"python": python, "pyproject": options.pyproject, **options.extra}
    if outcomes is None and ("config" in probe_names or "server" in probe_names):
        from kyudoctor.probes.config import run_options

        # The config: --config or discovered; it also gives the server probe port and path.
        probe_options.update(
            run_options(
                options.extra, options.cwd or Path.cwd(), env, server="server" in probe_names
            )
        )
    started = time.monotonic()
    # --wait polls a server that is still starting: the server probe gets that much longer.
    timeout = options.timeout + (
        float(options.extra.get("wait") or 0) if "server" in probe_names else 0
    )
    if outcomes is not None:
        executed = _judge_recorded(chosen, outcomes)
        outcomes = dict(outcomes)
    else:
        outcomes = run_probes(
            probe_names,
            env=env,
            options=probe_options,
            timeout=timeout,
            cwd=options.cwd,
            on_done=on_probe_done,
        )
        for outcome in outcomes.values():
            if outcome.unusable:
                raise UnusableInput(outcome.unusable)
        executed = run_checks(chosen, outcomes)
    if options.python:
        python_source = "--python"
    elif env.get("VIRTUAL_ENV") and python.startswith(env["VIRTUAL_ENV"]):
        python_source = "VIRTUAL_ENV"
    else:
        python_source = "kyudoctor"
    if targets is None:
        targets = {
            "python": python,
            "python_source": python_source,
            "pyproject": options.pyproject,
            "urls": [redact_url(u) for u in probe_options.get("urls") or []],
            "config": probe_options.get("config_path"),
        }
    return rules.build_report(
        executed,
        outcomes,
        kyudoctor_version=__version__,
        targets=targets,
        duration_ms=(time.monotonic() - started) * 1000.0,
        select=options.select,
        ignore=options.ignore,
        fail_on=options.fail_on,
        insecure=bool(options.extra.get("insecure")),
        base_params={
            "python": python,
            # The config checked (--config or discovered), else Kyutai's documented path.
            "config": targets.get("config") or DEFAULT_CONFIG,
            "moshi_server_version": load_policy().moshi_server_recommended,
        },
    )


def _judge_recorded(
    chosen: Sequence[Check], outcomes: Mapping[str, ProbeOutcome]
) -> list[Executed]:
    """Run the checks on recorded probe outcomes; a check whose probe was not recorded (a bundle
    from a kyudoctor that had not that probe, or a run that did not need it) is skipped."""
    runnable = [c for c in chosen if all(n in outcomes for n in c.probes)]
    recorded = dict(outcomes)
    # An optional probe that was not recorded reads as one that failed: the check gets None.
    for name in {n for c in runnable for n in c.uses} - set(recorded):
        recorded[name] = ProbeOutcome(name, Status.SKIPPED, None, 0.0, error="not in the bundle")
    done = {e.check.id: e for e in run_checks(runnable, recorded)}
    executed = []
    for check in chosen:
        if check.id in done:
            executed.append(done[check.id])
            continue
        missing = ", ".join(n for n in check.probes if n not in recorded)
        reason = f"not in the bundle: it holds no facts of the {missing} probe"
        executed.append(Executed(check, Outcome.skip(reason), None, None, None, 0.0))
    return executed
