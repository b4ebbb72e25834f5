"""docker.healthcheck: DOCKER006 for health checks that give up before moshi-server starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from kyudoctor.checks import docker_healthcheck
from kyudoctor.rules import render_fix
from tests.dockerfiles import GOOD_DOCKERFILE, GOOD_START, codes, run, where


@pytest.mark.parametrize(
    ("healthcheck", "expected"),
    [
        ("HEALTHCHECK --start-period=10m CMD curl --fail http://localhost:8080/api/build_info", []),
        ("HEALTHCHECK --start-period=1h CMD true", []),
        ("HEALTHCHECK --start-period=5m CMD true", ["DOCKER006"]),
        ("HEALTHCHECK --interval=30s CMD true", ["DOCKER006"]),
        ("HEALTHCHECK NONE", []),
    ],
)
def test_dockerfile_healthcheck(tmp_path: Path, healthcheck: str, expected: list[str]) -> None:
    """The start period of the image's HEALTHCHECK, absent meaning 0s."""
    dockerfile = GOOD_DOCKERFILE.replace(
        "HEALTHCHECK --start-period=10m CMD curl --fail http://localhost:8080/api/build_info",
        healthcheck,
    )
    outcome = run(
        docker_healthcheck.CHECK, tmp_path, {"Dockerfile": dockerfile, "start.sh": GOOD_START}
    )
    assert codes(outcome) == expected
    if expected:
        assert where(outcome) == [("Dockerfile", 7)]
        assert "builds moshi-server" in outcome.findings[0].message


@pytest.mark.parametrize(
    ("health", "expected", "line"),
    [
        ("      start_period: 10m\n", [], None),
        ("      start_period: 90s\n", ["DOCKER006"], 5),
        ("      interval: 10s\n", ["DOCKER006"], 3),
        ("      start_period: 1m\n      disable: true\n", [], None),
    ],
)
def test_compose_healthcheck(
    tmp_path: Path, health: str, expected: list[str], line: int | None
) -> None:
    """A compose healthcheck of a moshi-server service, pointing at its start_period line."""
    compose = (
        "services:\n"
        "  tts:\n"
        "    healthcheck:\n"
        '      test: ["CMD", "curl", "-f", "http://localhost:8089/api/build_info"]\n'
        + health
        + "    image: moshi-server\n"
    )
    outcome = run(docker_healthcheck.CHECK, tmp_path, {"compose.yaml": compose})
    assert codes(outcome) == expected
    if line is not None:
        assert where(outcome) == [("compose.yaml", line)]
        fix = render_fix(outcome.findings[0], {})
        assert "http://localhost:8089/api/build_info" in fix.text


def test_not_a_moshi_server_service(tmp_path: Path) -> None:
    """Health checks of other services are none of this check's business."""
    compose = (
        "services:\n  db:\n    image: postgres\n    healthcheck:\n      test: [CMD, pg_isready]\n"
    )
    outcome = run(docker_healthcheck.CHECK, tmp_path, {"compose.yaml": compose})
    assert outcome.skipped
