"""The config lint end to end: the installed ``kyudoctor check`` on real config files in a
working directory of its own, as a user or a CI job runs it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.reportschema import validate_report

KYUDOCTOR = str(Path(sys.executable).parent / "kyudoctor")
DATA = Path(__file__).resolve().parent / "data" / "configs"
EXAMPLES = sorted((DATA / "examples").glob("*.toml"))
FORMATS = ("console", "json", "markdown", "github", "junit")


def kyudoctor(cwd: Path, *args: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed command in ``cwd`` with HOME there (no token file, no colours)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "KYUTAI_"))}
    env.pop("VIRTUAL_ENV", None)
    env.update(HOME=str(home or cwd), NO_COLOR="1")
    return subprocess.run(
        [KYUDOCTOR, *args],
        cwd=cwd,
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


def report(proc: subprocess.CompletedProcess[str]) -> Any:
    """The JSON report on stdout, validated against the published schema."""
    data = json.loads(proc.stdout)
    validate_report(data)
    return data


def findings(data: Any) -> list[Any]:
    return list(data["findings"])


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_kyutai_configs_give_no_error(tmp_path: Path, example: Path) -> None:
    """Kyutai's published configs, unchanged: exit 0, no error, CFG003 at info level at most."""
    proc = kyudoctor(
        tmp_path, "check", "--only", "files", "--config", str(example), "--format", "json"
    )
    data = report(proc)
    assert proc.returncode == 0, proc.stderr
    assert [f for f in findings(data) if f["severity"] == "error"] == []
    assert all(f["severity"] == "info" for f in findings(data) if f["code"] == "CFG003")
    statuses = {c["id"]: c["status"] for c in data["checks"]}
    assert statuses["config.file"] == statuses["config.schema"] == "ok"


def test_discovered_config_and_file_line_evidence(tmp_path: Path) -> None:
    """configs/config-tts.toml is found in the working directory; findings point at it by the
    path as discovered, with the line, and the github format annotates that file and line."""
    (tmp_path / "configs").mkdir()
    shutil.copy(DATA / "folklore-server-table.toml", tmp_path / "configs" / "config-tts.toml")
    data = report(kyudoctor(tmp_path, "check", "--only", "files", "--format", "json"))
    assert data["targets"]["config"] == "configs/config-tts.toml"
    server = next(f for f in findings(data) if f["evidence"]["line"] == 8)
    assert server["code"] == "CFG003" and server["severity"] == "warning"
    assert "num_workers" in str(server["message"]) and "batch_size" in str(server["message"])
    assert server["evidence"]["file"] == "configs/config-tts.toml"
    github = kyudoctor(tmp_path, "check", "--only", "files", "--format", "github").stdout
    assert "file=configs/config-tts.toml,line=8" in github


def test_broken_config_is_cfg001_with_line_and_column(tmp_path: Path) -> None:
    """A config with a syntax error: exit 1, CFG001 at the parser's line and column, and the
    other config checks skipped naming CFG001."""
    shutil.copy(DATA / "broken-unclosed-string.toml", tmp_path / "config-tts.toml")
    proc = kyudoctor(tmp_path, "check", "--only", "files", "--format", "json")
    data = report(proc)
    assert proc.returncode == 1
    (finding,) = [f for f in findings(data) if f["code"] == "CFG001"]
    assert finding["evidence"] == {
        "file": "config-tts.toml",
        "line": 4,
        "column": 21,
        "kind": "toml",
    }
    skipped = [c for c in data["checks"] if c["id"] == "config.schema"]
    assert skipped[0]["status"] == "skipped" and "CFG001" in skipped[0]["summary"]


def test_no_config_skips_with_a_reason(tmp_path: Path) -> None:
    """No --config and nothing to discover: the config checks are skipped, exit 0."""
    proc = kyudoctor(tmp_path, "check", "--only", "files", "--format", "json")
    data = report(proc)
    config_checks = [c for c in data["checks"] if c["id"].startswith("config.")]
    assert len(config_checks) == 6
    assert all(c["status"] == "skipped" and "--config" in c["summary"] for c in config_checks)
    assert proc.returncode == 0


@pytest.mark.parametrize(
    ("kind", "needle"), [("missing", "no such file"), ("dir", "is a directory")]
)
def test_unusable_config_option_is_exit_2(tmp_path: Path, kind: str, needle: str) -> None:
    """--config naming a missing file or a directory: exit 2, one line, no traceback."""
    target = tmp_path / "config-tts.toml"
    if kind == "dir":
        target.mkdir()
    proc = kyudoctor(tmp_path, "check", "--config", str(target))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--config" in lines[0] and needle in lines[0]
    assert "Traceback" not in proc.stderr


def test_output_never_overwrites_the_config(tmp_path: Path) -> None:
    """--output naming the --config file is refused and the file left as it was."""
    config = tmp_path / "config-tts.toml"
    shutil.copy(EXAMPLES[0], config)
    before = config.read_bytes()
    proc = kyudoctor(tmp_path, "check", "--config", str(config), "--output", str(config))
    assert proc.returncode == 2 and config.read_bytes() == before


def test_config_gives_the_server_checks_their_url(tmp_path: Path) -> None:
    """Without --url the server checks dial the config's TTS route on 127.0.0.1."""
    text = (DATA / "examples" / "dsm-config-tts.toml").read_text(encoding="utf-8")
    (tmp_path / "config-tts.toml").write_text(text.replace("/api/tts_streaming", "/kyu/tts"))
    proc = kyudoctor(tmp_path, "check", "--only", "server", "--format", "json", "--timeout", "5")
    data = report(proc)
    assert data["targets"]["urls"] == ["ws://127.0.0.1:8080/kyu/tts"]
    assert data["targets"]["config"] == "config-tts.toml"


SECRET_ID = "kyu-e2e-planted-authorized-id-4b7e"
SECRET_KEY_VALUE = "kyu-e2e-planted-token-value-93ad"
SECRET_TOKEN_FILE = "hf_kyuE2ePlantedTokenFile00112233"


@pytest.mark.parametrize("fmt", FORMATS)
def test_planted_secrets_reach_no_output(tmp_path: Path, fmt: str) -> None:
    """authorized_ids values, a token-named key and the HF token file never appear in any
    output format, nor on stderr."""
    text = (DATA / "examples" / "dsm-config-tts.toml").read_text(encoding="utf-8")
    text = text.replace('["public_token"]', f'["public_token", "{SECRET_ID}"]')
    text = text.replace("n_q = 24", f'n_q = 24\nhf_token = "{SECRET_KEY_VALUE}"')
    (tmp_path / "config-tts.toml").write_text(text)
    token = tmp_path / ".cache" / "huggingface" / "token"
    token.parent.mkdir(parents=True)
    token.write_text(SECRET_TOKEN_FILE)
    proc = kyudoctor(tmp_path, "check", "--only", "files", "--format", fmt, "-v")
    assert proc.returncode == 0, proc.stderr  # warnings only
    out = proc.stdout + proc.stderr
    assert "CFG006" in out  # the finding about authorized_ids is there, its values are not
    for secret in (SECRET_ID, SECRET_KEY_VALUE, SECRET_TOKEN_FILE):
        assert secret not in out


SHARED_EXAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "examples"


@pytest.fixture
def shared_examples() -> Path:
    """Kyutai's configs in ../shared/examples (beside a clone); skipped where that is absent."""
    if not SHARED_EXAMPLES.is_dir():
        pytest.skip(f"{SHARED_EXAMPLES} is not here")
    return SHARED_EXAMPLES


def test_examples_are_unchanged_copies(shared_examples: Path) -> None:
    """tests/data/configs/examples holds byte-exact copies of every shared example config."""
    shared = sorted(p.name for p in shared_examples.glob("*.toml"))
    assert shared == [p.name for p in EXAMPLES]
    for name in shared:
        assert (DATA / "examples" / name).read_bytes() == (shared_examples / name).read_bytes()
