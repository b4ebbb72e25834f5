"""``kyudoctor simulate``: a protocol-faithful fake moshi-server (the Python TTS module).

One port serves what moshi-server serves (``docs/simulate.md`` has the user's view):

- ``GET <path>`` upgraded to WebSocket: the TTS session of moshi-server.md §5;
  a plain ``GET <path>`` answers 400 "Connection header did not include 'upgrade'".
- ``GET /api/build_info``, ``GET /api/modules_info`` (live ``used_slots``), ``GET /metrics``
  (the ``py_*`` series of moshi-server, moving as the real ones); any other path: 404.
- ``POST <path>`` (the WAV endpoint) is not simulated: the handshake parser refuses a request
  body, so the socket is closed without a response.

Behaviour modelled on moshi-server 0.6.4's ``py_module.rs``: the API key is checked before the
upgrade (header ``kyutai-api-key`` wins over ``?auth_id=``, 401 with an empty body), an invalid
``format`` is a 400 before auth; on upgrade a slot is taken and ``Ready`` sent at once; no free
slot: ``Error "no free channels"`` then a Close frame without status code (clients see 1005),
or for raw formats the socket is dropped. Generation starts once ``lookahead + 1`` words are
queued or Eos arrived; the first Audio comes ``first_audio_delay_s`` after that, the next ones
every ``rtf * 80 ms`` on absolute deadlines (no drift). After Eos the tail and some padding are
sent, the slot is freed, and the socket closed without status code. A slot is also freed when
the client closes or disconnects, after a malformed message, or after ``idle_timeout_s`` with no
frame at all from the client; pongs are frames, so a client that answers the pings (every
``ping_interval_s``) and never sends Eos holds its slot for ever, as on the real server.

A global "model loop" ticks every ``rtf * 80 ms`` while any slot is taken and moves the metrics
as moshi-server's does: ``py_total_steps`` every step, ``py_active_steps`` when a session
generated audio, per session and step ``py_missing_words_steps`` (waiting for words without
Eos) or ``py_could_have_run_steps``.

Audio is synthetic: a 200 Hz tone at amplitude 0.3 while words are spoken, silence for the
padding. Each frame's bytes are built once and reused, so a session costs a timer and a socket
write per 80 ms of audio.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import collections
import concurrent.futures
import contextlib
import datetime as dt
import errno
import ipaddress
import json
import logging
import math
import signal
import struct
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from kyudoctor import __version__
from kyudoctor.protocol import (
    API_KEY_HEADER,
    DEFAULT_FORMAT,
    FORMATS,
    FRAME_SAMPLES,
    FRAME_SECONDS,
    NO_FREE_CHANNELS,
    SAMPLE_RATE,
    Audio,
    Eos,
    Error,
    ProtocolError,
    Ready,
    Text,
    Word,
    decode_client,
    encode,
    to_wire,
)

if TYPE_CHECKING:  # pragma: no cover
    import ssl

    from websockets.asyncio.server import Server, ServerConnection
    from websockets.http11 import Request, Response

__all__ = [
    "FAULTS",
    "TLS_MODES",
    "SimConfig",
    "Simulator",
    "add_arguments",
    "main",
    "running",
    "run",
]

log = logging.getLogger("kyudoctor.simulate")
log.addHandler(logging.NullHandler())

FAULTS: dict[str, str] = {
    "model-loop-dead": (
        "the model loop died at start-up (as after a CUDA OOM): Ready is sent, no audio ever, "
        "no slot is ever freed, py_total_steps stays frozen (WS007)"
    ),
    "leak-slots": (
        "slots are never freed, even after a complete session ends with Eos and close: "
        "used_slots only grows until every client gets 'no free channels' (WS011, WS005)"
    ),
    "malformed-audio": (
        "Audio messages cycle through 1600 samples instead of 1920, a NaN sample, "
        "and a peak of 1.5 (WS010)"
    ),
    "silent-audio": "every Audio message is 1920 zeros: the whole stream is silent (WS010)",
    "slow-first-audio": (
        f"first audio after at least {2.5} s instead of first_audio_delay_s (WS008)"
    ),
    "slower-than-realtime": "audio frames paced at a real-time factor of at least 1.5 (WS009)",
}
SLOW_FIRST_AUDIO_S = 2.5
SLOW_RTF = 1.5

TLS_MODES: dict[str, str] = {
    "valid": "a leaf signed by a private CA, covering the host (trust the CA: handshake ok)",
    "expiring": "as valid, but it expires in 7 days (TLS002 warning)",
    "self-signed": "a self-signed leaf; the file to trust is the leaf itself (TLS001)",
    "expired": "a leaf signed by the CA that expired yesterday (TLS002)",
    "wrong-host": "a leaf signed by the CA for wrong-host.invalid only (TLS003)",
    "missing-intermediate": (
        "a leaf signed by an intermediate CA that the server does not send (TLS004)"
    ),
}

MSGPACK_FORMATS = frozenset({"PcmMessagePack", "OggOpusMessagePack"})
TONE_HZ = 200  # 120 samples per period: a 1920-sample frame holds 16 whole periods
TONE_AMPLITUDE = 0.3
WRONG_FRAME_SAMPLES = 1600
STEP_DURATION_BUCKETS = (10e-3, 15e-3, 20e-3, 30e-3, 40e-3, 50e-3, 80e-3)
CONNECTION_NUM_STEPS_BUCKETS = (2.0, 25.0, 62.5, 125.0, 250.0, 500.0, 750.0)
SEND_LEAD_S = 0.001
"""Aim each frame this much early: asyncio wakes up 0-1 ms late (epoll timeouts are whole
milliseconds) and sending takes a fraction of a millisecond, so the client receives on time."""
NO_UPGRADE = "Connection header did not include 'upgrade'"
BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n"


class SimulatorError(Exception):
    """The simulator cannot start as configured (message says why)."""


@dataclass(frozen=True)
class SimConfig:
    """How the simulated moshi-server behaves; defaults are a healthy single-GPU server."""

    host: str = "127.0.0.1"
    """IP literal to bind. A name (e.g. ``localhost``) binds ``::1`` only, as moshi-server's
    ``--addr`` does (NET004)."""
    port: int = 8080
    """0 picks a free port (read it back from :attr:`Simulator.port`)."""
    path: str = "/api/tts_streaming"
    batch_size: int = 8
    authorized_ids: tuple[str, ...] = ("public_token",)
    lookahead: int = 3
    """Words queued before generation starts is ``lookahead + 1``, unless Eos arrives first."""
    first_audio_delay_s: float = 0.3
    """From generation start to the first Audio message."""
    rtf: float = 0.44
    """Processing time / audio time for the frames after the first."""
    words_per_second: float = 2.5
    """Audio produced per word."""
    final_padding_s: float = 0.32
    """Silence generated after the last word once Eos arrived."""
    ping_interval_s: float = 10.0
    """0 sends no pings."""
    idle_timeout_s: float = 30.0
    """Free the slot after this long with no frame at all from the client (pongs count);
    0 disables it."""
    faults: frozenset[str] = frozenset()
    tls: str | None = None
    close_timeout_s: float = 3.0
    """How long a close handshake may take before the socket is dropped."""

    def __post_init__(self) -> None:
        problems = []
        if not 0 <= self.port <= 65535:
            problems.append(f"port {self.port} is not within 0-65535")
        if not self.path.startswith("/"):
            problems.append(f"path {self.path!r} does not start with '/'")
        if self.batch_size < 1:
            problems.append(f"batch_size {self.batch_size} is below 1")
        if self.lookahead < 0:
            problems.append(f"lookahead {self.lookahead} is negative")
        for name in ("first_audio_delay_s", "final_padding_s", "ping_interval_s"):
            if not getattr(self, name) >= 0:
                problems.append(f"{name} {getattr(self, name)} is negative")
        if not self.idle_timeout_s >= 0:
            problems.append(f"idle_timeout_s {self.idle_timeout_s} is negative")
        if not self.rtf > 0:
            problems.append(f"rtf {self.rtf} is not above 0")
        if not self.words_per_second > 0:
            problems.append(f"words_per_second {self.words_per_second} is not above 0")
        unknown = sorted(set(self.faults) - set(FAULTS))
        if unknown:
            problems.append(f"unknown fault {', '.join(unknown)} (known: {', '.join(FAULTS)})")
        if self.tls is not None and self.tls not in TLS_MODES:
            problems.append(f"unknown TLS mode {self.tls!r} (known: {', '.join(TLS_MODES)})")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def effective_first_audio_delay_s(self) -> float:
        """The first-audio delay once the slow-first-audio fault is applied."""
        if "slow-first-audio" in self.faults:
            return max(self.first_audio_delay_s, SLOW_FIRST_AUDIO_S)
        return self.first_audio_delay_s

    @property
    def effective_rtf(self) -> float:
        """The real-time factor once the slower-than-realtime fault is applied."""
        if "slower-than-realtime" in self.faults:
            return max(self.rtf, SLOW_RTF)
        return self.rtf


# -- audio and frames -------------------------------------------------------------------------


def _float32_le(samples: Sequence[float]) -> bytes:
    data = array.array("f", samples)
    if sys.byteorder == "big":  # pragma: no cover - every supported platform is little-endian
        data.byteswap()
    return data.tobytes()


def _tone() -> list[float]:
    return [
        TONE_AMPLITUDE * math.sin(2 * math.pi * TONE_HZ * n / SAMPLE_RATE)
        for n in range(FRAME_SAMPLES)
    ]


_OGG_CRC_TABLE: list[int] = []


def _ogg_crc(data: bytes) -> int:
    if not _OGG_CRC_TABLE:
        for i in range(256):
            r = i << 24
            for _ in range(8):
                r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else (r << 1)
            _OGG_CRC_TABLE.append(r & 0xFFFFFFFF)
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _OGG_CRC_TABLE[(crc >> 24) ^ byte]
    return crc


def ogg_page(serial: int, sequence: int, granule: int, flags: int, packets: list[bytes]) -> bytes:
    """One Ogg page (RFC 3533) holding whole packets, with its CRC."""
    lacing = bytearray()
    for packet in packets:
        lacing += b"\xff" * (len(packet) // 255) + bytes([len(packet) % 255])
    header = struct.pack("<4sBBqIIIB", b"OggS", 0, flags, granule, serial, sequence, 0, len(lacing))
    page = header + bytes(lacing) + b"".join(packets)
    return page[:22] + struct.pack("<I", _ogg_crc(page)) + page[26:]


OPUS_SILENCE_20MS = b"\xf8\xff\xfe"
"""A valid Opus packet: 20 ms of CELT silence (mono)."""


class _OggStream:
    """Synthetic Ogg Opus pages: a header page pair, then one page per 80 ms (4 silent packets)."""

    def __init__(self, serial: int) -> None:
        self.serial = serial
        self.sequence = 0
        self.granule = 0

    def header(self) -> bytes:
        head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, 312, SAMPLE_RATE, 0, 0)
        vendor = f"kyudoctor-simulate {__version__}".encode()
        tags = b"OpusTags" + struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", 0)
        first = ogg_page(self.serial, 0, 0, 0x02, [head])
        second = ogg_page(self.serial, 1, 0, 0x00, [tags])
        self.sequence = 2
        return first + second

    def audio(self) -> bytes:
        self.granule += 4 * 960  # granule positions count 48 kHz samples in Ogg Opus
        page = ogg_page(self.serial, self.sequence, self.granule, 0, [OPUS_SILENCE_20MS] * 4)
        self.sequence += 1
        return page


@dataclass(frozen=True)
class _Frames:
    """Pre-encoded messages, built once per simulator."""

    ready: bytes
    no_free_channels: bytes
    audio: tuple[bytes, ...]  # PcmMessagePack messages, cycled (several only for faults)
    silence: bytes
    pcm: tuple[bytes, ...]  # raw float32 LE frames, same cycle
    pcm_silence: bytes

    @classmethod
    def build(cls, faults: frozenset[str]) -> _Frames:
        tone = _tone()
        zeros = [0.0] * FRAME_SAMPLES
        if "silent-audio" in faults:
            cycle = [zeros]
        elif "malformed-audio" in faults:
            with_nan = list(tone)
            with_nan[FRAME_SAMPLES // 2] = math.nan
            cycle = [tone[:WRONG_FRAME_SAMPLES], with_nan, [5 * v for v in tone]]
        else:
            cycle = [tone]
        return cls(
            ready=encode(Ready()),
            no_free_channels=encode(Error(NO_FREE_CHANNELS)),
            audio=tuple(encode(Audio(tuple(samples))) for samples in cycle),
            silence=encode(Audio(tuple(zeros))),
            pcm=tuple(_float32_le(samples) for samples in cycle),
            pcm_silence=_float32_le(zeros),
        )


def _encode_word(word: Word) -> bytes:
    """A Text message with float64 timestamps, as moshi-server's rmp_serde writes them."""
    import msgpack

    return msgpack.packb(to_wire(word), use_bin_type=True)  # type: ignore[no-any-return]


def _ogg_message(data: bytes) -> bytes:
    """An OggOpusMessagePack audio message: ``{"type": "OggOpus", "data": <bytes>}``."""
    import msgpack

    return msgpack.packb({"type": "OggOpus", "data": data}, use_bin_type=True)  # type: ignore[no-any-return]


# -- metrics -----------------------------------------------------------------------------------


class _Histogram:
    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts = [0] * len(buckets)
        self.total = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[i] += 1
        self.total += value
        self.count += 1


def _num(value: float) -> str:
    """A number as Rust's prometheus crate prints it (``3``, ``0.015``, ``62.5``)."""
    if math.isfinite(value) and value == int(value):
        return str(int(value))
    return repr(float(value))


_COUNTER_HELP = {
    "py_active_steps": "Number of times the python callback was called with some active users.",
    "py_connect": "Number of connections to the py-module.",
    "py_could_have_run_steps": "Number of times we ran the callback with enough words for a user.",
    "py_missing_words_steps": "Number of times the user failed to send words fast enough.",
    "py_total_steps": "Total number of times the python callback was called.",
}


# -- TLS ---------------------------------------------------------------------------------------


def _identities(host: str) -> list[str]:
    names = [host, "localhost"] if host not in ("0.0.0.0", "::") else []
    return list(dict.fromkeys([*names, "localhost", "127.0.0.1", "::1"]))


def _self_signed(identities: list[str], directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kyudoctor simulate self-signed")])
    sans: list[x509.GeneralName] = []
    for identity in identities:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(identity)))
        except ValueError:
            sans.append(x509.DNSName(identity))
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=90))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    chain = directory / "server.pem"
    chain.write_bytes(key_pem + cert_pem)
    trust = directory / "self-signed.pem"
    trust.write_bytes(cert_pem)
    return chain, trust


def _tls_files(mode: str, host: str, directory: Path) -> tuple[Path, Path]:
    """(key + chain the server presents, certificate a client should trust)."""
    try:
        import trustme
    except ImportError:
        raise SimulatorError("TLS modes need the trustme package: pip install trustme") from None
    identities = _identities(host)
    if mode == "self-signed":
        return _self_signed(identities, directory)
    now = dt.datetime.now(dt.timezone.utc)
    ca = trustme.CA(organization_name="kyudoctor simulate")
    issuer = ca.create_child_ca() if mode == "missing-intermediate" else ca
    if mode == "expired":
        leaf = issuer.issue_cert(
            *identities,
            not_before=now - dt.timedelta(days=30),
            not_after=now - dt.timedelta(days=1),
        )
    elif mode == "expiring":
        leaf = issuer.issue_cert(*identities, not_after=now + dt.timedelta(days=7))
    elif mode == "wrong-host":
        leaf = issuer.issue_cert("wrong-host.invalid")
    else:
        leaf = issuer.issue_cert(*identities)
    chain = directory / "server.pem"
    if mode == "missing-intermediate":
        # The leaf alone: the intermediate that signed it is not sent.
        chain.write_bytes(leaf.private_key_pem.bytes() + leaf.cert_chain_pems[0].bytes())
    else:
        leaf.private_key_and_cert_chain_pem.write_to_path(str(chain))
    trust = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(trust))
    return chain, trust


# -- sessions ----------------------------------------------------------------------------------


async def _close_without_status(conn: ServerConnection) -> None:
    """Send a Close frame with no payload, as moshi-server does (the client sees 1005)."""
    from websockets.exceptions import ConnectionClosed, InvalidState

    with contextlib.suppress(ConnectionClosed, InvalidState):
        async with conn.send_context():
            conn.protocol.send_close()


class _Session:
    """One TTS session holding a slot."""

    def __init__(self, sim: Simulator, conn: Any, fmt: str, slot: int) -> None:
        self.sim = sim
        self.conn = conn
        self.fmt = fmt
        self.slot = slot
        self.words: list[str] = []
        self.eos = False
        self.sent_init = False  # a word arrived (moshi-server's ``sent_init``)
        self.started = False
        self.stalled = False
        self.finished = False
        self.released = False
        self.closing = False
        self.frames_sent = 0
        self.wakeup = asyncio.Event()
        self.generator: asyncio.Task[None] | None = None
        self.idle_handle: asyncio.TimerHandle | None = None
        self.ogg = _OggStream(serial=slot + 1) if fmt.startswith("OggOpus") else None

    # -- what the model loop sees
    @property
    def missing_words(self) -> bool:
        return self.sent_init and not self.finished and (not self.started or self.stalled)

    @property
    def generating(self) -> bool:
        return self.started and not self.stalled and not self.finished

    # -- frames
    def _frames_ready(self) -> int:
        per_word = 1.0 / (self.sim.config.words_per_second * FRAME_SECONDS)
        if self.eos:
            speech = math.ceil(len(self.words) * per_word - 1e-9)
            return speech + self.sim.padding_frames
        ready_words = max(0, len(self.words) - self.sim.config.lookahead)
        return int(ready_words * per_word + 1e-9)

    def _word_start_frame(self, index: int) -> int:
        per_word = 1.0 / (self.sim.config.words_per_second * FRAME_SECONDS)
        return int(index * per_word + 1e-9)

    def _audio_bytes(self, index: int, speech_frames: int) -> bytes:
        frames = self.sim.frames
        silent = index >= speech_frames
        if self.fmt == "PcmMessagePack":
            return frames.silence if silent else frames.audio[index % len(frames.audio)]
        if self.fmt == "Pcm":
            return frames.pcm_silence if silent else frames.pcm[index % len(frames.pcm)]
        assert self.ogg is not None
        page = self.ogg.audio()
        return page if self.fmt == "OggOpus" else _ogg_message(page)

    async def preamble(self) -> None:
        """Ready (MessagePack formats) and the Ogg header pages (Ogg formats), at once."""
        if self.fmt in MSGPACK_FORMATS:
            await self.conn.send(self.sim.frames.ready)
        if self.ogg is not None:
            header = self.ogg.header()
            await self.conn.send(header if self.fmt == "OggOpus" else _ogg_message(header))

    # -- client input
    async def read_loop(self) -> None:
        from websockets.exceptions import ConnectionClosed

        dead = "model-loop-dead" in self.sim.config.faults
        while True:
            try:
                data = await self.conn.recv()
            except ConnectionClosed:
                return
            arrivals = self.conn.sim_arrivals
            arrived_at = arrivals.popleft() if arrivals else asyncio.get_running_loop().time()
            try:
                message = decode_client(data)
            except ProtocolError as exc:
                log.error('task failed name="recv_loop" err=%s', exc)
                if not dead:
                    self.stop_generator()
                    self.release()
                    await _close_without_status(self.conn)
                continue
            if self.eos or self.finished:
                continue
            if isinstance(message, Text):
                words = message.text.split()
                if words:
                    self.words.extend(words)
                    self.sent_init = True
            elif isinstance(message, Eos):
                log.info("received end of stream bidx=%d", self.slot)
                self.eos = True
                if not self.sent_init and not dead:
                    # Eos before any word: moshi-server drops the channel at once.
                    self.finished = True
                    self.release()
                    await _close_without_status(self.conn)
                    continue
            else:  # Voice: only effective before the first Text, and no voice is real here
                continue
            self.wakeup.set()
            if not self.started and not dead:
                if self.eos or len(self.words) >= self.sim.config.lookahead + 1:
                    self.started = True
                    self.generator = asyncio.get_running_loop().create_task(
                        self.generate(arrived_at)
                    )

    # -- audio output
    async def generate(self, started_at: float) -> None:
        from websockets.exceptions import ConnectionClosed

        loop = asyncio.get_running_loop()
        step = self.sim.step_s
        next_at = started_at + self.sim.config.effective_first_audio_delay_s
        msgpack_format = self.fmt in MSGPACK_FORMATS
        index = 0
        announced = 0
        try:
            while True:
                ready = self._frames_ready()
                if index >= ready:
                    if self.eos:
                        break
                    self.stalled = True
                    self.wakeup.clear()
                    await self.wakeup.wait()
                    self.stalled = False
                    next_at = max(next_at, loop.time())
                    continue
                delay = next_at - SEND_LEAD_S - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                speech_frames = self._word_start_frame(len(self.words)) if self.eos else ready
                if msgpack_format:
                    # Each word's timestamps go out before its first audio frame.
                    while (
                        announced < len(self.words) and self._word_start_frame(announced) <= index
                    ):
                        start = self._word_start_frame(announced) * FRAME_SECONDS
                        stop = self._word_start_frame(announced + 1) * FRAME_SECONDS
                        word = Word(self.words[announced], round(start, 3), round(stop, 3))
                        await self.conn.send(_encode_word(word))
                        announced += 1
                await self.conn.send(self._audio_bytes(index, speech_frames))
                if index == 0:
                    self.sim.first_audio_lateness_s.append(loop.time() - next_at)
                self.frames_sent += 1
                index += 1
                next_at += step
            self.finished = True
            log.info("tts finished bidx=%d", self.slot)
            self.release()
            self.closing = True
            await _close_without_status(self.conn)
        except ConnectionClosed:
            return

    def stop_generator(self) -> None:
        if self.generator is not None and not self.generator.done():
            self.generator.cancel()

    # -- slot
    def release(self) -> None:
        """Free the slot (unless a fault keeps it), once."""
        if self.released:
            return
        self.released = True
        self.finished = True
        if self.idle_handle is not None:
            self.idle_handle.cancel()
        self.sim._release(self)

    def on_close_frame(self) -> None:
        """The client sent a Close frame: moshi-server's recv loop ends, the slot is freed."""
        if "model-loop-dead" not in self.sim.config.faults:
            self.release()

    def arm_idle(self) -> None:
        timeout = self.sim.config.idle_timeout_s
        if timeout <= 0 or "model-loop-dead" in self.sim.config.faults:
            return
        loop = asyncio.get_running_loop()
        self.idle_handle = loop.call_at(self.conn.last_frame_at + timeout, self._idle_check)

    def _idle_check(self) -> None:
        if self.released:
            return
        loop = asyncio.get_running_loop()
        deadline = self.conn.last_frame_at + self.sim.config.idle_timeout_s
        if loop.time() < deadline:
            self.idle_handle = loop.call_at(deadline, self._idle_check)
            return
        log.info("recv loop short timeout bidx=%d", self.slot)
        self.stop_generator()
        self.release()
        self.sim._spawn(_close_without_status(self.conn))

    async def end(self) -> None:
        """The handler is leaving: stop generating, free the slot."""
        if self.generator is not None and not self.generator.done():
            if not self.closing:
                self.generator.cancel()
            await asyncio.wait([self.generator])
        if "model-loop-dead" not in self.sim.config.faults:
            self.release()
        elif self.idle_handle is not None:
            self.idle_handle.cancel()


# -- the server --------------------------------------------------------------------------------


class Simulator:
    """The simulated moshi-server, as an async context manager.

    ``async with Simulator(SimConfig(port=0)) as sim:`` serves until the block ends; dial
    :attr:`url`. :func:`running` does the same from synchronous code.
    """

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.frames = _Frames.build(config.faults)
        self.step_s = FRAME_SECONDS * config.effective_rtf
        self.padding_frames = round(config.final_padding_s / FRAME_SECONDS)
        self._slots: list[_Session | None] = [None] * config.batch_size
        self._used = 0
        self._counters = dict.fromkeys(_COUNTER_HELP, 0)
        self._step_duration = _Histogram(STEP_DURATION_BUCKETS)
        self._connection_num_steps = _Histogram(CONNECTION_NUM_STEPS_BUCKETS)
        self._server: Server | None = None
        self._model_task: asyncio.Task[None] | None = None
        self._model_wake: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._tls_dir: tempfile.TemporaryDirectory[str] | None = None
        self._ca_pem: str | None = None
        self._bound: tuple[str, int] | None = None
        self.started_at = dt.datetime.now(dt.timezone.utc)
        self.first_audio_lateness_s: collections.deque[float] = collections.deque(maxlen=100_000)
        """Per session, when its first Audio was handed to the socket minus when it was due
        (generation start + first-audio delay): the server's own timing error, for benchmarks."""

    # -- public view
    @property
    def host(self) -> str:
        """The address actually bound (``::1`` for a host name, as moshi-server does)."""
        return self._bind_host()

    @property
    def port(self) -> int:
        if self._bound is None:
            raise RuntimeError("the simulator is not running")
        return self._bound[1]

    @property
    def url(self) -> str:
        """``ws://host:port/path`` (``wss://`` with TLS); IPv6 hosts bracketed."""
        scheme = "wss" if self.config.tls else "ws"
        return f"{scheme}://{self._netloc()}{self.config.path}"

    @property
    def http_url(self) -> str:
        """``http://host:port`` (``https://`` with TLS), no path: append ``/api/build_info``."""
        scheme = "https" if self.config.tls else "http"
        return f"{scheme}://{self._netloc()}"

    @property
    def used_slots(self) -> int:
        return self._used

    @property
    def ca_pem(self) -> str | None:
        """Path of the certificate a client should trust in TLS modes, else None."""
        return self._ca_pem

    @property
    def metrics(self) -> dict[str, float]:
        """The ``py_*`` counters and the ``py_open_channels`` gauge, now."""
        values: dict[str, float] = {name: float(v) for name, v in self._counters.items()}
        values["py_open_channels"] = float(self.used_slots)
        return values

    def _bind_host(self) -> str:
        host = self.config.host
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return "::1"  # moshi-server: IpAddr::from_str(addr).unwrap_or(V6 LOCALHOST)
        return host

    def _netloc(self) -> str:
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        if ":" in host:
            host = f"[{host}]"
        return f"{host}:{self.port}"

    # -- lifecycle
    async def __aenter__(self) -> Simulator:
        from websockets.asyncio.server import serve

        ssl_context = self._ssl_context() if self.config.tls else None
        try:
            self._server = await serve(
                self._handle,
                self._bind_host(),
                self.config.port,
                process_request=self._process_request,
                server_header=None,  # moshi-server (axum) sends no Server header
                compression=None,  # nor permessage-deflate
                ping_interval=self.config.ping_interval_s or None,
                ping_timeout=None,  # it never closes for a missing pong: the idle limit does
                close_timeout=self.config.close_timeout_s,
                max_size=16 << 20,
                create_connection=_connection_class(),
                ssl=ssl_context,
            )
        except BaseException:
            self._cleanup_tls()
            raise
        self._bound = self._server.sockets[0].getsockname()[:2]
        self._model_wake = asyncio.Event()
        if "model-loop-dead" in self.config.faults:
            log.error('task failed name="model_loop" err=simulated fault model-loop-dead')
        else:
            self._model_task = asyncio.get_running_loop().create_task(self._model_loop())
        log.info("listening on %s", self.http_url)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        tasks = [t for t in (self._model_task, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        self._cleanup_tls()

    def _ssl_context(self) -> ssl.SSLContext:
        import ssl

        assert self.config.tls is not None
        self._tls_dir = tempfile.TemporaryDirectory(prefix="kyudoctor-simulate-")
        try:
            chain, trust = _tls_files(self.config.tls, self._bind_host(), Path(self._tls_dir.name))
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(chain))
        except BaseException:
            self._cleanup_tls()
            raise
        self._ca_pem = str(trust)
        return context

    def _cleanup_tls(self) -> None:
        if self._tls_dir is not None:
            self._tls_dir.cleanup()
            self._tls_dir = None

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- slots and the model loop
    def _release(self, session: _Session) -> None:
        if self.config.faults & {"leak-slots", "model-loop-dead"}:
            return
        if self._slots[session.slot] is session:
            self._slots[session.slot] = None
            self._used -= 1
            self._connection_num_steps.observe(session.frames_sent)

    async def _model_loop(self) -> None:
        """Step every ``rtf * 80 ms`` while any slot is taken, moving the metrics."""
        assert self._model_wake is not None
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            if self.used_slots == 0:
                self._model_wake.clear()
                await self._model_wake.wait()
                next_at = loop.time()
            next_at += self.step_s
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            if self.used_slots == 0:
                continue  # every channel went away during the step: nothing was run
            active = False
            for session in self._slots:
                if session is None or not session.sent_init or session.finished:
                    continue
                if session.missing_words:
                    self._counters["py_missing_words_steps"] += 1
                else:
                    self._counters["py_could_have_run_steps"] += 1
                    active = active or session.generating
            self._counters["py_total_steps"] += 1
            if active:
                self._counters["py_active_steps"] += 1
                self._step_duration.observe(self.step_s)

    # -- HTTP
    def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        if url.path == "/api/build_info":
            return _json_response(conn, self._build_info())
        if url.path == "/api/modules_info":
            return _json_response(conn, self._modules_info())
        if url.path == "/metrics":
            response = conn.respond(200, self.metrics_text())
            del response.headers["Content-Type"]
            response.headers["Content-Type"] = "text/plain; version=0.0.4"
            return response
        if url.path != self.config.path:
            return conn.respond(404, "")
        problem = _upgrade_problem(request)
        if problem is not None:
            status, text = problem
            return conn.respond(status, text)
        query = parse_qs(url.query, keep_blank_values=True)
        fmt = query.get("format", [DEFAULT_FORMAT])[-1]
        if fmt not in FORMATS:
            variants = ", ".join(f"`{f}`" for f in FORMATS)
            return conn.respond(
                400,
                f"Failed to deserialize query string: format: unknown variant `{fmt}`, "
                f"expected one of {variants}",
            )
        key = request.headers.get(API_KEY_HEADER)
        if key is None:
            key = query.get("auth_id", [None])[-1]
        if key is None or key not in self.config.authorized_ids:
            return conn.respond(401, "")
        assert isinstance(conn, _connection_class())
        conn.sim_format = fmt
        conn.sim_voice = query.get("voice", [None])[-1]
        return None

    def _build_info(self) -> dict[str, str]:
        stamp = self.started_at.replace(microsecond=0)
        return {
            "build_timestamp": stamp.isoformat().replace("+00:00", "Z"),
            "build_date": stamp.date().isoformat(),
            "git_branch": "simulate",
            "git_hash": "0" * 40,
            "git_describe": f"kyudoctor-simulate-{__version__}",
            "rustc_version": f"none (kyudoctor simulate {__version__}, Python)",
            "cargo_target_triple": "simulated",
        }

    def _modules_info(self) -> list[dict[str, str]]:
        return [
            {
                "type": "py",
                "path": self.config.path,
                "used_slots": str(self.used_slots),
                "total_slots": str(self.config.batch_size),
            }
        ]

    def metrics_text(self) -> str:
        """``/metrics`` in the Prometheus text format, as moshi-server's prometheus crate writes."""
        blocks: dict[str, list[str]] = {}
        for name, value in self._counters.items():
            blocks[name] = [
                f"# HELP {name} {_COUNTER_HELP[name]}",
                f"# TYPE {name} counter",
                f'{name}{{handler="all"}} {_num(value)}',
            ]
        blocks["py_open_channels"] = [
            "# HELP py_open_channels Number of open channels (users currently connected).",
            "# TYPE py_open_channels gauge",
            f'py_open_channels{{handler="all"}} {self.used_slots}',
        ]
        for name, helptext, hist in (
            (
                "py_model_step_duration",
                "py module step duration distribution.",
                self._step_duration,
            ),
            (
                "py_model_connection_num_steps",
                "py module number of steps with data being generated.",
                self._connection_num_steps,
            ),
        ):
            lines = [f"# HELP {name} {helptext}", f"# TYPE {name} histogram"]
            for bound, count in zip(hist.buckets, hist.counts, strict=True):
                lines.append(f'{name}_bucket{{le="{_num(bound)}"}} {count}')
            lines.append(f'{name}_bucket{{le="+Inf"}} {hist.count}')
            lines.append(f"{name}_sum {_num(hist.total)}")
            lines.append(f"{name}_count {hist.count}")
            blocks[name] = lines
        return "".join("\n".join(blocks[name]) + "\n" for name in sorted(blocks))

    # -- WebSocket
    async def _handle(self, conn: ServerConnection) -> None:
        fmt: str = getattr(conn, "sim_format", DEFAULT_FORMAT)
        self._counters["py_connect"] += 1
        log.info("py query format=%s voice=%s", fmt, getattr(conn, "sim_voice", None))
        slot = next((i for i, s in enumerate(self._slots) if s is None), None)
        if slot is None:
            log.error("no free channels")
            if fmt in MSGPACK_FORMATS:
                from websockets.exceptions import ConnectionClosed

                with contextlib.suppress(ConnectionClosed):
                    await conn.send(self.frames.no_free_channels)
                await _close_without_status(conn)
            else:  # nothing to say in a raw format: the socket is dropped
                conn.transport.close()
                await conn.wait_closed()
            return
        session = _Session(self, conn, fmt, slot)
        self._slots[slot] = session
        self._used += 1
        assert self._model_wake is not None
        self._model_wake.set()
        log.info("batched-py channel bidx=%d", slot)
        setattr(conn, "sim_session", session)  # noqa: B010 - read by _Connection.process_event
        from websockets.exceptions import ConnectionClosed

        try:
            await session.preamble()
            session.arm_idle()
            await session.read_loop()
        except ConnectionClosed:
            pass
        finally:
            await session.end()


def _json_response(conn: ServerConnection, payload: object) -> Response:
    response = conn.respond(200, json.dumps(payload))
    del response.headers["Content-Type"]
    response.headers["Content-Type"] = "application/json"
    return response


def _upgrade_problem(request: Request) -> tuple[int, str] | None:
    """What axum's WebSocketUpgrade extractor rejects, in its order and words."""
    headers = request.headers
    connection = ",".join(headers.get_all("Connection")).lower()
    if "upgrade" not in [token.strip() for token in connection.split(",")]:
        return 400, NO_UPGRADE
    upgrade = ",".join(headers.get_all("Upgrade")).lower()
    if "websocket" not in [token.strip() for token in upgrade.split(",")]:
        return 400, "`Upgrade` header did not include 'websocket'"
    if headers.get("Sec-WebSocket-Version") != "13":
        return 400, "`Sec-WebSocket-Version` header did not include '13'"
    if "Sec-WebSocket-Key" not in headers:
        return 400, "`Sec-WebSocket-Key` header missing"
    return None


_CONNECTION_CLASS: type[Any] | None = None


def _connection_class() -> type[Any]:
    """A ServerConnection that records when the client last sent a frame (pongs included)."""
    global _CONNECTION_CLASS
    if _CONNECTION_CLASS is None:
        from websockets.asyncio.server import ServerConnection
        from websockets.frames import Frame, Opcode

        DATA_OPCODES = (Opcode.TEXT, Opcode.BINARY, Opcode.CONT)

        class _Connection(ServerConnection):
            last_frame_at: float
            sim_format: str
            sim_voice: str | None
            sim_session: _Session | None
            sim_seen_data: bool
            sim_arrivals: collections.deque[float]

            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                self.last_frame_at = self.loop.time()
                self.sim_format = DEFAULT_FORMAT
                self.sim_voice = None
                self.sim_session = None
                self.sim_seen_data = False
                self.sim_arrivals = collections.deque()

            def data_received(self, data: bytes) -> None:
                if self.request is None and not self.sim_seen_data:
                    self.sim_seen_data = True
                    if data[:1] and not data[:1].isalpha():
                        # Not HTTP (e.g. a TLS ClientHello): hyper answers a bare 400, which
                        # a TLS client reads as WRONG_VERSION_NUMBER (TLS005).
                        self.transport.write(BAD_REQUEST)
                        self.transport.close()
                        return
                super().data_received(data)

            def process_event(self, event: Any) -> None:
                self.last_frame_at = self.loop.time()
                if isinstance(event, Frame) and event.fin and event.opcode in DATA_OPCODES:
                    # When each message arrived, for a generation clock that does not depend
                    # on how busy this event loop is when the handler gets to the message.
                    self.sim_arrivals.append(self.last_frame_at)
                if (
                    self.sim_session is not None
                    and isinstance(event, Frame)
                    and event.opcode is Opcode.CLOSE
                ):
                    self.sim_session.on_close_frame()
                super().process_event(event)

        _CONNECTION_CLASS = _Connection
    return _CONNECTION_CLASS


@contextlib.contextmanager
def running(config: SimConfig) -> Iterator[Simulator]:
    """Run a simulator in a background thread with its own event loop; stop it on exit.

    For synchronous code and tests: ``with running(SimConfig(port=0)) as sim: ...``.
    Start-up errors (e.g. the port is in use) are raised here.
    """
    sim = Simulator(config)
    started: concurrent.futures.Future[asyncio.Event] = concurrent.futures.Future()
    loop = asyncio.new_event_loop()

    async def serve() -> None:
        stop = asyncio.Event()
        try:
            async with sim:
                started.set_result(stop)
                await stop.wait()
        except BaseException as exc:
            if not started.done():
                started.set_exception(exc)
            else:
                raise

    def thread_main() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(serve())
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    thread = threading.Thread(target=thread_main, name="kyudoctor-simulate", daemon=True)
    thread.start()
    try:
        stop = started.result()
    except BaseException:
        thread.join()
        raise
    try:
        yield sim
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join()


# -- the command -------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``kyudoctor simulate``."""
    d = SimConfig()
    parser.add_argument(
        "--host",
        default=d.host,
        help=f"IP address to bind (default {d.host}; "
        "a name such as localhost binds ::1 only, as moshi-server does)",
    )
    parser.add_argument(
        "--port", type=int, default=d.port, help=f"port (default {d.port}; 0 picks a free one)"
    )
    parser.add_argument("--path", default=d.path, help=f"TTS route (default {d.path})")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=d.batch_size,
        metavar="N",
        help=f"concurrent sessions (slots) (default {d.batch_size})",
    )
    parser.add_argument(
        "--api-key",
        action="append",
        metavar="KEY",
        dest="api_keys",
        help="an accepted API key; repeatable (default public_token)",
    )
    parser.add_argument(
        "--lookahead",
        type=int,
        default=d.lookahead,
        metavar="N",
        help=f"words queued before audio starts, minus one (default {d.lookahead})",
    )
    parser.add_argument(
        "--first-audio-delay",
        type=float,
        default=d.first_audio_delay_s,
        metavar="S",
        help=f"seconds from generation start to the first audio (default {d.first_audio_delay_s})",
    )
    parser.add_argument(
        "--rtf",
        type=float,
        default=d.rtf,
        metavar="X",
        help=f"real-time factor of the audio that follows (default {d.rtf})",
    )
    parser.add_argument(
        "--words-per-second",
        type=float,
        default=d.words_per_second,
        metavar="X",
        help=f"speech rate (default {d.words_per_second})",
    )
    parser.add_argument(
        "--ping-interval",
        type=float,
        default=d.ping_interval_s,
        metavar="S",
        help=f"seconds between pings, 0 for none (default {d.ping_interval_s})",
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=d.idle_timeout_s,
        metavar="S",
        help="free a slot after this long without any frame from its client, "
        f"0 never (default {d.idle_timeout_s})",
    )
    parser.add_argument(
        "--fault",
        action="append",
        choices=sorted(FAULTS),
        default=[],
        dest="faults",
        metavar="NAME",
        help=f"reproduce a failure; repeatable: {', '.join(sorted(FAULTS))}",
    )
    parser.add_argument(
        "--tls",
        choices=list(TLS_MODES),
        metavar="MODE",
        help=f"serve wss:// with a test certificate: {', '.join(TLS_MODES)}",
    )
    parser.set_defaults(handler=run)


def config_from_args(ns: argparse.Namespace) -> SimConfig:
    """The SimConfig the parsed options describe (ValueError when they are inconsistent)."""
    return replace(
        SimConfig(),
        host=ns.host,
        port=ns.port,
        path=ns.path,
        batch_size=ns.batch_size,
        authorized_ids=tuple(ns.api_keys or ("public_token",)),
        lookahead=ns.lookahead,
        first_audio_delay_s=ns.first_audio_delay,
        rtf=ns.rtf,
        words_per_second=ns.words_per_second,
        ping_interval_s=ns.ping_interval,
        idle_timeout_s=ns.idle_timeout,
        faults=frozenset(ns.faults),
        tls=ns.tls,
    )


def _stderr_logging() -> None:
    if any(getattr(h, "kyudoctor_simulate", False) for h in log.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.kyudoctor_simulate = True  # type: ignore[attr-defined]
    handler.setFormatter(
        logging.Formatter(
            "%(asctime)s %(levelname)5s kyudoctor_simulate: %(message)s",
            datefmt="%Y-%m-%dT%H:%M:%S",
        )
    )
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


async def _serve_until_signal(config: SimConfig) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    async with Simulator(config) as sim:
        print(f"simulating moshi-server on {sim.url}; Ctrl-C to stop", flush=True)
        if sim.ca_pem is not None:
            print(f"TLS {config.tls}: the certificate to trust is {sim.ca_pem}", flush=True)
        if config.faults:
            print(f"faults: {', '.join(sorted(config.faults))}", flush=True)
        await stop.wait()


def run(ns: argparse.Namespace) -> int:
    """Run ``kyudoctor simulate`` until SIGINT or SIGTERM; 0, or 2 when it cannot start."""
    try:
        config = config_from_args(ns)
    except ValueError as exc:
        print(f"kyudoctor simulate: {exc}", file=sys.stderr)
        return 2
    _stderr_logging()
    try:
        asyncio.run(_serve_until_signal(config))
    except SimulatorError as exc:
        print(f"kyudoctor simulate: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        where = f"{config.host} port {config.port}"
        if exc.errno == errno.EADDRINUSE:
            reason = "the address is already in use (another process holds the port)"
        else:
            reason = exc.strerror or str(exc)
        print(f"kyudoctor simulate: cannot listen on {where}: {reason}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # a second Ctrl-C during shutdown
        return 0
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m kyudoctor.simulate [options]``: the command without the kyudoctor CLI."""
    parser = argparse.ArgumentParser(
        prog="kyudoctor simulate",
        description="Serve the moshi-server TTS protocol with synthetic audio, for client "
        "development and CI; faults reproduce the failures kyudoctor diagnoses.",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
