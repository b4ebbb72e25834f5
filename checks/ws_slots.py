"""ws.slots: whether a TTS slot is free, whether slots come back, whether clients send Eos.

What it checks
    moshi-server has exactly ``batch_size`` slots per TTS module and no queue.
    ``/api/modules_info`` lists ``used_slots`` and ``total_slots``; the probe reads it before
    its session and again after the session ended with Eos and close (polled for a second).

    - WS005: the session was answered ``Error "no free channels"``, or every slot was in use
      before it.
    - WS011: the probe's own slot did not come back after its complete session; or, without
      metrics, half or more of the slots are held (a warning that holds only if no client
      should be talking now).
    - WS004 (a warning here): slots are held while ``/metrics`` shows ``py_missing_words_steps``
      growing between two scrapes: the server's sessions wait for words that do not come, which
      is what a client that sent its text but never ``Eos`` looks like from the server (its
      last words never get their lookahead, and its slot stays taken). A client that streams
      text slowly (word by word from an LLM) shows the same, hence a warning. kyudoctor's own
      session always sends Eos, so it cannot be the cause.

Why it matters
    A full server answers every new client "no free channels" and closes with 1005, which
    clients misread as a crash. Slots leak when clients never send Eos and never close: the
    server frees a slot only after Eos, a disconnect, or 30 s without any frame, and pongs count
    as frames.

How to fix
    Raise ``batch_size`` within VRAM, add instances behind a balancer, make clients send Eos and
    close, and retry with backoff. ``num_workers`` and ``max_connections`` do nothing:
    moshi-server has no such settings. Restart the server to reclaim leaked slots.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kyudoctor.model import Check, Facts, Finding, Outcome, Severity

from ._server import Server, Verdict, per_url, reach_cause, skip, url_of


def _module(server: Server) -> Mapping[str, Any] | None:
    modules = ((server.get("http") or {}).get("modules_info") or {}).get("modules") or []
    for module in modules:
        if module.get("path") == server.get("path"):
            return dict(module)
    return None


def _metric_delta(server: Server, name: str) -> tuple[float | None, float | None]:
    metrics = (server.get("http") or {}).get("metrics") or {}
    first = (metrics.get("first") or {}).get("values") or {}
    second = (metrics.get("second") or {}).get("values") or {}
    if name not in first or name not in second:
        return None, None
    return second[name] - first[name], metrics.get("interval_s")


def verdict(server: Server, probe: Mapping[str, Any]) -> Verdict:
    """WS005 / WS011 for one URL."""
    cause = reach_cause(server)
    if cause is not None:
        return skip(cause)
    url = url_of(server)
    session = server.get("session") or {}
    module = _module(server)
    config = probe.get("config") or {}
    params = {"config": config["file"]} if config.get("file") else {}
    findings: list[Finding] = []
    used = module.get("used_slots") if module else None
    total = module.get("total_slots") if module else None
    slots = f"{used} of {total} slots" if used is not None and total is not None else None
    evidence: dict[str, Any] = {"used_slots": used, "total_slots": total}
    if config.get("batch_size") is not None:
        evidence["config_batch_size"] = config["batch_size"]

    full_before = isinstance(used, int) and isinstance(total, int) and total > 0 and used >= total
    if session.get("outcome") == "no-free-channels" or (full_before and not session.get("ready")):
        seen = (
            'the session was answered Error "no free channels"'
            if session.get("outcome") == "no-free-channels"
            else "every slot was in use"
        )
        where = f" ({slots} in use per /api/modules_info)" if slots else ""
        findings.append(
            Finding(
                "WS005",
                f"{url}: {seen}{where}. The number of concurrent sessions is the module's "
                "batch_size; num_workers and max_connections are not moshi-server settings and "
                "change nothing",
                evidence={**evidence, "close_code": session.get("close_code")},
                params=params,
            )
        )

    after = ((server.get("http") or {}).get("modules_after") or {}).get("used_slots")
    if (
        # Only after a complete session: a dead model loop (WS007) keeps slots as a consequence.
        session.get("outcome") == "ok"
        and session.get("eos_sent")
        and isinstance(used, int)
        and isinstance(after, int)
        and after > used
    ):
        findings.append(
            Finding(
                "WS011",
                f"{url}: used_slots was {used} before kyudoctor's session and is {after} after it "
                "ended with Eos and close: the server does not free slots",
                evidence={**evidence, "used_after": after},
            )
        )
    elif isinstance(used, int) and used > 0:
        missing, interval = _metric_delta(server, "py_missing_words_steps")
        if missing is not None and missing > 0:
            findings.append(
                Finding(
                    "WS004",
                    f"{url}: {slots} in use and py_missing_words_steps grew by {missing:g} in "
                    f"{interval} s: sessions wait for words that do not come. Clients that send "
                    "their text without Eos get no audio for the last words and hold their "
                    "slots (or a client streams its text slower than the server speaks it)",
                    evidence={**evidence, "py_missing_words_steps_delta": missing},
                    severity=Severity.WARNING,
                )
            )
        elif missing is None and isinstance(total, int) and used * 2 >= total:
            findings.append(
                Finding(
                    "WS011",
                    f"{url}: {slots} were in use when kyudoctor connected; if no client should be "
                    "talking to this server now, idle clients hold them",
                    evidence=evidence,
                )
            )
    if findings:
        return Verdict(slots or "slots", findings)
    if module is None:
        if session.get("ready"):
            return Verdict("a slot was free (no /api/modules_info entry for this path)")
        return skip("/api/modules_info lists no module for this path")
    back = " and came back after the session" if session.get("ready") else ""
    return Verdict(f"{slots} in use before the session{back}")


def check(facts: Facts) -> Outcome:
    """WS004, WS005 and WS011 per URL."""
    return per_url(facts, verdict)


CHECK = Check(
    id="ws.slots",
    group="server",
    title="TTS slots (batch_size)",
    codes=("WS004", "WS005", "WS011"),
    probes=("server",),
    run=check,
)
