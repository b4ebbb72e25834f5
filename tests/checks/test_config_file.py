"""config.file: CFG001 when the config cannot be read or is not TOML; skipped without a config."""

from __future__ import annotations

from pathlib import Path

import pytest

from kyudoctor.checks.config_file import check
from kyudoctor.model import Facts
from tests.healthy.config import CONFIG_DATA as DATA
from tests.healthy.config import facts, probed


def test_healthy_config_is_ok() -> None:
    """The healthy config is valid TOML: ok, naming its module."""
    outcome = check(facts())
    assert not outcome.skipped and not outcome.findings
    assert "tts_py (Py)" in outcome.summary


def test_no_config_is_skipped_with_the_places_looked() -> None:
    """With no config named or found the check is skipped, saying where it looked."""
    outcome = check(
        facts(
            found=False,
            file=None,
            discovery={"cwd": "/srv/app", "searched": ["configs/config-tts.toml"]},
        )
    )
    assert outcome.skipped and "/srv/app" in outcome.summary and "--config" in outcome.summary


def test_failed_probe_is_skipped() -> None:
    """Without config facts (probe failed) the check is skipped, never ok."""
    no_config: Facts = {**facts(), "config": None}
    assert check(no_config).skipped


@pytest.mark.parametrize(
    ("name", "line", "column", "needle"),
    [
        ("broken-unclosed-string.toml", 4, 21, "Illegal character"),
        ("broken-duplicate-key.toml", 10, 16, "Cannot overwrite"),
        ("latin1-comment.toml", 2, 4, "not valid UTF-8"),
    ],
)
def test_broken_files_point_at_line_and_column(
    tmp_path: Path, name: str, line: int, column: int, needle: str
) -> None:
    """A broken file is CFG001 at the parser's line and column, in the finding's evidence."""
    outcome = check(probed(tmp_path, (DATA / name).read_bytes()))
    (finding,) = outcome.findings
    assert finding.code == "CFG001" and needle in finding.message
    assert finding.evidence["file"] == "configs/config-tts.toml"
    assert (finding.evidence["line"], finding.evidence["column"]) == (line, column)
    assert f"line {line}, column {column}" in finding.message


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("too_large", "2000000 bytes: far larger than any moshi-server config; not parsed"),
        ("binary", "binary content (NUL bytes): not a TOML file"),
        ("unreadable", "cannot read it: Permission denied"),
    ],
)
def test_unusable_files_are_cfg001(kind: str, message: str) -> None:
    """Huge, binary and unreadable (discovered) files are CFG001 with the probe's reason."""
    outcome = check(facts(error={"kind": kind, "message": message, "line": 1, "column": 1}))
    (finding,) = outcome.findings
    assert finding.code == "CFG001" and message in finding.message
    assert finding.evidence["line"] == 1


def test_bom_and_crlf_are_accepted_and_said(tmp_path: Path) -> None:
    """A BOM and CRLF line endings parse (moshi-server accepts both); the summary says so."""
    outcome = check(probed(tmp_path, (DATA / "folklore-server-table.toml").read_bytes()))
    assert not outcome.findings and not outcome.skipped
    assert "a BOM and CRLF line endings" in outcome.summary


def test_discovery_note_is_in_the_summary() -> None:
    """When several configs were found, the summary names the one checked and the others."""
    note = (
        "checked configs/config-tts.toml; also found stt.toml (pass --config FILE to check another)"
    )
    outcome = check(
        facts(discovery={"cwd": "/home/kyu/tts", "searched": [], "candidates": [], "note": note})
    )
    assert note in outcome.summary
