"""gpu.driver_cuda: GPU003 when no torch is installed yet and the driver cannot run the CUDA
build of torch that moshi-server's lock pins; left to torch.wheel (TORCH005) once torch is
installed."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from kyudoctor import policy as policy_module
from kyudoctor.checks import gpu_driver_cuda
from kyudoctor.model import Outcome
from kyudoctor.rules import render_fix, severity_of
from tests.healthy import facts

T4 = {
    "index": 0,
    "name": "Tesla T4",
    "uuid": "GPU-9d2e4c6a-0b1f-7e3d-5a8c-2f4b6d8e0a1c",
    "compute_cap": None,
    "memory_total_mib": 15109,
    "memory_free_mib": 15109,
    "memory_used_mib": 0,
    "processes": [],
}
DRIVER_470 = {
    "source": "nvidia-smi",
    "driver_version": "470.82.01",
    "driver_max_cuda": "11.4",
    "gpus": [T4],
}
DRIVER_550 = {"driver_version": "550.54.14", "driver_max_cuda": "12.4"}
NO_TORCH = {"torch": None}
DEBIAN = {"os_release": {"id": "debian", "version_id": "12", "pretty_name": "Debian 12"}}
WSL = {"os": {"system": "Linux", "release": "5.15.167.4-microsoft-standard-WSL2",
              "machine": "x86_64", "is_wsl": True, "wsl_version": 2}}  # fmt: skip
CONTAINER = {"container": {"inside": True, "evidence": ["/.dockerenv"]}}
ROOT = {"is_root": True}


def run(
    gpu: dict[str, Any] | None = None,
    python: dict[str, Any] | None = None,
    system: dict[str, Any] | None = None,
) -> Outcome:
    return gpu_driver_cuda.CHECK.run(facts(gpu=gpu or {}, python=python or {}, system=system or {}))


@pytest.mark.parametrize(
    ("gpu", "python", "code", "skipped"),
    [
        ({}, {}, None, False),
        ({}, NO_TORCH, None, False),
        (DRIVER_550, NO_TORCH, None, False),
        (DRIVER_470, NO_TORCH, "GPU003", False),
        (DRIVER_470, {}, None, True),
        ({"driver_max_cuda": None}, NO_TORCH, None, True),
    ],
    ids=[
        "healthy",
        "healthy-no-torch-yet",
        "driver-550-minor-compat",
        "driver-470-no-torch",
        "driver-470-torch-installed",
        "cuda-version-unknown",
    ],
)
def test_codes(
    gpu: dict[str, Any], python: dict[str, Any], code: str | None, skipped: bool
) -> None:
    """The driver's CUDA against the lock's torch: GPU003 only while torch is not installed."""
    outcome = run(gpu, python)
    assert outcome.skipped is skipped
    assert [f.code for f in outcome.findings] == ([code] if code else [])


def test_healthy_summary() -> None:
    """The healthy driver is ok, naming the lock's torch build."""
    assert run().summary == (
        "driver 570.124.06 supports CUDA 12.8 at most; moshi-server's lock installs "
        "torch 2.9.1+cu128 (CUDA 12.8)"
    )


def test_minor_compat_summary() -> None:
    """A 12.4 driver runs the 12.8 build through minor-version compatibility, said so."""
    assert "minor-version compatibility" in run(DRIVER_550, NO_TORCH).summary


def test_driver_470_message_and_ubuntu_command() -> None:
    """Driver 470 on Ubuntu: error naming the versions, apt command for the needed branch."""
    (finding,) = run(DRIVER_470, NO_TORCH).findings
    assert severity_of(finding).value == "error"
    assert finding.message == (
        "driver 470.82.01 supports CUDA 11.4 at most: moshi-server's lock installs torch "
        "2.9.1+cu128 (CUDA 12.8), and no CUDA build of torch 2.9.1 runs on this driver; driver "
        "570.26 or newer is needed; install it and reboot"
    )
    fix = render_fix(finding, {"python": "/home/kyu/tts/.venv/bin/python"})
    assert fix.commands == ("sudo apt-get install -y nvidia-driver-570",)
    assert "`570.26` or newer (needed for CUDA `12.8`)" in fix.text


@pytest.mark.parametrize(
    ("system", "where", "commands"),
    [
        (ROOT, "install it and reboot", ("apt-get install -y nvidia-driver-570",)),
        (DEBIAN, "install it from your distribution or NVIDIA", ()),
        (WSL, "upgrade the NVIDIA driver on Windows", ()),
        (CONTAINER, "the driver is the host's", ()),
    ],
    ids=["ubuntu-root", "debian", "wsl", "container"],
)
def test_driver_upgrade_where(
    system: dict[str, Any], where: str, commands: tuple[str, ...]
) -> None:
    """The upgrade command is given only where it is certain (Ubuntu, not WSL or a container)."""
    (finding,) = run(DRIVER_470, NO_TORCH, system).findings
    assert where in finding.message
    assert render_fix(finding, {}).commands == commands


def test_installed_torch_defers_to_torch_wheel() -> None:
    """With torch installed, the skip reason names torch.wheel and TORCH005."""
    outcome = run(DRIVER_470)
    assert "torch 2.9.1+cu128 is installed" in outcome.summary
    assert "TORCH005" in outcome.summary


def test_other_flavour_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the lock's build needs a newer major but another build of that torch runs on the
    driver, GPU003 is a warning whose command installs that build from its index."""
    real = policy_module.load()
    current = real.current_generation()
    future = dataclasses.replace(current, torch_flavour="cu130")
    generations = tuple(future if g is current else g for g in real.moshi_generations)
    monkeypatch.setattr(
        gpu_driver_cuda, "load", lambda: dataclasses.replace(real, moshi_generations=generations)
    )
    (finding,) = run({}, NO_TORCH).findings
    assert severity_of(finding).value == "warning"
    assert "the cu128 build of torch 2.9.1 runs on it" in finding.message
    command = (
        "/home/kyu/tts/.venv/bin/python -m pip install torch==2.9.1 torchaudio==2.9.1 "
        "--index-url https://download.pytorch.org/whl/cu128"
    )
    assert render_fix(finding, {}).commands == (command,)
