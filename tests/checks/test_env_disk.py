"""env.disk: ENV002 when the HF cache or cargo home filesystem has less than the policy minimum."""

from __future__ import annotations

from typing import Any

import pytest

from kyudoctor import policy
from kyudoctor.checks import env_disk
from kyudoctor.model import Outcome
from kyudoctor.rules import severity_of
from tests.healthy import facts
from tests.healthy import system as healthy_system

GB = 1000**3
HF = "/home/kyu/.cache/huggingface"
CARGO = "/home/kyu/.cargo"


def disk(hf_free: float | None, cargo_free: float | None, same_fs: bool = True) -> list[Any]:
    """Disk facts with these free sizes in GB (None: not measured)."""
    out = []
    for purpose, path, free, device in (
        ("hf_cache", HF, hf_free, 66306),
        ("cargo", CARGO, cargo_free, 66306 if same_fs else 2049),
        ("cwd", "/home/kyu/tts", 1.0, 66306),
    ):
        entry = dict(next(d for d in healthy_system.FACTS["disk"] if d["purpose"] == purpose))
        entry.update(
            path=path,
            free_bytes=None if free is None else int(free * GB),
            device=None if free is None else device,
            error="Permission denied" if free is None else None,
        )
        out.append(entry)
    return out


def run(entries: list[Any]) -> Outcome:
    return env_disk.CHECK.run(facts(system={"disk": entries}))


@pytest.mark.parametrize(
    ("entries", "codes", "skipped"),
    [
        (disk(412, 412), [], False),
        (disk(9.5, 9.5), ["ENV002"], False),
        (disk(9.5, 50, same_fs=False), ["ENV002"], False),
        (disk(3, 2, same_fs=False), ["ENV002", "ENV002"], False),
        (disk(10.2, 10.2), [], False),
        (disk(None, None), [], True),
        (disk(None, 50, same_fs=False), [], True),
        (disk(None, 5, same_fs=False), ["ENV002"], False),
        ([], [], True),
    ],
    ids=[
        "healthy",
        "one-fs-low",
        "hf-fs-low",
        "both-fs-low",
        "just-enough",
        "unmeasured",
        "half-measured",
        "half-measured-low",
        "no-disk-facts",
    ],
)
def test_codes(entries: list[Any], codes: list[str], skipped: bool) -> None:
    """Each filesystem below the minimum is one ENV002; the working directory is not judged."""
    outcome = run(entries)
    assert [f.code for f in outcome.findings] == codes
    assert outcome.skipped is skipped


def test_threshold_from_policy() -> None:
    """The minimum is the policy's, which these cases assume to be 10 GB."""
    assert policy.load().disk_min_free_gb == 10.0


def test_one_filesystem_one_finding() -> None:
    """Two paths on one filesystem give one warning naming both, with the real sizes."""
    (finding,) = run(disk(9.5, 9.5)).findings
    assert severity_of(finding).value == "warning"
    assert finding.message == (
        f"9.5 GB free on the filesystem of the Hugging Face cache ({HF}) and cargo's home "
        f"({CARGO}): the model download and the moshi-server build want at least 10 GB"
    )
    assert finding.evidence["paths"] == [HF, CARGO]


def test_healthy_summary() -> None:
    """The ok summary gives the free space per filesystem."""
    outcome = env_disk.CHECK.run(facts())
    assert not outcome.skipped
    assert outcome.summary == (
        f"412.3 GB free for the Hugging Face cache ({HF}) and cargo's home ({CARGO})"
    )


def test_unmeasured_reason() -> None:
    """When nothing could be measured the skip reason carries each path's error."""
    outcome = run(disk(None, None))
    assert outcome.summary == (
        f"free disk space could not be measured ({HF}: Permission denied; "
        f"{CARGO}: Permission denied)"
    )
