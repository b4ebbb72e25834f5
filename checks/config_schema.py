"""config.schema: the config has every key moshi-server requires, with the right types.

What it checks
    Against moshi-server's own config schema: the top-level ``static_dir``, ``log_dir``,
    ``instance_name`` (strings) and ``authorized_ids`` (an array of strings); at least one
    ``[modules.NAME]`` table; in each module a ``type`` among ``Tts``, ``Asr``,
    ``BatchedAsr``, ``PyBatchedAsr``, ``Mimi``, ``Lm``, ``Py``, ``PyPost`` (case-sensitive)
    and the keys that type requires, each of the right TOML type (``batch_size`` a
    non-negative integer, paths strings, ``text_bos_token`` an integer, ...). A ``batch_size``
    of 0 leaves no slot. An STT module (``Asr``, ``BatchedAsr``) needs exactly one of
    ``conditioning_learnt_padding = true`` and ``conditioning_delay``. Skipped when the config
    was not found or did not parse (CFG001).

Why it matters
    The server reads the file with serde: a missing key ("missing field `static_dir`"), a
    value of the wrong type ("invalid type") or an unknown module type ("unknown variant
    `py`") stops it at start-up, before it listens.

How to fix
    Add or correct the key at the line given. A correct top of file is ``static_dir =
    "./static/"``, ``log_dir = "$HOME/tmp/tts-logs"``, ``instance_name = "tts"``,
    ``authorized_ids = ["public_token"]``; a TTS module is ``[modules.tts_py]`` with ``type =
    "Py"``, ``path = "/api/tts_streaming"``, ``batch_size = 8``, ``text_tokenizer_file`` and
    ``text_bos_token = 1`` (Kyutai's ``configs/config-tts.toml``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kyudoctor.model import Check, Facts, Finding, Outcome

from ._config import (
    EXPECTED,
    MODULE_TYPES,
    MODULES,
    TOP,
    children,
    config_facts,
    evidence,
    keys,
    kind_ok,
    params,
    section,
    shown,
    unusable,
)

_SLOTTED = ("Py", "BatchedAsr", "PyBatchedAsr")


def check(facts: Facts) -> Outcome:
    """CFG002 for each missing key, wrong type, unknown module type or bad STT conditioning."""
    config = config_facts(facts)
    reason = unusable(config)
    if reason is not None or config is None:
        return Outcome.skip(reason or "no config")
    index = keys(config)
    file = config.get("file")
    findings: list[Finding] = []

    def report(line: Any, key: str, message: str) -> None:
        findings.append(
            Finding(
                "CFG002",
                message,
                evidence=evidence(config, line, key=key),
                params=params(config),
            )
        )

    top = dict(children(index, []))
    missing = [n for n, f in TOP.items() if f.required and n not in top]
    if missing:
        report(
            1,
            missing[0],
            f"{file} lacks the top-level {_names(missing)}: moshi-server refuses the file "
            f'("missing field `{missing[0]}`")',
        )
    for name, field in TOP.items():
        record = top.get(name)
        if record is not None and not kind_ok(field.kind, record, index):
            report(
                record.get("line"),
                name,
                f"`{name}` = {shown(record)}: moshi-server expects {EXPECTED[field.kind]} and "
                'refuses the file ("invalid type")',
            )

    modules = children(index, ["modules"]) if "modules" in top else []
    if not modules and kind_ok("table", top.get("modules") or {"type": "table"}, index):
        report(
            (top.get("modules") or {}).get("line") or 1,
            "modules",
            f"{file} has no [modules.NAME] table: moshi-server would start without any model "
            "and serve only static files",
        )
    for name, module in modules:
        _module(index, name, module, report)

    if findings:
        return Outcome.found(
            f"{file}: {len(findings)} schema problem{'s' if len(findings) != 1 else ''}",
            *findings,
        )
    described = ", ".join(
        f"{name} ({(index.get(('modules', name, 'type')) or {}).get('value')})"
        for name, _record in modules
    )
    return Outcome.ok(f"{file}: required keys present with the right types; modules {described}")


def _module(
    index: Mapping[tuple[Any, ...], Mapping[str, Any]],
    name: str,
    module: Mapping[str, Any],
    report: Callable[[Any, str, str], None],
) -> None:
    header = section(["modules", name, "type"])
    if module.get("type") != "table":
        report(
            module.get("line"),
            f"modules.{name}",
            f"`modules.{name}` = {shown(module)}: each module must be a table "
            f"({header} with `type` and `path`)",
        )
        return
    fields = dict(children(index, ["modules", name]))
    type_record = fields.get("type")
    if type_record is None:
        report(
            module.get("line"),
            f"modules.{name}.type",
            f'{header} has no `type`: moshi-server refuses the file ("missing field `type`"); '
            f'use one of {", ".join(MODULE_TYPES)} (the TTS is "Py")',
        )
        return
    kind = type_record.get("value")
    if type_record.get("type") != "string" or kind not in MODULE_TYPES:
        guess = next(
            (t for t in MODULE_TYPES if isinstance(kind, str) and t.lower() == kind.lower()),
            None,
        )
        report(
            type_record.get("line"),
            f"modules.{name}.type",
            f"`type` = {shown(type_record)} in {header} is not a module type moshi-server knows "
            f'("unknown variant"); types are case-sensitive: {", ".join(MODULE_TYPES)}'
            + (f'; did you mean "{guess}"?' if guess else ""),
        )
        return
    schema = MODULES[kind]
    missing = [k for k, f in schema.items() if f.required and k not in fields]
    if missing:
        report(
            module.get("line"),
            f"modules.{name}.{missing[0]}",
            f'{header} (type = "{kind}") lacks {_names(missing)}: moshi-server refuses the file '
            f'("missing field `{missing[0]}`")',
        )
    for key, field in schema.items():
        record = fields.get(key)
        if record is not None and not kind_ok(field.kind, record, index):
            report(
                record.get("line"),
                f"modules.{name}.{key}",
                f"`{key}` = {shown(record)} in {header}: moshi-server expects "
                f'{EXPECTED[field.kind]} and refuses the file ("invalid type")',
            )
    batch = fields.get("batch_size")
    if kind in _SLOTTED and batch is not None and batch.get("value") == 0:
        report(
            batch.get("line"),
            f"modules.{name}.batch_size",
            f"`batch_size` = 0 in {header}: the module gets no slot, so every client is "
            'refused with "no free channels"',
        )
    if kind in ("Asr", "BatchedAsr"):
        learnt = (fields.get("conditioning_learnt_padding") or {}).get("value") is True
        delay = "conditioning_delay" in fields
        if learnt == delay:
            record = fields.get("conditioning_delay") or fields.get("conditioning_learnt_padding")
            state = "both" if learnt else "neither"
            report(
                (record or module).get("line"),
                f"modules.{name}.conditioning_learnt_padding",
                f'{header} (type = "{kind}") sets {state} of `conditioning_learnt_padding = '
                "true` and `conditioning_delay`: the STT model needs exactly one (Kyutai's "
                "configs use `conditioning_learnt_padding = true`)",
            )


def _names(names: list[str]) -> str:
    quoted = [f"`{n}`" for n in names]
    if len(quoted) == 1:
        return quoted[0]
    return ", ".join(quoted[:-1]) + " and " + quoted[-1]


CHECK = Check(
    id="config.schema",
    group="files",
    title="Server config has the required keys and types",
    codes=("CFG002",),
    probes=("config",),
    run=check,
)
