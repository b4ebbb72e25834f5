"""config.keys: CFG003 for keys and tables moshi-server ignores, with what to do instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from kyudoctor.checks.config_keys import check
from kyudoctor.model import Severity
from tests.healthy.config import CONFIG_DATA as DATA
from tests.healthy.config import KYUTAI_TTS, facts, probed


def test_healthy_config_is_ok() -> None:
    """Every key is one the server reads: ok."""
    outcome = check(facts())
    assert not outcome.findings and not outcome.skipped


@pytest.mark.parametrize("name", sorted(p.name for p in (DATA / "examples").glob("*.toml")))
def test_verbatim_kyutai_configs_get_no_warning(tmp_path: Path, name: str) -> None:
    """A verbatim copy of a Kyutai config gets CFG003 at info level at most (cfg_is_no_text)."""
    outcome = check(probed(tmp_path, (DATA / "examples" / name).read_text(encoding="utf-8")))
    assert all(f.severity is Severity.INFO for f in outcome.findings)
    assert all("cfg_is_no_text" in f.message for f in outcome.findings)


def test_server_table_folklore_says_it_has_no_effect_and_names_batch_size(tmp_path: Path) -> None:
    """[server] num_workers / max_connections: one warning at the table's line saying plainly
    that they have no effect and that batch_size is the concurrency knob."""
    outcome = check(probed(tmp_path, (DATA / "folklore-server-table.toml").read_bytes()))
    by_line = {f.evidence["line"]: f for f in outcome.findings}
    server = by_line[8]
    assert server.severity is None  # the catalog default: warning
    assert server.message.startswith("[server] (num_workers, max_connections) has no effect")
    assert "no num_workers and no max_connections" in server.message
    assert (
        "Concurrency is the module's `batch_size` (now `batch_size = 8` in [modules.tts_py])"
        in (server.message)
    )
    assert "the command-line option `moshi-server worker --port`" in by_line[6].message
    assert "`temp` in [modules.tts_py.py]" in by_line[18].message
    assert by_line[25].severity is Severity.INFO  # cfg_is_no_text
    assert sorted(by_line) == [6, 8, 18, 25]
    assert all(f.evidence["file"] == "configs/config-tts.toml" for f in outcome.findings)


@pytest.mark.parametrize(
    ("addition", "where", "needle"),
    [
        ("num_workers = 16\n", "top", "Concurrency is the module's `batch_size`"),
        ("max_connections = 32\n", "module", "no num_workers and no max_connections"),
        ('addr = "127.0.0.1"\n', "top", "`moshi-server worker --addr`"),
        ('voice_folder = "voices"\n', "module", "read only inside [modules.tts_py.py]"),
        ("cfg_alpha = 3.0\n", "module", "`cfg_coef` in [modules.tts_py.py]"),
        ("batch_size = 4\n", "py", "read only directly in [modules.tts_py]"),
        ('voice_folde = "x"\n', "py", "check its spelling"),
        ("seed = 1\n", "module", "no seed setting"),
    ],
)
def test_ignored_key_hints(tmp_path: Path, addition: str, where: str, needle: str) -> None:
    """Each ignored key is reported at its line with what does the job instead."""
    anchors = {
        "top": 'instance_name = "tts"\n',
        "module": "text_bos_token = 1\n",
        "py": "n_q = 24\n",
    }
    text = KYUTAI_TTS.replace(anchors[where], anchors[where] + addition, 1)
    line = text[: text.index(addition)].count("\n") + 1
    outcome = check(probed(tmp_path, text))
    (finding,) = [f for f in outcome.findings if f.severity is not Severity.INFO]
    assert finding.code == "CFG003" and finding.evidence["line"] == line
    assert "has no effect" in finding.message and needle in finding.message


def test_custom_script_py_table_is_not_judged(tmp_path: Path) -> None:
    """A module with its own script reads any [py] keys: none is reported."""
    text = KYUTAI_TTS.replace("text_bos_token = 1\n", 'text_bos_token = 1\nscript = "my.py"\n')
    text = text.replace("n_q = 24\n", "n_q = 24\nmy_knob = 3\n")
    assert check(probed(tmp_path, text)).findings == ()


def test_opaque_model_tables_are_not_judged(tmp_path: Path) -> None:
    """Keys inside an STT module's [model] table are the model's, not the server's."""
    text = (DATA / "examples" / "unmute-stt.toml").read_text(encoding="utf-8")
    text = text.replace("dim = 6\n", "dim = 6\nnew_head_option = 1\n")
    assert check(probed(tmp_path, text)).findings == ()


def test_skipped_without_config() -> None:
    """No config found: skipped."""
    assert check(facts(found=False, file=None)).skipped
