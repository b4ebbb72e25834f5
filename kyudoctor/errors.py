"""Exceptions that cross module boundaries, each mapped to one behaviour of the CLI."""

from __future__ import annotations


class KyudoctorError(Exception):
    """Base class of kyudoctor's own exceptions."""


class UsageError(KyudoctorError):
    """Bad invocation or unusable input: one line on stderr, exit status 2."""


class UnusableInput(UsageError):
    """An input named on the command line cannot be used (e.g. ``--python`` is not Python).

    Raised by a probe; the run stops with exit status 2 and this message.
    """


class ProbeTimeout(KyudoctorError):
    """A probe ran past its time limit (its commands were killed)."""
