"""net.port: NET005 when the port is held by something that is not moshi-server."""

from __future__ import annotations

from typing import Any

import pytest

from kyudoctor.checks import net_port
from kyudoctor.model import Outcome
from kyudoctor.rules import render_fix
from tests.healthy import facts
from tests.healthy.server import http, response, server, session

JUPYTER = [{"address": "0.0.0.0", "port": 8080, "pid": 777, "process": "jupyter-lab"}]
NOT_MOSHI = {
    "listeners": JUPYTER,
    "http": http(build_info=response("/api/build_info", 404, "Not Found", moshi_like=False)),
    "session": session(outcome="http", http_status=404, ready=False, phase="upgrade"),
}
LOADING = {
    "connect": {"outcome": "refused", "attempts": [], "addresses": [], "connected": None},
    "listeners": [{"address": "127.0.0.1", "port": 8080, "pid": 777, "process": "python3"}],
    "starting": {"pid": 4242, "loading": True, "loading_step": "warming up"},
    "http": None,
    "session": None,
}
PROXY = {"listeners": [{"address": "0.0.0.0", "port": 8080, "pid": 99, "process": "nginx"}]}


def run(changes: dict[str, Any]) -> Outcome:
    return net_port.CHECK.run(facts(server=server(changes)))


@pytest.mark.parametrize(
    ("changes", "codes"),
    [({}, []), (NOT_MOSHI, ["NET005"]), (LOADING, ["NET005"]), (PROXY, [])],
    ids=["moshi-server", "another-program", "taken-while-loading", "proxy-answering-as-moshi"],
)
def test_codes(changes: dict[str, Any], codes: list[str]) -> None:
    """NET005 only when the holder is not moshi-server and does not answer as it."""
    outcome = run(changes)
    assert not outcome.skipped
    assert [f.code for f in outcome.findings] == codes


def test_names_the_holder() -> None:
    """NET005 names the process and pid, and the fix lists the port's holder."""
    (finding,) = run(NOT_MOSHI).findings
    assert "port 8080 is held by jupyter-lab (pid 777)" in finding.message
    assert render_fix(finding, {}).commands == ("ss -ltnp 'sport = :8080'",)


def test_loading_server_will_not_bind() -> None:
    """A loading moshi-server whose port is taken is told it will fail to bind."""
    (finding,) = run(LOADING).findings
    assert "moshi-server (pid 4242) is loading" in finding.message
    assert "Address already in use" in finding.message


def test_remote_url_skipped() -> None:
    """A URL on another machine cannot be judged from here."""
    outcome = run({"local": False, "listeners": None})
    assert outcome.skipped and "not on this machine" in outcome.summary


def test_invisible_sockets_skipped() -> None:
    """Without psutil's view of the sockets, the check says so."""
    assert run({"listeners": None}).skipped


def test_free_port_summary() -> None:
    """Nothing listening is not NET005 (NET001 is net.connect's)."""
    outcome = run({"listeners": []})
    assert outcome.findings == () and outcome.summary == "nothing listens on port 8080"
