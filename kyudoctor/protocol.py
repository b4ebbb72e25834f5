"""The moshi-server TTS wire protocol (``GET <path>`` upgraded to WebSocket), both directions.

Shared by the live probe, ``kyudoctor load`` and the simulator. Messages are MessagePack maps
in binary frames (moshi-server.md §5). Decoding is strict and bounded: a hostile or broken peer
cannot make us allocate more than the limits below (an array header claiming 2^32 items is
refused before any allocation), and anything that is not a known message is a
:class:`ProtocolError` naming what was seen.

Client -> server: ``Text``, ``Eos`` (also the single byte ``0x00``), ``Voice``.
Server -> client (``format=PcmMessagePack``): ``Ready``, ``Text`` (a :class:`Word` with
timestamps), ``Audio`` (1920 float samples at 24 kHz = 80 ms), ``Error``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import msgpack

SAMPLE_RATE = 24_000
FRAME_SAMPLES = 1920
"""Samples per Audio message: 80 ms at 24 kHz."""
FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE

FORMATS = ("Pcm", "PcmMessagePack", "OggOpus", "OggOpusMessagePack")
DEFAULT_FORMAT = "OggOpus"
"""What moshi-server sends when the client does not ask: raw Ogg pages, not MessagePack."""
MESSAGEPACK_FORMAT = "PcmMessagePack"

API_KEY_HEADER = "kyutai-api-key"
EOS_BYTE = b"\x00"
NO_FREE_CHANNELS = "no free channels"

MAX_FRAME_BYTES = 1 << 20
"""Largest WebSocket frame accepted from a server (an Audio message is about 10 KB)."""
MAX_ARRAY_LEN = 1 << 16
MAX_MAP_LEN = 64
MAX_STR_LEN = 1 << 16
MAX_BIN_LEN = 1 << 20


class ProtocolError(ValueError):
    """A frame that is not a valid message of this protocol; the text says what was seen."""


class NotMessagePack(ProtocolError):
    """A binary frame that is not MessagePack at all: raw Ogg pages or bare PCM (WS003)."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind  # "ogg" or "pcm" or "unknown"


# -- client -> server -----------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    """A piece of text to speak (Kyutai's clients send one word per message)."""

    text: str


@dataclass(frozen=True)
class Eos:
    """End of stream: flushes the last words and ends the session."""


@dataclass(frozen=True)
class Voice:
    """A custom voice embedding; only effective before the first Text."""

    embeddings: tuple[float, ...]
    shape: tuple[int, ...]


ClientMessage = Text | Eos | Voice


# -- server -> client -----------------------------------------------------------------------


@dataclass(frozen=True)
class Ready:
    """A slot was allocated: always the first message of a successful session."""


@dataclass(frozen=True)
class Word:
    """A word with its timestamps (wire type ``Text``); words run ahead of the audio."""

    text: str
    start_s: float
    stop_s: float


@dataclass(frozen=True)
class Audio:
    """80 ms of 24 kHz mono audio as float samples (normally 1920, within +-0.99)."""

    pcm: tuple[float, ...]


@dataclass(frozen=True)
class Error:
    """A server error; today only "no free channels"."""

    message: str


ServerMessage = Ready | Word | Audio | Error


# -- encoding -------------------------------------------------------------------------------


def to_wire(message: ClientMessage | ServerMessage) -> dict[str, Any]:
    """The MessagePack map of a message."""
    if isinstance(message, Text):
        return {"type": "Text", "text": message.text}
    if isinstance(message, Eos):
        return {"type": "Eos"}
    if isinstance(message, Voice):
        return {
            "type": "Voice",
            "embeddings": list(message.embeddings),
            "shape": list(message.shape),
        }
    if isinstance(message, Ready):
        return {"type": "Ready"}
    if isinstance(message, Word):
        return {
            "type": "Text",
            "text": message.text,
            "start_s": message.start_s,
            "stop_s": message.stop_s,
        }
    if isinstance(message, Audio):
        return {"type": "Audio", "pcm": list(message.pcm)}
    if isinstance(message, Error):
        return {"type": "Error", "message": message.message}
    raise TypeError(f"not a protocol message: {message!r}")


def encode(message: ClientMessage | ServerMessage) -> bytes:
    """One binary frame's payload. Audio samples are packed as float32, as moshi-server does."""
    return msgpack.packb(to_wire(message), use_bin_type=True, use_single_float=True)  # type: ignore[no-any-return]


# -- decoding -------------------------------------------------------------------------------


def _unpack(data: bytes) -> Any:
    if data[:4] == b"OggS":
        raise NotMessagePack("a raw Ogg page (starts with 'OggS'), not MessagePack", "ogg")
    try:
        return msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=True,
            max_array_len=MAX_ARRAY_LEN,
            max_map_len=MAX_MAP_LEN,
            max_str_len=MAX_STR_LEN,
            max_bin_len=MAX_BIN_LEN,
            max_ext_len=0,
        )
    except msgpack.ExtraData:
        kind = "pcm" if len(data) % 4 == 0 and len(data) >= 4 * 64 else "unknown"
        raise NotMessagePack(
            f"not one MessagePack value ({len(data)} bytes; bare PCM frames are 7680 bytes)", kind
        ) from None
    except (ValueError, msgpack.UnpackException, TypeError) as exc:
        why = str(exc) or type(exc).__name__
        raise ProtocolError(f"invalid MessagePack ({len(data)} bytes): {why}") from None


def _field(payload: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = payload.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ProtocolError(f"{payload.get('type')} message: field {name!r} is {value!r}")
    return value


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProtocolError(f"{where}: {value!r} is not a number")
    return float(value)


def _dimension(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProtocolError(f"Voice.shape: {value!r} is not a non-negative integer")
    return value


def decode_server(data: bytes) -> ServerMessage:
    """Decode one binary frame from the server; :class:`ProtocolError` when it is not valid."""
    if len(data) > MAX_FRAME_BYTES:
        raise ProtocolError(f"frame of {len(data)} bytes exceeds {MAX_FRAME_BYTES}")
    payload = _unpack(data)
    if not isinstance(payload, dict):
        raise ProtocolError(f"a MessagePack {type(payload).__name__}, not a map")
    kind = payload.get("type")
    if kind == "Ready":
        return Ready()
    if kind == "Text":
        return Word(
            _field(payload, "text", str),
            _number(payload.get("start_s"), "Text.start_s"),
            _number(payload.get("stop_s"), "Text.stop_s"),
        )
    if kind == "Audio":
        pcm = _field(payload, "pcm", list)
        if set(map(type, pcm)) <= {float}:  # the normal case, checked without a Python loop
            return Audio(tuple(pcm))
        return Audio(tuple(_number(v, "Audio.pcm") for v in pcm))
    if kind == "Error":
        return Error(_field(payload, "message", str))
    raise ProtocolError(f"unknown message type {kind!r}")


def decode_client(data: bytes | str) -> ClientMessage:
    """Decode one frame from a client, as moshi-server reads it.

    A text frame is raw text to speak (JSON in a text frame is spoken literally); the single byte
    ``0x00`` is Eos; anything else must be a MessagePack map with a known type.
    """
    if isinstance(data, str):
        return Text(data)
    if data == EOS_BYTE:
        return Eos()
    payload = _unpack(data)
    if not isinstance(payload, dict):
        raise ProtocolError(f"a MessagePack {type(payload).__name__}, not a map")
    kind = payload.get("type")
    if kind == "Text":
        return Text(_field(payload, "text", str))
    if kind == "Eos":
        return Eos()
    if kind == "Voice":
        embeddings = _field(payload, "embeddings", list)
        shape = _field(payload, "shape", list)
        return Voice(
            tuple(_number(v, "Voice.embeddings") for v in embeddings),
            tuple(_dimension(v) for v in shape),
        )
    raise ProtocolError(f"unknown message type {kind!r}")


def audio_problems(pcm: Sequence[float]) -> list[str]:
    """What is wrong with one Audio message's samples (WS010), empty when nothing is."""
    problems = []
    if len(pcm) != FRAME_SAMPLES:
        problems.append(f"{len(pcm)} samples instead of {FRAME_SAMPLES}")
    if any(math.isnan(v) or math.isinf(v) for v in pcm):
        problems.append("NaN or infinite samples")
    elif any(abs(v) > 1.0 for v in pcm):
        problems.append(f"samples beyond +-1.0 (peak {max(abs(v) for v in pcm):.3f})")
    return problems


def query(
    *, voice: str | None = None, fmt: str | None = MESSAGEPACK_FORMAT, auth_id: str | None = None
) -> str:
    """The query string of a TTS URL (``?format=PcmMessagePack&voice=...``), '' when empty."""
    params = {k: v for k, v in (("format", fmt), ("voice", voice), ("auth_id", auth_id)) if v}
    return f"?{urlencode(params)}" if params else ""
