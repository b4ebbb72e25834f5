"""config.file: the moshi-server config can be read and is valid TOML.

What it checks
    The config named by ``--config``, or else the one found in the current directory
    (``configs/config-tts.toml``, ``config-tts.toml``, else a ``*.toml`` holding a
    ``[modules.*]`` table, a TTS one first), is read as moshi-server reads it: UTF-8 (a BOM is
    accepted), at most 1 MiB, and parsed as TOML. A parse error is reported with its line and
    column. Skipped when no config was named or found.

Why it matters
    ``moshi-server worker --config FILE`` parses the whole file at start-up and stops with
    "Error: TOML parse error" on the first mistake: no port is opened, no model loaded.

How to fix
    Fix the file at the line and column given (a missing quote or bracket, a key defined twice,
    a tab inside a string), then validate it with ``moshi-server validate FILE``.
"""

from __future__ import annotations

from kyudoctor.model import Check, Facts, Finding, Outcome

from ._config import config_facts, evidence, params, unusable


def check(facts: Facts) -> Outcome:
    """CFG001 when the config cannot be read or is not valid TOML."""
    config = config_facts(facts)
    if config is None or not config.get("found"):
        return Outcome.skip(unusable(config) or "no config")
    file = config.get("file")
    error = config.get("error")
    note = (config.get("discovery") or {}).get("note")
    if error:
        line, column = error.get("line"), error.get("column")
        where = f" at line {line}, column {column}" if line and column else ""
        return Outcome.found(
            f"{file} is not a usable TOML config",
            Finding(
                "CFG001",
                f"{file}{where}: {error.get('message')}; moshi-server "
                + ("stops at start-up on it" if error.get("kind") == "toml" else "cannot use it"),
                evidence=evidence(config, line, column=column, kind=error.get("kind")),
                params=params(config),
            ),
        )
    modules = config.get("modules") or []
    described = ", ".join(f"{m.get('name')} ({m.get('type') or 'no type'})" for m in modules)
    text = f"{file}: valid TOML, " + (
        f"{len(modules)} module{'s' if len(modules) != 1 else ''}: {described}"
        if modules
        else "no modules"
    )
    extras = [
        name
        for name, present in (
            ("a BOM", config.get("bom")),
            ("CRLF line endings", config.get("crlf")),
        )
        if present
    ]
    if extras:
        text += f" ({' and '.join(extras)}: accepted by moshi-server)"
    if note:
        text += f"; {note}"
    return Outcome.ok(text)


CHECK = Check(
    id="config.file",
    group="files",
    title="Server config readable and valid TOML",
    codes=("CFG001",),
    probes=("config",),
    run=check,
)
