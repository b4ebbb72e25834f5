"""gpu.driver: GPU001 without a reachable driver or GPU, GPU002 in a container without the GPU;
and the root-cause rule across the four gpu.* checks."""

from __future__ import annotations

from typing import Any

import pytest

from kyudoctor.checks import gpu_capability, gpu_driver, gpu_driver_cuda, gpu_memory
from kyudoctor.model import Outcome
from kyudoctor.rules import render_fix, severity_of
from tests.healthy import facts

NO_DRIVER: dict[str, Any] = {
    "source": None,
    "nvml": {"loaded": False, "error": "NVML Shared Library Not Found"},
    "nvidia_smi": {"path": None, "returncode": None, "error": "not found on PATH"},
    "driver_version": None,
    "driver_max_cuda": None,
    "gpus": [],
    "error": "NVML: NVML Shared Library Not Found; nvidia-smi: not found on PATH",
}
SMI_FAILED: dict[str, Any] = {
    **NO_DRIVER,
    "nvidia_smi": {
        "path": "/usr/bin/nvidia-smi",
        "returncode": 9,
        "error": "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. "
        "Make sure that the latest NVIDIA driver is installed and running.",
    },
    "error": "NVML: Driver Not Loaded; nvidia-smi: NVIDIA-SMI has failed because it couldn't "
    "communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed "
    "and running.",
}
NO_GPUS: dict[str, Any] = {
    **NO_DRIVER,
    "source": "nvidia-smi",
    "nvidia_smi": {
        "path": "/usr/bin/nvidia-smi",
        "returncode": 6,
        "error": "No devices were found",
    },
    "error": "No devices were found",
}
CONTAINER = {
    "container": {"inside": True, "evidence": ["/.dockerenv"]},
    "dev_nvidia": [],
    "env": {"NVIDIA_VISIBLE_DEVICES": "all", "PATH": "/usr/local/cuda/bin:/usr/bin:/bin"},
}
PLAIN_CONTAINER = {
    "container": {"inside": True, "evidence": ["/.dockerenv"]},
    "dev_nvidia": [],
    "env": {"PATH": "/usr/bin:/bin"},
}
CONTAINER_WITH_DEVICES = {
    "container": {"inside": True, "evidence": ["/.dockerenv"]},
    "dev_nvidia": ["/dev/nvidia0", "/dev/nvidiactl"],
}
MACOS = {"os": {"system": "Darwin", "release": "24.3.0", "machine": "arm64", "is_wsl": False}}

SECOND_GPU = {
    "index": 1,
    "name": "NVIDIA H100 80GB HBM3",
    "uuid": "GPU-1a2b3c4d-5e6f-7081-92a3-b4c5d6e7f809",
    "compute_cap": "9.0",
    "memory_total_mib": 81559,
    "memory_free_mib": 81004,
    "memory_used_mib": 1,
    "processes": [],
}


def run(gpu: dict[str, Any] | None = None, system: dict[str, Any] | None = None) -> Outcome:
    return gpu_driver.CHECK.run(facts(gpu=gpu or {}, system=system or {}))


@pytest.mark.parametrize(
    ("gpu", "system", "code"),
    [
        ({}, {}, None),
        (NO_DRIVER, {}, "GPU001"),
        (SMI_FAILED, {}, "GPU001"),
        (NO_GPUS, {}, "GPU001"),
        (NO_DRIVER, CONTAINER, "GPU002"),
        (NO_GPUS, CONTAINER, "GPU002"),
        (NO_DRIVER, CONTAINER_WITH_DEVICES, "GPU001"),
        (NO_DRIVER, PLAIN_CONTAINER, "GPU001"),
    ],
    ids=[
        "healthy",
        "no-driver",
        "smi-fails",
        "no-gpus",
        "container-no-driver",
        "container-no-gpus",
        "container-devices",
        "container-image-asks-no-gpu",
    ],
)
def test_codes(gpu: dict[str, Any], system: dict[str, Any], code: str | None) -> None:
    """Each situation gives its one code (GPU002 replaces GPU001 in a GPU-less container)."""
    outcome = run(gpu, system)
    assert not outcome.skipped
    assert [f.code for f in outcome.findings] == ([code] if code else [])
    for finding in outcome.findings:
        assert severity_of(finding).value == "error"


def test_healthy_summary() -> None:
    """The healthy H100 host is ok with driver, CUDA version and the GPU named."""
    assert run().summary == "driver 570.124.06, CUDA 12.8, 1 GPU: NVIDIA H100 80GB HBM3"


def test_two_gpus_summary() -> None:
    """Several GPUs are counted and named."""
    gpus = [facts()["gpu"]["gpus"][0], SECOND_GPU]
    assert run({"gpus": gpus}).summary.endswith(
        "2 GPUs: NVIDIA H100 80GB HBM3, NVIDIA H100 80GB HBM3"
    )


def test_no_driver_message_has_the_real_errors() -> None:
    """GPU001's message carries what NVML and nvidia-smi said."""
    (finding,) = run(SMI_FAILED).findings
    assert "Driver Not Loaded" in finding.message
    assert "couldn't communicate with the NVIDIA driver" in finding.message
    assert finding.evidence["nvidia_smi"] == "/usr/bin/nvidia-smi"


def test_no_gpus_message() -> None:
    """A driver that answers with no GPU is told apart from a missing driver."""
    (finding,) = run(NO_GPUS).findings
    assert "answered but lists no GPU (No devices were found)" in finding.message


def test_container_fix() -> None:
    """GPU002 names the container evidence and the fix gives --gpus all."""
    (finding,) = run(NO_DRIVER, CONTAINER).findings
    assert finding.message.startswith("inside a container (/.dockerenv) with no /dev/nvidia*")
    assert "--gpus all" in render_fix(finding, {}).text


def test_container_that_asks_for_no_gpu_is_gpu001_mentioning_gpu002() -> None:
    """A container whose image asks for no GPU gets GPU001, whose message names the container case."""
    (finding,) = run(NO_DRIVER, PLAIN_CONTAINER).findings
    assert finding.code == "GPU001"
    assert "inside a container (/.dockerenv)" in finding.message and "GPU002" in finding.message


def test_platform_without_driver_is_env001() -> None:
    """On macOS the missing driver is ENV001's consequence: skipped, naming ENV001."""
    outcome = run(NO_DRIVER, MACOS)
    assert outcome.skipped and "ENV001" in outcome.summary


def test_without_system_facts() -> None:
    """With the system probe failed, a missing driver is still GPU001."""
    outcome = gpu_driver.CHECK.run(facts(gpu=NO_DRIVER, system=None))
    assert [f.code for f in outcome.findings] == ["GPU001"]


@pytest.mark.parametrize(
    ("gpu", "system", "code"),
    [(NO_DRIVER, {}, "GPU001"), (NO_GPUS, {}, "GPU001"), (NO_DRIVER, CONTAINER, "GPU002")],
    ids=["no-driver", "no-gpus", "container"],
)
def test_no_driver_reports_one_code(gpu: dict[str, Any], system: dict[str, Any], code: str) -> None:
    """No driver: one code only; capability, memory and driver CUDA are skipped naming it."""
    all_facts = facts(gpu=gpu, system=system)
    codes = [f.code for f in gpu_driver.CHECK.run(all_facts).findings]
    assert codes == [code]
    for module in (gpu_capability, gpu_memory, gpu_driver_cuda):
        outcome = module.CHECK.run(all_facts)
        assert outcome.skipped and outcome.findings == ()
        assert code in outcome.summary
