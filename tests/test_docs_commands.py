"""Every kyudoctor command shown in docs/ci.md and docs/support.md runs, as shown, and works.

The commands are taken from the pages themselves (fenced blocks, table cells, the YAML jobs, the
Dockerfile HEALTHCHECK, the Kubernetes probe), in page order, and run through bash in one
workspace holding Kyutai's real TTS config, a Dockerfile and compose file, a user's log and the
page's own ``kyudoctor.toml``; the staging server is the simulator on loopback. Install lines
(``pip install ./kyudoctor``) and the user's own scripts (``./deploy.sh``) are not kyudoctor
commands and are not run.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from kyudoctor import dockerfile
from kyudoctor.simulate import SimConfig, Simulator, running

REPO = Path(__file__).resolve().parents[1]
DOCS = ("docs/ci.md", "docs/support.md")
BIN = Path(sys.executable).parent
DOC_URL = "ws://127.0.0.1:8080/api/tts_streaming"
COMMANDS = ("check", "triage", "bundle", "explain", "load")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
INLINE = re.compile(r"(?<!`)`(kyudoctor (?:" + "|".join(COMMANDS) + r")\b[^`]*)`")
PROGRAM = re.compile(r"(?:~/\.kyudoctor/bin/)?kyudoctor (?:" + "|".join(COMMANDS) + r")\b.*")


def blocks(page: str) -> list[tuple[str, str]]:
    """The fenced code blocks of a page: (info string, body)."""
    return [(m.group(1), m.group(2)) for m in FENCE.finditer((REPO / page).read_text())]


def commands(page: str) -> list[str]:
    """The kyudoctor commands of a page, in page order, each as one shell line."""
    text = (REPO / page).read_text()
    found: list[tuple[int, str]] = [
        (m.start(), m.group(1))
        for m in INLINE.finditer(text)
        if not text[text.rfind("\n", 0, m.start()) + 1 :].startswith("#")  # a heading names it
    ]
    for match in FENCE.finditer(text):
        info, body = match.group(1), match.group(2)
        for offset, line in _lines(info, body):
            found.append((match.start() + offset, line))
    return [line for _, line in sorted(found)]


def _lines(info: str, body: str) -> Iterator[tuple[int, str]]:
    if info == "dockerfile":
        for instruction in dockerfile.parse("FROM scratch\n" + body).instructions:
            if instruction.keyword == "HEALTHCHECK":
                assert instruction.text.startswith("CMD ")
                yield 0, instruction.text.removeprefix("CMD ").strip()
        return
    if info == "yaml":
        for key, value in _walk(yaml.safe_load(body)):
            if key == "command" and isinstance(value, list) and value[0] == "kyudoctor":
                yield 0, shlex.join(value)
    unfolded = body.replace("\\\n", " ")
    for offset, line in enumerate(unfolded.splitlines()):
        match = PROGRAM.search(line)
        if match and not line.lstrip().startswith("#"):
            yield offset, match.group(0).split("  #", 1)[0].strip()


def _walk(node: object) -> Iterator[tuple[str, object]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key), value
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


@pytest.fixture(scope="module")
def server() -> Iterator[Simulator]:
    with running(SimConfig(port=0, batch_size=32, rtf=0.05, first_audio_delay_s=0.05)) as sim:
        yield sim


def workspace(root: Path, url: str) -> dict[str, str]:
    """A project as the pages assume it, and the environment the commands run with."""
    shutil.copytree(REPO / "tests/data/docker/dsm", root / "project")
    project = root / "project"
    (project / "configs").mkdir()
    shutil.copy(
        REPO / "tests/data/configs/examples/dsm-config-tts.toml",
        project / "configs/config-tts.toml",
    )
    shutil.copy(REPO / "tests/triage/GPU006/torch-oom.log", project / "user.log")
    (toml,) = [body for info, body in blocks("docs/ci.md") if info == "toml"]
    (project / "kyudoctor.toml").write_text(toml.replace(DOC_URL, url))
    home = root / "home"
    (home / ".kyudoctor/bin").mkdir(parents=True)
    (home / ".kyudoctor/bin/kyudoctor").symlink_to(BIN / "kyudoctor")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KYUTAI_", "VIRTUAL_ENV"))}
    env.update(HOME=str(home), PATH=f"{BIN}:{os.environ['PATH']}", STAGING_URL=url)
    return env


@pytest.mark.parametrize("page", DOCS)
def test_every_command_of_the_page_runs(page: str, server: Simulator, tmp_path: Path) -> None:
    """Each kyudoctor command of the page exits 0 or 1 (never 2 or 3), without a traceback."""
    env = workspace(tmp_path, server.url)
    project = tmp_path / "project"
    lines = commands(page)
    assert len(lines) >= 6
    for line in lines:
        line = line.replace(DOC_URL, server.url)
        proc = subprocess.run(
            ["bash", "-c", line],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        where = f"{page}: {line}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        assert proc.returncode in (0, 1), where
        assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, where
        if "--only server" in line:
            assert proc.returncode == 0, where  # the simulator is healthy
    if page == "docs/support.md":
        assert (project / "bundle.json").is_file() and (project / "reply.md").is_file()
        assert list(project.glob("kyudoctor-bundle-*.json"))
    else:
        for name in ("kyudoctor-files.xml", "kyudoctor-host.xml", "kyudoctor-server.xml"):
            assert (project / name).is_file(), name


def test_pages_show_the_commands_the_issue_asks_for() -> None:
    """ci.md has a GitHub and a GitLab job with JUnit, a HEALTHCHECK and a readiness probe."""
    ci = " \n".join(commands("docs/ci.md"))
    assert "--format junit --output" in ci and "--format github" in ci
    kinds = [info for info, _ in blocks("docs/ci.md")]
    assert kinds.count("yaml") == 3 and "dockerfile" in kinds
    jobs = [yaml.safe_load(body) for info, body in blocks("docs/ci.md") if info == "yaml"]
    assert "jobs" in jobs[0] and "stages" in jobs[1] and "readinessProbe" in jobs[2]
    assert jobs[1]["kyudoctor:files"]["artifacts"]["reports"]["junit"] == "kyudoctor-files.xml"
    support = " \n".join(commands("docs/support.md"))
    for shown in ("kyudoctor triage", "kyudoctor bundle", "--from-bundle", "kyudoctor explain"):
        assert shown in support


def test_the_healthcheck_shown_passes_the_dockerfile_lint(tmp_path: Path) -> None:
    """The page's HEALTHCHECK, in a moshi-server image, raises no DOCKER006 (start period)."""
    (body,) = [body for info, body in blocks("docs/ci.md") if info == "dockerfile"]
    (tmp_path / "Dockerfile").write_text(
        "FROM nvidia/cuda:12.8.1-devel-ubuntu22.04\n"
        "RUN cargo install --features cuda moshi-server@0.6.4\n"
        + body
        + 'CMD ["/root/.cargo/bin/moshi-server", "worker", "--config", "config.toml"]\n'
    )
    proc = subprocess.run(
        [str(BIN / "kyudoctor"), "check", "--only", "docker.healthcheck", "--format", "json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert '"DOCKER006"' not in proc.stdout and '"status": "ok"' in proc.stdout
