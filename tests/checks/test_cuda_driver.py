"""cuda.driver: CUDA005 when nvcc's CUDA release is newer than the driver's maximum."""

from __future__ import annotations

from typing import Any

import pytest

from kyudoctor.checks import cuda_driver
from kyudoctor.model import Outcome
from kyudoctor.rules import render_fix
from tests.healthy import facts, status
from tests.healthy import nvcc as healthy_nvcc

R550 = {"driver_version": "550.54.14", "driver_max_cuda": "12.4"}
R470 = {"driver_version": "470.82.01", "driver_max_cuda": "11.4"}
NO_DRIVER = {"source": None, "driver_version": None, "driver_max_cuda": None, "gpus": []}


def toolkit(release: str, version: str) -> dict[str, Any]:
    root = f"/usr/local/cuda-{release}"
    return {
        "root": root,
        "version": version,
        "release": release,
        "nvcc": f"{root}/bin/nvcc",
        "cuda_h": True,
    }


def run(**overrides: Any) -> Outcome:
    return cuda_driver.CHECK.run(facts(**overrides))


@pytest.mark.parametrize(
    ("overrides", "codes", "expected_status", "in_text"),
    [
        ({}, [], "ok", "the driver runs it"),
        ({"gpu": R550}, ["CUDA005"], "warning", "minor-version compatibility"),
        ({"gpu": R470}, ["CUDA005"], "warning", "does not run on this driver"),
        ({"gpu": {"driver_max_cuda": "13.0", "driver_version": "580.65.06"}}, [], "ok", None),
        ({"gpu": NO_DRIVER}, [], "skipped", "GPU001"),
        ({"gpu": None}, [], "skipped", "gpu probe"),
        ({"gpu": {"driver_max_cuda": None}}, [], "skipped", "did not report"),
        (
            {"nvcc": {"nvcc": {**healthy_nvcc.FACTS["nvcc"], "path": None, "release": None}}},
            [],
            "skipped",
            "CUDA001",
        ),
        (
            {
                "nvcc": {
                    "nvcc": {**healthy_nvcc.FACTS["nvcc"], "version": "13.0.88", "release": "13.0"}
                }
            },
            [],
            "skipped",
            "CUDA003",
        ),
    ],
    ids=[
        "healthy",
        "driver-12.4-minor-compat",
        "driver-11.4-older-major",
        "driver-newer",
        "no-driver",
        "gpu-probe-failed",
        "no-max-cuda",
        "no-nvcc",
        "cuda13",
    ],
)
def test_cuda_driver(
    overrides: dict[str, Any], codes: list[str], expected_status: str, in_text: str | None
) -> None:
    """Each situation gives exactly the expected codes, status and reason."""
    outcome = run(**overrides)
    assert [f.code for f in outcome.findings] == codes
    assert status(outcome) == expected_status
    if in_text is not None:
        assert in_text in (outcome.findings[0].message if outcome.findings else outcome.summary)


def test_driver_minimum_is_named_and_rendered() -> None:
    """The message and the catalog fix name the driver bundled with the toolkit's CUDA release."""
    finding = run(gpu=R550).findings[0]
    assert finding.message.startswith(
        "nvcc 12.8.93 builds for CUDA 12.8; driver 550.54.14 supports CUDA 12.4 at most"
    )
    assert finding.params["driver_min"] == "570.26"
    assert "570.26" in render_fix(finding, {}).text


def test_an_installed_older_toolkit_is_offered() -> None:
    """When a supported toolkit the driver runs is installed, the fix exports it."""
    toolkits = [toolkit("12.8", "12.8.93"), toolkit("12.4", "12.4.131")]
    finding = run(gpu=R550, nvcc={"toolkits": toolkits}).findings[0]
    assert "CUDA 12.4 in /usr/local/cuda-12.4 runs on this driver" in finding.message
    assert finding.commands == (
        "export CUDA_HOME=/usr/local/cuda-12.4 CUDA_PATH=/usr/local/cuda-12.4",
        'export PATH="$CUDA_HOME/bin:$PATH"',
    )
