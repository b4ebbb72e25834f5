"""gpu.memory: whether the GPU has the memory the TTS needs, in total and free now.

What it checks
    For each GPU CUDA programs see (all, or those ``CUDA_VISIBLE_DEVICES`` selects): its total
    memory against the policy's TTS need (``vram_needed_gb``: Kyutai's 5.3 GB figure unless a
    ``batch_size`` is known) and against the policy's hard floor (``vram_error_below_gb``); then
    its free memory against the need, naming the compute processes that hold memory (pid, name,
    MiB) when the driver lists them. Memory held by a running moshi-server is the TTS itself and
    is not counted as a problem. Sizes are read in nvidia-smi's MiB; "GB" here is 1024 MiB, as
    nvidia-smi users read it. Skipped when there is no driver or no GPU (GPU001), or when the
    driver reports no memory sizes.

    The ``batch_size`` hook: when a ``config`` probe's facts are present (a future probe; this
    check does not require it) and hold an integer ``batch_size``, the need is computed for it;
    otherwise the policy's figure for an unknown batch size is used.

Why it matters
    Loading the model on a GPU without room for it ends in "CUDA out of memory" (GPU006), which
    kills moshi-server's model loop: the server keeps answering but never produces audio.

How to fix
    Stop the other processes holding GPU memory, lower ``batch_size`` in the server config, or use
    a larger GPU. GPU004 is an error when the GPU's total memory is below the policy's floor, a
    warning otherwise; on a machine where another GPU has enough, it is a warning that names it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kyudoctor.model import Check, Facts, Finding, Outcome, Severity
from kyudoctor.policy import load

from ._gpu import cuda_visible_devices, describe, no_gpu_reason, pin_command, visible_gpus
from ._util import probe_facts

_MIB_PER_GB = 1024
_SERVER_NAMES = ("moshi-server",)


def check(facts: Facts) -> Outcome:
    """GPU004 per GPU whose total or free memory is below the TTS need."""
    gpu = probe_facts(facts, "gpu")
    reason = no_gpu_reason(gpu, probe_facts(facts, "system"))
    if reason is not None or gpu is None:
        return Outcome.skip(reason or "no GPU facts")
    policy = load()
    gpus: Sequence[Mapping[str, Any]] = gpu.get("gpus") or []
    visible = visible_gpus(gpus, cuda_visible_devices(probe_facts(facts, "system"))) or list(gpus)
    sized = [g for g in visible if isinstance(g.get("memory_total_mib"), int)]
    if not sized:
        return Outcome.skip("the driver reports no memory size for the GPU")

    batch_size = _batch_size(facts)
    need_gb = policy.vram_needed_gb(batch_size)
    floor_gb = policy.vram_error_below_gb
    need_text = f"about {need_gb:g} GB" + (f" with batch_size {batch_size}" if batch_size else "")
    fits = [g for g in sized if _fits(g, need_gb)]
    findings: list[Finding] = []
    healthy: list[str] = []
    for device in sized:
        total_mib = int(device["memory_total_mib"])
        free_mib = device.get("memory_free_mib")
        total_gb = total_mib / _MIB_PER_GB
        others = [g for g in fits if g is not device]
        alternative = ""
        commands: tuple[str, ...] | None = None
        if others:
            alternative = f"; {describe(others[0])} has room: use only that GPU"
            commands = (pin_command(others[0]),)
        evidence: dict[str, Any] = {
            "gpu": describe(device),
            "memory_total_mib": total_mib,
            "memory_free_mib": free_mib,
            "need_gb": need_gb,
            "processes": list(device.get("processes") or []),
        }
        if total_gb < need_gb or total_gb < floor_gb:
            severity = Severity.ERROR if total_gb < floor_gb and not others else Severity.WARNING
            findings.append(
                Finding(
                    "GPU004",
                    f"{describe(device)} has {total_mib} MiB ({total_gb:.1f} GB) of memory in "
                    f"all: the TTS needs {need_text}"
                    + (f", and below {floor_gb:g} GB it cannot run" if total_gb < floor_gb else "")
                    + alternative,
                    evidence=evidence,
                    severity=severity,
                    commands=commands,
                )
            )
            continue
        if not isinstance(free_mib, int):
            healthy.append(f"{describe(device)}: {total_gb:.1f} GB, free memory not reported")
            continue
        free_gb = free_mib / _MIB_PER_GB
        processes: Sequence[Mapping[str, Any]] = device.get("processes") or []
        server = [p for p in processes if _is_server(p)]
        if free_gb >= need_gb or server:
            held = (
                f"; moshi-server (pid {server[0].get('pid')}) already holds "
                f"{server[0].get('used_mib') or 'some'} MiB of it"
                if server
                else ""
            )
            healthy.append(f"{describe(device)}: {free_gb:.1f} GB free of {total_gb:.1f} GB{held}")
            continue
        holders = _holders(processes)
        findings.append(
            Finding(
                "GPU004",
                f"{describe(device)} has {free_mib} MiB ({free_gb:.1f} GB) free of "
                f"{total_gb:.1f} GB: the TTS needs {need_text}; "
                + (
                    f"it is held by {holders}"
                    if holders
                    else "the driver lists no compute process holding it (processes of other "
                    "containers or users may be hidden)"
                )
                + alternative,
                evidence=evidence,
                severity=Severity.WARNING,
                commands=commands,
            )
        )

    if findings:
        return Outcome.found(f"not enough GPU memory for the TTS (needs {need_text})", *findings)
    return Outcome.ok(f"{'; '.join(healthy)}; the TTS needs {need_text}")


def _fits(gpu: Mapping[str, Any], need_gb: float) -> bool:
    total, free = gpu.get("memory_total_mib"), gpu.get("memory_free_mib")
    if not isinstance(total, int) or total / _MIB_PER_GB < need_gb:
        return False
    return not isinstance(free, int) or free / _MIB_PER_GB >= need_gb


def _is_server(process: Mapping[str, Any]) -> bool:
    name = str(process.get("name") or "")
    return name.rsplit("/", 1)[-1] in _SERVER_NAMES


def _holders(processes: Sequence[Mapping[str, Any]]) -> str:
    parts = []
    for process in sorted(processes, key=lambda p: -(p.get("used_mib") or 0)):
        used = process.get("used_mib")
        amount = f"{used} MiB" if isinstance(used, int) else "memory"
        parts.append(f"{process.get('name') or 'a process'} (pid {process.get('pid')}, {amount})")
    return ", ".join(parts)


def _batch_size(facts: Facts) -> int | None:
    """``batch_size`` from a future ``config`` probe's facts, when present (see the docstring)."""
    config = probe_facts(facts, "config")
    value = (config or {}).get("batch_size")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


CHECK = Check(
    id="gpu.memory",
    group="host",
    title="GPU memory for the TTS",
    codes=("GPU004",),
    probes=("gpu",),
    run=check,
    uses=("system",),
)
