"""Healthy ``config`` facts: Kyutai's TTS config (``configs/config-tts.toml`` of
delayed-streams-modeling) in ``/home/kyu/tts``, discovered there, with the deployment's own API
key instead of the sample ``public_token``, logs in ``$HOME/tts/logs`` (the directory the running
moshi-server, pid 4242 of the healthy ``server`` facts, writes), a ``static/`` folder, and the
Hugging Face token file written by ``hf auth login``. ``cfg_is_no_text`` is left out, so the
config checks find nothing at all.

The healthy ``FACTS`` of the other probes do not include ``config`` (``tests/healthy.PROBES``);
tests add it with ``facts(config=copy.deepcopy(FACTS))``.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

FILE = "configs/config-tts.toml"

CONFIG_DATA = Path(__file__).resolve().parents[1] / "data" / "configs"
"""The test configs; ``examples/`` holds byte-exact copies of Kyutai's published ones."""
KYUTAI_TTS = (CONFIG_DATA / "examples" / "dsm-config-tts.toml").read_text(encoding="utf-8")
"""Kyutai's TTS config (delayed-streams-modeling's ``configs/config-tts.toml``), verbatim."""

FACTS: dict[str, Any] = {
    "found": True,
    "file": "configs/config-tts.toml",
    "resolved": "/home/kyu/tts/configs/config-tts.toml",
    "source": "discovered",
    "discovery": {
        "cwd": "/home/kyu/tts",
        "searched": ["configs/config-tts.toml", "config-tts.toml", "*.toml with [modules.*]"],
        "candidates": ["configs/config-tts.toml"],
        "note": None,
    },
    "size_bytes": 563,
    "bom": False,
    "crlf": False,
    "error": None,
    "keys": [
        {
            "key": "static_dir",
            "path": ["static_dir"],
            "line": 1,
            "type": "string",
            "value": "./static/",
        },
        {
            "key": "log_dir",
            "path": ["log_dir"],
            "line": 2,
            "type": "string",
            "value": "$HOME/tts/logs",
        },
        {
            "key": "instance_name",
            "path": ["instance_name"],
            "line": 3,
            "type": "string",
            "value": "tts",
        },
        {
            "key": "authorized_ids",
            "path": ["authorized_ids"],
            "line": 4,
            "type": "array",
            "items": 1,
            "item_types": ["string"],
        },
        {"key": "modules", "path": ["modules"], "line": 6, "type": "table"},
        {"key": "modules.tts_py", "path": ["modules", "tts_py"], "line": 6, "type": "table"},
        {
            "key": "modules.tts_py.type",
            "path": ["modules", "tts_py", "type"],
            "line": 7,
            "type": "string",
            "value": "Py",
        },
        {
            "key": "modules.tts_py.path",
            "path": ["modules", "tts_py", "path"],
            "line": 8,
            "type": "string",
            "value": "/api/tts_streaming",
        },
        {
            "key": "modules.tts_py.text_tokenizer_file",
            "path": ["modules", "tts_py", "text_tokenizer_file"],
            "line": 9,
            "type": "string",
            "value": "hf://kyutai/tts-1.6b-en_fr/tokenizer_spm_8k_en_fr_audio.model",
        },
        {
            "key": "modules.tts_py.batch_size",
            "path": ["modules", "tts_py", "batch_size"],
            "line": 10,
            "type": "integer",
            "value": 8,
        },
        {
            "key": "modules.tts_py.text_bos_token",
            "path": ["modules", "tts_py", "text_bos_token"],
            "line": 11,
            "type": "integer",
            "value": 1,
        },
        {
            "key": "modules.tts_py.py",
            "path": ["modules", "tts_py", "py"],
            "line": 13,
            "type": "table",
        },
        {
            "key": "modules.tts_py.py.log_folder",
            "path": ["modules", "tts_py", "py", "log_folder"],
            "line": 14,
            "type": "string",
            "value": "$HOME/tmp/moshi-server-logs",
        },
        {
            "key": "modules.tts_py.py.voice_folder",
            "path": ["modules", "tts_py", "py", "voice_folder"],
            "line": 15,
            "type": "string",
            "value": "hf-snapshot://kyutai/tts-voices/**/*.safetensors",
        },
        {
            "key": "modules.tts_py.py.default_voice",
            "path": ["modules", "tts_py", "py", "default_voice"],
            "line": 16,
            "type": "string",
            "value": "unmute-prod-website/default_voice.wav",
        },
        {
            "key": "modules.tts_py.py.cfg_coef",
            "path": ["modules", "tts_py", "py", "cfg_coef"],
            "line": 17,
            "type": "float",
            "value": 2.0,
        },
        {
            "key": "modules.tts_py.py.padding_between",
            "path": ["modules", "tts_py", "py", "padding_between"],
            "line": 18,
            "type": "integer",
            "value": 1,
        },
        {
            "key": "modules.tts_py.py.n_q",
            "path": ["modules", "tts_py", "py", "n_q"],
            "line": 19,
            "type": "integer",
            "value": 24,
        },
    ],
    "keys_truncated": False,
    "modules": [
        {"name": "tts_py", "line": 6, "type": "Py", "path": "/api/tts_streaming", "batch_size": 8}
    ],
    "authorized_ids": {
        "line": 4,
        "type": "array",
        "count": 1,
        "public_token": False,
        "empty": False,
        "non_strings": 0,
    },
    "paths": [
        {
            "key": "static_dir",
            "path": ["static_dir"],
            "line": 1,
            "role": "static_dir",
            "raw": "./static/",
            "scheme": "local",
            "vars": [],
            "unset": [],
            "braced": [],
            "expanded": "./static/",
            "default": False,
            "relative": True,
            "resolved": "/home/kyu/tts/static",
            "exists": True,
            "kind": "dir",
        },
        {
            "key": "log_dir",
            "path": ["log_dir"],
            "line": 2,
            "role": "log_dir",
            "raw": "$HOME/tts/logs",
            "scheme": "local",
            "vars": ["HOME"],
            "unset": [],
            "braced": [],
            "expanded": "/home/kyu/tts/logs",
            "default": False,
            "relative": False,
            "resolved": "/home/kyu/tts/logs",
            "exists": True,
            "kind": "dir",
            "writable": True,
            "creatable": True,
            "nearest_existing": "/home/kyu/tts/logs",
            "reason": None,
        },
        {
            "key": "modules.tts_py.text_tokenizer_file",
            "path": ["modules", "tts_py", "text_tokenizer_file"],
            "line": 9,
            "role": "file",
            "raw": "hf://kyutai/tts-1.6b-en_fr/tokenizer_spm_8k_en_fr_audio.model",
            "scheme": "hf",
            "vars": [],
            "unset": [],
            "braced": [],
            "expanded": "hf://kyutai/tts-1.6b-en_fr/tokenizer_spm_8k_en_fr_audio.model",
            "default": False,
            "hf_valid": True,
        },
        {
            "key": "modules.tts_py.py.log_folder",
            "path": ["modules", "tts_py", "py", "log_folder"],
            "line": 14,
            "role": "log_dir",
            "raw": "$HOME/tmp/moshi-server-logs",
            "scheme": "local",
            "vars": ["HOME"],
            "unset": [],
            "braced": [],
            "expanded": "/home/kyu/tmp/moshi-server-logs",
            "default": False,
            "relative": False,
            "resolved": "/home/kyu/tmp/moshi-server-logs",
            "exists": False,
            "kind": None,
            "writable": False,
            "creatable": True,
            "nearest_existing": "/home/kyu/tmp",
            "reason": None,
        },
        {
            "key": "modules.tts_py.py.voice_folder",
            "path": ["modules", "tts_py", "py", "voice_folder"],
            "line": 15,
            "role": "voice_folder",
            "raw": "hf-snapshot://kyutai/tts-voices/**/*.safetensors",
            "scheme": "hf-snapshot",
            "vars": [],
            "unset": [],
            "braced": [],
            "expanded": "hf-snapshot://kyutai/tts-voices/**/*.safetensors",
            "default": False,
        },
    ],
    "hf": {
        "downloads": [
            {
                "key": "modules.tts_py.text_tokenizer_file",
                "line": 9,
                "value": "hf://kyutai/tts-1.6b-en_fr/tokenizer_spm_8k_en_fr_audio.model",
                "valid": True,
            }
        ],
        "snapshots": [
            {
                "key": "modules.tts_py.py.voice_folder",
                "line": 15,
                "value": "hf-snapshot://kyutai/tts-voices/**/*.safetensors",
            }
        ],
        "hf_home": None,
        "token_file": "/home/kyu/.cache/huggingface/token",
        "token_file_exists": True,
        "token_file_empty": False,
        "hf_token_env": False,
        "hub_token_env": False,
    },
    "bind": {"addr": "0.0.0.0", "port": 8080, "source": "process", "pid": 4242, "loopback": False},
    "server_cwd": {"path": "/home/kyu/tts", "source": "process"},
    "tts": {
        "module": "tts_py",
        "line": 6,
        "path": "/api/tts_streaming",
        "batch_size": 8,
        "batch_size_line": 10,
    },
}


def facts(gpu: Any = "healthy", system: Any = "healthy", **changes: Any) -> dict[str, Any]:
    """Healthy facts of every probe plus ``config``, its top-level keys replaced by ``changes``;
    ``gpu``/``system`` replace those probes' facts (``None``: the probe failed)."""
    from tests.healthy import facts as all_facts

    out = all_facts()
    out["config"] = {**copy.deepcopy(FACTS), **copy.deepcopy(changes)}
    if gpu != "healthy":
        out["gpu"] = gpu
    if system != "healthy":
        out["system"] = system
    return out


def record(config: dict[str, Any], key: str, among: str = "keys") -> dict[str, Any]:
    """The record of a dotted ``key`` in ``config[among]`` (``"keys"`` or ``"paths"``)."""
    for item in config[among]:
        if item["key"] == key:
            found: dict[str, Any] = item
            return found
    raise KeyError(key)


def probed(
    directory: Path, text: str | bytes, env: dict[str, str] | None = None, name: str = FILE
) -> dict[str, Any]:
    """Healthy facts with ``config`` from the real probe on ``text`` written to
    ``directory/name`` (``directory`` is also the working directory and, unless ``env`` says
    otherwise, HOME)."""
    from kyudoctor.probes import ProbeContext
    from kyudoctor.probes._proc import ProcessRunner
    from kyudoctor.probes.config import probe

    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    full_env = {"HOME": str(directory), "PATH": "/usr/bin:/bin", **(env or {})}
    runner = ProcessRunner(full_env, time.monotonic() + 10)
    ctx = ProbeContext(env=full_env, runner=runner, options={}, cwd=directory)
    try:
        config = probe(ctx)
    finally:
        runner.cancel()
    return facts(**config)
