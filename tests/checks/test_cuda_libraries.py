"""cuda.libraries: CUDA004 for CUDA libraries that resolve nowhere, not for ldd, or only in the
toolkit directory."""

from __future__ import annotations

from typing import Any

import pytest

from kyudoctor.checks import cuda_libraries
from kyudoctor.model import Outcome
from tests.healthy import binary as healthy_binary
from tests.healthy import facts, status
from tests.healthy import nvcc as healthy_nvcc

LIB64 = healthy_nvcc.LIB64


def libraries(**changes: dict[str, Any]) -> dict[str, Any]:
    out = {k: dict(v) for k, v in healthy_nvcc.FACTS["libraries"].items()}
    for name, change in changes.items():
        out[name].update(change)
    return out


def ldd(*not_found: str) -> dict[str, Any]:
    return {**healthy_binary.FACTS["ldd"], "not_found": list(not_found)}


NOWHERE = {"resolved": None, "where": None, "in_toolkit": None}
TOOLKIT_ONLY = {"resolved": f"{LIB64}/libcublas.so.12", "where": "toolkit"}
NO_NVCC = {
    "nvcc": {**healthy_nvcc.FACTS["nvcc"], "path": None, "version": None, "release": None},
    "toolkit_root": None,
    "libraries": libraries(libcublas=NOWHERE),
}
NOT_BUILT = {"install": None, "cargo_binary": None, "candidates": [], "ldd": {"ran": False}}
NO_DRIVER = {"source": None, "driver_version": None, "driver_max_cuda": None, "gpus": []}


def run(**overrides: Any) -> Outcome:
    return cuda_libraries.CHECK.run(facts(**overrides))


@pytest.mark.parametrize(
    ("overrides", "codes", "expected_status"),
    [
        ({}, [], "ok"),
        ({"nvcc": {"libraries": libraries(libcublas=NOWHERE)}}, ["CUDA004"], "error"),
        ({"nvcc": {"libraries": libraries(libcublas=TOOLKIT_ONLY)}}, ["CUDA004"], "warning"),
        ({"binary": {"ldd": ldd("libcublas.so.12")}}, ["CUDA004"], "error"),
        ({"binary": {"ldd": ldd("libcublasLt.so.12")}}, ["CUDA004"], "error"),
        ({"binary": {"ldd": ldd("libpython3.12.so.1.0")}}, [], "ok"),
        ({"binary": {"ldd": ldd("libcuda.so.1")}, "gpu": NO_DRIVER}, [], "ok"),
        ({"binary": {"ldd": ldd("libcuda.so.1")}}, ["CUDA004"], "error"),
        ({"nvcc": NO_NVCC, "binary": NOT_BUILT}, [], "skipped"),
        ({"nvcc": NO_NVCC}, ["CUDA004"], "error"),
        (
            {
                "nvcc": {"nvcc": {**healthy_nvcc.FACTS["nvcc"], "release": "13.0"}},
                "binary": NOT_BUILT,
            },
            [],
            "skipped",
        ),
    ],
    ids=[
        "healthy",
        "cublas-nowhere",
        "cublas-toolkit-only",
        "ldd-cublas-not-found",
        "ldd-cublaslt-not-found",
        "ldd-libpython-is-bin005",
        "ldd-libcuda-without-driver-is-gpu001",
        "ldd-libcuda-with-driver",
        "no-nvcc-not-built",
        "no-nvcc-but-built",
        "cuda13-not-built",
    ],
)
def test_cuda_libraries(overrides: dict[str, Any], codes: list[str], expected_status: str) -> None:
    """Each situation gives exactly the expected codes and status."""
    outcome = run(**overrides)
    assert [f.code for f in outcome.findings] == codes
    assert status(outcome) == expected_status


def test_missing_everywhere_names_the_package() -> None:
    """A library found nowhere names the places looked at and the CUDA libraries package."""
    finding = run(nvcc={"libraries": libraries(libcublas=NOWHERE)}).findings[0]
    assert finding.message.startswith(
        "libcublas not found in LD_LIBRARY_PATH, the ldconfig cache or /usr/local/cuda-12.8"
    )
    assert "`cuda-libraries-12-8`" in finding.message
    assert finding.commands == ()


def test_toolkit_only_fix_points_the_loader_at_lib64() -> None:
    """A library only in the toolkit gets the exact LD_LIBRARY_PATH and ldconfig lines."""
    finding = run(nvcc={"libraries": libraries(libcublas=TOOLKIT_ONLY)}).findings[0]
    assert "libcublas only in /usr/local/cuda-12.8/lib64" in finding.message
    assert finding.commands == (
        'export LD_LIBRARY_PATH="/usr/local/cuda-12.8/lib64:$LD_LIBRARY_PATH"',
        "echo /usr/local/cuda-12.8/lib64 | sudo tee /etc/ld.so.conf.d/cuda.conf && sudo ldconfig",
    )


def test_ldd_fix_when_the_library_is_in_the_toolkit() -> None:
    """ldd's missing libcublas that the toolkit has: the loader lines, without sudo for root."""
    outcome = run(binary={"ldd": ldd("libcublas.so.12")}, system={"is_root": True})
    finding = outcome.findings[0]
    assert (
        "`ldd /home/kyu/.cargo/bin/moshi-server`: libcublas.so.12 => not found" in finding.message
    )
    assert finding.commands == (
        'export LD_LIBRARY_PATH="/usr/local/cuda-12.8/lib64:$LD_LIBRARY_PATH"',
        "echo /usr/local/cuda-12.8/lib64 | tee /etc/ld.so.conf.d/cuda.conf && ldconfig",
    )


def test_libcuda_without_driver_is_left_to_gpu001() -> None:
    """libcuda.so.1 missing with no driver is noted as GPU001's, not reported."""
    outcome = run(binary={"ldd": ldd("libcuda.so.1")}, gpu=NO_DRIVER)
    assert "(GPU001)" in outcome.summary
