"""net.connect: NET001-NET004, NET006, NET007 per URL, and the no-server skip."""

from __future__ import annotations

from typing import Any

import pytest

from kyudoctor.checks import net_connect
from kyudoctor.model import Outcome, Severity
from kyudoctor.probes.server import NO_SERVER
from kyudoctor.rules import render_fix, severity_of
from tests.healthy import facts
from tests.healthy.server import server

V6_URL = "ws://[::1]:8080/api/tts_streaming"


def connect(
    outcome: str, *attempts: tuple[str, str], connected: str | None = None
) -> dict[str, Any]:
    return {
        "outcome": outcome,
        "addresses": [a for a, _ in attempts],
        "attempts": [{"address": a, "outcome": o} for a, o in attempts],
        "connected": connected,
        "error": {
            "dns": "nohost.invalid: Name or service not known",
            "timeout": "10.0.0.9:8080: no answer within 3.0 s",
            "error": "10.0.0.9:8080: No route to host",
        }.get(outcome, f"{attempts[0][0]}: connection refused" if attempts else None),
        "elapsed_ms": 0.4,
    }


REFUSED = {"connect": connect("refused", ("127.0.0.1:8080", "refused")), "listeners": []}
ALT_V6_OK = {
    **REFUSED,
    "alternate": connect("ok", ("[::1]:8080", "ok"), connected="[::1]:8080"),
}
V6_REFUSED_V4_OK = {
    "url": V6_URL,
    "host": "::1",
    "connect": connect("refused", ("[::1]:8080", "refused")),
    "alternate": connect("ok", ("127.0.0.1:8080", "ok"), connected="127.0.0.1:8080"),
}
STARTING = {
    **REFUSED,
    "starting": {
        "pid": 4242,
        "process": "moshi-server",
        "log_file": "/srv/logs/log.tts.2025-07-01",
        "last_log_line": "2025-07-01T10:00:12Z  INFO tts: warming up.",
        "loading_step": "warming up",
        "loading": True,
    },
}
CRASHED_LOG = {
    **REFUSED,
    "starting": {
        **STARTING["starting"],
        "last_log_line": "Error: No voices found",
        "loading_step": None,
        "loading": False,
    },
}
LOCALHOST_V6_FIRST = {
    "url": "ws://localhost:8080/api/tts_streaming",
    "host": "localhost",
    "connect": connect(
        "ok", ("[::1]:8080", "refused"), ("127.0.0.1:8080", "ok"), connected="127.0.0.1:8080"
    ),
}
V6_ONLY_WORKS = {
    "url": "ws://localhost:8080/api/tts_streaming",
    "host": "localhost",
    "connect": connect("ok", ("[::1]:8080", "ok"), connected="[::1]:8080"),
    "alternate": connect("refused", ("127.0.0.1:8080", "refused")),
}


def run(*changes: dict[str, Any], **top: Any) -> Outcome:
    return net_connect.CHECK.run(facts(server=server(*changes, **top)))


@pytest.mark.parametrize(
    ("changes", "codes"),
    [
        ({}, []),
        ({"connect": connect("dns")}, [("NET003", "error")]),
        ({"connect": connect("timeout", ("10.0.0.9:8080", "timeout"))}, [("NET002", "error")]),
        ({"connect": connect("error", ("10.0.0.9:8080", "error"))}, [("NET002", "error")]),
        (REFUSED, [("NET001", "error")]),
        (ALT_V6_OK, [("NET004", "error")]),
        (V6_REFUSED_V4_OK, [("NET007", "error")]),
        (STARTING, [("NET001", "info"), ("NET006", "info")]),
        (CRASHED_LOG, [("NET001", "error")]),
        (LOCALHOST_V6_FIRST, [("NET007", "warning")]),
        (V6_ONLY_WORKS, [("NET004", "warning")]),
    ],
    ids=[
        "healthy",
        "dns",
        "timeout",
        "unreachable",
        "refused",
        "ipv6-only-server",
        "client-dials-ipv6",
        "still-starting",
        "process-alive-log-not-loading",
        "localhost-resolves-ipv6-first",
        "reachable-on-ipv6-only",
    ],
)
def test_codes(changes: dict[str, Any], codes: list[tuple[str, str]]) -> None:
    """Each connection situation gives its codes, with the catalog's severity or the override."""
    outcome = run(changes)
    assert not outcome.skipped
    assert [(f.code, severity_of(f).value) for f in outcome.findings] == codes


def test_healthy_summary() -> None:
    """A reached server says where and how fast."""
    assert run().summary == "connected to 127.0.0.1:8080 in 0.3 ms"


def test_refused_names_url_and_listeners() -> None:
    """NET001 names the URL, the address and that nothing listens on the port."""
    (finding,) = run(REFUSED).findings
    assert finding.message == (
        "ws://127.0.0.1:8080/api/tts_streaming: connection refused on 127.0.0.1:8080; "
        "nothing listens on port 8080 on this machine"
    )


def test_refused_fix_command_has_the_port() -> None:
    """NET001's command starts moshi-server (the binary probe's path) on the URL's port."""
    (finding,) = run(REFUSED).findings
    fix = render_fix(finding, {"config": "configs/config-tts.toml"})
    binary = facts()["binary"]["cargo_binary"]
    assert fix.commands == (f"{binary} worker --config configs/config-tts.toml --port 8080",)


def test_without_binary_facts_the_command_names_moshi_server() -> None:
    """Without the binary probe (``--only server``), the command uses the name moshi-server."""
    outcome = net_connect.CHECK.run(facts(server=server(REFUSED), binary=None))
    fix = render_fix(outcome.findings[0], {"config": "c.toml"})
    assert fix.commands == ("moshi-server worker --config c.toml --port 8080",)


def test_still_starting_shows_the_log_line() -> None:
    """NET006 carries the pid and the last log line; NET001 is downgraded to info."""
    net001, net006 = run(STARTING).findings
    assert net001.severity is Severity.INFO
    assert "pid 4242" in net006.message and "warming up." in net006.message


def test_crashed_process_log_line_in_net001() -> None:
    """A live process whose log does not end on a loading step is not NET006; NET001 shows it."""
    (finding,) = run(CRASHED_LOG).findings
    assert "No voices found" in finding.message


def test_no_server_is_skipped() -> None:
    """Without --url and without any server, the check is skipped with the documented reason."""
    outcome = run(REFUSED, no_server=True, no_server_reason=NO_SERVER)
    assert outcome.skipped and outcome.summary == NO_SERVER
    assert outcome.findings == ()


def test_probe_failed_is_skipped() -> None:
    """A failed server probe skips the check."""
    outcome = net_connect.CHECK.run(facts(server=None))
    assert outcome.skipped


def test_several_urls_reported_per_url() -> None:
    """Two URLs: each summary is prefixed with its URL, the finding names the failing one."""
    other = {
        "url": "ws://127.0.0.1:9090/api/tts_streaming",
        "port": 9090,
        "connect": connect("refused", ("127.0.0.1:9090", "refused")),
        "listeners": [],
    }
    outcome = run({}, other)
    assert outcome.summary.startswith("ws://127.0.0.1:8080/api/tts_streaming: connected")
    assert "; ws://127.0.0.1:9090/api/tts_streaming: connection refused" in outcome.summary
    (finding,) = outcome.findings
    assert finding.message.startswith("ws://127.0.0.1:9090/api/tts_streaming:")
