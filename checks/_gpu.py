"""Helpers shared by the GPU checks: pure functions of facts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kyudoctor.policy import Policy

NOT_LINUX = ("Darwin", "Windows")


def platform_root_cause(system: Mapping[str, Any] | None) -> str | None:
    """The platform name when ENV001 already explains why there is no driver."""
    os_facts: Mapping[str, Any] = (system or {}).get("os") or {}
    name = str(os_facts.get("system") or "")
    if name in NOT_LINUX or name.lower().startswith("windows"):
        return name
    if os_facts.get("is_wsl") and os_facts.get("wsl_version") == 1:
        return "WSL1"
    return None


def no_gpu_reason(
    gpu: Mapping[str, Any] | None, system: Mapping[str, Any] | None = None
) -> str | None:
    """Why GPU comparisons cannot be made (naming the code gpu.driver reports), or None."""
    if gpu is None:
        return "the gpu probe gave no facts"
    if gpu.get("source") is not None and gpu.get("gpus"):
        return None
    if container_without_gpu(system):
        return "no GPU inside this container (GPU002)"
    platform = platform_root_cause(system)
    if platform is not None:
        return f"no NVIDIA driver on {platform} (ENV001)"
    if gpu.get("source") is None:
        return "no NVIDIA driver (GPU001)"
    return "the NVIDIA driver lists no GPU (GPU001)"


def container_without_gpu(system: Mapping[str, Any] | None) -> bool:
    """Inside a container whose image asks for a GPU, with no /dev/nvidia* device node."""
    container = (system or {}).get("container") or {}
    if system is None or not container.get("inside") or system.get("dev_nvidia"):
        return False
    env: Mapping[str, Any] = system.get("env") or {}
    visible = str(env.get("NVIDIA_VISIBLE_DEVICES") or "").strip().lower()
    return visible not in ("", "void", "none") or bool(env.get("NVIDIA_REQUIRE_CUDA"))


def describe(gpu: Mapping[str, Any]) -> str:
    """``GPU 0 NVIDIA H100 80GB HBM3``: how the user's nvidia-smi numbers and names it."""
    return f"GPU {gpu.get('index')} {gpu.get('name')}"


def compute_cap(gpu: Mapping[str, Any], policy: Policy) -> str | None:
    """The GPU's compute capability: from the driver, else by name from the policy table."""
    cc = gpu.get("compute_cap")
    return str(cc) if cc else policy.gpu_cc(gpu.get("name"))


def cuda_visible_devices(system: Mapping[str, Any] | None) -> str | None:
    """The CUDA_VISIBLE_DEVICES value when the system probe saw it set."""
    value = ((system or {}).get("env") or {}).get("CUDA_VISIBLE_DEVICES")
    return None if value is None else str(value)


def visible_gpus(
    gpus: Sequence[Mapping[str, Any]], value: str | None
) -> list[Mapping[str, Any]] | None:
    """The GPUs CUDA programs see under ``CUDA_VISIBLE_DEVICES=value``.

    Follows CUDA's rules: comma-separated indices or (prefixes of) ``GPU-`` UUIDs, read up to
    the first entry that names no device; an empty or invalid value hides every GPU. ``None``
    when that cannot be known from NVML's facts: indices count in CUDA's order (fastest first
    unless ``CUDA_DEVICE_ORDER=PCI_BUS_ID``), which is NVML's order only when every GPU is the
    same model; MIG UUIDs name slices NVML lists elsewhere.
    """
    if value is None:
        return list(gpus)
    same_model = len({str(g.get("name")) for g in gpus}) <= 1
    chosen: list[Mapping[str, Any]] = []
    for raw in value.split(","):
        item = raw.strip()
        if item.isdigit():
            index = int(item)
            if index >= len(gpus):
                break
            if not same_model:
                return None
            candidate = gpus[index]
        elif item.upper().startswith("GPU-"):
            matches = [g for g in gpus if str(g.get("uuid") or "").lower().startswith(item.lower())]
            if len(matches) != 1:
                break
            candidate = matches[0]
        elif item.upper().startswith("MIG-"):
            return None
        else:
            break
        if candidate in chosen:
            break
        chosen.append(candidate)
    return chosen


def pin_command(gpu: Mapping[str, Any]) -> str:
    """The export that makes CUDA programs use only this GPU (by UUID: order-proof)."""
    uuid = gpu.get("uuid")
    if uuid:
        return f"export CUDA_VISIBLE_DEVICES={uuid}"
    return f"export CUDA_DEVICE_ORDER=PCI_BUS_ID CUDA_VISIBLE_DEVICES={gpu.get('index')}"
