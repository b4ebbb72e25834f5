"""config.paths: the paths and variables of the config resolve to what the server needs.

What it checks
    Each string the server expands (``$NAME`` becomes the variable's value, an unset variable
    the empty string; ``${NAME}`` is not expanded at all), as the ``config`` probe resolved it
    in this environment: ``log_dir`` (and the Python TTS's ``log_folder``) can be created and
    written; module files (``text_tokenizer_file``, ``script``...) exist when they are local;
    a local ``voice_folder`` exists, holds voices (``*.safetensors``) and the
    ``default_voice``; when a ``Py`` module sets no ``voice_folder``, the Python TTS's default
    (``~/models/tts-voices``) is looked at instead; ``hf://`` values have the ``org/repo/file``
    form. A missing ``static_dir`` is info only. Relative paths are resolved against the
    working directory of a running moshi-server that uses this config, else the current
    directory, and the message says which. Skipped when the config was not found or did not
    parse (CFG001).

Why it matters
    A ``log_dir`` that cannot be created or written makes the server panic at start
    ("initializing rolling file appender failed"); a missing voice folder or default voice
    stops the TTS with "No voices found" / "Default voice ..."; an unset variable silently
    moves a path (``$HOME/x`` with HOME unset is ``/x``).

How to fix
    Create the directory or give the server's user write access, set the variable in the
    server's environment (or write the path out), or correct the path in the config.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kyudoctor.model import Check, Facts, Finding, Outcome, Severity

from ._config import config_facts, evidence, params, unusable


def check(facts: Facts) -> Outcome:
    """CFG004 for each path or variable of the config that does not resolve."""
    config = config_facts(facts)
    reason = unusable(config)
    if reason is not None or config is None:
        return Outcome.skip(reason or "no config")
    cwd = config.get("server_cwd") or {}
    findings: list[Finding] = []
    examined = 0
    for record in config.get("paths") or []:
        if not isinstance(record, Mapping):
            continue
        examined += 1
        for message, severity in _problems(record, cwd):
            findings.append(
                Finding(
                    "CFG004",
                    message,
                    evidence=evidence(
                        config,
                        record.get("line"),
                        key=record.get("key"),
                        path=record.get("resolved") or record.get("expanded"),
                    ),
                    params=params(config),
                    severity=severity,
                )
            )
    if findings:
        serious = [f for f in findings if f.severity is not Severity.INFO]
        return Outcome.found(
            f"{len(serious)} path problem{'s' if len(serious) != 1 else ''}"
            if serious
            else "paths resolve (static_dir aside)",
            *findings,
        )
    if not examined:
        return Outcome.ok("the config names no local path or variable")
    return Outcome.ok(
        f"{examined} path{'s' if examined != 1 else ''} and variables resolve"
        + (f" (relative paths against {cwd.get('path')})" if cwd.get("path") else "")
    )


def _problems(
    record: Mapping[str, Any], cwd: Mapping[str, Any]
) -> list[tuple[str, Severity | None]]:
    key = record.get("key")
    raw = record.get("raw")
    stated = f'`{key}` = "{raw}"' if raw is not None else f"`{key}` (not set)"
    unset = list(record.get("unset") or [])
    braced = list(record.get("braced") or [])
    out: list[tuple[str, Severity | None]] = []
    if unset:
        names = ", ".join(f"${n}" for n in unset)
        verb = "is" if len(unset) == 1 else "are"
        out.append(
            (
                f"{stated}: {names} {verb} not set in this environment; moshi-server expands an "
                f'unset variable to the empty string, giving "{record.get("expanded")}". Set '
                "it in the server's environment or write the path out",
                None,
            )
        )
        return out
    if braced:
        out.append(
            (
                f"{stated}: moshi-server expands only the $NAME form, so "
                f"{', '.join('${' + n + '}' for n in braced)} stays in the path literally; "
                f"write {', '.join('$' + n for n in braced)}",
                Severity.WARNING,
            )
        )
    scheme = record.get("scheme")
    if scheme == "hf":
        if record.get("hf_valid") is False:
            out.append(
                (
                    f'{stated}: an hf:// value needs the form "hf://ORG/REPO/FILE"; moshi-server '
                    'stops with "unexpected format for hf path"',
                    None,
                )
            )
        return out
    if scheme != "local" or "exists" not in record:
        return out
    role = record.get("role")
    where = _where(record, cwd)
    kind = record.get("kind")
    if role == "log_dir":
        if kind == "dir" and record.get("writable"):
            return out
        if kind is None and record.get("creatable"):
            return out
        why = record.get("reason") or "cannot be created or written"
        name = "the server" if key == "log_dir" else "the Python TTS"
        consequence = (
            'moshi-server panics at start ("initializing rolling file appender failed")'
            if key == "log_dir"
            else "the Python TTS fails at start when it creates it"
        )
        out.append(
            (
                f"{stated}: {name} cannot write to {record.get('resolved')}{where} ({why}); "
                f"{consequence}",
                None,
            )
        )
    elif role == "static_dir":
        if kind != "dir":
            out.append(
                (
                    f"{stated}: {record.get('resolved')}{where} "
                    + ("is not a directory" if kind else "does not exist")
                    + "; the server still starts, and paths outside its API answer 404",
                    Severity.INFO,
                )
            )
    elif role == "voice_folder":
        out.extend(_voices(record, stated, where))
    elif role == "dir":
        if kind != "dir":
            out.append((f"{stated}: no directory {record.get('resolved')}{where}", None))
    elif not record.get("exists"):
        out.append(
            (
                f"{stated}: no such file {record.get('resolved')}{where}; the module fails to "
                "load it at start",
                None,
            )
        )
    return out


def _voices(
    record: Mapping[str, Any], stated: str, where: str
) -> list[tuple[str, Severity | None]]:
    folder = record.get("resolved")
    default = bool(record.get("default"))
    if default:
        stated = f"`{record.get('key')}` is not set, so the Python TTS uses its default {folder}"
    kind = record.get("kind")
    if kind != "dir":
        state = "is not a directory" if kind else "does not exist"
        text = f"{folder}{where} {state}" if not default else state
        return [
            (
                f'{stated}: {text}; the TTS stops at start with "No voices found". Point it at '
                'a folder of voices, e.g. voice_folder = "hf-snapshot://kyutai/tts-voices/**/'
                '*.safetensors"',
                Severity.WARNING if default else None,
            )
        ]
    voices = record.get("voices") or {}
    if voices.get("count") == 0 and not voices.get("capped"):
        return [
            (
                f"{stated}: {folder}{where} holds no voice (*.safetensors); the TTS stops at "
                'start with "No voices found"',
                Severity.WARNING if default else None,
            )
        ]
    voice = record.get("default_voice") or {}
    if voice and voice.get("found") is False:
        return [
            (
                f'{stated}: default_voice "{voice.get("name")}" has no voice file in {folder} '
                f'({voice.get("name")}.*.safetensors); the TTS stops at start with "Default '
                'voice ..."',
                Severity.WARNING if default else None,
            )
        ]
    return []


def _where(record: Mapping[str, Any], cwd: Mapping[str, Any]) -> str:
    if not record.get("relative"):
        return ""
    if cwd.get("source") == "process":
        return f" (relative: resolved against {cwd.get('path')}, the running server's directory)"
    return (
        f" (relative: resolved against {cwd.get('path')}, assumed to be the directory the "
        "server is started from)"
    )


CHECK = Check(
    id="config.paths",
    group="files",
    title="Server config paths and variables resolve",
    codes=("CFG004",),
    probes=("config",),
    run=check,
)
