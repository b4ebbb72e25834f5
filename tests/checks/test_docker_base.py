"""docker.base_image: DOCKER005 for stages that build moshi-server from an unsuitable base."""

from __future__ import annotations

from pathlib import Path

import pytest

from kyudoctor.checks import docker_base
from tests.dockerfiles import GOOD_DOCKERFILE, GOOD_START, codes, run, where

BUILD_IN_RUN = "RUN cargo install --features cuda moshi-server@0.6.4\n"


@pytest.mark.parametrize(
    ("dockerfile", "expected"),
    [
        ("FROM nvidia/cuda:12.8.1-devel-ubuntu22.04\n" + BUILD_IN_RUN, []),
        ("FROM nvidia/cuda:12.1.0-cudnn8-devel-ubuntu22.04\n" + BUILD_IN_RUN, []),
        ("FROM nvidia/cuda:12.8.1-runtime-ubuntu22.04\n" + BUILD_IN_RUN, ["nvcc"]),
        ("FROM nvcr.io/nvidia/cuda:12.4.1-base-ubuntu22.04\n" + BUILD_IN_RUN, ["nvcc"]),
        ("FROM nvidia/cuda:13.0.1-devel-ubuntu24.04\n" + BUILD_IN_RUN, ["CUDA 13.0.1"]),
        ("FROM nvidia/cuda:11.2.2-devel-ubuntu20.04\n" + BUILD_IN_RUN, ["CUDA 11.2.2"]),
        ("FROM ubuntu:22.04\n" + BUILD_IN_RUN, ["no CUDA toolkit"]),
        ("FROM rust:1.85-bookworm\n" + BUILD_IN_RUN, ["no CUDA toolkit"]),
        ("FROM pytorch/pytorch:2.6.0-cuda12.4-cudnn9-runtime\n" + BUILD_IN_RUN, ["nvcc"]),
        ("FROM pytorch/pytorch:2.6.0-cuda12.4-cudnn9-devel\n" + BUILD_IN_RUN, []),
        (
            "FROM nvidia/cuda:12.8.1-runtime-ubuntu22.04\n"
            "RUN apt-get install -y cuda-nvcc-12-8 cuda-cudart-dev-12-8\n" + BUILD_IN_RUN,
            [],
        ),
        ("FROM mycorp/gpu-base:3\n" + BUILD_IN_RUN, []),
        # Multi-stage: built in a devel stage, run from a runtime image: fine.
        (
            "ARG CUDA=12.8.1\n"
            "FROM nvidia/cuda:${CUDA}-devel-ubuntu22.04 AS build\n" + BUILD_IN_RUN + "FROM "
            "nvidia/cuda:${CUDA}-runtime-ubuntu22.04\n"
            "COPY --from=build /root/.cargo/bin/moshi-server /usr/local/bin/\n",
            [],
        ),
        # A stage FROM an earlier stage inherits its base.
        (
            "FROM nvidia/cuda:12.8.1-runtime-ubuntu22.04 AS base\nFROM base AS build\n"
            + BUILD_IN_RUN,
            ["nvcc"],
        ),
    ],
)
def test_base_images(tmp_path: Path, dockerfile: str, expected: list[str]) -> None:
    """Runtime/base images, CUDA outside the build range and plain images fail; devel passes."""
    outcome = run(docker_base.CHECK, tmp_path, {"Dockerfile": dockerfile})
    assert codes(outcome) == ["DOCKER005"] * len(expected)
    for finding, text in zip(outcome.findings, expected, strict=True):
        assert text in finding.message


def test_build_at_container_start_judges_the_final_image(tmp_path: Path) -> None:
    """Kyutai builds in the start script: the final image's base must have nvcc."""
    dockerfile = GOOD_DOCKERFILE.replace("12.8.1-devel", "12.8.1-runtime")
    outcome = run(docker_base.CHECK, tmp_path, {"Dockerfile": dockerfile, "start.sh": GOOD_START})
    assert codes(outcome) == ["DOCKER005"]
    assert where(outcome) == [("Dockerfile", 1)]
    assert "start.sh:4" in outcome.findings[0].message


def test_no_build_is_skipped(tmp_path: Path) -> None:
    """A Dockerfile that never builds moshi-server is not judged."""
    outcome = run(
        docker_base.CHECK, tmp_path, {"Dockerfile": "FROM python:3.12\nRUN pip install x\n"}
    )
    assert outcome.skipped
