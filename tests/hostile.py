"""Hostile and broken servers on loopback, for the session client and the server probe.

Each server runs in a background thread with its own event loop (``with Served(handler) as s``),
so synchronous tests (the probe) and asynchronous ones (``asyncio.run(run_session(...))``) can
dial it. Handlers speak raw TCP through asyncio streams: the point is to send what no correct
server sends (a frame header announcing 100 MB, a MessagePack array header claiming 2^32 items,
a byte a second), which a WebSocket library would refuse to produce. Stopping a server aborts
its open connections, so every test ends quickly and closes every socket.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import ssl
import struct
import threading
from collections.abc import Awaitable, Callable
from types import TracebackType

import msgpack

from kyudoctor import protocol

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TTS_PATH = "/api/tts_streaming"


class Served:
    """Run ``handler`` for every connection on ``host``:0 in a background thread."""

    def __init__(
        self, handler: Handler, *, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None
    ) -> None:
        self.handler = handler
        self.host = host
        self.tls = tls
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.connections = 0

    def url(self, path: str = TTS_PATH, scheme: str = "ws") -> str:
        """The URL of ``path`` on this server."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}{path}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self.handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, OSError):
            pass
        except asyncio.CancelledError:
            # Stopping the server: end normally (asyncio 3.11 logs a cancelled handler task).
            pass
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            writer.transport.abort()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    def __enter__(self) -> Served:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(5)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()


# -- raw HTTP and WebSocket pieces -----------------------------------------------------------


async def read_request(reader: asyncio.StreamReader) -> dict[str, str]:
    """Read one HTTP request head; headers lower-cased, plus ``:path`` and ``:method``."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, _, rest = lines[0].partition(" ")
    headers = {":method": method, ":path": rest.rpartition(" ")[0]}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers


def http_response(status: int, reason: str, body: bytes = b"", **headers: str) -> bytes:
    """A complete HTTP/1.1 response (``Content-Length`` set)."""
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def upgrade(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> dict[str, str]:
    """Answer the WebSocket upgrade with 101; return the request headers."""
    headers = await read_request(reader)
    accept = base64.b64encode(
        hashlib.sha1((headers["sec-websocket-key"] + WS_GUID).encode()).digest()
    ).decode()
    writer.write(
        (
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept}\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    return headers


def frame_header(length: int, opcode: int = 0x2) -> bytes:
    """An unmasked server frame header (FIN set) announcing ``length`` payload bytes."""
    first = 0x80 | opcode
    if length < 126:
        return struct.pack("!BB", first, length)
    if length < 1 << 16:
        return struct.pack("!BBH", first, 126, length)
    return struct.pack("!BBQ", first, 127, length)


def frame(payload: bytes, opcode: int = 0x2) -> bytes:
    """A whole unmasked server frame."""
    return frame_header(len(payload), opcode) + payload


def close_frame(code: int | None = None) -> bytes:
    """A Close frame; ``None`` sends it without a status code (what moshi-server does)."""
    return frame(b"" if code is None else struct.pack("!H", code), opcode=0x8)


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One masked client frame: ``(opcode, payload)``."""
    first, second = await reader.readexactly(2)
    length = second & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", await reader.readexactly(2))
    elif length == 127:
        (length,) = struct.unpack("!Q", await reader.readexactly(8))
    mask = await reader.readexactly(4) if second & 0x80 else b"\x00\x00\x00\x00"
    data = await reader.readexactly(length)
    return first & 0x0F, bytes(b ^ mask[i % 4] for i, b in enumerate(data))


async def drain_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read client frames until it closes, answering its Close (so the client ends cleanly)."""
    while True:
        opcode, _payload = await read_frame(reader)
        if opcode == 0x8:
            writer.write(close_frame())
            await writer.drain()
            return


READY = protocol.encode(protocol.Ready())
NO_FREE = protocol.encode(protocol.Error(protocol.NO_FREE_CHANNELS))
AUDIO = protocol.encode(protocol.Audio(tuple(0.25 for _ in range(protocol.FRAME_SAMPLES))))


# -- the hostile servers ---------------------------------------------------------------------


async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accept the TCP connection, read, and never say anything."""
    while await reader.read(65536):
        pass
    await asyncio.Event().wait()


async def immediate_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Close the connection as soon as it is accepted."""
    writer.close()


def drip(payload: bytes, interval: float = 1.0) -> Handler:
    """Answer every request with ``payload``, one byte every ``interval`` seconds."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        for byte in payload:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(interval)

    return handler


def answer(status: int, reason: str, body: bytes = b"", **headers: str) -> Handler:
    """Answer every request (upgrade or not) with this HTTP response, then close."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(http_response(status, reason, body, **headers))
        await writer.drain()
        writer.close()

    return handler


async def ssh_banner(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Not HTTP at all: an SSH server on the port (its banner, then it waits)."""
    writer.write(b"SSH-2.0-OpenSSH_9.6\r\n")
    await writer.drain()
    while await reader.read(65536):
        pass


async def ok_without_upgrade(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """HTTP 200 with an HTML page and no Content-Length, keeping the connection open."""
    await read_request(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html><body>Welcome")
    await writer.drain()
    await asyncio.Event().wait()


PROXY_407 = answer(
    407,
    "Proxy Authentication Required",
    b"<html><head><title>407 Proxy Authentication Required</title></head></html>",
    Content_Type="text/html",
    Proxy_Authenticate='Basic realm="corp"',
    Via="1.1 squid",
    Server="squid/6.6",
)
FORBIDDEN_HTML = answer(
    403,
    "Forbidden",
    b"<html><body><h1>403 Forbidden</h1>nginx</body></html>",
    Content_Type="text/html",
    Server="nginx/1.25.3",
)
MOSHI_401 = answer(401, "Unauthorized")
NOT_FOUND = answer(404, "Not Found")
STRIPPED_UPGRADE = answer(
    400, "Bad Request", b"Connection header did not include 'upgrade'", Via="1.1 proxy"
)


def after_upgrade(*frames: bytes, then: str = "hold") -> Handler:
    """Upgrade, send ``frames`` (already framed), then ``hold`` (answer the client's close),
    ``drop`` the TCP connection, or ``close`` with a status-less Close frame."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await upgrade(reader, writer)
        for data in frames:
            writer.write(data)
            await writer.drain()
        if then == "drop":
            writer.transport.abort()
            return
        if then == "close":
            writer.write(close_frame())
            await writer.drain()
        await drain_client(reader, writer)

    return handler


async def huge_frame(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Ready, then a frame announcing 100 MB, streamed until the client gives up."""
    await upgrade(reader, writer)
    writer.write(frame(READY) + frame_header(100 * 1024 * 1024))
    chunk = b"\x00" * 65536
    for _ in range(100 * 16):
        writer.write(chunk)
        await writer.drain()


ARRAY_2_32 = b"\x81\xa3pcm\xdd\xff\xff\xff\xff"
"""A map {"pcm": array32 header claiming 2^32 - 1 items} with no items."""
INVALID_MSGPACK = b"\xc1\xc1\xc1"
OGG_PAGE = b"OggS\x00\x02" + b"\x00" * 100
BARE_PCM = b"\x00" * (4 * protocol.FRAME_SAMPLES)

huge_array = after_upgrade(frame(READY), frame(ARRAY_2_32))
invalid_msgpack = after_upgrade(frame(INVALID_MSGPACK))
ogg_first = after_upgrade(frame(OGG_PAGE), frame(OGG_PAGE))
pcm_first = after_upgrade(frame(BARE_PCM))
text_frame_first = after_upgrade(frame(b'{"type": "Ready"}', opcode=0x1))
no_free_channels = after_upgrade(frame(NO_FREE), then="close")
ready_then_drop = after_upgrade(frame(READY), then="drop")
ready_only = after_upgrade(frame(READY))
upgrade_then_drop = after_upgrade(then="drop")


def malformed_audio(n_samples: int = 1000, value: float = float("nan")) -> Handler:
    """Ready, then Audio messages of ``n_samples`` samples of ``value``, then a 1005 close."""
    payload = msgpack.packb({"type": "Audio", "pcm": [value] * n_samples}, use_single_float=True)
    return after_upgrade(frame(READY), *(frame(payload) for _ in range(5)), then="close")


async def tts_like(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A tiny faithful TTS session: Ready; after Eos, words and 10 Audio frames; 1005 close."""
    await upgrade(reader, writer)
    writer.write(frame(READY))
    await writer.drain()
    while True:
        opcode, payload = await read_frame(reader)
        if opcode == 0x8:
            writer.write(close_frame())
            return
        if opcode == 0x2 and isinstance(protocol.decode_client(payload), protocol.Eos):
            break
    word = protocol.encode(protocol.Word("hello", 0.0, 0.4))
    writer.write(frame(word))
    for _ in range(10):
        writer.write(frame(AUDIO))
        await writer.drain()
        await asyncio.sleep(0.005)
    writer.write(close_frame())
    await writer.drain()
    with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
        await drain_client(reader, writer)
