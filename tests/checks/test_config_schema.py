"""config.schema: CFG002 for missing keys, wrong types, unknown module types, bad conditioning."""

from __future__ import annotations

from pathlib import Path

import pytest

from kyudoctor.checks.config_schema import check
from tests.healthy.config import CONFIG_DATA as DATA
from tests.healthy.config import KYUTAI_TTS, facts, probed, record


def test_healthy_config_is_ok() -> None:
    """Every required key with the right type: ok."""
    outcome = check(facts())
    assert not outcome.findings and not outcome.skipped


@pytest.mark.parametrize("name", sorted(p.name for p in (DATA / "examples").glob("*.toml")))
def test_kyutai_configs_are_valid(tmp_path: Path, name: str) -> None:
    """Kyutai's published configs (TTS and STT) satisfy the schema."""
    outcome = check(probed(tmp_path, (DATA / "examples" / name).read_text(encoding="utf-8")))
    assert outcome.findings == () and not outcome.skipped


@pytest.mark.parametrize(
    ("edit", "line", "needles"),
    [
        (('log_dir = "$HOME/tmp/tts-logs"\n', ""), 1, ["`log_dir`", "missing field `log_dir`"]),
        (
            ('static_dir = "./static/"\nlog_dir = "$HOME/tmp/tts-logs"\n', ""),
            1,
            ["`static_dir` and `log_dir`"],
        ),
        (
            ("batch_size = 8", 'batch_size = "8"'),
            10,
            ['`batch_size` = "8"', "non-negative integer"],
        ),
        (("batch_size = 8", "batch_size = -1"), 10, ["`batch_size` = -1", "invalid type"]),
        (("batch_size = 8", "batch_size = 8.0"), 10, ["`batch_size` = 8.0"]),
        (("batch_size = 8", "batch_size = 0"), 10, ["no slot", "no free channels"]),
        (('type = "Py"', 'type = "py"'), 7, ['"py"', 'did you mean "Py"?', "case-sensitive"]),
        (('type = "Py"', 'type = "Tss"'), 7, ['"Tss"', "unknown variant"]),
        (('type = "Py"\n', ""), 6, ["[modules.tts_py] has no `type`"]),
        (('path = "/api/tts_streaming"\n', ""), 6, ["lacks `path`", "missing field `path`"]),
        (("text_bos_token = 1", 'text_bos_token = "1"'), 11, ["`text_bos_token`"]),
        (
            ('authorized_ids = ["public_token"]', 'authorized_ids = "public_token"'),
            4,
            ["an array of strings"],
        ),
        (('instance_name = "tts"', "instance_name = 1"), 3, ["`instance_name` = 1", "a string"]),
    ],
)
def test_schema_errors_point_at_the_key(
    tmp_path: Path, edit: tuple[str, str], line: int, needles: list[str]
) -> None:
    """One edit of Kyutai's TTS config gives one CFG002 at the line of the key (or table)."""
    assert edit[0] in KYUTAI_TTS
    outcome = check(probed(tmp_path, KYUTAI_TTS.replace(edit[0], edit[1], 1)))
    (finding,) = outcome.findings
    assert finding.code == "CFG002" and finding.evidence["line"] == line, finding
    for needle in needles:
        assert needle in finding.message


def test_user_file_with_several_errors(tmp_path: Path) -> None:
    """schema-errors.toml: missing log_dir, a string batch_size, a lower-case type, and an STT
    module lacking its keys and its conditioning, each at its own line."""
    outcome = check(probed(tmp_path, (DATA / "schema-errors.toml").read_text(encoding="utf-8")))
    lines = sorted(f.evidence["line"] for f in outcome.findings)
    assert lines == [1, 9, 13, 16, 16]
    assert {f.code for f in outcome.findings} == {"CFG002"}


@pytest.mark.parametrize(
    ("conditioning", "state"),
    [
        ("conditioning_learnt_padding = true\nconditioning_delay = 0.5\n", "both"),
        ("", "neither"),
        ("conditioning_learnt_padding = false\n", "neither"),
    ],
)
def test_stt_conditioning_needs_exactly_one(tmp_path: Path, conditioning: str, state: str) -> None:
    """An STT module with both or neither conditioning modes is CFG002."""
    text = (DATA / "examples" / "unmute-stt.toml").read_text(encoding="utf-8")
    text = text.replace("conditioning_learnt_padding = true\n", conditioning)
    (finding,) = check(probed(tmp_path, text)).findings
    assert f"sets {state} of" in finding.message


def test_no_modules_is_an_error(tmp_path: Path) -> None:
    """A config without any [modules.NAME] starts a server that serves no model: CFG002."""
    text = KYUTAI_TTS.split("[modules.tts_py]")[0]
    (finding,) = check(probed(tmp_path, text)).findings
    assert "no [modules.NAME] table" in finding.message


def test_facts_without_values_are_judged_by_type() -> None:
    """A redacted value is judged by its TOML type only, and shown as *** with its length."""
    f = facts()
    record(f["config"], "modules.tts_py.path").update(redacted=True, length=18, type="integer")
    record(f["config"], "modules.tts_py.path").pop("value")
    (finding,) = check(f).findings
    assert "*** (18 characters)" in finding.message


def test_skipped_when_unparsable() -> None:
    """A config that did not parse is CFG001's: this check is skipped, naming it."""
    outcome = check(facts(error={"kind": "toml", "message": "x", "line": 1, "column": 1}))
    assert outcome.skipped and "CFG001" in outcome.summary
