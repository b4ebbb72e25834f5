"""The config probe on real files: discovery, reading, TOML errors, key lines, $VAR expansion,
paths examined without leaving anything behind, secrets kept out of the facts, the running
server found by its command line, and hypothesis-made broken TOML that never makes it raise."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kyudoctor.errors import UnusableInput
from kyudoctor.probes.config import (
    MAX_BYTES,
    discover,
    expand,
    key_lines,
    probe,
    run_options,
    summary,
)
from tests.conftest import MakeCtx
from tests.healthy.config import CONFIG_DATA as DATA
from tests.healthy.config import KYUTAI_TTS

CONFIG_CHECKS = ("file", "schema", "keys", "paths", "vram", "secrets")


def _probe(make_ctx: MakeCtx, cwd: Path, **options: Any) -> dict[str, Any]:
    facts = probe(make_ctx(options=options, cwd=cwd, env={"HOME": str(cwd)}))
    json.dumps(facts)  # JSON types only: bundles store them
    return facts


# -- discovery ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "chosen", "candidates"),
    [
        ({"configs/config-tts.toml": KYUTAI_TTS, "config-tts.toml": KYUTAI_TTS}, 0, 2),
        ({"config-tts.toml": KYUTAI_TTS, "stt.toml": "[modules.asr]\n"}, 0, 2),
        ({"a-stt.toml": "[modules.asr]\ntype = 'BatchedAsr'\n", "b-tts.toml": KYUTAI_TTS}, 0, 2),
        (
            {"pyproject.toml": "[project]\nname = 'x'\n", "kyudoctor.toml": "fail-on = 'x'\n"},
            None,
            0,
        ),
        ({"tts.toml": "modules.tts.type = 'Py'\n"}, 0, 1),
    ],
)
def test_discovery_order(
    tmp_path: Path, files: dict[str, str], chosen: int | None, candidates: int
) -> None:
    """configs/config-tts.toml, then config-tts.toml, then *.toml with [modules.*], a TTS one
    first; files without modules are not configs."""
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    (tmp_path / "dir.toml").mkdir()
    found = discover(tmp_path)
    assert len(found["candidates"]) == candidates
    if chosen is None:
        assert found["file"] is None
        return
    expected = {
        0: next(
            n
            for n in ("configs/config-tts.toml", "config-tts.toml", "b-tts.toml", "tts.toml")
            if n in files
        )
    }[chosen]
    assert found["file"] == expected
    if candidates > 1:
        assert found["note"].startswith(f"checked {expected}; also found ")


def test_no_config_is_a_fact(tmp_path: Path, make_ctx: MakeCtx) -> None:
    """Nothing named, nothing found: found is False, never an exception."""
    facts = _probe(make_ctx, tmp_path)
    assert facts["found"] is False and facts["file"] is None
    assert facts["discovery"]["cwd"] == str(tmp_path)


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_named_config_that_cannot_be_read_is_unusable_input(
    tmp_path: Path, make_ctx: MakeCtx, kind: str
) -> None:
    """--config naming something unreadable stops the run (exit 2), with one line naming it."""
    target = tmp_path / "config.toml"
    if kind == "directory":
        target.mkdir()
    with pytest.raises(UnusableInput, match=r"^--config .*config\.toml: "):
        _probe(make_ctx, tmp_path, config_path=str(target), config_source="--config")


# -- reading and parsing --------------------------------------------------------------------


def test_bom_and_crlf(tmp_path: Path, make_ctx: MakeCtx) -> None:
    """A BOM is skipped and CRLF accepted, as moshi-server's parser does; lines stay right."""
    config = tmp_path / "c.toml"
    config.write_bytes((DATA / "folklore-server-table.toml").read_bytes())
    facts = _probe(make_ctx, tmp_path, config_path=str(config))
    assert facts["error"] is None and facts["bom"] and facts["crlf"]
    lines = {k["key"]: k["line"] for k in facts["keys"]}
    assert lines["server.num_workers"] == 9 and lines["modules.tts_py.py.n_q"] == 27


def test_huge_file_is_not_read(tmp_path: Path, make_ctx: MakeCtx) -> None:
    """A file above the size cap is refused unread (a sparse 2 GB file answers at once)."""
    config = tmp_path / "huge.toml"
    with config.open("wb") as handle:
        handle.truncate(2 * 1024**3)
    started = time.monotonic()
    facts = _probe(make_ctx, tmp_path, config_path=str(config))
    assert time.monotonic() - started < 2
    assert facts["error"]["kind"] == "too_large" and facts["size_bytes"] > MAX_BYTES


@pytest.mark.parametrize(
    ("data", "kind", "line", "column"),
    [
        (b'static_dir = "x"\nlog\x00_dir = 1\n', "binary", 2, 4),
        (b'static_dir = "x"\n# r\xe9glages\n', "encoding", 2, 4),
        (b"[modules.tts\n", "toml", 1, 13),
        (b'a = "x', "toml", 1, 7),
        (b"a = 1\na = 2\n", "toml", 2, 6),
    ],
)
def test_errors_with_positions(
    tmp_path: Path, make_ctx: MakeCtx, data: bytes, kind: str, line: int, column: int
) -> None:
    """Binary, non-UTF-8 and TOML errors carry the 1-based line and column."""
    config = tmp_path / "c.toml"
    config.write_bytes(data)
    error = _probe(make_ctx, tmp_path, config_path=str(config))["error"]
    assert (error["kind"], error["line"], error["column"]) == (kind, line, column), error


def test_key_lines_of_every_form() -> None:
    """Dotted and quoted keys, tabs, arrays of tables, inline tables and multi-line strings get
    the line they are written on; text inside strings is never taken for a key."""
    text = textwrap.dedent(
        """\
        a\t=\t1
        "q.k" = 'x'  # comment = 2
        b . c = \"\"\"multi
        [not.a.table]
        \"\"\"
        arr = [
          1,  # one
          { e = 1, f = { g = 2 } },
        ]
        [[aot]]
        n = 1
        [aot.sub]
        m = '''x = 1'''
        [[aot]]
        n = 2
        [ "modules" . 'tts py' ]
        batch_size = 8
        """
    )
    lines = key_lines(text)
    assert lines[("a",)] == 1 and lines[("q.k",)] == 2 and lines[("b", "c")] == 3
    assert ("not",) not in lines and ("x",) not in lines
    assert lines[("arr", 1, "f", "g")] == 8
    assert lines[("aot", 0, "sub", "m")] == 13 and lines[("aot", 1, "n")] == 15
    assert lines[("modules", "tts py", "batch_size")] == 17


# -- expansion and paths --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "env", "expanded", "unset", "braced"),
    [
        ("$HOME/tmp/logs", {"HOME": "/home/kyu"}, "/home/kyu/tmp/logs", [], []),
        ("$HOME/tmp/logs", {}, "/tmp/logs", ["HOME"], []),
        ("${HOME}/logs", {"HOME": "/h"}, "${HOME}/logs", [], ["HOME"]),
        ("$A$B-$9x", {"A": "a", "B": "b"}, "ab-$9x", [], []),
        ("no vars", {}, "no vars", [], []),
    ],
)
def test_expand_like_moshi_server(
    value: str, env: dict[str, str], expanded: str, unset: list[str], braced: list[str]
) -> None:
    """$NAME is replaced (unset: empty string); ${NAME} and $9 are left as they are."""
    result = expand(value, env)
    assert (result["expanded"], result["unset"], result["braced"]) == (expanded, unset, braced)


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_log_dir_is_tested_without_leaving_anything(tmp_path: Path, make_ctx: MakeCtx) -> None:
    """An existing and a missing log directory are judged writable / creatable; afterwards the
    tree is exactly as before and the missing directory was not created."""
    (tmp_path / "tmp" / "tts-logs").mkdir(parents=True)
    text = KYUTAI_TTS.replace("$HOME/tmp/moshi-server-logs", "$HOME/tmp/not-yet/py-logs")
    (tmp_path / "c.toml").write_text(text)
    before = _tree(tmp_path)
    facts = _probe(make_ctx, tmp_path, config_path="c.toml")
    assert _tree(tmp_path) == before
    paths = {p["key"]: p for p in facts["paths"]}
    assert paths["log_dir"]["writable"] is True
    missing = paths["modules.tts_py.py.log_folder"]
    assert missing["exists"] is False and missing["creatable"] is True
    assert missing["nearest_existing"] == str(tmp_path / "tmp")


def test_relative_paths_resolve_against_the_working_directory(
    tmp_path: Path, make_ctx: MakeCtx
) -> None:
    """Relative paths resolve against the directory kyudoctor runs in, and say so."""
    (tmp_path / "c.toml").write_text(KYUTAI_TTS)
    facts = _probe(make_ctx, tmp_path, config_path="c.toml")
    static = next(p for p in facts["paths"] if p["key"] == "static_dir")
    assert static["relative"] and static["resolved"] == str(tmp_path / "static")
    assert facts["server_cwd"] == {"path": str(tmp_path), "source": "kyudoctor"}
    assert facts["file"] == "c.toml" and facts["resolved"] == str(tmp_path / "c.toml")


# -- secrets --------------------------------------------------------------------------------

PLANTED = {
    "authorized_ids": "kyu-planted-id-7f3a9c",
    "config_token": "kyu-planted-config-token-51d2",
    "hf_token_value": "hf_kyuPlantedHfValue0123456789abcd",
    "token_file": "hf_kyuPlantedTokenFile0123456789ab",
    "env_hf": "kyu-planted-env-hf-token-88e1",
    "env_var_path": "kyu-planted-secret-var-19bc",
}


def test_no_secret_reaches_the_facts(tmp_path: Path, make_ctx: MakeCtx) -> None:
    """Planted secrets (authorized_ids, a token-named key, an hf_ value, the token file, HF_TOKEN,
    a secret variable in a path) never appear in the facts; counts and lengths do."""
    text = KYUTAI_TTS.replace(
        '["public_token"]', f'["public_token", "{PLANTED["authorized_ids"]}", ""]'
    ).replace(
        "n_q = 24",
        f'n_q = 24\napi_token = "{PLANTED["config_token"]}"\n'
        f'extra = "{PLANTED["hf_token_value"]}"\nmimi_weight = "$MY_API_KEY/mimi.safetensors"',
    )
    (tmp_path / "c.toml").write_text(text)
    token = tmp_path / ".cache" / "huggingface" / "token"
    token.parent.mkdir(parents=True)
    token.write_text(PLANTED["token_file"])
    env = {
        "HOME": str(tmp_path),
        "HF_TOKEN": PLANTED["env_hf"],
        "MY_API_KEY": PLANTED["env_var_path"],
    }
    facts = probe(make_ctx(options={"config_path": "c.toml"}, cwd=tmp_path, env=env))
    dumped = json.dumps(facts)
    for name, secret in PLANTED.items():
        assert secret not in dumped, name
    assert facts["authorized_ids"] == {
        "line": 4,
        "type": "array",
        "count": 3,
        "public_token": True,
        "empty": True,
        "non_strings": 0,
    }
    keys = {k["key"]: k for k in facts["keys"]}
    assert keys["modules.tts_py.py.api_token"]["length"] == len(PLANTED["config_token"])
    assert keys["modules.tts_py.py.extra"]["redacted"] is True
    assert facts["hf"]["token_file_exists"] and facts["hf"]["hf_token_env"]


# -- the running server and the summary -----------------------------------------------------


@contextmanager
def fake_server(tmp_path: Path, config: Path, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """A process named moshi-server (a symlink to Python) running ``worker --config config``."""
    binary = tmp_path / "bin" / "moshi-server"
    binary.parent.mkdir(exist_ok=True)
    binary.symlink_to(os.path.realpath(sys.executable))
    code = "import time; time.sleep(30)"
    argv = [str(binary), "-c", code, "worker", "--config", config.name, *args]
    proc = subprocess.Popen(argv, cwd=config.parent)
    try:
        time.sleep(0.3)
        yield proc
    finally:
        proc.terminate()
        proc.wait(5)


def test_running_server_gives_bind_port_and_directory(tmp_path: Path, make_ctx: MakeCtx) -> None:
    """A moshi-server started with this config gives the address, port and working directory."""
    served = tmp_path / "srv"
    served.mkdir()
    config = served / "config-tts.toml"
    config.write_text(KYUTAI_TTS)
    with fake_server(tmp_path, config, "--addr", "127.0.0.1", "-p", "8099") as proc:
        facts = _probe(make_ctx, tmp_path, config_path=str(config))
        info = summary(config, {"HOME": "/home/kyu"}, tmp_path)
    assert facts["bind"] == {
        "addr": "127.0.0.1",
        "port": 8099,
        "source": "process",
        "pid": proc.pid,
        "loopback": True,
    }
    assert facts["server_cwd"] == {"path": str(served), "source": "process"}
    assert info is not None and info["url"] == "ws://127.0.0.1:8099/api/tts_streaming"


def test_summary_defaults(tmp_path: Path) -> None:
    """Without a running server: port 8080, the TTS route, batch_size, log_dir expanded."""
    config = tmp_path / "config-tts.toml"
    config.write_text(KYUTAI_TTS.replace("/api/tts_streaming", "/tts"))
    info = summary("config-tts.toml", {"HOME": "/home/kyu"}, tmp_path)
    assert info == {
        "file": "config-tts.toml",
        "port": 8080,
        "addr": "0.0.0.0",
        "path": "/tts",
        "batch_size": 8,
        "log_dir": "/home/kyu/tmp/tts-logs",
        "instance_name": "tts",
        "url": "ws://127.0.0.1:8080/tts",
    }
    (tmp_path / "broken.toml").write_text("[x")
    assert summary("broken.toml", {}, tmp_path) is None


@pytest.mark.parametrize(
    ("extra", "urls"),
    [
        ({}, ["ws://127.0.0.1:8080/custom"]),
        ({"urls": ["ws://h:1/x"], "urls_explicit": True}, None),
    ],
)
def test_run_options(tmp_path: Path, extra: dict[str, Any], urls: list[str] | None) -> None:
    """The discovered config names itself and, unless --url was given, the URL to check."""
    (tmp_path / "config-tts.toml").write_text(KYUTAI_TTS.replace("/api/tts_streaming", "/custom"))
    options = run_options(extra, tmp_path, {}, server=True)
    assert options["config_path"] == "config-tts.toml"
    assert options["config_source"] == "discovered"
    assert options.get("urls") == urls
    assert options["config"]["path"] == "/custom"
    assert run_options({}, tmp_path / "nothing-here", {}, server=True) == {}


# -- never raises ---------------------------------------------------------------------------

_FRAGMENTS = [line + "\n" for line in KYUTAI_TTS.splitlines() if line.strip()] + [
    '"""',
    "'''",
    "[",
    "]",
    "[[",
    "{",
    "}",
    "=",
    '"',
    "\\",
    "\r\n",
    "\t",
    "\ufeff",
    "\x00",
    "#",
]

broken_toml = st.one_of(
    st.text(max_size=400),
    st.lists(st.sampled_from(_FRAGMENTS), max_size=40).map("".join),
    st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=broken_toml)
def test_broken_toml_never_raises(tmp_path: Path, make_ctx: MakeCtx, text: str) -> None:
    """Any text, as a config file: the probe and every config check return, never raise."""
    from tests.healthy.config import facts as with_config

    config = tmp_path / "fuzz.toml"
    config.write_bytes(text.encode("utf-8", errors="surrogateescape"))
    facts = _probe(make_ctx, tmp_path, config_path=str(config))
    key_lines(text)
    all_facts = with_config(**facts)
    for name in CONFIG_CHECKS:
        importlib.import_module(f"kyudoctor.checks.config_{name}").check(all_facts)


def test_compact_view_is_small_and_secret_free() -> None:
    """The report view of the facts: file, modules, key count, bind, HF token file; no paths."""
    from kyudoctor.probes.config import compact
    from tests.healthy.config import FACTS

    assert compact(FACTS) == {
        "file": "configs/config-tts.toml",
        "source": "discovered",
        "modules": [
            {"name": "tts_py", "type": "Py", "path": "/api/tts_streaming", "batch_size": 8}
        ],
        "authorized_ids": {"count": 1, "public_token": False, "empty": False},
        "bind": "0.0.0.0:8080 (process)",
        "hf": {"downloads": 1, "token_file_exists": True},
    }
    assert compact({"found": False, "file": None}) == {"found": False}


def test_healthy_facts_have_the_probes_shape(tmp_path: Path, make_ctx: MakeCtx) -> None:
    """tests/healthy/config.py holds the keys the real probe returns, at every level checked."""
    from tests.healthy.config import FACTS

    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "config-tts.toml").write_text(KYUTAI_TTS)
    real = _probe(make_ctx, tmp_path)
    assert set(real) == set(FACTS)
    for key in ("discovery", "authorized_ids", "hf", "bind", "server_cwd", "tts"):
        assert set(real[key]) == set(FACTS[key]), key
    assert {frozenset(p) for p in real["keys"]} >= {frozenset(p) for p in FACTS["keys"][:3]}
