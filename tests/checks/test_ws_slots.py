"""ws.slots: WS005 when every slot is taken, WS011 when slots are held or leak, WS004 without Eos."""

from __future__ import annotations

from typing import Any

import pytest

from kyudoctor.checks import ws_slots
from kyudoctor.model import Outcome
from kyudoctor.rules import render_fix
from tests.healthy import facts
from tests.healthy.server import http, metrics, response, server, session


def modules(used: int, total: int = 8, after: int | None = None) -> dict[str, Any]:
    record = response(
        "/api/modules_info",
        200,
        modules=[
            {"type": "py", "path": "/api/tts_streaming", "used_slots": used, "total_slots": total}
        ],
    )
    return http(
        modules_info=record,
        modules_after={"used_slots": used if after is None else after, "polls": 1, "status": 200},
    )


NFC = session(outcome="no-free-channels", ready=False, n_audio=0, error_message="no free channels")
MISSING_WORDS = {
    **modules(3)["metrics"],
    "first": metrics(1200.0, missing=10.0, channels=3.0),
    "second": metrics(1212.0, missing=46.0, channels=4.0),
}
NO_METRICS = {"first": response("/metrics", 404, "Not Found", values=None), "second": None}


def run(changes: dict[str, Any], **top: Any) -> Outcome:
    return ws_slots.CHECK.run(facts(server=server(changes, **top)))


@pytest.mark.parametrize(
    ("changes", "codes"),
    [
        ({}, []),
        ({"session": NFC, "http": modules(8)}, ["WS005"]),
        ({"session": NFC, "http": modules(2)}, ["WS005"]),
        ({"http": modules(2, after=3)}, ["WS011"]),
        ({"http": {**modules(3), "metrics": MISSING_WORDS}}, ["WS004"]),
        ({"http": {**modules(5), "metrics": NO_METRICS}}, ["WS011"]),
        ({"http": {**modules(2), "metrics": NO_METRICS}}, []),
        ({"session": NFC, "http": {**modules(8), "metrics": NO_METRICS}}, ["WS005", "WS011"]),
    ],
    ids=[
        "healthy",
        "full",
        "error-while-modules-show-room",
        "slot-not-returned",
        "clients-without-eos",
        "most-slots-held-no-metrics",
        "few-slots-held-no-metrics",
        "full-and-held",
    ],
)
def test_codes(changes: dict[str, Any], codes: list[str]) -> None:
    """Slot occupancy and the session's answer give WS005 / WS011."""
    outcome = run(changes)
    assert not outcome.skipped
    assert [f.code for f in outcome.findings] == codes


def test_full_message_says_batch_size_is_the_knob() -> None:
    """WS005 says plainly that num_workers/max_connections do nothing and batch_size is it."""
    (finding,) = run(
        {"session": NFC, "http": modules(8)}, config={"file": "/srv/tts.toml"}
    ).findings
    assert "8 of 8 slots" in finding.message
    assert "batch_size" in finding.message and "num_workers and max_connections" in finding.message
    assert "/srv/tts.toml" in render_fix(finding, {}).text


def test_leak_message() -> None:
    """WS011 for the probe's own slot names the counts before and after."""
    (finding,) = run({"http": modules(2, after=3)}).findings
    assert "used_slots was 2 before kyudoctor's session and is 3 after it" in finding.message


def test_healthy_summary() -> None:
    """Healthy: the occupancy before the session and the slot back after it."""
    assert (
        run({}).summary == "0 of 8 slots in use before the session and came back after the session"
    )
