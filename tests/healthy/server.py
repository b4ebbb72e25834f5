"""Healthy ``server`` facts: moshi-server 0.6.4 on this machine at ws://127.0.0.1:8080 (8 slots,
none used), its TTS route answering 400 to a plain GET, ``/metrics`` moving, and one session
that got Ready at once, its first audio 262 ms after the first Text, 4.32 s of clean audio at
RTF 0.44, closed by the server with 1005.

``server(**changes)`` returns the whole probe facts with the one URL's record changed (nested
dicts merged one level deep), for table-driven check tests.
"""

from __future__ import annotations

import copy
from typing import Any

URL = "ws://127.0.0.1:8080/api/tts_streaming"


def _http(path: str, status: int, reason: str = "OK", **extra: Any) -> dict[str, Any]:
    return {
        "url": f"http://127.0.0.1:8080{path}",
        "outcome": "ok",
        "status": status,
        "reason": reason,
        "headers": {"content-type": "application/json"},
        "body_bytes": 120,
        "truncated": False,
        "error": None,
        "elapsed_ms": 1.2,
        **extra,
    }


def _metrics(total: float, missing: float = 0.0, channels: float = 0.0) -> dict[str, Any]:
    return _http(
        "/metrics",
        200,
        values={
            "py_connect": 12.0,
            "py_total_steps": total,
            "py_active_steps": total - 40.0,
            "py_missing_words_steps": missing,
            "py_could_have_run_steps": total - 40.0,
            "py_open_channels": channels,
        },
    )


SESSION: dict[str, Any] = {
    "url": URL,
    "outcome": "ok",
    "http_status": None,
    "http_body_excerpt": None,
    "http_headers": {},
    "ready": True,
    "error_message": None,
    "first_frame_kind": "msgpack",
    "ttfa_s": 0.262,
    "ttfa_from_eos_s": 0.261,
    "audio_seconds": 4.32,
    "processing_s": 2.1,
    "rtf": 0.44,
    "n_audio": 54,
    "n_words": 14,
    "audio_problems": [],
    "silent": False,
    "close_code": 1005,
    "close_reason": None,
    "detail": None,
    "phase": "done",
    "peer": "127.0.0.1:8080",
    "tls_reason": None,
    "tls_verify_code": None,
    "connect_s": 0.002,
    "ready_s": 0.001,
    "words_sent": 14,
    "eos_sent": True,
    "peak": 0.71,
    "complete": True,
}

SERVER: dict[str, Any] = {
    "url": URL,
    "scheme": "ws",
    "host": "127.0.0.1",
    "port": 8080,
    "path": "/api/tts_streaming",
    "local": True,
    "connect": {
        "outcome": "ok",
        "host": "127.0.0.1",
        "port": 8080,
        "addresses": ["127.0.0.1:8080"],
        "attempts": [{"address": "127.0.0.1:8080", "outcome": "ok"}],
        "connected": "127.0.0.1:8080",
        "error": None,
        "elapsed_ms": 0.3,
    },
    "alternate": None,
    "listeners": [{"address": "0.0.0.0", "port": 8080, "pid": 4242, "process": "moshi-server"}],
    "starting": None,
    "tls": None,
    "blocked": None,
    "http": {
        "build_info": _http(
            "/api/build_info",
            200,
            json={"build_timestamp": "2025-07-01T10:00:00Z", "git_hash": "c0ffee"},
            moshi_like=True,
        ),
        "modules_info": _http(
            "/api/modules_info",
            200,
            modules=[
                {"type": "py", "path": "/api/tts_streaming", "used_slots": 0, "total_slots": 8}
            ],
        ),
        "metrics": {
            "first": _metrics(1200.0),
            "second": _metrics(1212.0, channels=1.0),
            "interval_s": 0.5,
        },
        "route": _http(
            "/api/tts_streaming",
            400,
            "Bad Request",
            body_excerpt="Connection header did not include 'upgrade'",
        ),
        "modules_after": {"used_slots": 0, "polls": 1, "status": 200},
    },
    "session": SESSION,
}

FACTS: dict[str, Any] = {
    "urls": [URL],
    "urls_explicit": False,
    "insecure": False,
    "cacert": None,
    "api_key": {"source": "default (public_token)", "length": 12},
    "text_words": 14,
    "voice": None,
    "thresholds": {"ttfa_max_s": 1.0, "rtf_max": 1.0},
    "first_audio_window_s": 5.0,
    "listen_s": 1.0,
    "config": None,
    "processes": [
        {
            "pid": 4242,
            "name": "moshi-server",
            "port": 8080,
            "addr": "0.0.0.0",
            "config": "/home/kyu/tts/configs/config-tts.toml",
            "log_dir": "/home/kyu/tts/logs",
            "log_file": "/home/kyu/tts/logs/log.tts.2025-07-01",
            "last_log_line": "2025-07-01T10:00:42Z  INFO moshi_server: listening on http://0.0.0.0:8080",
            "loading_step": None,
        }
    ],
    "servers": [SERVER],
    "no_server": False,
    "no_server_reason": None,
    "wait": {"requested_s": 0.0, "waited_s": 0.0, "polls": 0, "still_starting": False},
    "duration_ms": 640.0,
}


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            merged = dict(out[key])
            merged.update(value)
            out[key] = merged
        else:
            out[key] = copy.deepcopy(value)
    return out


def server(*servers: dict[str, Any], **top: Any) -> dict[str, Any]:
    """The probe facts with URL records built from SERVER plus each ``servers`` change-set
    (one healthy URL when none is given), and top-level keys replaced by ``top``."""
    records = [_merge(SERVER, changes) for changes in servers] or [copy.deepcopy(SERVER)]
    out = copy.deepcopy(FACTS)
    out["servers"] = records
    out["urls"] = [r["url"] for r in records]
    out.update(copy.deepcopy(top))
    return out


def session(**changes: Any) -> dict[str, Any]:
    """SESSION with ``changes``."""
    out = copy.deepcopy(SESSION)
    out.update(changes)
    return out


def http(**changes: Any) -> dict[str, Any]:
    """SERVER's ``http`` record with ``changes`` (whole sub-records replaced)."""
    out = copy.deepcopy(SERVER["http"])
    out.update(copy.deepcopy(changes))
    return out


metrics = _metrics
response = _http
