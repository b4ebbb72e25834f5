"""config.vram: CFG005 when the TTS batch_size needs more memory than the GPU has."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kyudoctor import policy
from kyudoctor.checks.config_vram import check
from tests.healthy import gpu as healthy_gpu
from tests.healthy.config import FACTS, facts


def _gpu(total_mib: int, name: str = "NVIDIA L4") -> dict[str, Any]:
    gpu = copy.deepcopy(healthy_gpu.FACTS)
    gpu["gpus"][0].update(name=name, memory_total_mib=total_mib, memory_free_mib=total_mib)
    return gpu


def _tts(batch: int) -> dict[str, Any]:
    return {**FACTS["tts"], "batch_size": batch}


def _fits(total_mib: int, stt: int = 0) -> int:
    """The largest batch_size whose estimated need fits (by the policy's own estimate)."""
    p = policy.load()
    batch = 0
    while p.vram_needed_gb(batch + 1) + p.vram_stt_gb * stt <= total_mib / 1024:
        batch += 1
    return batch


def test_healthy_h100_with_batch_8_is_ok() -> None:
    """batch_size 8 on an 80 GB H100: ok, with the estimate in the summary."""
    outcome = check(facts())
    assert not outcome.findings and not outcome.skipped
    assert "batch_size = 8 needs about" in outcome.summary


@pytest.mark.parametrize(("total_mib", "batch"), [(8192, 64), (12288, 128), (23034, 256)])
def test_too_many_slots_for_the_gpu(total_mib: int, batch: int) -> None:
    """A batch_size beyond the GPU's memory is CFG005 at the batch_size line, with the largest
    batch_size that fits as the fix's value."""
    outcome = check(facts(gpu=_gpu(total_mib), tts=_tts(batch)))
    (finding,) = outcome.findings
    assert finding.code == "CFG005" and finding.evidence["line"] == 10
    assert finding.params["batch_size"] == _fits(total_mib) >= 1
    assert f"at most batch_size = {_fits(total_mib)} fits" in finding.message
    assert "not a measured figure" in finding.message  # the per-slot figure is inferred
    assert finding.evidence["file"] == "configs/config-tts.toml"


def test_stt_modules_count_on_the_same_gpu() -> None:
    """An STT module served by the same process takes its share before the TTS slots."""
    modules = [*FACTS["modules"], {"name": "asr", "line": 20, "type": "BatchedAsr"}]
    total = 8192
    batch = _fits(total) - 1  # fits alone, not beside the STT
    outcome = check(facts(gpu=_gpu(total), tts=_tts(batch), modules=modules))
    (finding,) = outcome.findings
    assert "for 1 STT module" in finding.message
    assert finding.params["batch_size"] == _fits(total, stt=1)


@pytest.mark.parametrize(
    ("gpu", "needle"),
    [
        ({"source": None, "gpus": [], "error": "no driver"}, "GPU001"),
        (None, "gpu probe gave no facts"),
        ("small", "GPU004"),
    ],
)
def test_skipped_without_a_usable_gpu(gpu: Any, needle: str) -> None:
    """No driver (GPU001), no gpu facts, or a GPU too small at any batch size (GPU004): skipped,
    naming the code that covers it."""
    value = _gpu(4096) if gpu == "small" else gpu
    outcome = check(facts(gpu=value, tts=_tts(64)))
    assert outcome.skipped and needle in outcome.summary


def test_skipped_without_a_tts_module() -> None:
    """An STT-only config has no TTS batch_size to judge: skipped."""
    assert check(facts(tts=None)).skipped


def test_cuda_visible_devices_picks_the_gpu() -> None:
    """The GPU judged is the first one CUDA_VISIBLE_DEVICES leaves visible."""
    gpu = _gpu(81559)
    small = {**gpu["gpus"][0], "index": 1, "uuid": "GPU-small", "memory_total_mib": 8192}
    gpu["gpus"].append(small)
    f = facts(gpu=gpu, tts=_tts(64))
    f["system"]["env"]["CUDA_VISIBLE_DEVICES"] = "1"
    (finding,) = check(f).findings
    assert "GPU 1" in finding.message
