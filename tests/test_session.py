"""kyudoctor.session: one TTS session, mapped to an outcome, bounded, never leaking the key or a slot.

Against hostile servers (tests/hostile.py) and the simulator, over real loopback sockets.
"""

from __future__ import annotations

import asyncio
import json
import resource
import socket
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from websockets.asyncio.client import connect

from kyudoctor import protocol
from kyudoctor.session import (
    DEFAULT_TEXT,
    SessionResult,
    fetch,
    parse_target,
    redact_url,
    run_session,
    tcp_connect,
)
from kyudoctor.simulate import SimConfig, running
from tests import hostile

KEY = "kd-SECRET-7f3a9c2e51"
FAST = {"rtf": 0.05, "first_audio_delay_s": 0.05}


def session(url: str, **kwargs: Any) -> SessionResult:
    kwargs.setdefault("api_key", KEY)
    kwargs.setdefault("text", "hello there world")
    kwargs.setdefault("timeout", 1.5)
    return asyncio.run(run_session(url, **kwargs))


def assert_no_key(result: SessionResult) -> None:
    assert KEY not in json.dumps(result.to_facts())


@contextmanager
def sim(**config: Any) -> Iterator[Any]:
    config.setdefault("port", 0)
    config.setdefault("authorized_ids", (KEY,))
    with running(SimConfig(**config)) as server:
        yield server


# -- hostile servers -------------------------------------------------------------------------

HOSTILE = [
    ("never-answer", hostile.never_answer, "timeout", "upgrade"),
    ("drip", hostile.drip(b"HTTP/1.1 101 Switching Protocols\r\n", 0.2), "timeout", "upgrade"),
    ("200-no-upgrade", hostile.ok_without_upgrade, "timeout", "upgrade"),
    ("immediate-close", hostile.immediate_close, "closed-early", "upgrade"),
    ("proxy-407", hostile.PROXY_407, "http", "upgrade"),
    ("nginx-403", hostile.FORBIDDEN_HTML, "http", "upgrade"),
    ("moshi-401", hostile.MOSHI_401, "http", "upgrade"),
    ("404", hostile.NOT_FOUND, "http", "upgrade"),
    ("upgrade-stripped", hostile.STRIPPED_UPGRADE, "http", "upgrade"),
    ("100MB-frame", hostile.huge_frame, "protocol", "audio"),
    ("array-2^32", hostile.huge_array, "protocol", "audio"),
    ("invalid-msgpack", hostile.invalid_msgpack, "protocol", "ready"),
    ("ogg", hostile.ogg_first, "protocol", "ready"),
    ("bare-pcm", hostile.pcm_first, "protocol", "ready"),
    ("text-frame", hostile.text_frame_first, "protocol", "ready"),
    ("no-free-channels", hostile.no_free_channels, "no-free-channels", "ready"),
    ("ready-then-drop", hostile.ready_then_drop, "closed-early", "audio"),
    ("ready-no-audio", hostile.ready_only, "no-audio", "audio"),
    ("upgrade-then-drop", hostile.upgrade_then_drop, "closed-early", "ready"),
    ("ssh-banner", hostile.ssh_banner, "protocol", "upgrade"),
]


@pytest.mark.parametrize(
    ("handler", "outcome", "phase"),
    [h[1:] for h in HOSTILE],
    ids=[h[0] for h in HOSTILE],
)
def test_hostile_server_ends_as_an_outcome(handler: Any, outcome: str, phase: str) -> None:
    """Each hostile server ends the session within its time limit as an outcome, not a raise."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with hostile.Served(handler) as server:
        started = time.perf_counter()
        result = session(server.url(), first_audio_timeout=0.5)
        elapsed = time.perf_counter() - started
    assert (result.outcome, result.phase) == (outcome, phase), result.detail
    assert elapsed < 1.5 + 0.5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50 * 1024  # KiB
    assert_no_key(result)


def test_frame_kinds_are_named() -> None:
    """The first frame's kind tells Ogg, bare PCM and garbage apart (WS003's evidence)."""
    kinds = {}
    for name, handler in (("ogg", hostile.ogg_first), ("pcm", hostile.pcm_first)):
        with hostile.Served(handler) as server:
            kinds[name] = session(server.url()).first_frame_kind
    with hostile.Served(hostile.invalid_msgpack) as server:
        kinds["garbage"] = session(server.url()).first_frame_kind
    assert kinds == {"ogg": "ogg", "pcm": "pcm", "garbage": "unknown"}


def test_huge_frame_detail() -> None:
    """A 100 MB frame is refused from its header: the detail names the size and the limit."""
    with hostile.Served(hostile.huge_frame) as server:
        result = session(server.url())
    assert result.detail is not None
    assert "104857600 bytes" in result.detail and str(protocol.MAX_FRAME_BYTES) in result.detail


def test_proxy_answer_keeps_body_and_proxy_headers() -> None:
    """A proxy's 407 keeps its status, an excerpt of its HTML and its Server/Via headers."""
    with hostile.Served(hostile.PROXY_407) as server:
        result = session(server.url())
    assert result.http_status == 407
    assert result.http_body_excerpt is not None and "407 Proxy" in result.http_body_excerpt
    assert result.http_headers["via"] == "1.1 squid"
    assert result.http_headers["server"] == "squid/6.6"


def test_malformed_audio_is_described() -> None:
    """Audio of the wrong size with NaN samples is counted per problem, never raised."""
    with hostile.Served(hostile.malformed_audio()) as server:
        result = session(server.url())
    assert result.n_audio == 5
    assert result.audio_problems == (
        "1000 samples instead of 1920 (5 of 5 Audio messages)",
        "NaN or infinite samples (5 of 5 Audio messages)",
    )


def test_minimal_server_ok_with_1005() -> None:
    """A faithful minimal server: Ready, audio after Eos, close without status code: ok, 1005."""
    with hostile.Served(hostile.tts_like) as server:
        result = session(server.url())
    assert result.outcome == "ok" and result.close_code == 1005
    assert result.n_audio == 10 and result.n_words == 1 and result.eos_sent


def test_redirect_is_not_followed() -> None:
    """A redirect is an HTTP outcome: the key header is never sent to another server."""
    with hostile.Served(hostile.tts_like) as target:
        redirect = hostile.answer(302, "Found", Location=target.url())
        with hostile.Served(redirect) as server:
            result = session(server.url())
        assert target.connections == 0
    assert result.outcome == "http" and result.http_status == 302
    assert result.http_headers["location"] == target.url()


def test_echoed_key_is_scrubbed() -> None:
    """A server that echoes the request (key included) in its body: the excerpt shows ***."""

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        headers = await hostile.read_request(reader)
        body = json.dumps(headers).encode()
        writer.write(hostile.http_response(403, "Forbidden", body, Server="echo"))
        await writer.drain()

    with hostile.Served(echo) as server:
        result = session(server.url() + f"?auth_id={KEY}")
    assert result.http_body_excerpt is not None and "***" in result.http_body_excerpt
    assert result.url.endswith("auth_id=***")
    assert_no_key(result)


# -- connection failures ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_refused() -> None:
    """A closed port is refused, in the connect phase, at once."""
    result = session(f"ws://127.0.0.1:{free_port()}/api/tts_streaming")
    assert (result.outcome, result.phase) == ("refused", "connect")


def test_dns() -> None:
    """A name that does not resolve is a DNS outcome."""
    result = session("ws://kyudoctor-test.invalid:8080/api/tts_streaming")
    assert (result.outcome, result.phase) == ("dns", "dns")


@contextmanager
def full_backlog() -> Iterator[int]:
    """A listening socket whose accept queue is full: new SYNs are dropped (connect times out)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    held = []
    try:
        for _ in range(4):
            client = socket.socket()
            client.setblocking(False)
            try:
                client.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            held.append(client)
        time.sleep(0.05)
        yield port
    finally:
        for client in held:
            client.close()
        listener.close()


def test_connect_timeout() -> None:
    """A TCP connect that gets no answer times out in the connect phase, within the limit."""
    with full_backlog() as port:
        started = time.perf_counter()
        result = session(f"ws://127.0.0.1:{port}/api/tts_streaming", timeout=0.8)
    assert (result.outcome, result.phase) == ("timeout", "connect")
    assert time.perf_counter() - started < 1.3


def test_tcp_connect_outcomes() -> None:
    """tcp_connect tells refused, timeout and DNS apart, with the address tried."""
    refused = asyncio.run(tcp_connect("127.0.0.1", free_port(), timeout=1))
    dns = asyncio.run(tcp_connect("kyudoctor-test.invalid", 80, timeout=1))
    with full_backlog() as port:
        timeout = asyncio.run(tcp_connect("127.0.0.1", port, timeout=0.3))
    assert (refused.outcome, dns.outcome, timeout.outcome) == ("refused", "dns", "timeout")
    assert refused.attempts[0][1] == "refused"


def test_invalid_url() -> None:
    """A URL that is not ws(s):// is an error outcome naming the scheme, the secret hidden."""
    result = session(f"ftp://host/x?auth_id={KEY}")
    assert result.outcome == "error" and "ftp" in (result.detail or "")
    assert_no_key(result)


def test_close_after_must_be_known() -> None:
    """An unknown close_after is a programming error (ValueError)."""
    with pytest.raises(ValueError, match="close_after"):
        asyncio.run(run_session("ws://x/", api_key=None, text="a", close_after="never"))


# -- against the simulator -------------------------------------------------------------------


def test_healthy_session_measures() -> None:
    """Against the simulator: ok, TTFA near the configured 300 ms, RTF near the configured 0.1,
    every word and audio frame counted, 1005 at the end, and the slot given back."""
    with sim(rtf=0.1) as server:
        result = session(server.url, text=DEFAULT_TEXT, timeout=5)
        used_after = server.used_slots
    assert result.outcome == "ok", result.detail
    assert result.ready and result.first_frame_kind == "msgpack"
    assert result.ttfa_s is not None and abs(result.ttfa_s - 0.3) < 0.05
    assert result.rtf is not None and abs(result.rtf - 0.1) < 0.05
    assert result.n_words == len(DEFAULT_TEXT.split()) and result.n_audio > 10
    assert result.audio_seconds == pytest.approx(result.n_audio * protocol.FRAME_SECONDS)
    assert result.close_code == 1005 and result.complete
    assert result.audio_problems == () and not result.silent
    assert used_after == 0
    assert_no_key(result)


def test_wrong_key_is_401() -> None:
    """A key the server does not know: HTTP 401 with an empty body, the key nowhere."""
    with sim(**FAST) as server:
        result = session(server.url, api_key="not-the-key")
    assert (result.outcome, result.http_status, result.http_body_excerpt) == ("http", 401, None)


def test_auth_id_in_url_is_used_and_redacted() -> None:
    """Without a header, the URL's auth_id authenticates; the result shows auth_id=***."""
    with sim(**FAST) as server:
        result = session(f"{server.url}?auth_id={KEY}", api_key=None)
    assert result.outcome == "ok"
    assert result.url == f"{server.url}?auth_id=***"
    assert_no_key(result)


def test_short_text_without_eos_gets_no_audio_and_frees_the_slot() -> None:
    """One word and no Eos: no audio in the window (lookahead); Eos and close still end it."""
    with sim(**FAST) as server:
        result = session(server.url, text="Bonjour", send_eos=False, first_audio_timeout=0.4)
        time.sleep(0.1)
        used = server.used_slots
    assert result.outcome == "no-audio" and result.eos_sent
    assert used == 0


def test_short_text_with_eos_gets_audio() -> None:
    """One word then Eos: audio comes (Eos triggers generation)."""
    with sim(**FAST) as server:
        result = session(server.url, text="Bonjour")
    assert result.outcome == "ok" and result.n_audio > 0


@pytest.mark.parametrize(("close_after", "n_audio"), [("ready", 0), ("first-audio", 1)])
def test_close_after(close_after: str, n_audio: int) -> None:
    """Closing early still sends Eos and closes: the server gets its slot back."""
    with sim(**FAST) as server:
        result = session(server.url, close_after=close_after)
        deadline = time.monotonic() + 1
        while server.used_slots and time.monotonic() < deadline:
            time.sleep(0.02)
        used = server.used_slots
    assert result.outcome == "ok" and result.n_audio == n_audio and result.eos_sent
    assert used == 0


def test_no_free_channels() -> None:
    """With the only slot held by another client, the answer is no-free-channels, 1005."""

    async def scenario(url: str) -> SessionResult:
        headers = {protocol.API_KEY_HEADER: KEY}
        async with connect(f"{url}?format=PcmMessagePack", additional_headers=headers) as ws:
            await ws.recv()  # Ready: the slot is ours
            return await run_session(url, api_key=KEY, text="hello", timeout=1.5)

    with sim(batch_size=1, **FAST) as server:
        result = asyncio.run(scenario(server.url))
    assert result.outcome == "no-free-channels" and result.close_code == 1005
    assert result.error_message == protocol.NO_FREE_CHANNELS


def test_model_loop_dead() -> None:
    """Ready but never audio: no-audio after the window."""
    with sim(faults=frozenset({"model-loop-dead"}), **FAST) as server:
        result = session(server.url, first_audio_timeout=0.4)
    assert result.outcome == "no-audio" and result.ready


def test_silent_and_malformed_audio() -> None:
    """The simulator's audio faults are seen: a silent stream, malformed frames."""
    with sim(faults=frozenset({"silent-audio"}), **FAST) as server:
        silent = session(server.url)
    with sim(faults=frozenset({"malformed-audio"}), **FAST) as server:
        malformed = session(server.url)
    assert silent.outcome == "ok" and silent.silent and silent.peak == 0.0
    assert any("1600 samples" in p for p in malformed.audio_problems)
    assert any("NaN" in p for p in malformed.audio_problems)


def test_ipv6_server() -> None:
    """An IPv6 URL reaches a server bound to ::1."""
    with sim(host="::1", **FAST) as server:
        result = session(server.url)
    assert result.outcome == "ok" and result.peer is not None and result.peer.startswith("[::1]")


def test_tls_trusted_and_untrusted() -> None:
    """wss:// with the CA trusted works; with system trust it is a TLS verify failure."""
    with sim(tls="valid", **FAST) as server:
        trusted = ssl.create_default_context(cafile=server.ca_pem)
        ok = session(server.url, ssl=trusted)
        refused = session(server.url)
    assert ok.outcome == "ok"
    assert refused.outcome == "tls" and refused.tls_reason == "CERTIFICATE_VERIFY_FAILED"
    assert refused.tls_verify_code == 20


def test_wss_to_plain_server() -> None:
    """wss:// dialled to a plain server: a TLS outcome with OpenSSL's reason."""
    with sim(**FAST) as server:
        result = session(server.url.replace("ws://", "wss://"))
    assert result.outcome == "tls" and result.tls_reason in (
        "WRONG_VERSION_NUMBER",
        "RECORD_LAYER_FAILURE",
    )


# -- helpers ---------------------------------------------------------------------------------


def test_redact_url() -> None:
    """auth_id and user:password are shown as ***; other parameters stay."""
    assert redact_url("wss://u:p@h:1/x?voice=a.wav&auth_id=SECRET") == (
        "wss://***@h:1/x?voice=a.wav&auth_id=***"
    )


def test_parse_target() -> None:
    """URLs are parsed with default ports; http(s) are their WebSocket twins."""
    target = parse_target("https://[::1]/api/tts_streaming")
    assert (target.scheme, target.host, target.port, target.hostport) == (
        "wss",
        "::1",
        443,
        "[::1]:443",
    )
    assert target.session_url(voice="v.wav") == (
        "wss://[::1]:443/api/tts_streaming?format=PcmMessagePack&voice=v.wav"
    )
    with pytest.raises(ValueError, match="no host"):
        parse_target("ws:///x")


def test_fetch_drip_is_bounded() -> None:
    """A plain GET against a server that drips a byte at a time ends at its time limit."""
    with hostile.Served(hostile.drip(b"HTTP/1.1 200 OK\r\n\r\nhello", 0.2)) as server:
        started = time.perf_counter()
        response = asyncio.run(fetch(server.url("/api/build_info", "http"), timeout=0.6))
    assert response.outcome == "timeout" and time.perf_counter() - started < 1.0


def test_fetch_statuses_and_bodies() -> None:
    """fetch reads status, headers and body; a non-HTTP answer is a protocol outcome."""
    with sim(**FAST) as server:
        build = asyncio.run(fetch(server.http_url + "/api/build_info", timeout=1))
        route = asyncio.run(fetch(server.http_url + "/api/tts_streaming", timeout=1))
    with hostile.Served(hostile.ssh_banner) as server:
        garbage = asyncio.run(fetch(server.url("/", "http"), timeout=1))
    assert build.status == 200 and json.loads(build.text())["git_hash"]
    assert route.status == 400 and "upgrade" in route.text()
    assert garbage.outcome == "protocol" and "SSH-2.0" in (garbage.error or "")


def test_listen_window_ends_the_session_and_frees_the_slot() -> None:
    """listen_s stops the measurement after that long past the first audio: ok, not complete,
    Eos sent and the slot given back."""
    with sim(rtf=1.0, first_audio_delay_s=0.05) as server:
        started = time.perf_counter()
        result = session(server.url, text=DEFAULT_TEXT, timeout=5, listen_s=0.4)
        elapsed = time.perf_counter() - started
        deadline = time.monotonic() + 1
        while server.used_slots and time.monotonic() < deadline:
            time.sleep(0.02)
        used = server.used_slots
    assert result.outcome == "ok" and not result.complete and result.eos_sent
    assert result.rtf is not None and abs(result.rtf - 1.0) < 0.2
    assert elapsed < 1.2 and used == 0
