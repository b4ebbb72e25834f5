"""gpu.capability: GPU005 for GPUs below the bf16 minimum, mixed capabilities, a mismatched
CUDA_COMPUTE_CAP, and a CUDA_VISIBLE_DEVICES that hides every GPU."""

from __future__ import annotations

from typing import Any

import pytest

from kyudoctor.checks import gpu_capability
from kyudoctor.model import Outcome
from kyudoctor.rules import render_fix, severity_of
from tests.healthy import facts

H100_UUID = "GPU-6e4bd0f7-31d5-2c3c-7a77-9a2b8f4e0c1d"
RTX4090_UUID = "GPU-0f9e8d7c-6b5a-4938-2716-a5b4c3d2e1f0"


def device(
    index: int, name: str, cc: str | None, total: int, uuid: str | None = None
) -> dict[str, Any]:
    return {
        "index": index,
        "name": name,
        "uuid": uuid,
        "compute_cap": cc,
        "memory_total_mib": total,
        "memory_free_mib": total - 400,
        "memory_used_mib": 2,
        "processes": [],
    }


T4 = device(0, "Tesla T4", "7.5", 15109, "GPU-9d2e4c6a-0b1f-7e3d-5a8c-2f4b6d8e0a1c")
T4_NO_CC = {**T4, "compute_cap": None}
GTX1080TI = device(0, "NVIDIA GeForce GTX 1080 Ti", "6.1", 11264, "GPU-a1b2c3d4-1111")
RTX4090 = device(1, "NVIDIA GeForce RTX 4090", "8.9", 24564, RTX4090_UUID)
RTX4090_ALONE = {**RTX4090, "index": 0}
A100 = device(0, "NVIDIA A100-SXM4-80GB", "8.0", 81920, "GPU-77aa88bb-99cc")
MYSTERY = device(0, "NVIDIA Prototype X", None, 16384)
MIXED = [GTX1080TI, RTX4090]


def run(gpus: list[dict[str, Any]] | None = None, **env: str) -> Outcome:
    system_env = {**facts()["system"]["env"], **env}
    gpu = {"gpus": gpus} if gpus is not None else {}
    return gpu_capability.CHECK.run(facts(gpu=gpu, system={"env": system_env}))


@pytest.mark.parametrize(
    ("gpus", "env", "severity"),
    [
        (None, {}, None),
        ([T4], {}, "error"),
        ([T4_NO_CC], {}, "error"),
        (MIXED, {}, "error"),
        ([A100, RTX4090], {}, "error"),
        (MIXED, {"CUDA_VISIBLE_DEVICES": RTX4090_UUID}, None),
        (MIXED, {"CUDA_VISIBLE_DEVICES": "GPU-0f9e8d7c"}, None),
        (MIXED, {"CUDA_VISIBLE_DEVICES": "1"}, "error"),
        ([RTX4090_ALONE], {"CUDA_COMPUTE_CAP": "86"}, "warning"),
        ([RTX4090_ALONE], {"CUDA_COMPUTE_CAP": "89"}, None),
        (None, {"CUDA_COMPUTE_CAP": "90"}, None),
        (None, {"CUDA_COMPUTE_CAP": "89"}, "error"),
        (None, {"CUDA_COMPUTE_CAP": "9.0"}, "error"),
        (None, {"CUDA_VISIBLE_DEVICES": "0"}, None),
        (None, {"CUDA_VISIBLE_DEVICES": ""}, "error"),
        (None, {"CUDA_VISIBLE_DEVICES": "-1"}, "error"),
        (None, {"CUDA_VISIBLE_DEVICES": "GPU-ffff"}, "error"),
    ],
    ids=[
        "healthy-h100",
        "t4",
        "t4-old-driver-cc-by-name",
        "mixed-1080ti-4090",
        "mixed-a100-4090",
        "mixed-pinned-by-uuid",
        "mixed-pinned-by-uuid-prefix",
        "mixed-pinned-by-index",
        "cap-86-on-89",
        "cap-89-on-89",
        "cap-90-on-90",
        "cap-89-on-90",
        "cap-dotted",
        "visible-0",
        "visible-empty",
        "visible-minus-1",
        "visible-unknown-uuid",
    ],
)
def test_codes(
    gpus: list[dict[str, Any]] | None, env: dict[str, str], severity: str | None
) -> None:
    """Each situation gives GPU005 at its severity, or ok."""
    outcome = run(gpus, **env)
    assert not outcome.skipped
    if severity is None:
        assert outcome.findings == ()
    else:
        (finding,) = outcome.findings
        assert (finding.code, severity_of(finding).value) == ("GPU005", severity)


def test_healthy_summary() -> None:
    """The healthy H100 is ok, its capability shown."""
    assert run().summary == "GPU 0 NVIDIA H100 80GB HBM3 (9.0): bf16 kernels supported"


def test_t4_message() -> None:
    """A T4 is named with its real capability and the bf16 minimum; no command to run."""
    (finding,) = run([T4]).findings
    assert finding.message.startswith(
        "GPU 0 Tesla T4 (7.5) is below compute capability 8.0, which moshi-server's bf16"
    )
    assert render_fix(finding, {}).commands == ()


def test_mixed_commands_pin_the_capable_gpu() -> None:
    """Mixed 6.1 + 8.9: the commands pin the RTX 4090 by UUID and rebuild for 89."""
    (finding,) = run(MIXED).findings
    assert "GPU 0 NVIDIA GeForce GTX 1080 Ti (6.1)" in finding.message
    assert "mix capabilities" in finding.message
    assert render_fix(finding, {}).commands == (
        f"export CUDA_VISIBLE_DEVICES={RTX4090_UUID}",
        "CUDA_COMPUTE_CAP=89 cargo install --force --features cuda moshi-server@0.6.4",
    )


def test_index_on_mixed_gpus_is_ambiguous() -> None:
    """An index on a mixed box cannot be matched to a GPU: all are judged, and it says why."""
    (finding,) = run(MIXED, CUDA_VISIBLE_DEVICES="1").findings
    assert "CUDA_VISIBLE_DEVICES=1 cannot be matched" in finding.message


def test_hidden_gpus_message_and_fix() -> None:
    """An empty CUDA_VISIBLE_DEVICES hides the GPU; the fix pins the GPU by UUID."""
    (finding,) = run(CUDA_VISIBLE_DEVICES="").findings
    assert finding.message.startswith("CUDA_VISIBLE_DEVICES='' names none of the GPUs")
    assert render_fix(finding, {}).commands == (f"export CUDA_VISIBLE_DEVICES={H100_UUID}",)


def test_compute_cap_mismatch_fix() -> None:
    """CUDA_COMPUTE_CAP=89 on an H100: the fix exports 90 and rebuilds."""
    (finding,) = run(CUDA_COMPUTE_CAP="89").findings
    assert "CUDA_COMPUTE_CAP=89 does not match GPU 0 NVIDIA H100 80GB HBM3 (9.0)" in finding.message
    assert render_fix(finding, {}).commands == (
        "export CUDA_COMPUTE_CAP=90",
        "cargo install --force --features cuda moshi-server@0.6.4",
    )


def test_compute_cap_and_old_gpu_are_two_findings() -> None:
    """A T4 with CUDA_COMPUTE_CAP=89 has two problems under GPU005."""
    outcome = run([T4], CUDA_COMPUTE_CAP="89")
    assert [f.code for f in outcome.findings] == ["GPU005", "GPU005"]


def test_unknown_capability_is_skipped() -> None:
    """A GPU whose capability neither the driver nor the policy table knows is not judged."""
    outcome = run([MYSTERY])
    assert outcome.skipped and "NVIDIA Prototype X" in outcome.summary
