"""The moshi-server config schema and pure helpers shared by the ``config.*`` checks.

The schema is moshi-server's own (``Config`` and ``ModuleConfig`` in ``src/main.rs``, crate
0.6.x, and the ``Config`` of the embedded ``tts.py``; moshi-server.md §3): serde reads the
listed keys, ignores every other one, and refuses the file when a required key is missing or
has the wrong type. Tables the server hands on whole (a module's ``model``, ``generation``,
``gen``) are "opaque": kyudoctor does not look inside them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kyudoctor.model import Facts

from ._util import probe_facts

USIZE_MAX = 2**64 - 1
U32_MAX = 2**32 - 1


@dataclass(frozen=True)
class Field:
    """One key the server reads: its kind and whether serde requires it."""

    kind: str
    required: bool = True


def _opt(kind: str) -> Field:
    return Field(kind, required=False)


EXPECTED: Mapping[str, str] = {
    "string": "a string",
    "usize": "a non-negative integer",
    "u32": "a non-negative integer below 2^32",
    "float": "a number",
    "bool": "true or false",
    "table": "a table",
    "opaque": "a table",
    "strings": "an array of strings",
    "string_table": "a table of strings",
}
"""How a message names what the server expects for each kind."""

TOP: Mapping[str, Field] = {
    "static_dir": Field("string"),
    "log_dir": Field("string"),
    "instance_name": Field("string"),
    "authorized_ids": Field("strings"),
    "modules": _opt("table"),
}

_ASR: Mapping[str, Field] = {
    "path": Field("string"),
    "lm_model_file": Field("string"),
    "text_tokenizer_file": Field("string"),
    "audio_tokenizer_file": Field("string"),
    "model": Field("opaque"),
    "asr_delay_in_tokens": Field("usize"),
    "log_frequency_s": _opt("float"),
    "conditioning_delay": _opt("float"),
    "conditioning_learnt_padding": _opt("bool"),
    "temperature": _opt("float"),
}

MODULES: Mapping[str, Mapping[str, Field]] = {
    "Py": {
        "path": Field("string"),
        "script": _opt("string"),
        "batch_size": Field("usize"),
        "text_tokenizer_file": Field("string"),
        "text_bos_token": Field("u32"),
        "py": _opt("table"),
    },
    "PyPost": {"path": Field("string"), "script": _opt("string"), "py": _opt("opaque")},
    "BatchedAsr": {**_ASR, "batch_size": Field("usize")},
    "Asr": _ASR,
    "PyBatchedAsr": {
        "path": Field("string"),
        "script": _opt("string"),
        "batch_size": Field("usize"),
        "text_tokenizer_file": Field("string"),
        "asr_delay_in_tokens": Field("usize"),
        "py": _opt("opaque"),
    },
    "Tts": {
        "path": Field("string"),
        "lm_model_file": Field("string"),
        "text_tokenizer_file": Field("string"),
        "speaker_tokenizer_file": Field("string"),
        "audio_tokenizer_file": Field("string"),
        "voices": Field("string_table"),
        "voice_dir": Field("string"),
        "model": Field("opaque"),
        "generation": Field("opaque"),
    },
    "Mimi": {
        "send_path": Field("string"),
        "recv_path": Field("string"),
        "audio_tokenizer_file": Field("string"),
        "auth_recv": Field("bool"),
        "rooms": Field("strings"),
        "default_room": _opt("string"),
    },
    "Lm": {
        "path": Field("string"),
        "lm_model_file": Field("string"),
        "text_tokenizer_file": Field("string"),
        "audio_tokenizer_file": Field("string"),
        "model": Field("opaque"),
        "gen": Field("opaque"),
    },
}
"""Keys of each module ``type`` (case-sensitive), besides ``type`` itself."""

MODULE_TYPES: tuple[str, ...] = (
    "Tts",
    "Asr",
    "BatchedAsr",
    "PyBatchedAsr",
    "Mimi",
    "Lm",
    "Py",
    "PyPost",
)

PY_TTS_KEYS: frozenset[str] = frozenset(
    {
        "log_folder",
        "hf_repo",
        "mimi_weight",
        "moshi_weight",
        "config_path",
        "tokenizer",
        "device",
        "n_q",
        "voice_folder",
        "default_voice",
        "temp",
        "cfg_coef",
        "max_padding",
        "initial_padding",
        "final_padding",
        "padding_between",
        "padding_bonus",
        "interleaved_text_only",
        "debug",
    }
)
"""The keyword overrides the embedded TTS (``tts.py``'s ``Config``) reads from ``[...py]``."""

VESTIGIAL: frozenset[str] = frozenset({"cfg_is_no_text"})
"""Keys Kyutai's own published configs carry that the server ignores: info, not warning."""


def config_facts(facts: Facts) -> Mapping[str, Any] | None:
    """The ``config`` probe's facts, or None when it did not run."""
    return probe_facts(facts, "config")


def unusable(config: Mapping[str, Any] | None) -> str | None:
    """Why the config checks cannot look (a skip reason), or None when the config parsed."""
    if config is None:
        return "the config probe gave no facts"
    if not config.get("found"):
        discovery = config.get("discovery") or {}
        where = discovery.get("cwd") or "the current directory"
        searched = ", ".join(discovery.get("searched") or []) or "configs/config-tts.toml"
        return (
            f"no moshi-server config found (looked in {where} for {searched}); pass --config FILE"
        )
    if config.get("error"):
        return f"{config.get('file')} could not be read or parsed (CFG001)"
    return None


def evidence(config: Mapping[str, Any], line: int | None, **extra: Any) -> dict[str, Any]:
    """``{"file", "line", ...}``: where a finding points (the reporters' contract)."""
    return {"file": config.get("file"), "line": line if isinstance(line, int) else 1, **extra}


def params(config: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """Fix placeholders every config finding fills: the config path as given."""
    return {"config": config.get("file"), **extra}


def keys(config: Mapping[str, Any]) -> dict[tuple[Any, ...], Mapping[str, Any]]:
    """Every key record of the config, by path tuple."""
    out: dict[tuple[Any, ...], Mapping[str, Any]] = {}
    for record in config.get("keys") or []:
        if isinstance(record, Mapping) and isinstance(record.get("path"), list):
            out[tuple(record["path"])] = record
    return out


def children(
    index: Mapping[tuple[Any, ...], Mapping[str, Any]], parent: Sequence[Any]
) -> list[tuple[str, Mapping[str, Any]]]:
    """The direct keys of the table at ``parent``, in file order, as ``(name, record)``."""
    depth = len(parent)
    prefix = tuple(parent)
    found = [
        (path[depth], record)
        for path, record in index.items()
        if len(path) == depth + 1 and path[:depth] == prefix and isinstance(path[depth], str)
    ]
    return sorted(found, key=lambda item: int(item[1].get("line") or 0))


def kind_ok(
    kind: str,
    record: Mapping[str, Any],
    index: Mapping[tuple[Any, ...], Mapping[str, Any]],
) -> bool:
    """Whether the key ``record`` holds a value of ``kind`` (see :data:`EXPECTED`)."""
    toml_type = record.get("type")
    value = record.get("value")
    known = "value" in record
    if kind == "string":
        return toml_type == "string"
    if kind in ("usize", "u32"):
        if toml_type != "integer":
            return False
        top = USIZE_MAX if kind == "usize" else U32_MAX
        return not known or (isinstance(value, int) and 0 <= value <= top)
    if kind == "float":
        return toml_type in ("float", "integer")
    if kind == "bool":
        return toml_type == "boolean"
    if kind in ("table", "opaque"):
        return toml_type == "table"
    if kind == "strings":
        return toml_type == "array" and set(record.get("item_types") or []) <= {"string"}
    if kind == "string_table":
        if toml_type != "table":
            return False
        return all(r.get("type") == "string" for _, r in children(index, record.get("path") or []))
    return True


def shown(record: Mapping[str, Any]) -> str:
    """How a message shows a key's value: the TOML text, or its type when not recorded."""
    if record.get("redacted"):
        return f"*** ({record.get('length')} characters)"
    if "value" not in record:
        toml_type = str(record.get("type") or "value")
        return f"an {toml_type}" if toml_type[0] in "aeiou" else f"a {toml_type}"
    value = record["value"]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


def section(path: Sequence[Any]) -> str:
    """The table a key lives in, as the user writes its header: ``[modules.tts_py]``."""
    parent = [p for p in path[:-1]]
    if not parent:
        return "the top level"
    text = ""
    for part in parent:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return f"[{text}]"
