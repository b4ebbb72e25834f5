"""docker.install: DOCKER003 moshi-server run but never installed; DOCKER007 bare name."""

from __future__ import annotations

from pathlib import Path

import pytest

from kyudoctor.checks import docker_install
from tests.dockerfiles import GOOD_DOCKERFILE, GOOD_START, codes, run, where


def test_kyutai_shape_is_ok(tmp_path: Path) -> None:
    """Installed at start by cargo, run by full path: no finding."""
    outcome = run(
        docker_install.CHECK, tmp_path, {"Dockerfile": GOOD_DOCKERFILE, "start.sh": GOOD_START}
    )
    assert outcome.findings == () and not outcome.skipped


@pytest.mark.parametrize(
    ("tree", "expected", "location"),
    [
        (
            {
                "Dockerfile": 'FROM nvidia/cuda:12.8.1-devel-ubuntu22.04\nCMD ["moshi-server", "worker"]\n'
            },
            ["DOCKER003"],
            ("Dockerfile", 2),
        ),
        (
            {
                "Dockerfile": GOOD_DOCKERFILE,
                "start.sh": "#!/bin/bash\nexec /root/.cargo/bin/moshi-server worker\n",
            },
            ["DOCKER003"],
            ("start.sh", 2),
        ),
        (
            {
                "Dockerfile": "FROM nvidia/cuda:12.8.1-devel-ubuntu22.04\n"
                "RUN pip install moshi && cargo install --features cuda moshi-server\n"
                "CMD moshi-server worker --config /c.toml\n",
            },
            ["DOCKER007"],
            ("Dockerfile", 3),
        ),
        (
            {
                "Dockerfile": "FROM nvidia/cuda:12.8.1-devel-ubuntu22.04\n"
                "RUN pip install 'moshi<0.2.8' && cargo install --features cuda moshi-server\n"
                'CMD ["moshi-server", "worker"]\n',
            },
            ["DOCKER007"],
            ("Dockerfile", 3),
        ),
        (
            {
                "Dockerfile": "FROM nvidia/cuda:12.8.1-devel-ubuntu22.04\n"
                "RUN pip install moshi==0.2.13 && cargo install --features cuda moshi-server\n"
                'CMD ["moshi-server", "worker"]\n',
            },
            [],
            None,
        ),
        (
            {
                "Dockerfile": "FROM nvidia/cuda:12.8.1-devel-ubuntu22.04\n"
                "RUN pip install moshi==0.2.7\n"
                'CMD ["moshi-server", "worker"]\n',
            },
            ["DOCKER003", "DOCKER007"],
            ("Dockerfile", 3),
        ),
    ],
)
def test_findings(
    tmp_path: Path, tree: dict[str, str], expected: list[str], location: tuple[str, int] | None
) -> None:
    """Not installed anywhere, or called by bare name beside an old Python moshi."""
    outcome = run(docker_install.CHECK, tmp_path, tree)
    assert codes(outcome) == expected
    if location is not None:
        assert where(outcome)[0] == location


@pytest.mark.parametrize(
    "dockerfile",
    [
        # Built in a builder stage, copied in.
        "FROM nvidia/cuda:12.8.1-devel-ubuntu22.04 AS build\n"
        "RUN cargo install --features cuda moshi-server\n"
        "FROM nvidia/cuda:12.8.1-runtime-ubuntu22.04\n"
        "COPY --from=build /root/.cargo/bin/moshi-server /usr/local/bin/moshi-server\n"
        'CMD ["/usr/local/bin/moshi-server", "worker"]\n',
        # A base image of unknown content may hold it.
        'FROM mycorp/tts-base:1\nCMD ["moshi-server", "worker"]\n',
        # A base image named after it.
        'FROM ghcr.io/example/moshi-server:0.6.4\nCMD ["moshi-server", "worker"]\n',
        # Built and run with cargo run at start.
        "FROM nvidia/cuda:12.8.1-devel-ubuntu22.04\nCMD cargo run --release --bin moshi-server -- worker\n",
    ],
)
def test_installed_in_other_ways(tmp_path: Path, dockerfile: str) -> None:
    """A copied binary, a base image that may hold it, or cargo run count as installed."""
    outcome = run(docker_install.CHECK, tmp_path, {"Dockerfile": dockerfile})
    assert codes(outcome) == []


def test_image_without_moshi_server_is_skipped(tmp_path: Path) -> None:
    """A Dockerfile that does not start moshi-server is not judged."""
    outcome = run(
        docker_install.CHECK, tmp_path, {"Dockerfile": 'FROM node:22\nCMD ["node", "x"]\n'}
    )
    assert outcome.skipped
