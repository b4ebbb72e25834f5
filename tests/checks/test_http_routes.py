"""http.routes: WS001 for a wrong path, NET008 for a middlebox that blocks the upgrade."""

from __future__ import annotations

from typing import Any

import pytest

from kyudoctor.checks import http_routes
from kyudoctor.model import Outcome
from kyudoctor.rules import render_fix
from tests.healthy import facts
from tests.healthy.server import http, response, server, session

HTML_407 = "<html><head><title>407 Proxy Authentication Required</title></head></html>"


def upgrade(status: int, body: str | None = None, **headers: str) -> dict[str, Any]:
    return session(
        outcome="http",
        phase="upgrade",
        ready=False,
        http_status=status,
        http_body_excerpt=body,
        http_headers=dict(headers),
        ttfa_s=None,
        n_audio=0,
        close_code=None,
    )


WRONG_PATH = {
    "path": "/api/tts",
    "url": "ws://127.0.0.1:8080/api/tts",
    "http": http(route=response("/api/tts", 404, "Not Found")),
    "session": upgrade(404),
}
PROXY_407 = {"session": upgrade(407, HTML_407, server="squid/6.6", via="1.1 squid")}
NGINX_403 = {"session": upgrade(403, "<html>403 Forbidden</html>", server="nginx")}
MOSHI_401 = {"session": upgrade(401)}
PROXY_401 = {"session": upgrade(401, "<html>Login</html>", server="Caddy")}
STRIPPED = {"session": upgrade(400, "Connection header did not include 'upgrade'", via="1.1 lb")}
OK_200 = {"session": upgrade(200, "<html>Welcome</html>")}
NO_101 = {
    "session": session(
        outcome="timeout",
        phase="upgrade",
        ready=False,
        n_audio=0,
        detail="no HTTP answer to the upgrade within 8 s",
    )
}
NO_HTTP = {"blocked": "no HTTP answer within 2.5 s", "session": None}


def run(*changes: dict[str, Any]) -> Outcome:
    return http_routes.CHECK.run(facts(server=server(*changes)))


@pytest.mark.parametrize(
    ("changes", "codes"),
    [
        ({}, []),
        (WRONG_PATH, ["WS001"]),
        (PROXY_407, ["NET008"]),
        (NGINX_403, ["NET008"]),
        (MOSHI_401, []),
        (PROXY_401, ["NET008"]),
        (STRIPPED, ["NET008"]),
        (OK_200, ["NET008"]),
        (NO_101, ["NET008"]),
        (NO_HTTP, ["NET008"]),
    ],
    ids=[
        "healthy",
        "wrong-path",
        "proxy-407",
        "nginx-403",
        "moshi-401-is-ws002",
        "proxy-401",
        "upgrade-stripped",
        "200-no-upgrade",
        "no-101-while-http-works",
        "no-http-answer",
    ],
)
def test_codes(changes: dict[str, Any], codes: list[str]) -> None:
    """Each answer to the upgrade maps to its code; moshi-server's own 401 is left to WS002."""
    outcome = run(changes)
    assert not outcome.skipped
    assert [f.code for f in outcome.findings] == codes


def test_wrong_path_fix_names_the_module_path() -> None:
    """WS001 lists the paths of /api/modules_info and the fix names the right one."""
    (finding,) = run(WRONG_PATH).findings
    assert "/api/modules_info lists /api/tts_streaming" in finding.message
    assert "`/api/tts_streaming`" in render_fix(finding, {}).text


def test_proxy_message_names_the_proxy() -> None:
    """NET008 names the proxy's headers and quotes the body."""
    (finding,) = run(PROXY_407).findings
    assert "HTTP 407 (Server: squid/6.6, Via: 1.1 squid, an HTML body)" in finding.message
    assert "407 Proxy Authentication Required" in finding.message


def test_not_reached_is_skipped_naming_the_cause() -> None:
    """A refused connection skips this check naming NET001."""
    refused = {"connect": {"outcome": "refused", "attempts": []}, "http": None, "session": None}
    outcome = run(refused)
    assert outcome.skipped and "NET001" in outcome.summary


def test_healthy_summary() -> None:
    """The healthy summary gives the plain GET status and the accepted upgrade."""
    assert run().summary == "/api/tts_streaming: plain GET answered 400, upgrade accepted"
