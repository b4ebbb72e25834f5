"""config.paths: CFG004 for paths and variables of the config that do not resolve."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kyudoctor.checks.config_paths import check
from kyudoctor.model import Severity
from tests.healthy.config import KYUTAI_TTS, facts, probed, record

VOICE = "expresso/ex03-ex01_happy_001_channel1_334s.wav"
LOCAL = KYUTAI_TTS.replace(
    'voice_folder = "hf-snapshot://kyutai/tts-voices/**/*.safetensors"',
    'voice_folder = "voices"',
).replace('default_voice = "unmute-prod-website/default_voice.wav"', f'default_voice = "{VOICE}"')


def _ready(tmp_path: Path) -> None:
    """The directories Kyutai's config wants: static/ and $HOME/tmp."""
    (tmp_path / "static").mkdir(exist_ok=True)
    (tmp_path / "tmp").mkdir(exist_ok=True)


def _voices(tmp_path: Path, *names: str) -> None:
    for name in names:
        path = tmp_path / "voices" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\0")


def test_healthy_config_is_ok() -> None:
    """Every path resolves: ok."""
    outcome = check(facts())
    assert not outcome.findings and not outcome.skipped


def test_kyutai_config_in_a_ready_directory_is_ok(tmp_path: Path) -> None:
    """Kyutai's TTS config, run where static/ exists and HOME is set: nothing to say."""
    _ready(tmp_path)
    assert check(probed(tmp_path, KYUTAI_TTS)).findings == ()


def test_missing_static_dir_is_info_only(tmp_path: Path) -> None:
    """A missing static_dir is info, naming the directory assumed for the relative path."""
    (finding,) = check(probed(tmp_path, KYUTAI_TTS)).findings
    assert finding.severity is Severity.INFO and finding.evidence["line"] == 1
    assert f"{tmp_path}/static" in finding.message
    assert "assumed to be the directory the server is started from" in finding.message


def test_unset_variable_expands_to_empty(tmp_path: Path) -> None:
    """$VAR unset in log_dir: the error says it becomes the empty string and the result."""
    _ready(tmp_path)
    text = KYUTAI_TTS.replace("$HOME/tmp/tts-logs", "$KYU_UNSET_ROOT/tts-logs")
    (finding,) = check(probed(tmp_path, text)).findings
    assert finding.severity is None and finding.evidence["line"] == 2
    assert "$KYU_UNSET_ROOT is not set" in finding.message and '"/tts-logs"' in finding.message


def test_braced_variable_is_not_expanded(tmp_path: Path) -> None:
    """${HOME} is not a form moshi-server expands: a warning says to write $HOME."""
    _ready(tmp_path)
    text = KYUTAI_TTS.replace('"$HOME/tmp/moshi-server-logs"', '"${HOME}/tmp/moshi-server-logs"')
    (finding,) = check(probed(tmp_path, text)).findings
    assert finding.severity is Severity.WARNING and "write $HOME" in finding.message
    assert finding.evidence["line"] == 14


def test_log_dir_under_a_file_cannot_be_created(tmp_path: Path) -> None:
    """A log_dir whose parent is a regular file: the server cannot create it (error)."""
    _ready(tmp_path)
    (tmp_path / "tmp" / "tts-logs-parent").write_text("not a directory")
    text = KYUTAI_TTS.replace("$HOME/tmp/tts-logs", "$HOME/tmp/tts-logs-parent/logs")
    (finding,) = check(probed(tmp_path, text)).findings
    assert "is not a directory" in finding.message
    assert "initializing rolling file appender failed" in finding.message


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere: permissions cannot deny it")
def test_read_only_log_dir(tmp_path: Path) -> None:
    """A log_dir the user cannot write is an error."""
    _ready(tmp_path)
    logs = tmp_path / "tmp" / "tts-logs"
    logs.mkdir()
    logs.chmod(0o500)
    try:
        (finding,) = check(probed(tmp_path, KYUTAI_TTS)).findings
    finally:
        logs.chmod(0o700)
    assert "cannot write" in finding.message


@pytest.mark.parametrize(
    ("voices", "needle"),
    [
        ((), "does not exist"),
        (("README.md",), "holds no voice"),
        (("other/voice.wav.1e68beda@240.safetensors",), f'default_voice "{VOICE}"'),
    ],
)
def test_local_voice_folder_problems(tmp_path: Path, voices: tuple[str, ...], needle: str) -> None:
    """A local voice folder that is missing, empty, or lacks the default voice is an error."""
    _ready(tmp_path)
    if voices:
        _voices(tmp_path, *voices)
    (finding,) = check(probed(tmp_path, LOCAL)).findings
    assert needle in finding.message and finding.severity is None
    assert finding.evidence["line"] == 15


def test_local_voice_folder_with_default_voice_is_ok(tmp_path: Path) -> None:
    """Voices present, the default among them (with the checkpoint's suffix): ok."""
    _ready(tmp_path)
    _voices(tmp_path, f"{VOICE}.1e68beda@240.safetensors", "b/x.wav.1e68beda@240.safetensors")
    facts_ = probed(tmp_path, LOCAL)
    assert check(facts_).findings == ()
    folder = record(facts_["config"], "modules.tts_py.py.voice_folder", "paths")
    assert folder["voices"] == {"count": 2, "capped": False}


def test_default_voice_folder_is_looked_at(tmp_path: Path) -> None:
    """With no voice_folder, the Python TTS's ~/models/tts-voices is examined: a warning."""
    _ready(tmp_path)
    text = KYUTAI_TTS.replace(
        'voice_folder = "hf-snapshot://kyutai/tts-voices/**/*.safetensors"\n', ""
    )
    (finding,) = check(probed(tmp_path, text)).findings
    assert finding.severity is Severity.WARNING and finding.evidence["line"] == 13
    assert f"uses its default {tmp_path}/models/tts-voices" in finding.message


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("./models/tokenizer.model", "no such file"),
        ("hf://kyutai/tokenizer.model", "hf://ORG/REPO/FILE"),
    ],
)
def test_module_files(tmp_path: Path, value: str, needle: str) -> None:
    """A missing local file and a malformed hf:// value are errors at their line."""
    _ready(tmp_path)
    text = KYUTAI_TTS.replace(
        "hf://kyutai/tts-1.6b-en_fr/tokenizer_spm_8k_en_fr_audio.model", value
    )
    (finding,) = check(probed(tmp_path, text)).findings
    assert needle in finding.message and finding.evidence["line"] == 9


def test_relative_paths_against_the_running_server() -> None:
    """When the running server's directory is known, relative paths say they used it."""
    f = facts()
    record(f["config"], "static_dir", "paths").update(exists=False, kind=None)
    (finding,) = check(f).findings
    assert "/home/kyu/tts, the running server's directory" in finding.message


def test_skipped_without_config() -> None:
    """No config found: skipped."""
    assert check(facts(found=False, file=None)).skipped
