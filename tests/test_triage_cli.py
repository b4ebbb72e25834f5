"""`kyudoctor triage` end to end: the installed command on real files, stdin and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from tests.reportschema import schema

KYUDOCTOR = str(Path(sys.executable).parent / "kyudoctor")
SECRET = "Planted-Secret-Key-90817"
LOG = (
    "tts-1  | 2025-06-01T12:00:01Z  INFO moshi_server: retrieving checkpoint\r\n"
    "tts-1  | torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB\r\n"
    f'tts-1  | 2025-06-01T12:00:02Z ERROR moshi_server: task failed name="model_loop" kyutai-api-key: {SECRET}\r\n'
)


def run(
    *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    return subprocess.run(
        [KYUDOCTOR, "triage", *args],
        input=stdin if stdin is not None else b"",
        capture_output=True,
        env=full_env,
        check=False,
        timeout=60,
    )


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "docker.log"
    path.write_bytes(LOG.encode())
    return path


def test_console(log: Path) -> None:
    """The console names the cause, its consequence, the fix and exits 1 for an error."""
    proc = run(str(log))
    out = proc.stdout.decode()
    assert proc.returncode == 1, proc.stderr
    assert out.index("GPU006") < out.index("WS007")
    assert "a consequence of GPU006" in out and "nvidia-smi --query-compute-apps" in out
    assert "explain GPU006" in out and "3 lines" in out
    assert SECRET not in out and proc.stderr == b""


@pytest.mark.parametrize("matcher", ["python", "auto"])
def test_json_validates_against_the_schema(log: Path, matcher: str) -> None:
    """--format json is a kyudoctor.triage/1 document, with either matcher."""
    proc = run("--format", "json", str(log), env={"KYUDOCTOR_TRIAGE_MATCHER": matcher})
    data = json.loads(proc.stdout)
    jsonschema.Draft202012Validator(schema("triage.schema.json")).validate(data)
    assert data["schema"] == "kyudoctor.triage/1" and data["source"] == str(log)
    assert (data["lines"], data["bytes"]) == (3, len(LOG.encode()))
    assert [f["code"] for f in data["findings"]][:2] == ["GPU006", "WS007"]
    assert data["findings"][1]["explained_by"] == "GPU006"
    assert data["exit_code"] == proc.returncode == 1
    assert SECRET.encode() not in proc.stdout


def test_the_schema_itself_is_valid() -> None:
    """The published schema is a valid Draft 2020-12 schema."""
    jsonschema.Draft202012Validator.check_schema(schema("triage.schema.json"))


def test_markdown_is_a_ticket_reply(log: Path) -> None:
    """--format markdown: heading, evidence in a fenced block, the fix, the consequences."""
    out = run("--format", "markdown", str(log)).stdout.decode()
    assert out.startswith("### kyudoctor triage: ")
    assert "#### 1. `GPU006`" in out and "```text\n2: torch.OutOfMemoryError" in out
    assert "**Fix:**" in out and "```sh\nnvidia-smi" in out
    assert "It also explains `WS007`" in out and SECRET not in out


def test_stdin_and_dash() -> None:
    """The log comes from standard input when FILE is `-` or absent."""
    for args in ((), ("-",)):
        proc = run("--format", "json", *args, stdin=LOG.encode())
        assert json.loads(proc.stdout)["source"] == "-"
        assert proc.returncode == 1


def test_binary_input_is_not_a_crash(tmp_path: Path) -> None:
    """Arbitrary bytes are read, nothing recognised, exit 0 and the hint."""
    path = tmp_path / "core.bin"
    path.write_bytes(bytes(range(256)) * 400)
    proc = run(str(path))
    assert proc.returncode == 0 and proc.stderr == b""
    assert b"No known problem recognised" in proc.stdout and b"kyudoctor bundle" in proc.stdout


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_unreadable_input_is_one_line_and_exit_2(tmp_path: Path, kind: str) -> None:
    """A missing file or a directory: exit 2, one line on stderr, no traceback."""
    target = tmp_path / "nope.log" if kind == "missing" else tmp_path
    proc = run(str(target))
    assert proc.returncode == 2
    assert proc.stdout == b""
    lines = proc.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kyudoctor: triage ")


def test_unknown_code_in_select_is_a_usage_error(log: Path) -> None:
    """--select with a code that names nothing: exit 2."""
    proc = run("--select", "NOPE", str(log))
    assert proc.returncode == 2 and b"--select/--ignore" in proc.stderr


def test_output_file_and_never_over_the_input(log: Path, tmp_path: Path) -> None:
    """--output writes the document and a summary to the terminal; the input is never replaced."""
    target = tmp_path / "triage.json"
    proc = run("--format", "json", "--output", str(target), str(log))
    assert proc.returncode == 1
    assert json.loads(target.read_text())["findings"][0]["code"] == "GPU006"
    assert b"triage written to" in proc.stdout
    before = log.read_bytes()
    refused = run("--format", "json", "--output", str(log), str(log))
    assert refused.returncode == 2 and log.read_bytes() == before


def test_fail_on_and_ignore(log: Path) -> None:
    """--fail-on never exits 0; --ignore keeps the code listed (with -v) but out of the exit."""
    assert run("--fail-on", "never", str(log)).returncode == 0
    proc = run("--ignore", "GPU,WS", "-v", str(log))
    assert proc.returncode == 0 and b"(ignored)" in proc.stdout


def test_quiet_and_verbose(log: Path) -> None:
    """-q shows the causes' first lines only; -v every evidence line and the matcher."""
    quiet = run("-q", str(log)).stdout.decode()
    assert "GPU006" in quiet and "Fix:" not in quiet
    verbose = run("-v", str(log)).stdout.decode()
    assert "matcher" in verbose and "a consequence of GPU006:" in verbose
