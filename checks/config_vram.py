"""config.vram: the TTS module's ``batch_size`` fits the memory of the GPU it will run on.

What it checks
    The ``batch_size`` of the config's Python TTS module (``type = "Py"``) against the total
    memory of the GPU the server will use (the first one CUDA programs see, after
    ``CUDA_VISIBLE_DEVICES``), by the policy's estimate: a base plus a per-slot amount
    (``vram_needed_gb``), plus the policy's STT figure for each STT module served by the same
    process. When it does not fit, the message gives the largest ``batch_size`` that does.
    The per-slot figure is an estimate fitted to Kyutai's numbers, not a measurement: this is
    a warning, never an error. Skipped when there is no GPU to compare with (GPU001, GPU002),
    when the GPU is too small for the TTS at any batch size (that is GPU004, reported by
    gpu.memory), or when the config has no TTS module with an integer ``batch_size``.

Why it matters
    ``batch_size`` is the number of concurrent TTS sessions (slots) and the model's batch size:
    the server allocates for all of them at start. Too many slots for the GPU ends in "CUDA
    out of memory" (GPU006) at start or under load, which kills the model loop.

How to fix
    Set ``batch_size`` to the value given (or lower) in the config, or run more server
    instances (on more GPUs) behind a balancer. Kyutai uses 8 in its sample config, 2 for
    small setups and 16 in production.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from kyudoctor.model import Check, Facts, Finding, Outcome
from kyudoctor.policy import load

from ._config import config_facts, evidence, params, unusable
from ._gpu import cuda_visible_devices, describe, no_gpu_reason, visible_gpus
from ._util import probe_facts

_MIB_PER_GB = 1024
_STT_TYPES = ("Asr", "BatchedAsr", "PyBatchedAsr")


def check(facts: Facts) -> Outcome:
    """CFG005 when the TTS module's batch_size needs more memory than the GPU has."""
    config = config_facts(facts)
    reason = unusable(config)
    if reason is not None or config is None:
        return Outcome.skip(reason or "no config")
    tts = config.get("tts") or {}
    batch = tts.get("batch_size")
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        return Outcome.skip("the config has no Py (TTS) module with a positive integer batch_size")
    gpu = probe_facts(facts, "gpu")
    system = probe_facts(facts, "system")
    why = no_gpu_reason(gpu, system)
    if why is not None or gpu is None:
        return Outcome.skip(
            f"{why or 'no GPU facts'}: batch_size cannot be compared with GPU memory"
        )
    gpus: Sequence[Mapping[str, Any]] = gpu.get("gpus") or []
    visible = visible_gpus(gpus, cuda_visible_devices(system)) or list(gpus)
    device = next((g for g in visible if isinstance(g.get("memory_total_mib"), int)), None)
    if device is None:
        return Outcome.skip("the driver reports no memory size for the GPU")

    policy = load()
    total_mib = int(device["memory_total_mib"])
    total_gb = total_mib / _MIB_PER_GB
    if total_gb < max(policy.vram_error_below_gb, policy.vram_needed_gb(None)):
        return Outcome.skip(
            f"{describe(device)} has {total_gb:.1f} GB: too small for the TTS at any batch_size "
            "(GPU004, see gpu.memory)"
        )
    stt = [m for m in config.get("modules") or [] if m.get("type") in _STT_TYPES]
    stt_gb = policy.vram_stt_gb * len(stt)
    need_gb = round(policy.vram_needed_gb(batch) + stt_gb, 2)
    also = (
        f" plus about {stt_gb:g} GB for {len(stt)} STT module{'s' * (len(stt) != 1)}" if stt else ""
    )
    if need_gb <= total_gb:
        return Outcome.ok(
            f"batch_size = {batch} needs about {policy.vram_needed_gb(batch):g} GB{also}; "
            f"{describe(device)} has {total_gb:.1f} GB"
        )
    room = total_gb - stt_gb - policy.vram_slot_base_gb
    fits = max(0, math.floor(room / policy.vram_per_slot_gb) + 1) if policy.vram_per_slot_gb else 0
    # The same estimate as the need, so that the advice never contradicts it (float rounding).
    while fits > 0 and policy.vram_needed_gb(fits) + stt_gb > total_gb:
        fits -= 1
    module = tts.get("module")
    advice = (
        f"at most batch_size = {fits} fits"
        if fits >= 1
        else "not even batch_size = 1 fits beside the STT: serve the STT from another instance"
    )
    estimate = (
        f"kyudoctor's estimate, {policy.vram_slot_base_gb:g} GB + {policy.vram_per_slot_gb:g} "
        "GB per slot" + ("" if policy.vram_per_slot_verified else ", not a measured figure")
    )
    return Outcome.found(
        f"batch_size = {batch} does not fit {describe(device)}",
        Finding(
            "CFG005",
            f"batch_size = {batch} in [modules.{module}] needs about "
            f"{policy.vram_needed_gb(batch):g} GB{also} ({estimate}); {describe(device)} has "
            f"{total_mib} MiB ({total_gb:.1f} GB): {advice}",
            evidence=evidence(
                config,
                tts.get("batch_size_line"),
                key=f"modules.{module}.batch_size",
                batch_size=batch,
                gpu=describe(device),
                memory_total_mib=total_mib,
                need_gb=need_gb,
                fits=fits,
            ),
            params=params(config, batch_size=fits if fits >= 1 else None),
        ),
    )


CHECK = Check(
    id="config.vram",
    group="files",
    title="TTS batch_size fits the GPU",
    codes=("CFG005",),
    probes=("config",),
    run=check,
    uses=("gpu", "system"),
)
