"""http.routes: whether the TTS path exists and the WebSocket upgrade reaches moshi-server.

What it checks
    A plain ``GET`` on the URL's path: moshi-server answers 400 on its TTS route ("Connection
    header did not include 'upgrade'") and 404 on any other path (WS001, with the paths
    ``/api/modules_info`` lists). The session's upgrade: 404 is WS001; an answer moshi-server
    never gives there is NET008: 401/403/407 with a body, an HTML page or a proxy's
    ``Server``/``Via`` header, 400 (a proxy stripped the ``Upgrade`` header), 200 or any other
    status, or no 101 at all while plain HTTP requests are answered. moshi-server's own 401 has
    an empty body and no ``Server`` header: that one is WS002 (ws.session).

Why it matters
    A wrong path and a proxy that does not pass WebSocket upgrades look alike from a client
    ("server rejected WebSocket connection: HTTP 404 / 400 / 403"), but the fixes differ: use
    the module's ``path``, or configure the proxy.

How to fix
    Use the path of the TTS module (``path`` in the config; Kyutai's is
    ``/api/tts_streaming``). Let the proxy pass upgrades (nginx:
    ``proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection "upgrade";``), open the
    firewall, or authenticate to the proxy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kyudoctor.model import Check, Facts, Outcome

from ._server import Server, Verdict, http_findings, per_url, reach_cause, skip


def verdict(server: Server, probe: Mapping[str, Any]) -> Verdict:
    """WS001 / NET008 for one URL."""
    cause = reach_cause(server)
    if cause is not None:
        return skip(cause)
    findings = http_findings(server, probe)
    if findings:
        return Verdict("the upgrade does not reach the TTS session", findings)
    http = server.get("http") or {}
    route = (http.get("route") or {}).get("status")
    session = server.get("session") or {}
    upgrade = (
        f"upgrade answered HTTP {session.get('http_status')}"
        if session.get("http_status")
        else "upgrade accepted"
        if session.get("phase") != "upgrade"
        else f"upgrade: {session.get('outcome')}"
    )
    return Verdict(f"{server.get('path')}: plain GET answered {route}, {upgrade}")


def check(facts: Facts) -> Outcome:
    """WS001 and NET008 per URL."""
    return per_url(facts, verdict)


CHECK = Check(
    id="http.routes",
    group="server",
    title="TTS route and WebSocket upgrade",
    codes=("WS001", "NET008"),
    probes=("server",),
    run=check,
)
