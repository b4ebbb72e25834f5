"""docker.gpu: DOCKER004 for compose services running moshi-server without a GPU."""

from __future__ import annotations

from pathlib import Path

import pytest

from kyudoctor.checks import docker_compose_gpu
from tests.dockerfiles import GOOD_DOCKERFILE, GOOD_START, codes, run, where

DEPLOY = """\
    deploy:
      resources:
        reservations:
          devices:
            - driver: nvidia
              count: all
              capabilities: [gpu]
"""


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        ("    image: moshi-server:latest\n" + DEPLOY, []),
        ("    image: moshi-server:latest\n    gpus: all\n", []),
        (
            "    image: moshi-server:latest\n    runtime: nvidia\n",
            [],
        ),
        ("    image: moshi-server:latest\n    devices:\n      - nvidia.com/gpu=all\n", []),
        ("    image: moshi-server:latest\n", ["DOCKER004"]),
        (
            "    image: moshi-server:latest\n" + DEPLOY.replace("count: all", "count: 0"),
            ["DOCKER004"],
        ),
        ("    image: moshi-server:latest\n" + DEPLOY.replace("[gpu]", "[compute]"), ["DOCKER004"]),
        (
            "    image: nvidia/cuda:12.8.1-devel-ubuntu22.04\n    command: moshi-server worker\n",
            ["DOCKER004"],
        ),
        ('    image: kyutai/tts\n    command: ["worker", "--config", "/c.toml"]\n', ["DOCKER004"]),
        ("    image: postgres:16\n", []),
    ],
)
def test_services(tmp_path: Path, service: str, expected: list[str]) -> None:
    """A moshi-server service needs deploy devices, gpus, runtime: nvidia or a CDI device."""
    outcome = run(
        docker_compose_gpu.CHECK, tmp_path, {"compose.yaml": f"services:\n  tts:\n{service}"}
    )
    assert codes(outcome) == expected
    if expected:
        assert where(outcome) == [("compose.yaml", 2)]


def test_service_built_from_a_moshi_server_dockerfile(tmp_path: Path) -> None:
    """A service whose built image starts moshi-server is judged even with a neutral name."""
    tree = {
        "docker-compose.yml": "services:\n  speech:\n    build: .\n",
        "Dockerfile": GOOD_DOCKERFILE,
        "start.sh": GOOD_START,
    }
    outcome = run(docker_compose_gpu.CHECK, tmp_path, tree)
    assert codes(outcome) == ["DOCKER004"]
    assert "image (Dockerfile) runs moshi-server" in outcome.findings[0].message


def test_anchor_and_extends_carry_the_reservation(tmp_path: Path) -> None:
    """A reservation merged from an anchor or inherited with extends counts."""
    compose = (
        "x-gpu: &gpu\n  gpus: all\n"
        "services:\n"
        "  base:\n    image: redis\n" + DEPLOY.replace("    ", "    ", 1) + "  tts:\n"
        "    <<: *gpu\n    image: moshi-server\n"
        "  stt:\n    extends: base\n    image: moshi-server\n"
    )
    outcome = run(docker_compose_gpu.CHECK, tmp_path, {"compose.yaml": compose})
    assert codes(outcome) == [] and not outcome.skipped


def test_extends_from_another_file_is_not_guessed(tmp_path: Path) -> None:
    """A service extending one of another file is left alone (that file is not read)."""
    compose = "services:\n  tts:\n    image: moshi-server\n    extends:\n      file: base.yml\n      service: gpu\n"
    outcome = run(docker_compose_gpu.CHECK, tmp_path, {"compose.yaml": compose})
    assert outcome.skipped and "another file" in outcome.summary


def test_no_compose_is_skipped(tmp_path: Path) -> None:
    """Only Dockerfiles: nothing for this check."""
    outcome = run(docker_compose_gpu.CHECK, tmp_path, {"Dockerfile": GOOD_DOCKERFILE})
    assert outcome.skipped
