"""Dockerfile and compose lint end to end: the installed ``kyudoctor`` on real project trees."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.reportschema import validate_report

KYUDOCTOR = str(Path(sys.executable).parent / "kyudoctor")
DATA = REPO / "tests" / "data" / "docker"
ONLY = ("--only", "docker,bin.crlf")
PLANTED = "hf_PlantedDockerSecret0123456789"
"""The token written into tests/data/docker/handmade/Dockerfile's ENV."""


def kyudoctor(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)
    return subprocess.run(
        [KYUDOCTOR, "check", *args],
        cwd=cwd,
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def project(tmp_path: Path, name: str) -> Path:
    """A copy of a test project (byte for byte: CRLF and BOMs kept)."""
    target = tmp_path / name
    shutil.copytree(DATA / name, target)
    return target


def report(proc: subprocess.CompletedProcess[str]) -> dict:
    data: dict = json.loads(proc.stdout)
    validate_report(data)
    return data


def problem_codes(data: dict) -> set[str]:
    return {f["code"] for f in data["findings"] if f["severity"] in ("error", "warning")}


@pytest.mark.parametrize("name", ["unmute", "dsm"])
def test_kyutai_shapes_pass(tmp_path: Path, name: str) -> None:
    """Kyutai's own Docker setups (as moshi-server.md describes them) have no finding."""
    proc = kyudoctor(project(tmp_path, name), *ONLY, "--format", "json")
    data = report(proc)
    assert proc.returncode == 0, data["findings"]
    assert data["findings"] == []
    statuses = {c["id"]: c["status"] for c in data["checks"]}
    assert statuses["docker.parse"] == "ok"
    assert statuses["docker.install"] == "ok"
    assert statuses["docker.gpu"] == "ok"


def test_windows_clone_of_unmute(tmp_path: Path) -> None:
    """The same setup cloned with core.autocrlf=true: BIN007 at the start script's line 1."""
    root = project(tmp_path, "unmute")
    script = root / "services/moshi-server/dockerless/start_moshi_server_public.sh"
    script.write_bytes(script.read_bytes().replace(b"\n", b"\r\n"))
    proc = kyudoctor(root, *ONLY, "--format", "github")
    assert proc.returncode == 1
    assert (
        "::error file=services/moshi-server/dockerless/start_moshi_server_public.sh,line=1,"
        "title=BIN007" in proc.stdout
    )


def test_handmade_dockerfile(tmp_path: Path) -> None:
    """A hand-written CRLF/BOM Dockerfile: every problem with its file and line, CI annotations."""
    root = project(tmp_path, "handmade")
    proc = kyudoctor(root, *ONLY, "--dockerfile", "Dockerfile", "--format", "json")
    data = report(proc)
    assert proc.returncode == 1
    assert problem_codes(data) == {"BIN007", "DOCKER001", "DOCKER002", "DOCKER005", "DOCKER006"}
    located = {(f["code"], f["evidence"]["file"], f["evidence"]["line"]) for f in data["findings"]}
    assert {
        ("BIN007", "start.sh", 1),
        ("DOCKER005", "Dockerfile", 4),
        ("DOCKER001", "Dockerfile", 19),
        ("DOCKER006", "Dockerfile", 32),
    } <= located
    github = kyudoctor(root, *ONLY, "--dockerfile", "Dockerfile", "--format", "github").stdout
    assert "::error file=Dockerfile,line=4,title=DOCKER005" in github
    assert "::warning file=Dockerfile,line=32,title=DOCKER006" in github


@pytest.mark.parametrize("fmt", ["console", "json", "markdown", "junit", "github"])
def test_planted_secret_never_shown(tmp_path: Path, fmt: str) -> None:
    """The token in the Dockerfile's ENV appears in no output format, even verbose."""
    root = project(tmp_path, "handmade")
    (root / "docker-compose.yml").write_text(
        "services:\n  tts:\n    build: .\n    environment:\n"
        f"      - HF_TOKEN={PLANTED}\n    command: huggingface-cli login --token {PLANTED}\n"
    )
    extra = ("-v",) if fmt == "console" else ()
    proc = kyudoctor(root, *ONLY, "--format", fmt, *extra)
    assert proc.returncode == 1
    assert PLANTED not in proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--dockerfile", "nope/Dockerfile"),
            "kyudoctor: --dockerfile nope/Dockerfile: no such file\n",
        ),
        (("--compose", "."), "kyudoctor: --compose .: is a directory\n"),
    ],
)
def test_named_file_unusable_is_exit_2(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    """A named file that is missing or a directory: one line on stderr, exit 2."""
    proc = kyudoctor(tmp_path, *ONLY, *args)
    assert (proc.returncode, proc.stderr) == (2, message)


def test_broken_compose_is_a_finding_with_its_line(tmp_path: Path) -> None:
    """A compose file with a tab in its indentation: DOCKER008 at that line, no traceback."""
    (tmp_path / "compose.yaml").write_text("services:\n  tts:\n\timage: moshi-server\n")
    proc = kyudoctor(tmp_path, *ONLY, "--compose", "compose.yaml", "--format", "json")
    data = report(proc)
    assert proc.returncode == 1
    (finding,) = data["findings"]
    assert (finding["code"], finding["evidence"]["file"], finding["evidence"]["line"]) == (
        "DOCKER008",
        "compose.yaml",
        3,
    )
    assert "Traceback" not in proc.stderr


def test_nothing_to_lint_is_skipped(tmp_path: Path) -> None:
    """An empty directory: every Docker check is skipped with the reason, exit 0."""
    data = report(kyudoctor(tmp_path, *ONLY, "--format", "json"))
    assert {c["status"] for c in data["checks"]} == {"skipped"}
    assert str(tmp_path) in data["checks"][0]["summary"]
