"""ws.session: the probe's TTS session mapped to WS002, WS003, WS006-WS010."""

from __future__ import annotations

from typing import Any

import pytest

from kyudoctor.checks import ws_session
from kyudoctor.model import Outcome
from kyudoctor.rules import severity_of
from tests.healthy import facts
from tests.healthy.server import http, metrics, server, session

NO_AUDIO = session(
    outcome="no-audio",
    phase="audio",
    ttfa_s=None,
    ttfa_from_eos_s=None,
    rtf=None,
    n_audio=0,
    audio_seconds=0.0,
    close_code=1000,
    detail="Ready, 14 words and Eos sent, no Audio within 5.0 s",
    peak=None,
)
FROZEN = http(
    metrics={
        "first": metrics(500.0, channels=1.0),
        "second": metrics(500.0, channels=1.0),
        "interval_s": 0.5,
    }
)


def outcome_of(changes: dict[str, Any], python: dict[str, Any] | None = None) -> Outcome:
    return ws_session.CHECK.run(facts(server=server(changes), python=python or {}))


@pytest.mark.parametrize(
    ("changes", "codes"),
    [
        ({}, [("WS006", "info")]),
        (
            {"session": session(outcome="http", phase="upgrade", http_status=401, ready=False)},
            [("WS002", "error")],
        ),
        (
            {"session": session(outcome="protocol", phase="ready", first_frame_kind="ogg")},
            [("WS003", "error")],
        ),
        (
            {"session": session(outcome="protocol", phase="audio", detail="a frame larger")},
            [("WS003", "error")],
        ),
        ({"session": NO_AUDIO}, [("WS007", "error")]),
        (
            {"session": session(outcome="closed-early", phase="ready", ready=False, n_audio=0)},
            [("WS007", "error")],
        ),
        ({"session": session(ttfa_s=1.8)}, [("WS008", "warning"), ("WS006", "info")]),
        ({"session": session(rtf=1.6)}, [("WS009", "warning"), ("WS006", "info")]),
        (
            {"session": session(audio_problems=["1600 samples instead of 1920 (3 of 54)"])},
            [("WS010", "error"), ("WS006", "info")],
        ),
        ({"session": session(silent=True, peak=0.0)}, [("WS010", "error"), ("WS006", "info")]),
    ],
    ids=[
        "healthy",
        "auth-401",
        "ogg-frames",
        "frame-too-big",
        "no-audio",
        "closed-before-ready",
        "slow-first-audio",
        "slower-than-realtime",
        "malformed-audio",
        "silent",
    ],
)
def test_codes(changes: dict[str, Any], codes: list[tuple[str, str]]) -> None:
    """Each session outcome maps to its codes; 1005 after audio is WS006 info only."""
    outcome = outcome_of(changes)
    assert not outcome.skipped
    assert [(f.code, severity_of(f).value) for f in outcome.findings] == codes


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"session": session(outcome="no-free-channels", ready=False)}, "WS005"),
        ({"session": session(outcome="http", phase="upgrade", http_status=404)}, "WS001"),
        (
            {"session": session(outcome="http", phase="upgrade", http_status=407, ready=False)},
            "NET008",
        ),
        ({"connect": {"outcome": "refused", "attempts": []}, "session": None}, "NET001"),
    ],
    ids=["no-free-channels", "wrong-path", "proxy", "refused"],
)
def test_root_cause_elsewhere_skips(changes: dict[str, Any], reason: str) -> None:
    """A session stopped by another layer is skipped naming the code that explains it."""
    outcome = outcome_of(changes)
    assert outcome.skipped and reason in outcome.summary
    assert outcome.findings == ()


def test_thresholds_come_from_the_facts() -> None:
    """--ttfa-max is read from the probe's thresholds."""
    facts_ = facts(
        server=server(
            {"session": session(ttfa_s=0.4)}, thresholds={"ttfa_max_s": 0.3, "rtf_max": 1.0}
        )
    )
    codes = [f.code for f in ws_session.CHECK.run(facts_).findings]
    assert codes == ["WS008", "WS006"]


def test_auth_message_never_has_the_key() -> None:
    """WS002 shows the key's length and source, not the key."""
    changes = {"session": session(outcome="http", phase="upgrade", http_status=401, ready=False)}
    (finding,) = outcome_of(changes).findings
    assert "(*** 12 characters, from default (public_token))" in finding.message


def test_no_audio_mentions_frozen_metrics() -> None:
    """WS007 from the session carries the frozen /metrics counter when it was seen."""
    (finding,) = outcome_of({"session": NO_AUDIO, "http": FROZEN}).findings
    assert "py_total_steps stayed at 500" in finding.message


def test_old_websockets_makes_ws006_a_warning() -> None:
    """WS006 is a warning when the target's websockets reports 1005 as an error."""
    dists = dict(facts()["python"]["distributions"])
    dists["websockets"] = {"name": "websockets", "version": "10.4", "requires": []}
    (finding,) = outcome_of({}, {"distributions": dists}).findings
    assert finding.code == "WS006" and severity_of(finding).value == "warning"
    assert "10.4" in finding.message


def test_healthy_summary() -> None:
    """The summary gives the measurements."""
    assert outcome_of({}).summary == (
        "first audio 262 ms after the first Text, 54 Audio messages = 4.32 s, RTF 0.44, closed 1005"
    )


NFC = session(outcome="no-free-channels", ready=False, n_audio=0, ttfa_s=None)


@pytest.mark.parametrize(
    ("changes", "codes"),
    [
        ({"http": FROZEN, "session": NFC}, ["WS007"]),
        ({"http": FROZEN, "session": None, "blocked": "no session"}, ["WS007"]),
        ({"session": NFC}, []),
        (
            {
                "http": http(
                    metrics={
                        "first": metrics(500.0),
                        "second": metrics(500.0),
                        "interval_s": 0.5,
                    }
                ),
                "session": NFC,
            },
            [],
        ),
    ],
    ids=["frozen-while-full", "frozen-without-session", "full-metrics-moving", "idle-no-channels"],
)
def test_frozen_metrics_without_a_session(changes: dict[str, Any], codes: list[str]) -> None:
    """When the session could not run, a frozen py_total_steps with open channels is WS007."""
    outcome = outcome_of(changes)
    assert [f.code for f in outcome.findings] == codes
    if not codes:
        assert outcome.skipped


def test_frozen_metrics_message() -> None:
    """The metrics WS007 gives both scrapes' counter, the interval and the channels."""
    (finding,) = outcome_of({"http": FROZEN, "session": NFC}).findings
    assert "py_total_steps stayed at 500 over 0.5 s with 1 open channels" in finding.message


def test_listening_window_summary() -> None:
    """A session ended by kyudoctor after its listening window: no WS006, the summary says so."""
    outcome = outcome_of({"session": session(complete=False, close_code=1000)})
    assert outcome.findings == ()
    assert outcome.summary.endswith("then kyudoctor ended the session (Eos, close)")
