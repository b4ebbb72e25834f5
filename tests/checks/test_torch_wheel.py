"""torch.wheel (TORCH002, TORCH005, TORCH008): healthy facts with one field changed, and the real
CPU torch wheel seen through the python probe."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kyudoctor.checks import torch_wheel
from kyudoctor.probes.python_env import probe
from tests.conftest import MakeCtx
from tests.healthy import facts
from tests.healthy import gpu as healthy_gpu
from tests.healthy import python as healthy_python
from tests.helpers_venv import Venv

VENV_PY = "/home/kyu/tts/.venv/bin/python"


def torch(version: str, cuda: str | None, hip: str | None = None) -> dict[str, Any]:
    """Python facts with another torch build installed (distribution and version.py)."""
    dists = copy.deepcopy(healthy_python.FACTS["distributions"])
    dists["torch"]["version"] = version
    facts_torch = {**healthy_python.FACTS["torch"], "version": version, "cuda": cuda, "hip": hip}
    return {"distributions": dists, "torch": facts_torch}


def gpu(
    driver: str, max_cuda: str, name: str = "NVIDIA H100 80GB HBM3", cc: str | None = "9.0"
) -> dict[str, Any]:
    """GPU facts with another driver and GPU model."""
    card = {**healthy_gpu.FACTS["gpus"][0], "name": name, "compute_cap": cc}
    return {"driver_version": driver, "driver_max_cuda": max_cuda, "gpus": [card]}


NO_DRIVER: dict[str, Any] = {
    "source": None,
    "driver_version": None,
    "driver_max_cuda": None,
    "gpus": [],
    "error": "NVML Shared Library Not Found",
}


def test_healthy() -> None:
    """torch 2.9.1+cu128 on driver 570 (CUDA 12.8) and an H100 is ok."""
    outcome = torch_wheel.check(facts())
    assert not outcome.skipped and not outcome.findings
    assert "sm_90 supported" in outcome.summary


@pytest.mark.parametrize(
    ("python", "gpu_facts", "flavour", "words"),
    [
        pytest.param(torch("2.9.1+cpu", None), {}, "cu128", "suits this driver", id="cpu-wheel"),
        pytest.param(torch("2.9.1", None), {}, "cu128", "a CPU-only build", id="cpu-by-version-py"),
        pytest.param(
            torch("2.6.0+rocm6.2.4", None, hip="6.2.41133"),
            {},
            "cu126",
            "a ROCm build",
            id="rocm-wheel",
        ),
        pytest.param(
            torch("2.9.1+cpu", None),
            NO_DRIVER,
            "cu128",
            "no driver information",
            id="cpu-wheel-no-driver",
        ),
        pytest.param(
            torch("2.6.0+cpu", None),
            gpu("550.54.14", "12.4", "NVIDIA L4", "8.9"),
            "cu124",
            "the cu124 build suits this driver (CUDA 12.4) and GPU (sm_89)",
            id="cpu-wheel-driver-12.4",
        ),
    ],
)
def test_torch002(
    python: dict[str, Any], gpu_facts: dict[str, Any], flavour: str, words: str
) -> None:
    """A CPU or ROCm build is TORCH002, fixed from the index that suits the driver and GPU."""
    outcome = torch_wheel.check(facts(python=python, gpu=gpu_facts))
    (finding,) = outcome.findings
    assert finding.code == "TORCH002"
    assert words in finding.message
    assert finding.params["flavour"] == flavour
    assert finding.commands is not None
    assert finding.commands[0].endswith(f"--index-url https://download.pytorch.org/whl/{flavour}")


def test_torch002_command() -> None:
    """The reinstall command pins the public version and the matching torchaudio."""
    (finding,) = torch_wheel.check(facts(python=torch("2.9.1+cpu", None))).findings
    command = (
        f"{VENV_PY} -m pip install --force-reinstall torch==2.9.1 torchaudio==2.9.1 "
        "--index-url https://download.pytorch.org/whl/cu128"
    )
    assert finding.commands == (command,)


def test_torch002_when_the_driver_is_too_old_for_every_build() -> None:
    """A CPU wheel on a driver no CUDA build of that torch supports says to upgrade the driver."""
    change = gpu("470.57.02", "11.4")
    (finding,) = torch_wheel.check(facts(python=torch("2.9.1+cpu", None), gpu=change)).findings
    assert "upgrade the driver (GPU003)" in finding.message


def test_torch005_wheel_newer_than_driver() -> None:
    """A cu130 wheel on a CUDA 12.8 driver is TORCH005, fixed with cu128 or a 580 driver."""
    change = torch("2.9.1+cu130", "13.0")
    (finding,) = torch_wheel.check(facts(python=change)).findings
    assert finding.code == "TORCH005"
    assert "built for CUDA 13.0, but driver 570.124.06 supports CUDA 12.8 at most" in (
        finding.message
    )
    assert finding.params["flavour"] == "cu128"
    assert finding.params["driver_min"] == "580.65.06"
    command = (
        f"{VENV_PY} -m pip install --force-reinstall torch==2.9.1 torchaudio==2.9.1 "
        "--index-url https://download.pytorch.org/whl/cu128"
    )
    assert finding.commands == (command,)


def test_minor_version_compatibility_is_not_a_finding() -> None:
    """A cu128 wheel on a CUDA 12.4 driver of the same major runs: said, not reported."""
    outcome = torch_wheel.check(facts(gpu=gpu("550.54.14", "12.4")))
    assert not outcome.findings and not outcome.skipped
    assert "minor-version compatibility" in outcome.summary


@pytest.mark.parametrize(
    ("python", "gpu_facts", "fix"),
    [
        pytest.param(
            torch("2.6.0+cu124", "12.4"),
            gpu("570.124.06", "12.8", "NVIDIA GeForce RTX 5090", "12.0"),
            "torch 2.9.1 cu128 has them",
            id="rtx5090-on-2.6-uses-the-lock",
        ),
        pytest.param(
            torch("2.6.0+cu124", "12.4"),
            gpu("570.124.06", "12.8", "NVIDIA GeForce RTX 5090", None),
            "torch 2.9.1 cu128 has them",
            id="cc-from-the-gpu-name",
        ),
        pytest.param(
            torch("2.9.1+cu130", "13.0"),
            gpu("580.65.06", "13.0", "Tesla V100-SXM2-16GB", "7.0"),
            "torch 2.9.1 cu128 has them",
            id="v100-on-cu130",
        ),
    ],
)
def test_torch008(python: dict[str, Any], gpu_facts: dict[str, Any], fix: str) -> None:
    """A GPU whose sm_XX the build lacks is TORCH008, fixed with a build that has it."""
    outcome = torch_wheel.check(facts(python=python, gpu=gpu_facts))
    codes = [f.code for f in outcome.findings]
    assert codes == ["TORCH008"]
    assert fix in outcome.findings[0].message
    assert "no kernels for" in outcome.findings[0].message


def test_unknown_arch_list_is_said_not_reported() -> None:
    """A torch release the policy has no arch list for gives no TORCH008, and says so."""
    outcome = torch_wheel.check(facts(python=torch("2.1.2+cu121", "12.1")))
    assert not outcome.findings
    assert "arch list unknown for torch 2.1.2 cu121" in outcome.summary


@pytest.mark.parametrize(
    ("python", "gpu_facts", "words"),
    [
        pytest.param({}, NO_DRIVER, "GPU001", id="no-driver"),
        pytest.param({}, None, "gpu probe failed", id="gpu-probe-failed"),
        pytest.param({"distributions": {}, "torch": None}, {}, "TORCH001", id="torch-missing"),
        pytest.param(
            {"introspected": False, "distributions": None, "error": "SyntaxError"},
            {},
            "PY001",
            id="only-version-known",
        ),
        pytest.param(
            {
                **torch("2.9.1", None),
                "torch": {
                    **healthy_python.FACTS["torch"],
                    "version": None,
                    "cuda": None,
                    "version_py": None,
                },
            },
            {},
            "CUDA version is unknown",
            id="version-py-unread",
        ),
    ],
)
def test_skips(python: dict[str, Any], gpu_facts: dict[str, Any] | None, words: str) -> None:
    """What cannot be compared is skipped, naming the code of the root cause."""
    outcome = torch_wheel.check(facts(python=python, gpu=gpu_facts))
    assert outcome.skipped and words in outcome.summary


@pytest.mark.slow
def test_real_cpu_wheel(torch_cpu_venv: Venv, make_ctx: MakeCtx) -> None:
    """The real torch 2.13.0+cpu wheel is read without importing torch, and is TORCH002."""
    ctx = make_ctx(options={"python": str(torch_cpu_venv.python)})
    # That torch is never imported is tested with a fake torch that raises on import
    # (tests/probes/test_python_probe.py::test_never_imports_torch); here the real wheel is read.
    facts_python = probe(ctx)
    assert facts_python["torch"]["version"] == "2.13.0+cpu"
    assert facts_python["torch"]["cuda"] is None
    assert facts_python["torch"]["git_version"] == "cf30153c4c131c8164ee7798e5022d810682e2cb"
    assert facts_python["distributions"]["torch"]["version"] == "2.13.0+cpu"
    assert "sympy" in facts_python["distributions"]

    outcome = torch_wheel.check(facts(python=facts_python))
    (finding,) = outcome.findings
    assert finding.code == "TORCH002"
    command = (
        f"{torch_cpu_venv.python} -m pip install --force-reinstall torch==2.13.0 "
        "torchaudio==2.11.0 --index-url https://download.pytorch.org/whl/cu126"
    )
    assert finding.commands == (command,)
