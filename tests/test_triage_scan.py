"""The streaming scan: chunk boundaries, line numbers, long lines, encodings, noise, matchers."""

from __future__ import annotations

import codecs
import io

import pytest

from kyudoctor.triage import _scan, _signatures, available_matchers, triage_text
from kyudoctor.triage._normalize import light, normalize, redact, visible
from kyudoctor.triage._scan import ScanResult, make_matcher, scan

MATCHERS = available_matchers()
OOM = "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"


def run(data: bytes, matcher: str = "python", chunk_size: int = _scan.CHUNK) -> ScanResult:
    sigset = _signatures.load()
    return scan(
        io.BytesIO(data), sigset, make_matcher(sigset.anchors, matcher), chunk_size=chunk_size
    )


def found(result: ScanResult) -> dict[str, list[int]]:
    sigset = _signatures.load()
    out: dict[str, list[int]] = {}
    for index, hits in enumerate(result.hits):
        for hit in hits:
            if hit.confidence:
                out.setdefault(sigset.signatures[index].code, []).append(hit.line)
    return {code: sorted(set(lines)) for code, lines in out.items()}


def test_hyperscan_is_there_where_its_wheel_is() -> None:
    """On Linux x86-64 the accelerated matcher is installed (the dependency's marker)."""
    import platform
    import sys

    if sys.platform != "linux" or platform.machine() != "x86_64":
        pytest.skip("hyperscan wheels are for x86-64 (and Apple silicon)")
    assert "hyperscan" in MATCHERS


def test_unknown_matcher_and_forced_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    """$KYUDOCTOR_TRIAGE_MATCHER forces the Python fallback; a typo is a ValueError."""
    monkeypatch.setenv("KYUDOCTOR_TRIAGE_MATCHER", "python")
    assert triage_text(OOM).matcher == "python"
    with pytest.raises(ValueError, match="unknown matcher"):
        make_matcher([b"abc"], "grep")


@pytest.mark.parametrize("matcher", MATCHERS)
@pytest.mark.parametrize("chunk_size", [7, 64, 4096])
def test_line_numbers_across_chunk_boundaries(
    matcher: str, chunk_size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the chunk size, matches get their true 1-based line numbers."""
    monkeypatch.setattr(_scan, "LONG_LINE", 256)
    monkeypatch.setattr(_scan, "LOOKAHEAD_LINES", 3)
    lines = [f"noise line {i} with nothing in it" for i in range(300)]
    lines[0] = OOM
    lines[150] = "Error: connect ECONNREFUSED ::1:8080"
    lines[299] = "error: linker `cc` not found"
    data = ("\n".join(lines)).encode()
    result = run(data, matcher, chunk_size)
    assert result.lines == 300
    expected = {"GPU006": [1], "NET007": [151], "CXX001": [300]}
    seen = found(result)
    assert {code: seen.get(code) for code in expected} == expected
    assert all(lines == [151] for code, lines in seen.items() if code not in expected)


@pytest.mark.parametrize("matcher", MATCHERS)
def test_a_match_across_a_mid_line_cut(matcher: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A long line scanned in pieces still finds a message split by a piece boundary."""
    monkeypatch.setattr(_scan, "LONG_LINE", 1000)
    monkeypatch.setattr(_scan, "OVERLAP", 64)
    for offset in range(0, 40, 3):
        data = b"x" * (1000 + 900 + offset) + b" CUDA out of memory " + b"y" * 3000 + b"\nok\n"
        result = run(data, matcher, chunk_size=900)
        assert found(result) == {"GPU006": [1]}, offset
        assert result.lines == 2


def test_a_match_counts_once_on_a_long_line_rescanned() -> None:
    """The overlap re-scanned across a cut does not count a line twice."""
    data = b"a" * 5000 + b" no free channels " + b"b" * 5000 + b"\n"
    result = triage_text(data)
    assert [(f.code, f.count) for f in result.findings] == [("WS005", 1)]


@pytest.mark.parametrize(
    ("encoded", "encoding"),
    [
        (codecs.BOM_UTF8 + OOM.encode(), "utf-8"),
        (codecs.BOM_UTF16_LE + f"line one\r\n{OOM}\r\n".encode("utf-16-le"), "utf-16"),
        (codecs.BOM_UTF16_BE + f"line one\r\n{OOM}\r\n".encode("utf-16-be"), "utf-16"),
        (("PS C:\\> docker logs tts\r\n" * 3 + OOM).encode("utf-16-le"), "utf-16-le"),
    ],
)
def test_encodings(encoded: bytes, encoding: str) -> None:
    """UTF-8 with a BOM and UTF-16 (PowerShell's `>`) are read as text."""
    result = triage_text(encoded)
    assert result.encoding == encoding
    assert [f.code for f in result.findings] == ["GPU006"]


def test_invalid_utf8_and_nul_bytes() -> None:
    """Undecodable bytes are replaced, NULs are just bytes: the message is still found."""
    data = b"x\xff\xfe\x00\x80garbage\x00\nerror: linker `cc` not \xe9found\nerror: linker `cc` not found\n"
    result = triage_text(data)
    assert [(f.code, f.line) for f in result.findings] == [("CXX001", 3)]


NOISE = [
    ("compose prefix", lambda m: f"tts-1  | {m}"),
    ("compose prefix, long service", lambda m: f"unmute-tts-1          | {m}"),
    ("RFC 3339 timestamp and level", lambda m: f"2025-06-01T12:00:01.123456Z ERROR {m}"),
    ("python logging", lambda m: f"[2025-06-01 12:00:01,123] ERROR root: {m}"),
    ("ANSI colours", lambda m: f"\x1b[31m\x1b[1m{m}\x1b[0m"),
    ("ANSI remnants of a paste", lambda m: f"[2m2025-06-01T12:00:01Z[0m [31mERROR[0m {m}"),
    ("caret ANSI", lambda m: f"^[[31mERROR^[[0m {m}"),
    ("CRLF", lambda m: f"{m}\r"),
    ("progress bar before", lambda m: f"Downloading:  10%|█   |\rDownloading: 100%|████|\r{m}"),
    ("BuildKit", lambda m: f"#12 3.456 {m}"),
    ("pytest", lambda m: f"E   {m}"),
    ("syslog", lambda m: f"Jun  1 12:00:01 tts-box moshi-server[1234]: {m}"),
    ("Windows path around", lambda m: f"C:\\Users\\me\\client> {m} (C:\\Users\\me\\x.py:3)"),
    ("another language around", lambda m: f"客户端连接 报错: {m} — échec"),
]
MESSAGES = [
    ("GPU006", "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB"),
    ("NET005", "Error: Address already in use (os error 98)"),
    ("TLS004", "certificate verify failed: unable to get local issuer certificate"),
    ("BIN003", "moshi-server: error: unrecognized arguments: worker"),
    ("CXX001", "cc: not found"),
]


@pytest.mark.parametrize("matcher", MATCHERS)
@pytest.mark.parametrize(("name", "dress"), NOISE, ids=[n for n, _ in NOISE])
def test_noise_does_not_hide_a_message(name: str, dress: object, matcher: str) -> None:
    """Prefixes, timestamps, colours, CRLF, progress bars and foreign text around a message."""
    for code, message in MESSAGES:
        line = dress(message)  # type: ignore[operator]
        result = triage_text(f"first line\n{line}\nlast line\n", matcher=matcher)
        assert [(f.code, f.line) for f in result.findings][:1] == [(code, 2)], (name, line)


@pytest.mark.parametrize("matcher", MATCHERS)
@pytest.mark.parametrize("width", [64, 80, 100, 120])
def test_wrapped_lines_are_joined(matcher: str, width: int) -> None:
    """A message a terminal wrapped at any width is found, on the line where it starts."""
    message = (
        "RuntimeError: CUDA error: CUDA driver version is insufficient for CUDA runtime version. "
        "Compile with `TORCH_USE_CUDA_DSA` to enable device-side assertions."
    )
    wrapped = [message[i : i + width] for i in range(0, len(message), width)]
    result = triage_text("\n".join(["$ python tts.py", *wrapped]) + "\n", matcher=matcher)
    assert [f.code for f in result.findings] == ["GPU003"]
    assert result.findings[0].line in (2, 3)


def test_a_windowed_context_is_seen_across_a_chunk_boundary(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A `near` context a few lines away counts even when a chunk boundary falls between."""
    monkeypatch.setattr(_scan, "LONG_LINE", 128)
    lines = ["filler"] * 200
    lines[100] = '  File "/venv/lib/python3.12/site-packages/torch/nn/modules/module.py", line 9'
    lines[103] = (
        "RuntimeError: CUDA error: no kernel image is available for execution on the device"
    )
    data = "\n".join(lines).encode()
    for chunk in (16, 700, 704, 710, 4096):
        result = run(data, "python", chunk)
        assert "TORCH008" in found(result), chunk


def test_normalize() -> None:
    """Leading noise goes, the message stays; inner carriage returns are kept."""
    assert (
        normalize("tts-1  | \x1b[2m2025-01-01T00:00:00Z\x1b[0m \x1b[31mERROR\x1b[0m boom\r\n")
        == "boom"
    )
    assert normalize("#12 3.456 error: x") == "error: x"
    assert normalize("env: 'bash\r': No such file") == "env: 'bash\r': No such file"
    assert light("\x1b[1mhi\x1b[0m\r\n") == "hi"
    assert visible("a\rbb\rccc", 3) == ("bb", 2)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("kyutai-api-key: Planted-Key-4242", "Planted-Key-4242"),
        ("ws://h:8080/api/tts_streaming?auth_id=Planted4242", "Planted4242"),
        ("HF_TOKEN=hf_PlantedTokenValue4242", "PlantedTokenValue4242"),
        ("Authorization: Bearer Planted.Bearer.4242", "Planted.Bearer.4242"),
        ("https://user:Planted4242@proxy.example.com", "Planted4242"),
        ('authorized_ids = ["Planted4242"]', "Planted4242"),
    ],
)
def test_redact(text: str, secret: str) -> None:
    """Keys, tokens and URL credentials in an excerpt are masked."""
    assert secret not in redact(text)
    assert "***" in redact(text)


def test_the_hyperscan_and_python_matchers_agree() -> None:
    """Both matchers see the same lines in a log mixing every fixture's messages."""
    if "hyperscan" not in MATCHERS:
        pytest.skip("hyperscan is not installed here")
    from pathlib import Path

    root = Path(__file__).resolve().parent / "triage"
    data = b"\n".join(
        p.read_bytes() for p in sorted(root.glob("*/*.log")) if b"\x00" not in p.read_bytes()
    )
    fast, slow = run(data, "hyperscan", 4096), run(data, "python", 4096)
    assert found(fast) == found(slow)
    assert fast.counts == slow.counts and fast.lines == slow.lines
