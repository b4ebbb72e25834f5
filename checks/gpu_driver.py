"""gpu.driver: whether the NVIDIA driver answers and lists at least one GPU.

What it checks
    The ``gpu`` probe: NVML (``libnvidia-ml.so.1``) first, then ``nvidia-smi``. GPU001 when neither
    reaches the driver, or when the driver answers but lists no GPU ("No devices were found": a
    GPU that fell off the bus, a driver not bound to it, or no NVIDIA GPU at all). Inside a
    container (``system.container.inside``) with no ``/dev/nvidia*`` device node, the same
    observation is GPU002: the container was started without the GPU. Skipped, pointing at
    ENV001, on a platform that cannot have the driver (macOS, native Windows, WSL1).

    A container counts as "started without the GPU" only when its image asks for one: the NVIDIA
    Container Toolkit reads ``NVIDIA_VISIBLE_DEVICES`` (set by every ``nvidia/cuda`` image and by
    ``--gpus``) or ``NVIDIA_REQUIRE_CUDA``. A container whose image asks for no GPU (this says
    nothing about the host) gets GPU001, whose message mentions the container case.

    ``CUDA_VISIBLE_DEVICES`` is not judged here: NVML and nvidia-smi ignore it. gpu.capability
    reports a value that hides every GPU from CUDA.

Why it matters
    moshi-server's TTS runs its model with torch on ``device='cuda'``. Without a driver and a GPU
    nothing else can work, so the other GPU, CUDA and torch comparisons are skipped and point
    here.

How to fix
    Install the NVIDIA driver and reboot (GPU001). In a container, start it with the GPU:
    ``docker run --gpus all``, or the compose ``deploy.resources.reservations.devices`` block, with
    the NVIDIA Container Toolkit installed on the host (GPU002).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kyudoctor.model import Check, Facts, Finding, Outcome

from ._gpu import container_without_gpu, platform_root_cause
from ._util import probe_facts


def check(facts: Facts) -> Outcome:
    """GPU001 / GPU002 when no driver or no GPU is reachable; ok with driver, CUDA and GPUs."""
    gpu = probe_facts(facts, "gpu")
    if gpu is None:
        return Outcome.skip("the gpu probe gave no facts")
    system = probe_facts(facts, "system")
    gpus: Sequence[Mapping[str, Any]] = gpu.get("gpus") or []
    if gpu.get("source") is not None and gpus:
        return Outcome.ok(_healthy_summary(gpu, gpus))

    platform = platform_root_cause(system)
    if platform is not None:
        return Outcome.skip(f"no NVIDIA driver on {platform} (ENV001)")

    error = str(gpu.get("error") or "no answer")
    evidence: dict[str, Any] = {
        "source": gpu.get("source"),
        "nvml_error": (gpu.get("nvml") or {}).get("error"),
        "nvidia_smi": (gpu.get("nvidia_smi") or {}).get("path"),
        "nvidia_smi_error": (gpu.get("nvidia_smi") or {}).get("error"),
    }
    if gpu.get("source") is None:
        seen = f"no NVIDIA driver answered ({error})"
    else:
        seen = f"the NVIDIA driver {gpu.get('driver_version') or ''} answered but lists no GPU"
        seen = f"{' '.join(seen.split())} ({error})"

    container = (system or {}).get("container") or {}
    if container_without_gpu(system):
        how = ", ".join(container.get("evidence") or []) or "container detected"
        evidence.update(container_evidence=container.get("evidence"), dev_nvidia=[])
        return Outcome.found(
            "no GPU inside this container",
            Finding(
                "GPU002",
                f"inside a container ({how}) with no /dev/nvidia* device: {seen}; the container "
                "was started without the GPU",
                evidence=evidence,
            ),
        )
    if system is not None:
        evidence["dev_nvidia"] = list(system.get("dev_nvidia") or [])
    message = f"{seen}: the TTS needs an NVIDIA GPU and its driver"
    if container.get("inside") and system is not None and not system.get("dev_nvidia"):
        how = ", ".join(container.get("evidence") or []) or "container detected"
        evidence["container_evidence"] = container.get("evidence")
        message += (
            f"; this runs inside a container ({how}) whose image asks for no GPU "
            "(NVIDIA_VISIBLE_DEVICES unset): if the host has an NVIDIA GPU, start the container "
            "with it (`docker run --gpus all`, GPU002)"
        )
    return Outcome.found(
        "no NVIDIA driver" if gpu.get("source") is None else "the driver lists no GPU",
        Finding("GPU001", message, evidence=evidence),
    )


def _healthy_summary(gpu: Mapping[str, Any], gpus: Sequence[Mapping[str, Any]]) -> str:
    cuda = gpu.get("driver_max_cuda")
    cuda_text = f"CUDA {cuda}" if cuda else "maximum CUDA version not reported"
    names = ", ".join(str(g.get("name")) for g in gpus)
    count = f"{len(gpus)} GPU" if len(gpus) == 1 else f"{len(gpus)} GPUs"
    return f"driver {gpu.get('driver_version') or 'version unknown'}, {cuda_text}, {count}: {names}"


CHECK = Check(
    id="gpu.driver",
    group="host",
    title="NVIDIA driver and GPUs",
    codes=("GPU001", "GPU002"),
    probes=("gpu",),
    run=check,
    uses=("system",),
)
