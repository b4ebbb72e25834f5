"""net.port: whether the server's port on this machine is held by something that is not it.

What it checks
    For a URL on this machine, the listening sockets of its port and their processes (psutil;
    other users' processes are named only when kyudoctor runs as root). NET005 when the port is
    held by a process that is not moshi-server and the port does not answer as moshi-server
    does (no ``/api/build_info`` of moshi-server, no TTS session), or when a moshi-server
    process that is still loading will find its port taken once it is ready to bind. A reverse
    proxy or ``kyudoctor simulate`` in front of the port is fine: it answers as moshi-server.

Why it matters
    moshi-server binds its port only after loading the model, and exits with "Address already in
    use (os error 98)" when another process holds it: minutes of loading lost, and clients reach
    whatever else listens there.

How to fix
    Stop the process holding the port (``ss -ltnp 'sport = :8080'`` names it), or start
    moshi-server on another port (``-p``) and point clients at it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kyudoctor.model import Check, Facts, Finding, Outcome

from ._server import Server, Verdict, connect_cause, per_url, skip, tls_cause, url_of


def _holder(entry: Mapping[str, Any]) -> str:
    name = entry.get("process")
    pid = entry.get("pid")
    if name and pid is not None:
        return f"{name} (pid {pid})"
    if pid is not None:
        return f"pid {pid}"
    return "a process kyudoctor may not see (run as root to name it)"


def _answers_as_moshi(server: Server) -> bool:
    http = server.get("http") or {}
    build = http.get("build_info") or {}
    session = server.get("session") or {}
    return bool(build.get("moshi_like")) or bool(session.get("ready"))


def verdict(server: Server, probe: Mapping[str, Any]) -> Verdict:
    """NET005 for one URL on this machine."""
    if not server.get("local"):
        return skip("not on this machine: its listening sockets cannot be seen from here")
    listeners = server.get("listeners")
    port = server.get("port")
    if listeners is None:
        return skip("the listening sockets of this machine could not be read (psutil)")
    starting = server.get("starting") or {}
    others = [e for e in listeners if e.get("process") != "moshi-server"]
    mine = [e for e in listeners if e.get("process") == "moshi-server"]
    params = {"port": port}
    evidence = {"listeners": list(listeners), "starting": dict(starting) or None}
    if not listeners:
        if starting.get("pid") is not None:
            return Verdict(f"port {port} is free for moshi-server (pid {starting.get('pid')})")
        return Verdict(f"nothing listens on port {port}")
    if mine:
        return Verdict(f"port {port} is held by moshi-server (pid {mine[0].get('pid')})")
    holders = ", ".join(_holder(e) for e in others[:3])
    if starting.get("pid") is not None:
        return Verdict(
            "port taken while moshi-server loads",
            [
                Finding(
                    "NET005",
                    f"{url_of(server)}: moshi-server (pid {starting.get('pid')}) is loading and "
                    f"port {port} is already held by {holders}: it will exit with 'Address "
                    "already in use' when it tries to bind",
                    evidence=evidence,
                    params=params,
                )
            ],
        )
    if _answers_as_moshi(server):
        return Verdict(f"port {port} is held by {holders}, which answers as moshi-server")
    if not server.get("http"):
        cause = connect_cause(server) or tls_cause(server) or "no HTTP answer"
        return skip(f"port {port} is held by {holders}; not judged: {cause}")
    return Verdict(
        f"port {port} held by {holders}",
        [
            Finding(
                "NET005",
                f"{url_of(server)}: port {port} is held by {holders}, which does not answer as "
                "moshi-server (no moshi-server /api/build_info, no TTS session)",
                evidence=evidence,
                params=params,
            )
        ],
    )


def check(facts: Facts) -> Outcome:
    """NET005 per URL on this machine."""
    return per_url(facts, verdict)


CHECK = Check(
    id="net.port",
    group="server",
    title="The server's port on this machine",
    codes=("NET005",),
    probes=("server",),
    run=check,
)
