"""docker.parse: DOCKER008 for files that cannot be read or parsed, with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from kyudoctor.checks import docker_parse
from tests.dockerfiles import GOOD_DOCKERFILE, codes, run, where


def test_nothing_to_lint_is_skipped(tmp_path: Path) -> None:
    """With no Dockerfile or compose file the check is skipped and says where it looked."""
    outcome = run(docker_parse.CHECK, tmp_path, {})
    assert outcome.skipped and str(tmp_path) in outcome.summary


def test_parsable_files_are_ok(tmp_path: Path) -> None:
    """Files that parse give no finding."""
    outcome = run(
        docker_parse.CHECK,
        tmp_path,
        {"Dockerfile": GOOD_DOCKERFILE, "compose.yaml": "services: {}\n"},
    )
    assert not outcome.skipped and outcome.findings == ()


@pytest.mark.parametrize(
    ("tree", "location", "text"),
    [
        ({"Dockerfile": "FROM ubuntu\nRUN true\nCOPPY . .\n"}, ("Dockerfile", 3), "COPPY"),
        ({"compose.yaml": "services:\n  tts:\n\timage: x\n"}, ("compose.yaml", 3), "tabs"),
        (
            {"compose.yaml": "services:\n  a:\n    image: x\n  a:\n"},
            ("compose.yaml", 4),
            "duplicate",
        ),
        (
            {"docker-compose.yml": "services:\n  tts:\n    build: ./tts\n"},
            ("docker-compose.yml", 3),
            "tts/Dockerfile, which does not exist",
        ),
        ({"Dockerfile": b"\xff\xfeF\x00"}, ("Dockerfile", 1), "UTF-16"),
    ],
)
def test_unparsable_files(
    tmp_path: Path, tree: dict[str, str | bytes], location: tuple[str, int], text: str
) -> None:
    """Each unreadable or broken file is one DOCKER008 pointing at its file and line."""
    outcome = run(docker_parse.CHECK, tmp_path, tree)
    assert codes(outcome) == ["DOCKER008"]
    assert where(outcome) == [location]
    assert text in outcome.findings[0].message
