"""Probes: the only code with side effects. Each gathers plain facts (JSON types) about one thing.

A probe is a function ``(ProbeContext) -> dict``. It never raises for "not found": absence is a
fact. It runs commands through ``ctx.run`` (bounded, process-group killed on timeout), reads the
environment through ``ctx.env`` (never ``os.environ``), so tests can point it at a temp dir of
fake executables. It may raise :class:`~kyudoctor.errors.UnusableInput` when an input named on
the command line is unusable (exit status 2).

The registry is an explicit list; heavy modules (pynvml, psutil) are imported inside the probe
functions, never at import time.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kyudoctor.probes._proc import CommandResult, ProcessRunner

__all__ = ["ALL", "CommandResult", "Probe", "ProbeContext", "get"]


@dataclass
class ProbeContext:
    """What a probe may use: the environment, the options, and a bounded command runner."""

    env: Mapping[str, str]
    runner: ProcessRunner
    options: Mapping[str, Any] = field(default_factory=dict)
    cwd: Path = field(default_factory=Path.cwd)

    def run(self, argv: list[str] | tuple[str, ...], **kwargs: Any) -> CommandResult:
        """Run a command under this probe's deadline (see :meth:`ProcessRunner.run`)."""
        return self.runner.run(argv, **kwargs)

    def which(self, name: str) -> str | None:
        """Resolve ``name`` on this run's PATH."""
        return self.runner.which(name)

    @property
    def home(self) -> Path:
        """The user's home directory as this run's environment says."""
        return Path(self.env.get("HOME") or os.path.expanduser("~"))

    def remaining(self) -> float:
        """Seconds left before this probe's deadline."""
        return self.runner.remaining()


@dataclass(frozen=True)
class Probe:
    """A registered probe: its name (the key of its facts), group, and where its code lives."""

    name: str
    group: str
    target: str  # "module:function", imported when the probe runs

    def load(self) -> Callable[[ProbeContext], dict[str, Any]]:
        """Import and return the probe function."""
        module_name, func_name = self.target.split(":")
        func: Callable[[ProbeContext], dict[str, Any]] = getattr(
            importlib.import_module(module_name), func_name
        )
        return func


ALL: tuple[Probe, ...] = (
    Probe("system", "host", "kyudoctor.probes.system:probe"),
    Probe("gpu", "host", "kyudoctor.probes.gpu:probe"),
    Probe("nvcc", "host", "kyudoctor.probes.cuda:probe"),
    Probe("toolchain", "host", "kyudoctor.probes.toolchain:probe"),
    Probe("python", "host", "kyudoctor.probes.python_env:probe"),
    Probe("binary", "host", "kyudoctor.probes.binary:probe"),
    Probe("server", "server", "kyudoctor.probes.server:probe"),
    Probe("config", "files", "kyudoctor.probes.config:probe"),
    Probe("files", "files", "kyudoctor.probes.files:probe"),
)

_BY_NAME = {p.name: p for p in ALL}


def get(name: str) -> Probe:
    """The probe called ``name``; ``KeyError`` for an unknown one."""
    return _BY_NAME[name]
