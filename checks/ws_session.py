"""ws.session: one real TTS session per URL, judged as Kyutai's clients would live it.

What it checks
    The ``server`` probe connects with the API key in the ``kyutai-api-key`` header (never
    shown), asks ``format=PcmMessagePack``, expects Ready first, sends the text one Text per
    word then Eos, and collects Text and Audio until the server closes. Then:

    - WS002: the upgrade was answered 401 by moshi-server itself (empty body, no proxy header).
    - WS003: the first frame is not MessagePack (raw Ogg pages, bare PCM) or another frame is
      not a message of the protocol (invalid MessagePack, a frame over 1 MiB).
    - WS007: Ready came but no audio within the window, or the server closed or went silent
      after the upgrade without audio: its model loop is dead. ``/metrics`` is scraped before
      the session and during it: ``py_total_steps`` not moving while ``py_open_channels`` is
      above zero says the same, even when the session itself could not get a slot.
    - WS008 / WS009: time to first audio (from the first Text sent) above ``--ttfa-max``, or a
      real-time factor above ``--rtf-max``.
    - WS010: Audio messages that are not 1920 float samples, hold NaN or inf, exceed +-1.0, or a
      stream that is silent throughout.
    - WS006 (info): the session ended with close code 1005 after audio, which is the normal end
      of every moshi-server stream; a warning when the target environment's websockets is older
      than 11, which reports that end as an error.

    Sessions that did not reach the protocol are skipped, naming the code that explains it
    (NET*, TLS*, WS001, NET008); "no free channels" is ws.slots' WS005. A frozen model loop
    seen in ``/metrics`` is reported in every case where the server was reached.

Why it matters
    This is what a client sees. The HTTP routes can be fine while the model loop is dead, the
    audio malformed, or the GPU too slow for real time.

How to fix
    See each code: the key in ``kyutai-api-key`` (WS002), ``format=PcmMessagePack`` (WS003),
    restart after a dead model loop and read the first traceback (WS007), a less busy GPU
    (WS008, WS009), reinstall from the lock (WS010), websockets >= 11 (WS006).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kyudoctor.model import Check, Facts, Finding, Outcome, Severity
from kyudoctor.policy import load

from ._server import (
    Server,
    Verdict,
    http_cause,
    per_url,
    proxy_signs,
    reach_cause,
    skip,
    url_of,
    websockets_major,
)
from ._util import probe_facts


def frozen_loop(server: Server) -> str | None:
    """``/metrics`` evidence of a dead model loop: py_total_steps not moving between the two
    scrapes while channels are open; None when the metrics show nothing of the kind."""
    metrics = (server.get("http") or {}).get("metrics") or {}
    first = (metrics.get("first") or {}).get("values") or {}
    second = (metrics.get("second") or {}).get("values") or {}
    if "py_total_steps" not in first or "py_total_steps" not in second:
        return None
    channels = second.get("py_open_channels", 0.0)
    if second["py_total_steps"] != first["py_total_steps"] or channels <= 0:
        return None
    return (
        f"/metrics: py_total_steps stayed at {first['py_total_steps']:g} over "
        f"{metrics.get('interval_s')} s with {channels:g} open channels"
    )


def _metrics_note(server: Server) -> str:
    frozen = frozen_loop(server)
    return f"; {frozen}" if frozen else ""


def _frozen_verdict(server: Server, reason: str) -> Verdict:
    """The session could not be judged (``reason``); a frozen loop is still WS007."""
    frozen = frozen_loop(server)
    if frozen is None:
        return skip(reason)
    return Verdict(
        f"{reason}; the model loop is not stepping",
        [
            Finding(
                "WS007",
                f"{url_of(server)}: {frozen}: the model loop is not running",
                evidence={"metrics": (server.get("http") or {}).get("metrics")},
            )
        ],
    )


def _audio_findings(
    url: str, session: Mapping[str, Any], thresholds: Mapping[str, Any]
) -> list[Finding]:
    findings = []
    evidence = {
        key: session.get(key)
        for key in ("ttfa_s", "ttfa_from_eos_s", "rtf", "audio_seconds", "n_audio", "peak")
    }
    problems = list(session.get("audio_problems") or [])
    if problems or session.get("silent"):
        seen = "; ".join(problems)
        if session.get("silent"):
            silent = f"the whole stream is silent (peak {session.get('peak')})"
            seen = f"{seen}; {silent}" if seen else silent
        findings.append(
            Finding(
                "WS010",
                f"{url}: {session.get('n_audio')} Audio messages: {seen}",
                evidence={**evidence, "problems": problems},
            )
        )
    ttfa = session.get("ttfa_s")
    ttfa_max = thresholds.get("ttfa_max_s")
    if isinstance(ttfa, (int, float)) and isinstance(ttfa_max, (int, float)) and ttfa > ttfa_max:
        findings.append(
            Finding(
                "WS008",
                f"{url}: the first audio came {ttfa * 1000:.0f} ms after the first Text "
                f"(threshold {ttfa_max * 1000:.0f} ms, --ttfa-max)",
                evidence=evidence,
            )
        )
    rtf = session.get("rtf")
    rtf_max = thresholds.get("rtf_max")
    if isinstance(rtf, (int, float)) and isinstance(rtf_max, (int, float)) and rtf > rtf_max:
        findings.append(
            Finding(
                "WS009",
                f"{url}: audio is produced at a real-time factor of {rtf:.2f} (threshold "
                f"{rtf_max:g}, --rtf-max): {session.get('audio_seconds')} s of audio took "
                f"longer to generate than to play",
                evidence=evidence,
            )
        )
    return findings


def _ok_summary(session: Mapping[str, Any]) -> str:
    ttfa = session.get("ttfa_s")
    rtf = session.get("rtf")
    if session.get("complete", True):
        end = f"closed {session.get('close_code')}"
    else:
        end = "then kyudoctor ended the session (Eos, close)"
    parts = [
        f"first audio {ttfa * 1000:.0f} ms after the first Text" if ttfa is not None else None,
        f"{session.get('n_audio')} Audio messages = {session.get('audio_seconds')} s",
        f"RTF {rtf:.2f}" if rtf is not None else None,
        end,
    ]
    return ", ".join(p for p in parts if p)


def judge(facts: Facts) -> Callable[[Server, Mapping[str, Any]], Verdict]:
    """The per-URL verdict (it needs the target python's websockets version for WS006)."""
    version, major = websockets_major(probe_facts(facts, "python"))

    def verdict(server: Server, probe: Mapping[str, Any]) -> Verdict:
        cause = reach_cause(server)
        if cause is not None:
            return skip(cause)
        cause = http_cause(server)
        if cause is not None:
            return _frozen_verdict(server, cause)
        session = server.get("session")
        if not session:
            return _frozen_verdict(server, str(server.get("blocked") or "no session was run"))
        url = url_of(server)
        outcome = session.get("outcome")
        detail = session.get("detail")
        evidence = {
            key: session.get(key)
            for key in ("outcome", "phase", "detail", "close_code", "first_frame_kind")
            if session.get(key) is not None
        }
        if outcome == "http":
            status = session.get("http_status")
            signs = proxy_signs(session.get("http_headers"), session.get("http_body_excerpt"))
            if status == 401 and not signs:
                key = probe.get("api_key") or {}
                return Verdict(
                    "API key rejected",
                    [
                        Finding(
                            "WS002",
                            f"{url}: the upgrade was answered HTTP 401 to the key sent in "
                            f"kyutai-api-key (*** {key.get('length')} characters, from "
                            f"{key.get('source')})",
                            evidence=evidence,
                        )
                    ],
                )
            return _frozen_verdict(server, f"the upgrade was answered HTTP {status} (http.routes)")
        if outcome == "no-free-channels":
            return _frozen_verdict(
                server, "no free channels: every slot is taken (WS005, ws.slots)"
            )
        if outcome == "protocol":
            kind = session.get("first_frame_kind")
            if kind in ("ogg", "pcm"):
                what = "a raw Ogg page" if kind == "ogg" else "bare PCM"
                message = (
                    f"{url}: the first frame is {what}, not MessagePack, although kyudoctor "
                    "asked for format=PcmMessagePack: something between client and server "
                    "drops the query string, or the server ignores it"
                )
            else:
                message = f"{url}: not a message of the TTS protocol: {detail}"
            return Verdict(
                "frames are not PcmMessagePack messages",
                [Finding("WS003", message, evidence=evidence)],
            )
        if outcome in ("no-audio", "closed-early") or (
            outcome == "timeout" and session.get("phase") == "ready"
        ):
            if not session.get("ready") and outcome == "closed-early":
                seen = f"{detail}: moshi-server sends Ready (or Error) first"
            else:
                seen = str(detail)
            findings = [
                Finding(
                    "WS007",
                    f"{url}: {seen}{_metrics_note(server)}",
                    evidence=evidence,
                )
            ]
            findings += _audio_findings(url, session, probe.get("thresholds") or {})
            return Verdict("no audio", findings)
        if outcome == "error" and session.get("error_message"):
            return Verdict(
                "the server sent an Error",
                [Finding("WS007", f"{url}: {detail}", evidence=evidence)],
            )
        if outcome not in ("ok", "timeout"):
            return _frozen_verdict(server, f"the session did not run: {outcome}: {detail}")

        findings = _audio_findings(url, session, probe.get("thresholds") or {})
        summary = _ok_summary(session)
        if outcome == "timeout":
            summary += f"; {detail}"
        if (
            session.get("close_code") == 1005
            and session.get("n_audio")
            and session.get("complete", True)
        ):
            old = major is not None and major < load().websockets_clean_1005_major
            findings.append(
                Finding(
                    "WS006",
                    f"{url}: the session ended with close code 1005 (no status) after "
                    f"{session.get('n_audio')} Audio messages: the normal end of a moshi-server "
                    "stream"
                    + (
                        f"; the target environment's websockets {version} reports it as an "
                        "error (ConnectionClosedError)"
                        if old
                        else ""
                    ),
                    evidence={"close_code": 1005, "websockets": version},
                    severity=Severity.WARNING if old else None,
                )
            )
        return Verdict(summary, findings)

    return verdict


def check(facts: Facts) -> Outcome:
    """WS002, WS003, WS006-WS010 per URL, from the probe's TTS session."""
    return per_url(facts, judge(facts))


CHECK = Check(
    id="ws.session",
    group="server",
    title="A TTS session (Ready, text, audio, close)",
    codes=("WS002", "WS003", "WS006", "WS007", "WS008", "WS009", "WS010"),
    probes=("server",),
    run=check,
    uses=("python",),
)
