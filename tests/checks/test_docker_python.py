"""docker.python: DOCKER001 unsuitable torch installs, DOCKER002 incomplete or mispinned deps."""

from __future__ import annotations

from pathlib import Path

import pytest

from kyudoctor.checks import docker_python
from tests.dockerfiles import GOOD_DOCKERFILE, GOOD_START, codes, run, where

HEAD = (
    "FROM nvidia/cuda:12.8.1-devel-ubuntu22.04\n"
    "RUN cargo install --features cuda moshi-server@0.6.4\n"
)
ALL_DEPS = "moshi==0.2.13 julius pydantic torchaudio setuptools"


def outcome_of(tmp_path: Path, body: str) -> tuple[list[str], list[str]]:
    outcome = run(
        docker_python.CHECK,
        tmp_path,
        {"Dockerfile": HEAD + body + 'CMD ["/root/.cargo/bin/moshi-server", "worker"]\n'},
    )
    return codes(outcome), [f.message for f in outcome.findings]


@pytest.mark.parametrize(
    ("body", "expected", "text"),
    [
        ("RUN uv sync --locked\n", [], None),
        (f"RUN pip install torch==2.9.1 {ALL_DEPS}\n", [], None),
        (
            f"RUN pip install torch torchaudio --index-url https://download.pytorch.org/whl/cpu"
            f" && pip install {ALL_DEPS}\n",
            ["DOCKER001"],
            "CPU-only",
        ),
        (
            f"RUN pip install torch==2.6.0 --extra-index-url https://download.pytorch.org/whl/cpu"
            f" {ALL_DEPS}\n",
            ["DOCKER001"],
            "sort above",
        ),
        (f"RUN pip install torch==2.6.0+cu124 {ALL_DEPS}\n", ["DOCKER001"], "PyPI has no +cu124"),
        (
            f"RUN pip install torch==2.6.0 --index-url https://download.pytorch.org/whl/cu128"
            f" {ALL_DEPS}\n",
            ["DOCKER001"],
            "never built for",
        ),
        (
            f"RUN uv venv --python 3.13 && uv pip install torch==2.2.2 {ALL_DEPS}\n",
            ["DOCKER001"],
            "no wheel for Python 3.13",
        ),
        (
            f"RUN uv pip install torch==2.9.1 --torch-backend=cu130 {ALL_DEPS}\n",
            ["DOCKER001"],
            "CUDA 13.0 torch",
        ),
        (
            f"RUN python3 -m pip install 'https://download.pytorch.org/whl/cpu/torch-2.6.0%2Bcpu-cp312-cp312-linux_x86_64.whl' {ALL_DEPS}\n",
            ["DOCKER001"],
            "CPU-only",
        ),
        (
            "RUN pip install moshi==0.2.13 torchaudio\n",
            ["DOCKER002"],
            "julius, pydantic, setuptools",
        ),
        (
            f"RUN pip install {ALL_DEPS.replace('0.2.13', '0.2.10')}\n",
            ["DOCKER002"],
            "moshi==0.2.10",
        ),
        ("RUN pip install -r requirements.txt moshi==0.2.13\n", [], None),
        (
            "RUN uv sync --locked && uv pip install moshi==0.2.8\n",
            ["DOCKER002"],
            "requires moshi==0.2.13",
        ),
    ],
)
def test_python_installs(tmp_path: Path, body: str, expected: list[str], text: str | None) -> None:
    """Each hand-written install is judged against torch's wheels and moshi-server's pyproject."""
    found, messages = outcome_of(tmp_path, body)
    assert found == expected
    if text is not None:
        assert text in messages[0]


def test_findings_point_at_the_install_line(tmp_path: Path) -> None:
    """Evidence is the file and first line of the RUN that installs."""
    outcome = run(
        docker_python.CHECK,
        tmp_path,
        {"Dockerfile": HEAD + "RUN apt-get update\nRUN pip install \\\n    torch==2.6.0+cpu\n"},
    )
    assert set(where(outcome)) == {("Dockerfile", 4)}


def test_kyutai_shape_installs_nothing_by_hand(tmp_path: Path) -> None:
    """Kyutai's image makes the environment with uv sync in the start script: ok."""
    outcome = run(
        docker_python.CHECK, tmp_path, {"Dockerfile": GOOD_DOCKERFILE, "start.sh": GOOD_START}
    )
    assert outcome.findings == () and not outcome.skipped


def test_non_moshi_image_is_skipped(tmp_path: Path) -> None:
    """A client image that installs torch for itself is none of this check's business."""
    outcome = run(
        docker_python.CHECK, tmp_path, {"Dockerfile": "FROM python:3.12\nRUN pip install torch\n"}
    )
    assert outcome.skipped
