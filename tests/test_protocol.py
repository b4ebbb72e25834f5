"""kyudoctor.protocol: encoding, strict bounded decoding, hostile input."""

from __future__ import annotations

import math
import struct
import time

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kyudoctor import protocol
from kyudoctor.protocol import (
    EOS_BYTE,
    FRAME_SAMPLES,
    MAX_FRAME_BYTES,
    Audio,
    Eos,
    Error,
    NotMessagePack,
    ProtocolError,
    Ready,
    Text,
    Voice,
    Word,
    audio_problems,
    decode_client,
    decode_server,
    encode,
    query,
    to_wire,
)

TONE = tuple(0.5 * math.sin(2 * math.pi * n / 120) for n in range(FRAME_SAMPLES))


def f32(value: float) -> float:
    """The value after a round trip through float32."""
    return float(struct.unpack("<f", struct.pack("<f", value))[0])


# -- round trips --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [Ready(), Error("no free channels"), Word("hello", 0.0, 0.5), Audio(tuple([0.25] * 1920))],
    ids=["ready", "error", "word", "audio"],
)
def test_server_messages_round_trip(message: object) -> None:
    """Every server message decodes to what was encoded (values exact in float32)."""
    assert decode_server(encode(message)) == message  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "message",
    [Text("Bonjour"), Eos(), Voice((0.5, -0.25), (1, 2))],
    ids=["text", "eos", "voice"],
)
def test_client_messages_round_trip(message: object) -> None:
    """Every client message decodes to what was encoded."""
    assert decode_client(encode(message)) == message  # type: ignore[arg-type]


def test_audio_is_packed_as_float32() -> None:
    """Audio samples are float32 on the wire, as moshi-server sends them (5 bytes a sample)."""
    data = encode(Audio(TONE))
    assert len(data) == 1 + len(b"\xa4type\xa5Audio\xa3pcm") + 3 + 5 * FRAME_SAMPLES
    assert decode_server(data) == Audio(tuple(f32(v) for v in TONE))


def test_wire_maps_use_moshi_server_type_names() -> None:
    """A Word travels as type Text; fields are named as moshi-server names them."""
    assert to_wire(Word("a", 0.0, 0.08)) == {
        "type": "Text",
        "text": "a",
        "start_s": 0.0,
        "stop_s": 0.08,
    }
    assert to_wire(Eos()) == {"type": "Eos"}
    assert to_wire(Voice((1.0,), (1,))) == {"type": "Voice", "embeddings": [1.0], "shape": [1]}


def test_encode_refuses_what_is_not_a_message() -> None:
    """Encoding an arbitrary object is a TypeError, not a silent bad frame."""
    with pytest.raises(TypeError, match="not a protocol message"):
        encode({"type": "Text"})  # type: ignore[arg-type]


def test_integers_are_accepted_as_numbers() -> None:
    """Timestamps and samples may be MessagePack integers (a server using f64 or ints)."""
    data = msgpack.packb({"type": "Text", "text": "a", "start_s": 1, "stop_s": 2.5})
    assert decode_server(data) == Word("a", 1.0, 2.5)
    assert decode_server(msgpack.packb({"type": "Audio", "pcm": [0, 1]})) == Audio((0.0, 1.0))


def test_unknown_extra_fields_are_ignored() -> None:
    """A future field in a known message does not break decoding."""
    assert decode_server(msgpack.packb({"type": "Ready", "version": 2})) == Ready()


# -- client frames as moshi-server reads them ---------------------------------------------------


def test_text_frame_is_raw_text_even_when_it_is_json() -> None:
    """A WebSocket text frame is spoken literally."""
    assert decode_client('{"type": "Eos"}') == Text('{"type": "Eos"}')


def test_single_zero_byte_is_eos() -> None:
    """The binary frame 0x00 means end of stream."""
    assert decode_client(EOS_BYTE) == Eos()


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (msgpack.packb({"type": "Nope"}), "unknown message type 'Nope'"),
        (msgpack.packb({"type": "Text", "text": 3}), "field 'text' is 3"),
        (msgpack.packb({"type": "Voice", "embeddings": "x", "shape": [1]}), "'embeddings'"),
        (
            msgpack.packb({"type": "Voice", "embeddings": [1.0], "shape": ["a"]}),
            "not a non-negative integer",
        ),
        (msgpack.packb("Eos"), "a MessagePack str, not a map"),
        (b"\x00\x00", "not one MessagePack value"),
    ],
    ids=["unknown-type", "text-not-str", "embeddings-not-list", "shape-not-int", "str", "extra"],
)
def test_malformed_client_frames_are_protocol_errors(payload: bytes, reason: str) -> None:
    """What moshi-server would reject (closing the session) is a ProtocolError here."""
    with pytest.raises(ProtocolError, match=reason):
        decode_client(payload)


# -- hostile and wrong server frames ------------------------------------------------------------


def test_array_header_claiming_2_to_the_32_items_is_refused_without_allocating() -> None:
    """An Audio whose pcm array header claims 2^32-1 items fails at once."""
    data = b"\x82\xa4type\xa5Audio\xa3pcm\xdd\xff\xff\xff\xff"
    started = time.perf_counter()
    with pytest.raises(ProtocolError, match="exceeds max_array_len"):
        decode_server(data)
    assert time.perf_counter() - started < 0.1


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\xdf\xff\xff\xff\xff", "exceeds max_map_len"),
        (b"\xdb\xff\xff\xff\xff", "incomplete input"),
        (b"\xc6\xff\xff\xff\xff", "incomplete input"),
        (b"\xd4\x01\x00", "exceeds max_ext_len"),
        (b"\x81\x01\x02", "int is not allowed for map key"),
        (b"\x91" * 100_000, "invalid MessagePack"),
        (b"", "incomplete input"),
        (b"\xc1", "invalid MessagePack"),
    ],
    ids=["map32", "str32", "bin32", "ext", "int-key", "deep-nesting", "empty", "reserved-byte"],
)
def test_hostile_messagepack_is_a_protocol_error(data: bytes, reason: str) -> None:
    """Huge headers, extension types, deep nesting and invalid bytes never escape as other errors."""
    with pytest.raises(ProtocolError, match=reason):
        decode_server(data)


def test_a_100_mb_frame_is_refused_by_size_before_parsing() -> None:
    """A frame above MAX_FRAME_BYTES is refused with its size, without being unpacked."""
    data = bytes(100 * 1024 * 1024)
    started = time.perf_counter()
    with pytest.raises(
        ProtocolError, match=f"frame of {len(data)} bytes exceeds {MAX_FRAME_BYTES}"
    ):
        decode_server(data)
    assert time.perf_counter() - started < 0.1


def test_ogg_page_is_recognised_as_the_default_format() -> None:
    """A frame starting with OggS is NotMessagePack of kind ogg (WS003)."""
    with pytest.raises(NotMessagePack, match="raw Ogg page") as info:
        decode_server(b"OggS\x00\x02" + bytes(40))
    assert info.value.kind == "ogg"


def test_bare_pcm_frame_is_recognised() -> None:
    """A 7680-byte float32 frame (format=Pcm) is NotMessagePack of kind pcm."""
    frame = struct.pack(f"<{FRAME_SAMPLES}f", *TONE)
    with pytest.raises(NotMessagePack, match="7680 bytes") as info:
        decode_server(frame)
    assert info.value.kind == "pcm"


def test_json_is_not_messagepack() -> None:
    """A JSON text sent as binary is NotMessagePack of unknown kind."""
    with pytest.raises(NotMessagePack) as info:
        decode_server(b'{"type": "Ready"}')
    assert info.value.kind == "unknown"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"type": "Hello"}, "unknown message type 'Hello'"),
        ({"text": "a"}, "unknown message type None"),
        ({"type": "Text", "text": 1, "start_s": 0, "stop_s": 1}, "field 'text' is 1"),
        ({"type": "Text", "text": "a", "start_s": True, "stop_s": 1}, "True is not a number"),
        ({"type": "Text", "text": "a", "stop_s": 1}, "None is not a number"),
        ({"type": "Audio", "pcm": "x"}, "field 'pcm' is 'x'"),
        ({"type": "Audio", "pcm": [0.1, "a"]}, "'a' is not a number"),
        ({"type": "Audio", "pcm": [True]}, "True is not a number"),
        ({"type": "Error"}, "field 'message' is None"),
        ({"type": "Error", "message": ["no"]}, "field 'message'"),
    ],
    ids=[
        "unknown-type",
        "no-type",
        "text-not-str",
        "bool-timestamp",
        "missing-timestamp",
        "pcm-not-list",
        "pcm-str-sample",
        "pcm-bool-sample",
        "error-no-message",
        "error-message-list",
    ],
)
def test_wrong_field_types_are_protocol_errors(payload: dict[str, object], reason: str) -> None:
    """A map with the wrong fields names what was seen."""
    with pytest.raises(ProtocolError, match=reason):
        decode_server(msgpack.packb(payload))


def test_a_list_is_not_a_message() -> None:
    """Valid MessagePack that is not a map is refused."""
    with pytest.raises(ProtocolError, match="a MessagePack list, not a map"):
        decode_server(msgpack.packb([1, 2]))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=256))
def test_arbitrary_bytes_only_ever_raise_protocol_error(data: bytes) -> None:
    """Whatever a server sends, decoding returns a message or raises ProtocolError."""
    try:
        decode_server(data)
    except ProtocolError:
        pass


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers(-(2**63), 2**64 - 1)
        | st.floats()
        | st.text(max_size=8),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(["type", "pcm", "text", "start_s"]), inner, max_size=4
            )
        ),
        max_leaves=12,
    )
)
def test_arbitrary_messagepack_values_only_ever_raise_protocol_error(value: object) -> None:
    """Any MessagePack value decodes to a message or raises ProtocolError."""
    try:
        decode_server(msgpack.packb(value))
    except ProtocolError:
        pass


# -- audio validation and URLs ------------------------------------------------------------------


def test_good_audio_has_no_problems() -> None:
    """1920 finite samples within +-1.0 pass."""
    assert audio_problems(TONE) == []


@pytest.mark.parametrize(
    ("pcm", "problem"),
    [
        ([0.0] * 1919, "1919 samples instead of 1920"),
        ([math.nan] + [0.0] * 1919, "NaN or infinite samples"),
        ([math.inf] + [0.0] * 1919, "NaN or infinite samples"),
        ([1.5] + [0.0] * 1919, "samples beyond +-1.0 (peak 1.500)"),
    ],
    ids=["count", "nan", "inf", "clipping"],
)
def test_audio_problems_name_what_is_wrong(pcm: list[float], problem: str) -> None:
    """Each WS010 problem is named with its real value."""
    assert audio_problems(pcm) == [problem]


def test_query_builds_the_tts_query_string() -> None:
    """format=PcmMessagePack by default; voice and auth_id when given; empty when nothing."""
    assert query() == "?format=PcmMessagePack"
    assert query(voice="a b.wav", auth_id="k") == "?format=PcmMessagePack&voice=a+b.wav&auth_id=k"
    assert query(fmt=None) == ""


def test_fractional_voice_shape_is_refused() -> None:
    """A Voice shape of 1.5 is a protocol error, not silently truncated to 1."""
    with pytest.raises(protocol.ProtocolError, match="non-negative integer"):
        protocol.decode_client(
            msgpack.packb({"type": "Voice", "embeddings": [1.0], "shape": [1.5]})
        )


def test_invalid_messagepack_message_says_what_was_seen() -> None:
    """An invalid MessagePack byte gives a message with the frame size, never an empty reason."""
    with pytest.raises(protocol.ProtocolError, match=r"invalid MessagePack \(1 bytes\): \S"):
        protocol.decode_server(b"\xc1")
