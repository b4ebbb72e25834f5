"""config.keys: keys and tables in the config that moshi-server silently ignores.

What it checks
    Every key of the config against what the server reads: the five top-level keys, the keys
    of each module's ``type``, and, for the embedded Python TTS (``type = "Py"`` without a
    custom ``script``), the keyword overrides of ``[modules.NAME.py]`` (``voice_folder``,
    ``default_voice``, ``temp``, ``cfg_coef``, ``n_q``, the padding knobs...). A key anywhere
    else is reported with the line it is on, and where a popular recipe put it (``[server]``,
    ``num_workers``, ``max_connections``, ``port``, ``temperature``...) the message says what
    does the job instead. ``cfg_is_no_text``, which Kyutai's own configs carry, is info only.
    Tables the server passes on whole (a module's ``model``, ``generation``, ``gen``, and the
    ``py`` table of a custom script) are not looked into. Skipped when the config was not found
    or did not parse (CFG001).

Why it matters
    moshi-server ignores unknown keys without a word: no error, no effect. A setting that is
    believed to work (``num_workers = 16`` to serve more clients) hides the real limit, the
    module's ``batch_size``, while clients keep getting "no free channels".

How to fix
    Remove the key. For concurrency, raise ``batch_size`` of the module within the GPU's memory
    or run more server instances behind a balancer; the port and address are the command-line
    options ``--port`` and ``--addr`` of ``moshi-server worker``; TTS sampling is ``temp`` and
    ``cfg_coef`` in ``[modules.NAME.py]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kyudoctor.model import Check, Facts, Finding, Outcome, Severity

from ._config import (
    MODULES,
    PY_TTS_KEYS,
    TOP,
    VESTIGIAL,
    children,
    config_facts,
    evidence,
    keys,
    params,
    section,
    unusable,
)

_CONCURRENCY_NAMES = frozenset(
    {
        "server",
        "num_workers",
        "max_connections",
        "workers",
        "max_clients",
        "max_sessions",
        "concurrency",
        "threads",
    }
)
_PORT_NAMES = frozenset({"port"})
_ADDR_NAMES = frozenset({"addr", "host", "address", "bind", "listen"})
_LOG_NAMES = frozenset({"log_level", "log"})
_QUERY_ONLY = {
    "temperature": "the TTS temperature is `temp` in [modules.{module}.py]",
    "cfg_alpha": "the TTS CFG strength is `cfg_coef` in [modules.{module}.py]",
    "seed": "the TTS has no seed setting",
    "voice": "the voice used when a client names none is `default_voice` in [modules.{module}.py]",
    "format": "the audio format is chosen by each client (`?format=`), not by the config",
}


def check(facts: Facts) -> Outcome:
    """CFG003 for each key or table the server does not read."""
    config = config_facts(facts)
    reason = unusable(config)
    if reason is not None or config is None:
        return Outcome.skip(reason or "no config")
    index = keys(config)
    tts = config.get("tts") or {}
    findings: list[Finding] = []

    def report(record: Mapping[str, Any], hint: str, severity: Severity | None = None) -> None:
        path = list(record.get("path") or [])
        name = str(path[-1]) if path else "?"
        below = [n for n, _ in children(index, path)] if record.get("type") == "table" else []
        place = "at the top level" if len(path) == 1 else f"in {section(path)}"
        shown = f"[{record.get('key')}]" if below else f"`{name}` {place}"
        if below:
            listed = ", ".join(below[:5]) + (", ..." if len(below) > 5 else "")
            shown += f" ({listed})"
        findings.append(
            Finding(
                "CFG003",
                f"{shown} has no effect: moshi-server does not read it and ignores it "
                f"silently; {hint}",
                evidence=evidence(config, record.get("line"), key=record.get("key")),
                params=params(config),
                severity=severity,
            )
        )

    for name, record in children(index, []):
        if name not in TOP:
            report(record, _hint(name, None, tts))
    for module, record in children(index, ["modules"]):
        type_record = index.get(("modules", module, "type")) or {}
        kind = type_record.get("value")
        if record.get("type") != "table" or not isinstance(kind, str) or kind not in MODULES:
            continue  # config.schema reports it
        schema = MODULES[kind]
        fields = children(index, ["modules", module])
        for key, field in fields:
            if key == "type" or key in schema:
                continue
            report(field, _hint(key, module, tts, kind=kind))
        py = dict(fields).get("py")
        custom = any(key == "script" for key, _ in fields)
        if kind == "Py" and py is not None and py.get("type") == "table" and not custom:
            for key, field in children(index, ["modules", module, "py"]):
                if key in PY_TTS_KEYS:
                    continue
                if key in VESTIGIAL:
                    report(
                        field,
                        "the Python TTS decides classifier-free guidance from the checkpoint. "
                        "Kyutai's published configs carry this key; it is harmless",
                        Severity.INFO,
                    )
                    continue
                report(field, _hint(key, module, tts, kind=kind, in_py=True))

    if findings:
        worst = [f for f in findings if f.severity is not Severity.INFO]
        summary = (
            f"{len(worst)} key{'s' if len(worst) != 1 else ''} with no effect"
            if worst
            else "only keys Kyutai's own configs carry are ignored"
        )
        return Outcome.found(summary, *findings)
    return Outcome.ok(f"every key of {config.get('file')} is read by moshi-server")


def _hint(
    name: str,
    module: str | None,
    tts: Mapping[str, Any],
    *,
    kind: str | None = None,
    in_py: bool = False,
) -> str:
    """What to do instead, in the user's terms."""
    if name in _CONCURRENCY_NAMES:
        batch = tts.get("batch_size")
        where = f"[modules.{tts.get('module')}]" if tts.get("module") else "the TTS module"
        current = f" (now `batch_size = {batch}` in {where})" if isinstance(batch, int) else ""
        return (
            "there is no [server] table, no num_workers and no max_connections "
            "(the start-up line `starting worker num_workers=N` is the async runtime's thread "
            "count, not a session limit). Concurrency is the module's `batch_size`"
            f"{current}: one slot per simultaneous session. Raise it within GPU memory or run "
            "more instances"
        )
    if name in _PORT_NAMES:
        return "the port is the command-line option `moshi-server worker --port` (default 8080)"
    if name in _ADDR_NAMES:
        return (
            "the listen address is the command-line option `moshi-server worker --addr` "
            "(an IP literal, default 0.0.0.0)"
        )
    if name in _LOG_NAMES:
        return "the log level is the command-line option `moshi-server worker --log`"
    if module is not None and kind == "Py" and not in_py and name in PY_TTS_KEYS:
        return f"`{name}` is read only inside [modules.{module}.py]: move it there"
    if module is not None and in_py and name in MODULES["Py"]:
        return f"`{name}` is read only directly in [modules.{module}]: move it there"
    if module is not None and name in _QUERY_ONLY:
        return _QUERY_ONLY[name].format(module=module)
    return "remove it (check its spelling against Kyutai's configs/config-tts.toml)"


CHECK = Check(
    id="config.keys",
    group="files",
    title="Server config has no ignored keys",
    codes=("CFG003",),
    probes=("config",),
    run=check,
)
