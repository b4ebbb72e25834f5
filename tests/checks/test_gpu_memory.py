"""gpu.memory: GPU004 when a GPU's total memory (error below the floor) or free memory (warning,
naming the processes holding it) is below the TTS need."""

from __future__ import annotations

from typing import Any

import pytest

from kyudoctor.checks import gpu_memory
from kyudoctor.model import Outcome
from kyudoctor.rules import render_fix, severity_of
from tests.healthy import facts

RTX4090_UUID = "GPU-3f1c2a7e-8b9d-4e5f-a6b7-c8d9e0f1a2b3"


def device(
    name: str,
    total: int | None,
    free: int | None,
    processes: list[dict[str, Any]] | None = None,
    index: int = 0,
    uuid: str | None = None,
) -> dict[str, Any]:
    return {
        "index": index,
        "name": name,
        "uuid": uuid,
        "compute_cap": "8.6",
        "memory_total_mib": total,
        "memory_free_mib": free,
        "memory_used_mib": None if total is None or free is None else total - free,
        "processes": processes or [],
    }


PYTHON = {"pid": 28771, "name": "python3", "used_mib": 7096}
XORG = {"pid": 1432, "name": "/usr/lib/xorg/Xorg", "used_mib": 233}
SERVER = {"pid": 4242, "name": "/home/kyu/.cargo/bin/moshi-server", "used_mib": 6104}

CARD_4GB = device("NVIDIA GeForce GTX 1650", 4096, 3900)
CARD_8GB_BUSY = device("NVIDIA GeForce RTX 3070", 8192, 810, [PYTHON, XORG])
CARD_8GB_BUSY_UNLISTED = device("NVIDIA GeForce RTX 3070", 8192, 810)
CARD_8GB_FREE = device("NVIDIA GeForce RTX 3070", 8192, 7900)
CARD_12GB_SERVER = device("NVIDIA GeForce RTX 3060", 12288, 5800, [SERVER])
CARD_UNSIZED = device("NVIDIA GH200 480GB", None, None)
RTX4090 = device("NVIDIA GeForce RTX 4090", 24564, 24212, index=1, uuid=RTX4090_UUID)


def run(gpus: list[dict[str, Any]] | None = None, **extra: Any) -> Outcome:
    all_facts = facts(gpu={"gpus": gpus} if gpus is not None else {})
    all_facts.update(extra)
    return gpu_memory.CHECK.run(all_facts)


@pytest.mark.parametrize(
    ("gpus", "severities"),
    [
        (None, []),
        ([CARD_4GB], ["error"]),
        ([CARD_8GB_BUSY], ["warning"]),
        ([CARD_8GB_BUSY_UNLISTED], ["warning"]),
        ([CARD_8GB_FREE], []),
        ([CARD_12GB_SERVER], []),
        ([CARD_4GB, RTX4090], ["warning"]),
    ],
    ids=[
        "healthy-h100",
        "4gb-card",
        "8gb-card-7gb-used",
        "8gb-card-busy-no-process-listed",
        "8gb-card-free",
        "moshi-server-holds-it",
        "4gb-card-beside-4090",
    ],
)
def test_codes(gpus: list[dict[str, Any]] | None, severities: list[str]) -> None:
    """Each GPU memory situation gives GPU004 at its severity, or ok."""
    outcome = run(gpus)
    assert not outcome.skipped
    assert [f.code for f in outcome.findings] == ["GPU004"] * len(severities)
    assert [severity_of(f).value for f in outcome.findings] == severities


def test_healthy_summary() -> None:
    """The healthy H100 is ok with free and total memory and the need."""
    assert run().summary == (
        "GPU 0 NVIDIA H100 80GB HBM3: 79.1 GB free of 79.6 GB; the TTS needs about 5.3 GB"
    )


def test_small_card_message() -> None:
    """A 4 GB card: the message gives its real size, the need and the floor."""
    (finding,) = run([CARD_4GB]).findings
    assert finding.message == (
        "GPU 0 NVIDIA GeForce GTX 1650 has 4096 MiB (4.0 GB) of memory in all: the TTS needs "
        "about 5.3 GB, and below 6 GB it cannot run"
    )


def test_busy_card_names_the_processes() -> None:
    """An 8 GB card with 7 GB used names the process holding it, largest first."""
    (finding,) = run([CARD_8GB_BUSY]).findings
    assert "810 MiB (0.8 GB) free of 8.0 GB" in finding.message
    assert finding.message.endswith(
        "it is held by python3 (pid 28771, 7096 MiB), /usr/lib/xorg/Xorg (pid 1432, 233 MiB)"
    )
    assert "--query-compute-apps" in render_fix(finding, {}).commands[0]


def test_small_card_beside_a_large_one() -> None:
    """Beside a GPU with room, the small one is a warning whose fix pins the large one."""
    (finding,) = run([CARD_4GB, RTX4090]).findings
    assert "GPU 1 NVIDIA GeForce RTX 4090 has room" in finding.message
    assert render_fix(finding, {}).commands == (f"export CUDA_VISIBLE_DEVICES={RTX4090_UUID}",)


def test_pinned_to_the_large_gpu() -> None:
    """CUDA_VISIBLE_DEVICES naming the large GPU leaves the small one out of the judgement."""
    system = {**facts()["system"], "env": {"CUDA_VISIBLE_DEVICES": RTX4090_UUID}}
    assert run([CARD_4GB, RTX4090], system=system).findings == ()


def test_running_server_is_not_a_problem() -> None:
    """Memory held by moshi-server itself is the TTS, said in the summary."""
    assert "moshi-server (pid 4242) already holds 6104 MiB of it" in run([CARD_12GB_SERVER]).summary


def test_batch_size_hook() -> None:
    """A config probe's batch_size raises the need (future probe, read when present)."""
    outcome = run([CARD_8GB_FREE], config={"batch_size": 64})
    (finding,) = outcome.findings
    assert "with batch_size 64" in finding.message


def test_unsized_gpu_is_skipped() -> None:
    """A driver that reports no memory size cannot be judged."""
    outcome = run([CARD_UNSIZED])
    assert outcome.skipped and "memory size" in outcome.summary
