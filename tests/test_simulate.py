"""The simulator against moshi-server.md §4-§7, over real loopback sockets."""

from __future__ import annotations

import asyncio
import http.client
import json
import math
import os
import signal
import socket
import ssl
import struct
import subprocess
import sys
import time
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, ConnectionClosedOK
from websockets.frames import Frame, Opcode

from kyudoctor.protocol import (
    FRAME_SAMPLES,
    FRAME_SECONDS,
    NO_FREE_CHANNELS,
    Audio,
    Eos,
    Error,
    NotMessagePack,
    Ready,
    ServerMessage,
    Text,
    Voice,
    Word,
    audio_problems,
    decode_server,
    encode,
)
from kyudoctor.simulate import FAULTS, TLS_MODES, SimConfig, Simulator, running
from tests import kyutai_client

REPO = Path(__file__).resolve().parents[1]
KEY = {"kyutai-api-key": "public_token"}
TEXT = "the quick brown fox jumps over the lazy dog"
MSGPACK = "?format=PcmMessagePack"
T = TypeVar("T")


def fast(**changes: Any) -> SimConfig:
    """A simulator on a free port whose audio comes quickly (4 ms per frame)."""
    base: dict[str, Any] = {"port": 0, "first_audio_delay_s": 0.05, "rtf": 0.05}
    base.update(changes)
    return SimConfig(**base)


def arun(coro: Awaitable[T], limit: float = 15.0) -> T:
    """Run a test coroutine under a time limit."""

    async def bounded() -> T:
        return await asyncio.wait_for(coro, limit)

    return asyncio.run(bounded())


@dataclass
class Session:
    messages: list[ServerMessage] = field(default_factory=list)
    close_code: int | None = None
    clean: bool = False
    ttfa_s: float | None = None

    @property
    def audio(self) -> list[Audio]:
        return [m for m in self.messages if isinstance(m, Audio)]

    @property
    def words(self) -> list[Word]:
        return [m for m in self.messages if isinstance(m, Word)]


async def speak(
    url: str,
    text: str = TEXT,
    *,
    eos: bool = True,
    headers: dict[str, str] | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> Session:
    """A kyudoctor-style session: Text per word, Eos, collect until the server closes."""
    result = Session()
    async with connect(
        url + MSGPACK,
        additional_headers=KEY if headers is None else headers,
        ssl=ssl_context,
        open_timeout=5,
    ) as ws:
        result.messages.append(decode_server(await _recv(ws)))
        started = time.perf_counter()
        try:
            for word in text.split():
                await ws.send(encode(Text(word)))
            if eos:
                await ws.send(encode(Eos()))
            while True:
                message = decode_server(await _recv(ws))
                if isinstance(message, Audio) and result.ttfa_s is None:
                    result.ttfa_s = time.perf_counter() - started
                result.messages.append(message)
        except ConnectionClosed as exc:
            result.close_code = exc.rcvd.code if exc.rcvd else None
            result.clean = isinstance(exc, ConnectionClosedOK)
    return result


async def _recv(ws: ClientConnection, timeout: float = 5.0) -> bytes:
    data = await asyncio.wait_for(ws.recv(), timeout)
    assert isinstance(data, bytes)
    return data


def http_get(
    base: str, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One plain HTTP GET: status, headers, body."""
    host, port = base.split("//", 1)[1].rsplit(":", 1)
    conn = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=5)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def upgrade_headers(**extra: str) -> dict[str, str]:
    """The headers of a WebSocket upgrade request."""
    return {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        **extra,
    }


def scrape(sim: Simulator) -> dict[str, float]:
    """The /metrics samples by series name (labels dropped)."""
    status, _, body = http_get(sim.http_url, "/metrics")
    assert status == 200
    values = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


async def ascrape(sim: Simulator) -> dict[str, float]:
    return await asyncio.to_thread(scrape, sim)


async def aused_slots(sim: Simulator) -> int:
    status, _, body = await asyncio.to_thread(http_get, sim.http_url, "/api/modules_info")
    assert status == 200
    return int(json.loads(body)[0]["used_slots"])


@pytest.fixture
def sim() -> Iterator[Simulator]:
    """A fast simulator running in a background thread."""
    with running(fast()) as simulator:
        yield simulator


# -- HTTP routes --------------------------------------------------------------------------------


def test_build_info_is_json_marked_as_the_simulator(sim: Simulator) -> None:
    """/api/build_info answers 200 JSON with moshi-server's keys, values marked as simulated."""
    status, headers, body = http_get(sim.http_url, "/api/build_info")
    info = json.loads(body)
    assert status == 200 and headers["Content-Type"] == "application/json"
    expected = {"build_timestamp", "build_date", "git_hash", "git_describe", "rustc_version"}
    assert expected | {"cargo_target_triple"} <= set(info)
    assert info["git_describe"].startswith("kyudoctor-simulate-")


def test_modules_info_lists_the_module_with_string_slot_counts(sim: Simulator) -> None:
    """/api/modules_info is one py module whose values are all strings."""
    status, _, body = http_get(sim.http_url, "/api/modules_info")
    assert status == 200
    assert json.loads(body) == [
        {"type": "py", "path": "/api/tts_streaming", "used_slots": "0", "total_slots": "8"}
    ]


def test_metrics_exposes_every_py_series(sim: Simulator) -> None:
    """/metrics is Prometheus text with the py_* counters, gauge and histograms."""
    status, headers, body = http_get(sim.http_url, "/metrics")
    text = body.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    for name in (
        "py_connect",
        "py_total_steps",
        "py_active_steps",
        "py_missing_words_steps",
        "py_could_have_run_steps",
    ):
        assert f"# TYPE {name} counter" in text
        assert f'{name}{{handler="all"}} 0' in text
    assert '# TYPE py_open_channels gauge\npy_open_channels{handler="all"} 0' in text
    for name in ("py_model_step_duration", "py_model_connection_num_steps"):
        assert f"# TYPE {name} histogram" in text
        assert f'{name}_bucket{{le="+Inf"}} 0' in text and f"{name}_count 0" in text
    assert 'py_model_connection_num_steps_bucket{le="62.5"} 0' in text


def test_plain_get_on_the_tts_path_is_400(sim: Simulator) -> None:
    """A GET without upgrade headers on the route answers axum's 400 text."""
    status, _, body = http_get(sim.http_url, "/api/tts_streaming")
    assert (status, body) == (400, b"Connection header did not include 'upgrade'")


def test_unknown_path_is_404(sim: Simulator) -> None:
    """Any path other than the routes answers 404, upgrade or not."""
    assert http_get(sim.http_url, "/api/tts")[0] == 404
    assert http_get(sim.http_url, "/api/tts", upgrade_headers(**KEY))[0] == 404


def test_no_server_header_like_moshi_server(sim: Simulator) -> None:
    """Responses carry no Server header (a proxy's would be a NET008 clue)."""
    _, headers, _ = http_get(sim.http_url, "/api/tts_streaming", upgrade_headers())
    assert "Server" not in headers


# -- auth and format ----------------------------------------------------------------------------


def test_missing_key_is_401_with_an_empty_body(sim: Simulator) -> None:
    """An upgrade without any key is refused with 401 and no body, before the upgrade."""
    status, _, body = http_get(sim.http_url, "/api/tts_streaming", upgrade_headers())
    assert (status, body) == (401, b"")


def test_wrong_key_is_rejected_as_http_401_by_websockets() -> None:
    """A websockets client with a wrong key gets InvalidStatus 401."""

    async def scenario() -> None:
        async with Simulator(fast(authorized_ids=("s3cret",))) as sim:
            with pytest.raises(websockets.InvalidStatus, match="HTTP 401"):
                await speak(sim.url, headers={"kyutai-api-key": "public_token"})
            session = await speak(sim.url, "hello", headers={"kyutai-api-key": "s3cret"})
            assert session.clean

    arun(scenario())


def test_header_wins_over_auth_id_even_when_wrong(sim: Simulator) -> None:
    """With a wrong header the right auth_id is not looked at; without a header it is used."""
    wrong = upgrade_headers(**{"kyutai-api-key": "nope"})
    assert http_get(sim.http_url, "/api/tts_streaming?auth_id=public_token", wrong)[0] == 401
    ok = http_get(sim.http_url, "/api/tts_streaming?auth_id=public_token", upgrade_headers())
    assert ok[0] == 101
    assert http_get(sim.http_url, "/api/tts_streaming?auth_id=nope", upgrade_headers())[0] == 401


def test_invalid_format_is_400_before_auth(sim: Simulator) -> None:
    """An unknown format value answers 400 even without a key (the query is read first)."""
    status, _, body = http_get(sim.http_url, "/api/tts_streaming?format=pcm", upgrade_headers())
    assert status == 400 and b"unknown variant `pcm`" in body


def test_default_format_sends_raw_ogg_pages_not_messagepack() -> None:
    """Without format=... the client gets Ogg pages (OggS, valid CRC) and no Ready."""

    async def scenario() -> list[bytes]:
        async with Simulator(fast()) as sim:
            async with connect(sim.url, additional_headers=KEY) as ws:
                first = await _recv(ws)
                for word in ("hello", "there"):
                    await ws.send(encode(Text(word)))
                await ws.send(encode(Eos()))
                frames = [first]
                with pytest.raises(ConnectionClosedOK):
                    while True:
                        frames.append(await _recv(ws))
                return frames

    frames = arun(scenario())
    assert all(frame.startswith(b"OggS") for frame in frames)
    with pytest.raises(NotMessagePack):
        decode_server(frames[0])
    assert b"OpusHead" in frames[0] and b"OpusTags" in frames[0]
    for frame in frames[1:]:
        assert _ogg_crc_ok(frame)
    assert len(frames) == 1 + 2 * 5 + 4  # header, 5 frames per word, padding


def _ogg_crc_ok(page: bytes) -> bool:
    crc = 0
    for byte in page[:22] + b"\0\0\0\0" + page[26:]:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) & 0xFFFFFFFF if crc & 0x80000000 else crc << 1
    return bool(struct.unpack("<I", page[22:26])[0] == crc)


def test_pcm_format_sends_bare_float32_frames_and_no_ready() -> None:
    """format=Pcm: 7680-byte little-endian float32 frames, no Ready, no Text."""

    async def scenario() -> list[bytes]:
        async with Simulator(fast()) as sim:
            async with connect(sim.url + "?format=Pcm", additional_headers=KEY) as ws:
                await ws.send("hello")
                await ws.send(encode(Eos()))
                frames = []
                with pytest.raises(ConnectionClosedOK):
                    while True:
                        frames.append(await _recv(ws))
                return frames

    frames = arun(scenario())
    assert len(frames) == 5 + 4 and {len(f) for f in frames} == {4 * FRAME_SAMPLES}
    samples = struct.unpack(f"<{FRAME_SAMPLES}f", frames[0])
    assert 0.2 < max(abs(v) for v in samples) <= 0.99
    with pytest.raises(NotMessagePack) as info:
        decode_server(frames[0])
    assert info.value.kind == "pcm"


def test_ogg_opus_messagepack_wraps_pages_in_messages() -> None:
    """format=OggOpusMessagePack: Ready, then Ogg pages in {"type": "OggOpus"} messages."""
    import msgpack

    async def scenario() -> list[Any]:
        async with Simulator(fast()) as sim:
            url = sim.url + "?format=OggOpusMessagePack"
            async with connect(url, additional_headers=KEY) as ws:
                await ws.send(encode(Text("hi")))
                await ws.send(encode(Eos()))
                frames = []
                with pytest.raises(ConnectionClosedOK):
                    while True:
                        frames.append(msgpack.unpackb(await _recv(ws)))
                return frames

    frames = arun(scenario())
    assert frames[0] == {"type": "Ready"}
    assert frames[1]["type"] == "OggOpus" and frames[1]["data"].startswith(b"OggS")
    assert [f["text"] for f in frames if f["type"] == "Text"] == ["hi"]


# -- the session --------------------------------------------------------------------------------


def test_ready_comes_first_before_the_client_sends_anything() -> None:
    """Ready arrives on its own, right after the upgrade."""

    async def scenario() -> ServerMessage:
        async with Simulator(fast()) as sim:
            async with connect(sim.url + MSGPACK, additional_headers=KEY) as ws:
                return decode_server(await _recv(ws, timeout=1))

    assert arun(scenario()) == Ready()


def test_full_session_ends_with_tail_and_close_1005() -> None:
    """After Eos every word is spoken, padding follows, and the close has no status (1005)."""

    async def scenario() -> tuple[Session, int]:
        async with Simulator(fast()) as sim:
            session = await speak(sim.url)
            return session, sim.used_slots

    session, used = arun(scenario())
    assert session.messages[0] == Ready()
    assert session.close_code == 1005 and session.clean
    assert [w.text for w in session.words] == TEXT.split()
    assert len(session.audio) == 9 * 5 + 4
    assert all(not audio_problems(a.pcm) for a in session.audio)
    assert all(max(abs(v) for v in a.pcm) <= 0.99 for a in session.audio)
    assert max(abs(v) for v in session.audio[-1].pcm) == 0.0  # padding is silence
    assert used == 0


def test_words_are_announced_before_their_audio() -> None:
    """Each Text message precedes the audio frame where its word starts; timestamps are f64."""

    async def scenario() -> Session:
        async with Simulator(fast()) as sim:
            return await speak(sim.url, "one two three")

    session = arun(scenario())
    frames_before: dict[str, int] = {}
    count = 0
    for message in session.messages:
        if isinstance(message, Audio):
            count += 1
        elif isinstance(message, Word):
            frames_before[message.text] = count
    assert frames_before == {"one": 0, "two": 5, "three": 10}
    assert [(w.start_s, w.stop_s) for w in session.words] == [(0.0, 0.4), (0.4, 0.8), (0.8, 1.2)]


def test_one_word_gets_no_audio_until_eos() -> None:
    """A text shorter than the lookahead produces nothing until Eos, then its audio."""

    async def scenario() -> tuple[bool, ServerMessage]:
        async with Simulator(fast()) as sim:
            async with connect(sim.url + MSGPACK, additional_headers=KEY) as ws:
                await _recv(ws)
                await ws.send(encode(Text("Bonjour")))
                with pytest.raises(asyncio.TimeoutError):
                    await _recv(ws, timeout=0.4)
                await ws.send(encode(Eos()))
                return True, decode_server(await _recv(ws))

    _, message = arun(scenario())
    assert message == Word("Bonjour", 0.0, 0.4)


def test_audio_starts_once_lookahead_plus_one_words_are_queued() -> None:
    """With lookahead 3, the fourth word starts generation without Eos; the tail never comes."""

    async def scenario() -> tuple[list[ServerMessage], int]:
        async with Simulator(fast()) as sim:
            async with connect(sim.url + MSGPACK, additional_headers=KEY) as ws:
                await _recv(ws)
                for word in "a b c".split():
                    await ws.send(encode(Text(word)))
                with pytest.raises(asyncio.TimeoutError):
                    await _recv(ws, timeout=0.3)
                await ws.send(encode(Text("d")))
                got = []
                with pytest.raises(asyncio.TimeoutError):
                    while True:
                        got.append(decode_server(await _recv(ws, timeout=0.4)))
                return got, sim.used_slots

    got, used = arun(scenario())
    assert [m.text for m in got if isinstance(m, Word)] == ["a"]
    assert sum(isinstance(m, Audio) for m in got) == 5  # only word "a" has its lookahead
    assert used == 1


def test_text_frames_are_spoken_as_raw_words() -> None:
    """A WebSocket text frame is words to speak, JSON included; Voice is accepted."""

    async def scenario() -> Session:
        async with Simulator(fast()) as sim:
            async with connect(sim.url + MSGPACK, additional_headers=KEY) as ws:
                await _recv(ws)
                await ws.send(encode(Voice((0.1, 0.2), (1, 2))))
                await ws.send('{"type": "Eos"}')
                await ws.send(encode(Eos()))
                session = Session()
                with pytest.raises(ConnectionClosedOK):
                    while True:
                        session.messages.append(decode_server(await _recv(ws)))
                return session

    assert [w.text for w in arun(scenario()).words] == ['{"type":', '"Eos"}']


def test_eos_byte_ends_the_stream() -> None:
    """The single byte 0x00 is Eos."""

    async def scenario() -> int:
        async with Simulator(fast()) as sim:
            async with connect(sim.url + MSGPACK, additional_headers=KEY) as ws:
                await _recv(ws)
                await ws.send(encode(Text("hello")))
                await ws.send(b"\x00")
                frames = 0
                with pytest.raises(ConnectionClosedOK):
                    while True:
                        await _recv(ws)
                        frames += 1
                return frames

    assert arun(scenario()) == 1 + 5 + 4


def test_eos_before_any_text_closes_without_audio() -> None:
    """Eos first: the slot is dropped at once, the socket closed with 1005, no audio."""

    async def scenario() -> tuple[int | None, int]:
        async with Simulator(fast()) as sim:
            async with connect(sim.url + MSGPACK, additional_headers=KEY) as ws:
                await _recv(ws)
                await ws.send(encode(Eos()))
                with pytest.raises(ConnectionClosedOK) as info:
                    await _recv(ws)
                assert info.value.rcvd is not None
                return info.value.rcvd.code, sim.used_slots

    assert arun(scenario()) == (1005, 0)


@pytest.mark.parametrize(
    "payload",
    [b"\xc1", b"\x81\xa4type\xa4Nope", b"\x92\x01\x02"],
    ids=["invalid-messagepack", "unknown-type", "not-a-map"],
)
def test_malformed_client_message_closes_the_session_without_error(payload: bytes) -> None:
    """Malformed MessagePack or an unknown type ends the session: no Error, close 1005."""

    async def scenario() -> tuple[int | None, int]:
        async with Simulator(fast()) as sim:
            async with connect(sim.url + MSGPACK, additional_headers=KEY) as ws:
                await _recv(ws)
                await ws.send(payload)
                with pytest.raises(ConnectionClosedOK) as info:
                    await _recv(ws)
                assert info.value.rcvd is not None
                return info.value.rcvd.code, sim.used_slots

    assert arun(scenario()) == (1005, 0)


# -- slots --------------------------------------------------------------------------------------


def test_full_batch_gets_no_free_channels_then_close_1005() -> None:
    """With every slot taken, the handshake succeeds, then Error and a close without status."""

    async def scenario() -> Session:
        async with Simulator(fast(batch_size=2)) as sim:
            async with connect(sim.url + MSGPACK, additional_headers=KEY) as a:
                async with connect(sim.url + MSGPACK, additional_headers=KEY) as b:
                    await _recv(a)
                    await _recv(b)
                    assert await aused_slots(sim) == 2
                    third = await speak(sim.url)
            assert sim.metrics["py_connect"] == 3
            return third

    third = arun(scenario())
    assert third.messages == [Error(NO_FREE_CHANNELS)]
    assert third.close_code == 1005 and third.clean


def test_full_batch_with_a_raw_format_drops_the_socket() -> None:
    """With a raw format nothing can be said: the socket is dropped without a close frame."""

    async def scenario() -> ConnectionClosed:
        async with Simulator(fast(batch_size=1)) as sim:
            async with connect(sim.url + MSGPACK, additional_headers=KEY) as a:
                await _recv(a)
                async with connect(sim.url + "?format=Pcm", additional_headers=KEY) as b:
                    with pytest.raises(ConnectionClosedError) as info:
                        await _recv(b)
                    return info.value

    closed = arun(scenario())
    assert closed.rcvd is None  # 1006: no close frame


def test_client_that_never_sends_eos_keeps_its_slot() -> None:
    """The leak: a client answering pings without Eos holds its slot past the idle limit."""

    async def scenario() -> tuple[int, int, float]:
        config = fast(batch_size=1, ping_interval_s=0.05, idle_timeout_s=0.3)
        async with Simulator(config) as sim:
            async with connect(sim.url + MSGPACK, additional_headers=KEY, ping_interval=None) as ws:
                await _recv(ws)
                await ws.send(encode(Text("hello")))
                before = await ascrape(sim)
                await asyncio.sleep(0.8)
                used = await aused_slots(sim)
                after = await ascrape(sim)
                other = await speak(sim.url)
                assert other.messages == [Error(NO_FREE_CHANNELS)]
            await asyncio.sleep(0.05)
            freed = sim.used_slots
        grew = after['py_missing_words_steps{handler="all"}']
        return used, freed, grew - before['py_missing_words_steps{handler="all"}']

    used, freed, missing_words_growth = arun(scenario())
    assert used == 1 and freed == 0
    assert missing_words_growth > 10


def test_silent_client_slot_is_freed_after_the_idle_timeout() -> None:
    """No frame at all from the client for idle_timeout_s frees the slot and closes (1005)."""

    async def scenario() -> tuple[float, int | None, int]:
        config = fast(ping_interval_s=0, idle_timeout_s=0.3)
        async with Simulator(config) as sim:
            async with connect(sim.url + MSGPACK, additional_headers=KEY, ping_interval=None) as ws:
                await _recv(ws)
                started = time.perf_counter()
                with pytest.raises(ConnectionClosedOK) as info:
                    await _recv(ws, timeout=3)
                assert info.value.rcvd is not None
                return time.perf_counter() - started, info.value.rcvd.code, sim.used_slots

    elapsed, code, used = arun(scenario())
    assert 0.25 < elapsed < 1.0 and code == 1005 and used == 0


def test_client_disconnect_frees_the_slot() -> None:
    """A client that closes mid-stream gives its slot back."""

    async def scenario() -> tuple[int, int]:
        async with Simulator(fast()) as sim:
            async with connect(sim.url + MSGPACK, additional_headers=KEY) as ws:
                await _recv(ws)
                await ws.send(encode(Text("hello")))
                during = await aused_slots(sim)
            return during, await aused_slots(sim)

    assert arun(scenario()) == (1, 0)


class PingCounter(ClientConnection):
    """A client connection that counts the Ping frames it receives."""

    pings = 0

    def process_event(self, event: Any) -> None:
        if isinstance(event, Frame) and event.opcode is Opcode.PING:
            self.pings += 1
        super().process_event(event)


def test_pings_are_sent_at_the_configured_interval() -> None:
    """The server pings every ping_interval_s."""

    async def scenario() -> int:
        async with Simulator(fast(ping_interval_s=0.1)) as sim:
            async with connect(
                sim.url + MSGPACK,
                additional_headers=KEY,
                ping_interval=None,
                create_connection=PingCounter,
            ) as ws:
                await _recv(ws)
                await asyncio.sleep(0.55)
                assert isinstance(ws, PingCounter)
                return ws.pings

    assert 4 <= arun(scenario()) <= 6


# -- metrics ------------------------------------------------------------------------------------


def test_metrics_move_as_the_real_ones() -> None:
    """Steps and channels move while a session generates; num_steps is observed at the end."""

    async def scenario() -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
        async with Simulator(fast()) as sim:
            async with connect(sim.url + MSGPACK, additional_headers=KEY) as ws:
                await _recv(ws)
                await asyncio.sleep(0.1)
                during = await ascrape(sim)
                for word in TEXT.split():
                    await ws.send(encode(Text(word)))
                await ws.send(encode(Eos()))
                with pytest.raises(ConnectionClosedOK):
                    while True:
                        await _recv(ws)
            await asyncio.sleep(0.05)
            idle = await ascrape(sim)
            await asyncio.sleep(0.1)
            return during, idle, await ascrape(sim)

    during, idle, later = arun(scenario())
    label = '{handler="all"}'
    assert during[f"py_open_channels{label}"] == 1 and during[f"py_connect{label}"] == 1
    assert during[f"py_total_steps{label}"] > 5  # the loop steps while a slot is taken
    assert during[f"py_active_steps{label}"] == 0  # nothing generated yet
    assert idle[f"py_active_steps{label}"] >= 40
    assert idle[f"py_could_have_run_steps{label}"] >= 40
    assert idle[f"py_open_channels{label}"] == 0
    assert idle["py_model_connection_num_steps_count"] == 1
    assert idle["py_model_connection_num_steps_sum"] == 9 * 5 + 4
    assert idle["py_model_step_duration_count"] == idle[f"py_active_steps{label}"]
    assert later[f"py_total_steps{label}"] == idle[f"py_total_steps{label}"]  # idle loop


# -- faults -------------------------------------------------------------------------------------


def test_every_fault_and_tls_mode_is_documented() -> None:
    """docs/simulate.md names every fault and TLS mode."""
    doc = (REPO / "docs" / "simulate.md").read_text()
    for name in (*FAULTS, *TLS_MODES):
        assert f"`{name}`" in doc


def test_unknown_fault_is_refused() -> None:
    """SimConfig validates its values with a message naming them."""
    with pytest.raises(ValueError, match="unknown fault no-such"):
        SimConfig(faults=frozenset({"no-such"}))
    with pytest.raises(ValueError, match="batch_size 0 is below 1"):
        SimConfig(batch_size=0)


def test_model_loop_dead_sends_ready_but_never_audio_and_freezes_steps() -> None:
    """model-loop-dead: Ready, then nothing; total_steps frozen while a channel is open."""

    async def scenario() -> tuple[dict[str, float], dict[str, float], int]:
        async with Simulator(fast(faults=frozenset({"model-loop-dead"}))) as sim:
            async with connect(sim.url + MSGPACK, additional_headers=KEY) as ws:
                assert decode_server(await _recv(ws)) == Ready()
                for word in TEXT.split():
                    await ws.send(encode(Text(word)))
                await ws.send(encode(Eos()))
                first = await ascrape(sim)
                with pytest.raises(asyncio.TimeoutError):
                    await _recv(ws, timeout=0.5)
                second = await ascrape(sim)
            await asyncio.sleep(0.05)
            return first, second, sim.used_slots

    first, second, used = arun(scenario())
    label = '{handler="all"}'
    assert first[f"py_total_steps{label}"] == second[f"py_total_steps{label}"] == 0
    assert second[f"py_open_channels{label}"] == 1
    assert used == 1  # nothing frees slots once the loop is dead


def test_leak_slots_keeps_slots_after_a_complete_session() -> None:
    """leak-slots: a session with Eos and close still leaves its slot taken."""

    async def scenario() -> tuple[Session, Session]:
        async with Simulator(fast(batch_size=1, faults=frozenset({"leak-slots"}))) as sim:
            first = await speak(sim.url, "hello")
            assert await aused_slots(sim) == 1
            return first, await speak(sim.url, "hello")

    first, second = arun(scenario())
    assert first.clean and len(first.audio) == 9
    assert second.messages == [Error(NO_FREE_CHANNELS)]


def test_malformed_audio_fault_sends_frames_audio_problems_flags() -> None:
    """malformed-audio: wrong sample counts, NaN and clipping, each seen by audio_problems."""

    async def scenario() -> Session:
        async with Simulator(fast(faults=frozenset({"malformed-audio"}))) as sim:
            return await speak(sim.url, "one")

    problems = [audio_problems(a.pcm) for a in arun(scenario()).audio[:3]]
    assert problems[0] == ["1600 samples instead of 1920"]
    assert problems[1] == ["NaN or infinite samples"]
    assert problems[2][0].startswith("samples beyond +-1.0 (peak 1.500")


def test_silent_audio_fault_sends_only_zeros() -> None:
    """silent-audio: every Audio message is 1920 zeros."""

    async def scenario() -> Session:
        async with Simulator(fast(faults=frozenset({"silent-audio"}))) as sim:
            return await speak(sim.url, "one two")

    audio = arun(scenario()).audio
    assert len(audio) == 14 and all(len(a.pcm) == 1920 and not any(a.pcm) for a in audio)


def test_timing_faults_raise_the_delays() -> None:
    """slow-first-audio and slower-than-realtime override smaller configured values only."""
    slow = SimConfig(faults=frozenset({"slow-first-audio", "slower-than-realtime"}))
    assert slow.effective_first_audio_delay_s == 2.5 and slow.effective_rtf == 1.5
    slower = SimConfig(first_audio_delay_s=4.0, rtf=2.0, faults=slow.faults)
    assert slower.effective_first_audio_delay_s == 4.0 and slower.effective_rtf == 2.0
    assert SimConfig().effective_first_audio_delay_s == 0.3 and SimConfig().effective_rtf == 0.44


def test_slower_than_realtime_paces_frames_slower_than_audio() -> None:
    """slower-than-realtime: 80 ms frames arrive 120 ms apart."""

    async def scenario() -> float:
        async with Simulator(fast(faults=frozenset({"slower-than-realtime"}))) as sim:
            async with connect(sim.url + MSGPACK, additional_headers=KEY) as ws:
                await _recv(ws)
                for word in "a b c d".split():
                    await ws.send(encode(Text(word)))
                stamps: list[float] = []
                while len(stamps) < 5:
                    if isinstance(decode_server(await _recv(ws)), Audio):
                        stamps.append(time.perf_counter())
                return (stamps[-1] - stamps[0]) / 4

    assert arun(scenario()) == pytest.approx(1.5 * FRAME_SECONDS, abs=0.015)


# -- timing -------------------------------------------------------------------------------------


def test_time_to_first_audio_matches_the_configured_delay() -> None:
    """One session: first audio 300 ms after the text (tested at +-50 ms; the bench is finer)."""

    async def scenario() -> float | None:
        async with Simulator(SimConfig(port=0)) as sim:
            async with connect(sim.url + MSGPACK, additional_headers=KEY) as ws:
                await _recv(ws)
                started = time.perf_counter()
                for word in "one two three four".split():
                    await ws.send(encode(Text(word)))
                while not isinstance(decode_server(await _recv(ws)), Audio):
                    pass
                return time.perf_counter() - started

    ttfa = arun(scenario())
    assert ttfa is not None and abs(ttfa - 0.3) < 0.05


# -- networks and TLS ---------------------------------------------------------------------------


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


needs_ipv6 = pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback here")


@needs_ipv6
@pytest.mark.parametrize("host", ["::1", "localhost"])
def test_ipv6_only_bind_refuses_ipv4_loopback(host: str) -> None:
    """--host ::1 (or a name, as moshi-server's --addr) listens on [::1] only (NET004)."""
    with running(fast(host=host)) as sim:
        assert sim.url == f"ws://[::1]:{sim.port}/api/tts_streaming"
        assert http_get(sim.http_url, "/api/build_info")[0] == 200
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", sim.port), timeout=2).close()


def _tls_client(cafile: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=cafile)
    return context


def _handshake(sim: Simulator, context: ssl.SSLContext, server_hostname: str) -> dict[str, Any]:
    with socket.create_connection(("127.0.0.1", sim.port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=server_hostname) as tls:
            return tls.getpeercert() or {}


@pytest.mark.parametrize("mode", ["valid", "self-signed", "expiring"])
def test_tls_modes_that_verify_with_the_given_certificate(mode: str) -> None:
    """Trusting ca_pem, the handshake succeeds and a wss:// session works."""

    async def scenario(sim: Simulator) -> Session:
        return await speak(sim.url, "hi", ssl_context=_tls_client(sim.ca_pem))

    with running(fast(tls=mode)) as sim:
        assert sim.url.startswith("wss://127.0.0.1:") and sim.ca_pem is not None
        cert = _handshake(sim, _tls_client(sim.ca_pem), "127.0.0.1")
        assert arun(scenario(sim)).clean
    expires = ssl.cert_time_to_seconds(cert["notAfter"]) - time.time()
    assert (expires < 8 * 86400) == (mode == "expiring")
    assert not Path(sim.ca_pem).exists()  # removed with the simulator


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("self-signed", "self-signed certificate"),
        ("expired", "certificate has expired"),
        ("wrong-host", "IP address mismatch"),
        ("missing-intermediate", "unable to get local issuer certificate"),
    ],
)
def test_tls_modes_that_fail_verification(mode: str, message: str) -> None:
    """Each broken certificate fails verification with OpenSSL's own reason."""
    with running(fast(tls=mode)) as sim:
        trust = None if mode == "self-signed" else sim.ca_pem
        with pytest.raises(ssl.SSLCertVerificationError, match=message):
            _handshake(sim, _tls_client(trust), "127.0.0.1")


def test_wss_to_the_plain_simulator_fails_the_handshake(sim: Simulator) -> None:
    """A TLS client against the plain server fails as against moshi-server (TLS005)."""
    with pytest.raises(ssl.SSLError, match="WRONG_VERSION_NUMBER|record layer failure"):
        _handshake(sim, _tls_client(None), "127.0.0.1")


# -- Kyutai's client and the command ------------------------------------------------------------


def test_kyutai_client_works_unchanged_in_process() -> None:
    """Kyutai's TTS script receives every sample and ends on the server's close."""

    async def scenario() -> list[float]:
        async with Simulator(fast()) as sim:
            base = sim.url.removesuffix(sim.config.path)
            return await kyutai_client.tts("Hello world, this is a test.", base)

    pcm = arun(scenario())
    assert len(pcm) == (6 * 5 + 4) * FRAME_SAMPLES
    assert all(math.isfinite(v) and abs(v) <= 0.99 for v in pcm)


@pytest.fixture
def subprocess_sim() -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``python -m kyudoctor.simulate`` on a free port, stopped with SIGTERM at the end."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kyudoctor.simulate",
            "--port",
            "0",
            "--api-key",
            "s3cret-key-value",
            "--first-audio-delay",
            "0.05",
            "--rtf",
            "0.05",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("simulating moshi-server on ws://127.0.0.1:"), line
        url = line.split(" on ", 1)[1].split(";", 1)[0]
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()


def test_kyutai_client_works_against_the_command(
    subprocess_sim: tuple[subprocess.Popen[str], str],
) -> None:
    """The command serves Kyutai's client; SIGTERM stops it with status 0; the key never shows."""
    proc, url = subprocess_sim
    base = url.removesuffix("/api/tts_streaming")
    pcm = arun(kyutai_client.tts("Hello there", base, api_key="s3cret-key-value"))
    assert len(pcm) == (2 * 5 + 4) * FRAME_SAMPLES
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "s3cret" not in out + err
    assert "received end of stream" in err and "Traceback" not in err


def test_command_reports_a_port_in_use_in_one_line() -> None:
    """A port held by another socket: one line on stderr, exit status 2."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "kyudoctor.simulate", "--port", str(port)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        f"kyudoctor simulate: cannot listen on 127.0.0.1 port {port}: "
        "the address is already in use (another process holds the port)"
    ]


def test_command_refuses_inconsistent_options() -> None:
    """Bad values exit 2 with the reason; an unknown fault is an argparse error."""
    bad = subprocess.run(
        [sys.executable, "-m", "kyudoctor.simulate", "--batch-size", "0"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert bad.returncode == 2 and "batch_size 0 is below 1" in bad.stderr
    unknown = subprocess.run(
        [sys.executable, "-m", "kyudoctor.simulate", "--fault", "nope"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert unknown.returncode == 2 and "invalid choice: 'nope'" in unknown.stderr


def test_running_raises_when_the_port_is_taken() -> None:
    """running() reports a bind failure to the caller instead of hanging."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        with pytest.raises(OSError), running(fast(port=holder.getsockname()[1])):
            pass


def test_command_stops_on_sigint_with_status_0(
    subprocess_sim: tuple[subprocess.Popen[str], str],
) -> None:
    """Ctrl-C (SIGINT) stops the command cleanly: status 0, no traceback."""
    proc, _ = subprocess_sim
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0 and "Traceback" not in err
