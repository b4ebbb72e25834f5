"""net.connect: whether each server URL can be reached over TCP, and if not, why.

What it checks
    The ``server`` probe resolves the URL's host and opens a TCP connection to each address in
    resolver order. Refused, timed out and not resolved are told apart (NET001, NET002,
    NET003). When a loopback address is refused, the other loopback family is tried: a server
    that answers on ``[::1]`` only was started with ``--addr localhost`` (NET004); a client
    dialling ``[::1]`` (or a ``localhost`` that resolves to ``::1`` first) while the server
    listens on IPv4 only is NET007. When the port is closed but a moshi-server process for it
    is alive and its log ends on a loading step, the server is still starting (NET006, info),
    and the refusal is info as well. Without any ``--url``, a host with no server at all is not
    an error: the server checks are skipped.

Why it matters
    Nothing else about the server can be learned before a TCP connection: the TLS, HTTP and
    session checks are skipped naming this check's code. moshi-server opens its port only once
    the model is loaded and warm, so "connection refused" right after a start is usually
    "still starting" (a first start can take 10 minutes).

How to fix
    Start the server (``moshi-server worker --config FILE --port PORT``); wait while it loads
    (``kyudoctor check --wait 600``); open the firewall or publish the container port
    (``-p 8080:8080``); fix the host name; bind with an IP literal (``--addr 0.0.0.0``), or
    dial ``127.0.0.1`` instead of ``[::1]``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kyudoctor.model import Check, Facts, Finding, Outcome, Severity

from ._server import Server, Verdict, hostport, loopback_family, per_url, url_of
from ._util import probe_facts


def _binary(facts: Facts) -> str:
    """The binary to start: the binary probe's when it ran, else the command name (the binary
    probe is not made a dependency: ``--only server`` stays fast)."""
    binary = probe_facts(facts, "binary") or {}
    value = binary.get("cargo_binary") or binary.get("first_on_path")
    return str(value) if value else "moshi-server"


def _params(server: Server, probe: Mapping[str, Any], binary: str) -> dict[str, Any]:
    config = probe.get("config") or {}
    params: dict[str, Any] = {"port": server.get("port"), "binary": binary}
    if config.get("file"):
        params["config"] = config["file"]
    return params


def _listeners_text(server: Server) -> str:
    listeners = server.get("listeners")
    if listeners is None:
        return ""
    if not listeners:
        return f"; nothing listens on port {server.get('port')} on this machine"
    shown = ", ".join(
        f"{entry.get('address')} ({entry.get('process') or 'pid ' + str(entry.get('pid'))})"
        for entry in listeners[:4]
    )
    return f"; port {server.get('port')} is open on {shown}"


def judge(facts: Facts) -> Callable[[Server, Mapping[str, Any]], Verdict]:
    """The per-URL verdict function (it needs the binary's path from the other facts)."""
    binary = _binary(facts)

    def verdict(server: Server, probe: Mapping[str, Any]) -> Verdict:
        url = url_of(server)
        connect = server.get("connect") or {}
        outcome = connect.get("outcome")
        alternate = server.get("alternate") or {}
        params = _params(server, probe, binary)
        evidence = {
            "attempts": connect.get("attempts"),
            "error": connect.get("error"),
            "alternate": alternate.get("attempts") if alternate else None,
            "listeners": server.get("listeners"),
        }
        evidence = {k: v for k, v in evidence.items() if v is not None}

        if outcome == "dns":
            return Verdict(
                "the host name does not resolve",
                [
                    Finding(
                        "NET003",
                        f"{url}: {server.get('host')} does not resolve ({connect.get('error')})",
                        evidence=evidence,
                    )
                ],
            )
        if outcome in ("timeout", "error"):
            what = "timed out" if outcome == "timeout" else "failed"
            return Verdict(
                f"TCP connect {what}",
                [
                    Finding(
                        "NET002",
                        f"{url}: the TCP connection to {hostport(server)} {what} "
                        f"({connect.get('error')}): packets are dropped or rejected on the way",
                        evidence=evidence,
                        params=params,
                    )
                ],
            )
        if outcome == "refused":
            return _refused(server, url, alternate, evidence, params)
        if outcome != "ok":
            return Verdict(f"TCP connect: {outcome}", skipped=True)
        return _reached(server, url, connect, alternate, evidence, params)

    return verdict


def _refused(
    server: Server,
    url: str,
    alternate: Mapping[str, Any],
    evidence: dict[str, Any],
    params: dict[str, Any],
) -> Verdict:
    port = server.get("port")
    if alternate.get("outcome") == "ok":
        if loopback_family(alternate.get("connected")) == "v6":
            return Verdict(
                "refused on IPv4, the server listens on [::1] only",
                [
                    Finding(
                        "NET004",
                        f"{url}: {hostport(server)} refused the connection while [::1]:{port} "
                        "answers: moshi-server was started with --addr localhost (IPv6 "
                        "loopback only)",
                        evidence=evidence,
                        params=params,
                    )
                ],
            )
        return Verdict(
            "refused on [::1], the server listens on IPv4",
            [
                Finding(
                    "NET007",
                    f"{url}: {hostport(server)} refused the connection while 127.0.0.1:{port} "
                    "answers: the server listens on IPv4 only (moshi-server binds 0.0.0.0 by "
                    "default)",
                    evidence=evidence,
                    params=params,
                )
            ],
        )
    starting = server.get("starting") or {}
    if starting.get("loading"):
        line = starting.get("last_log_line")
        seen = (
            f"its log ends on {starting.get('loading_step')!r}: {line}"
            if line
            else "its log was not found (pass --config to name its log_dir)"
        )
        evidence["starting"] = dict(starting)
        return Verdict(
            "still starting",
            [
                Finding(
                    "NET001",
                    f"{url}: connection refused on {hostport(server)} while moshi-server "
                    f"(pid {starting.get('pid')}) is starting",
                    evidence=evidence,
                    params=params,
                    severity=Severity.INFO,
                ),
                Finding(
                    "NET006",
                    f"{url}: moshi-server (pid {starting.get('pid')}) is alive and port {port} "
                    f"is not open yet; {seen}",
                    evidence={"starting": dict(starting)},
                ),
            ],
        )
    extra = _listeners_text(server)
    if starting.get("pid") is not None:
        line = starting.get("last_log_line")
        extra += (
            f"; moshi-server (pid {starting.get('pid')}) is alive but its log ends on a line "
            f"that is not a loading step: {line}"
        )
        evidence["starting"] = dict(starting)
    return Verdict(
        "connection refused",
        [
            Finding(
                "NET001",
                f"{url}: connection refused on {hostport(server)}{extra}",
                evidence=evidence,
                params=params,
            )
        ],
    )


def _reached(
    server: Server,
    url: str,
    connect: Mapping[str, Any],
    alternate: Mapping[str, Any],
    evidence: dict[str, Any],
    params: dict[str, Any],
) -> Verdict:
    port = server.get("port")
    connected = connect.get("connected")
    summary = f"connected to {connected} in {connect.get('elapsed_ms')} ms"
    findings = []
    attempts = connect.get("attempts") or []
    first = attempts[0] if attempts else {}
    if (
        len(attempts) > 1
        and first.get("outcome") == "refused"
        and loopback_family(first.get("address")) == "v6"
    ):
        findings.append(
            Finding(
                "NET007",
                f"{url}: {server.get('host')} resolves to ::1 first and [::1]:{port} refuses; "
                f"{connected} answers. Clients that do not fall back to IPv4 fail here",
                evidence=evidence,
                params=params,
                severity=Severity.WARNING,
            )
        )
    if alternate.get("outcome") == "refused" and loopback_family(connected) == "v6":
        findings.append(
            Finding(
                "NET004",
                f"{url}: the server answers on {connected} but 127.0.0.1:{port} refuses: it "
                "listens on IPv6 loopback only (--addr localhost); clients dialling 127.0.0.1 "
                "get connection refused",
                evidence=evidence,
                params=params,
                severity=Severity.WARNING,
            )
        )
    return Verdict(summary, findings)


def check(facts: Facts) -> Outcome:
    """NET001-NET004, NET006, NET007 per URL; skipped when there is no server to check."""
    return per_url(facts, judge(facts))


CHECK = Check(
    id="net.connect",
    group="server",
    title="Reaching the server (TCP)",
    codes=("NET001", "NET002", "NET003", "NET004", "NET006", "NET007"),
    probes=("server",),
    run=check,
)
