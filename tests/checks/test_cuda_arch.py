"""cuda.arch: CUDA006 when nvcc cannot target the build's compute capability, or has none."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kyudoctor.checks import cuda_arch
from kyudoctor.model import Outcome
from kyudoctor.probes.cuda import parse_gpu_archs
from tests.healthy import facts, status
from tests.healthy import gpu as healthy_gpu
from tests.healthy import nvcc as healthy_nvcc
from tests.healthy import system as healthy_system

BANNERS = Path(__file__).resolve().parents[1] / "data" / "banners"
ARCHS_12_4 = parse_gpu_archs((BANNERS / "nvcc-12.4-archs.txt").read_text())
NO_DRIVER = {
    "source": None,
    "driver_version": None,
    "driver_max_cuda": None,
    "gpus": [],
    "error": "NVML Shared Library Not Found; nvidia-smi not found",
}
NOT_BUILT = {"install": None, "cargo_binary": None, "candidates": []}


def gpu(name: str, cc: str | None) -> dict[str, Any]:
    return {"gpus": [{**healthy_gpu.FACTS["gpus"][0], "name": name, "compute_cap": cc}]}


def env(**values: str) -> dict[str, Any]:
    return {"env": {**healthy_system.FACTS["env"], **values}}


def nvcc124() -> dict[str, Any]:
    record = {**healthy_nvcc.FACTS["nvcc"], "version": "12.4.131", "release": "12.4"}
    return {"nvcc": record, "gpu_archs": ARCHS_12_4}


def run(**overrides: Any) -> Outcome:
    return cuda_arch.CHECK.run(facts(**overrides))


@pytest.mark.parametrize(
    ("overrides", "codes", "expected_status"),
    [
        ({}, [], "ok"),
        ({"gpu": gpu("NVIDIA GeForce RTX 5090", "12.0"), "nvcc": nvcc124()}, ["CUDA006"], "error"),
        ({"gpu": gpu("NVIDIA GeForce RTX 5090", "12.0")}, [], "ok"),
        ({"system": env(CUDA_COMPUTE_CAP="120"), "nvcc": nvcc124()}, ["CUDA006"], "error"),
        ({"system": env(CUDA_COMPUTE_CAP="90"), "gpu": NO_DRIVER}, [], "ok"),
        ({"system": env(CUDA_COMPUTE_CAP="8.9")}, ["CUDA006"], "error"),
        ({"gpu": NO_DRIVER, "binary": NOT_BUILT}, [], "skipped"),
        ({"gpu": NO_DRIVER}, [], "skipped"),
        ({"nvcc": {"gpu_archs": None}}, [], "skipped"),
        ({"gpu": gpu("Tesla T4", "7.5")}, [], "skipped"),
        ({"gpu": gpu("NVIDIA GeForce RTX 4090", None)}, [], "ok"),
        ({"gpu": gpu("NVIDIA GeForce RTX 5090", None), "nvcc": nvcc124()}, ["CUDA006"], "error"),
        ({"gpu": gpu("Mystery GPU", None)}, [], "skipped"),
        ({"gpu": None}, [], "skipped"),
        (
            {
                "nvcc": {
                    "nvcc": {**healthy_nvcc.FACTS["nvcc"], "version": "13.0.88", "release": "13.0"}
                }
            },
            [],
            "skipped",
        ),
    ],
    ids=[
        "healthy-h100",
        "rtx5090-nvcc-12.4",
        "rtx5090-nvcc-12.8",
        "compute-cap-120-nvcc-12.4",
        "compute-cap-90-no-gpu",
        "compute-cap-dotted",
        "no-gpu-no-compute-cap",
        "no-gpu-no-compute-cap-built",
        "old-nvcc-no-list",
        "t4-below-bf16-is-gpu005",
        "cc-from-name",
        "cc-from-name-not-targetable",
        "unknown-gpu-name",
        "gpu-probe-failed",
        "cuda13",
    ],
)
def test_cuda_arch(overrides: dict[str, Any], codes: list[str], expected_status: str) -> None:
    """Each situation gives exactly the expected codes and status."""
    outcome = run(**overrides)
    assert [f.code for f in outcome.findings] == codes
    assert status(outcome) == expected_status


def test_untargetable_gpu_message() -> None:
    """The message names the GPU, its sm_XX, the nvcc and its range; the param is the digits."""
    finding = run(gpu=gpu("NVIDIA GeForce RTX 5090", "12.0"), nvcc=nvcc124()).findings[0]
    assert finding.message.startswith(
        "GPU 0 NVIDIA GeForce RTX 5090 has compute capability 12.0 (sm_120), which nvcc 12.4.131 "
        "cannot target (its --list-gpu-arch: 5.0 to 9.0)"
    )
    assert finding.params == {"compute_cap": "120"}


def test_no_gpu_is_gpu001s_problem_and_the_skip_says_what_to_set() -> None:
    """Without a GPU the comparison is skipped naming GPU001, with CUDA_COMPUTE_CAP as the way out."""
    outcome = run(gpu=NO_DRIVER, binary=NOT_BUILT)
    assert outcome.skipped and not outcome.findings
    assert "GPU001" in outcome.summary and "CUDA_COMPUTE_CAP" in outcome.summary


def test_dotted_compute_cap_message() -> None:
    """A dotted CUDA_COMPUTE_CAP is explained with the digits spelling of this GPU."""
    message = run(system=env(CUDA_COMPUTE_CAP="8.9")).findings[0].message
    assert message == (
        "CUDA_COMPUTE_CAP='8.9' is not a compute capability in digits: the build reads it as a "
        "number such as 90"
    )


def test_skip_reasons_name_the_root_cause() -> None:
    """Skips say why: GPU005 for a T4, the missing flag for an old nvcc."""
    assert "GPU005" in run(gpu=gpu("Tesla T4", "7.5")).summary
    assert "--list-gpu-arch" in run(nvcc={"gpu_archs": None}).summary
