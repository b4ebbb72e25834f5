"""Property tests: triage never raises and never hangs, whatever it is given."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kyudoctor.triage import available_matchers, triage_text

MATCHERS = available_matchers()
FAST = "hyperscan" if "hyperscan" in MATCHERS else "python"

FRAGMENTS = [
    "CUDA out of memory",
    "no free channels",
    "received 1005 (no status received)",
    "No module named 'torch'",
    "No such file or directory",
    "bash\\r",
    "\r",
    "\x1b[31m",
    "tts-1  | ",
    "2025-01-01T00:00:00Z ERROR ",
    "((((",
    ".*.*.*",
    "\\",
    "[[",
    "{{0}}",
    "é",
    "\x00",
    "\n",
    "retrieving checkpoint",
    "Connection refused",
    "docker",
    "<html>",
]

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    """Any bytes: a result, sizes that add up, findings in range."""
    for matcher in MATCHERS:
        result = triage_text(data, matcher=matcher)
        assert result.bytes == len(data)
        if result.encoding == "utf-8":
            expected = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
            if data.startswith(b"\xef\xbb\xbf"):
                expected = data[3:].count(b"\n") + (
                    1 if data[3:] and not data.endswith(b"\n") else 0
                )
            assert result.lines == expected
        for finding in result.findings:
            assert 1 <= finding.line <= max(result.lines, 1)
            assert 0 < finding.confidence <= 1


@SETTINGS
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=80))
def test_regex_hostile_fragments_never_raise_and_matchers_agree(parts: list[str]) -> None:
    """Logs assembled from signature pieces and regex-hostile text: both matchers agree."""
    text = "".join(parts)
    answers = {
        m: [(f.code, f.line, f.count) for f in triage_text(text, matcher=m).findings]
        for m in MATCHERS
    }
    assert len({tuple(a) for a in answers.values()}) == 1, answers


@SETTINGS
@given(st.text(max_size=2000))
def test_arbitrary_text_never_raises(text: str) -> None:
    """Any unicode text, lone surrogates included."""
    result = triage_text(text, matcher=FAST)
    assert result.lines >= 0


def _quick(data: bytes, matcher: str, limit: float) -> list[str]:
    started = time.monotonic()
    result = triage_text(data, matcher=matcher)
    assert time.monotonic() - started < limit
    return [f.code for f in result.findings]


def test_a_50_mb_line() -> None:
    """A 50 MB line with no newline ends quickly and still shows the message inside it."""
    data = b"a" * 25_000_000 + b" CUDA out of memory " + b"b" * 25_000_000
    if FAST == "hyperscan":
        assert _quick(data, "hyperscan", 10) == ["GPU006"]
    small = b"a" * 2_500_000 + b" CUDA out of memory " + b"b" * 2_500_000
    assert _quick(small, "python", 10) == ["GPU006"]


@pytest.mark.parametrize("matcher", MATCHERS)
def test_a_million_short_lines(matcher: str) -> None:
    """10^6 short lines, one of them a known error, counted and placed exactly."""
    data = b"ok\n" * 999_999 + b"error: linker `cc` not found\n"
    started = time.monotonic()
    result = triage_text(data, matcher=matcher)
    assert time.monotonic() - started < 10
    assert result.lines == 1_000_000
    assert [(f.code, f.line) for f in result.findings] == [("CXX001", 1_000_000)]


@pytest.mark.parametrize("matcher", MATCHERS)
def test_a_flood_of_one_message(matcher: str) -> None:
    """100,000 lines of the same error: one finding with its count, in seconds."""
    data = b"2025-01-01T00:00:00Z ERROR moshi_server: no free channels\n" * 100_000
    started = time.monotonic()
    result = triage_text(data, matcher=matcher)
    assert time.monotonic() - started < 10
    (finding,) = result.findings
    assert finding.code == "WS005" and finding.count == 100_000


@pytest.mark.parametrize("matcher", MATCHERS)
def test_regex_hostile_long_lines(matcher: str) -> None:
    """Lines built to make backtracking regexes slow stay bounded."""
    data = (
        (b"No module named " * 2000 + b"\n") * 50
        + (b"torchaudio " * 3000 + b"\n") * 20
        + (b"(" * 5000 + b".*" * 3000 + b"\n") * 10
        + (b"1005 " * 4000 + b"\n") * 10
    )
    started = time.monotonic()
    triage_text(data, matcher=matcher)
    assert time.monotonic() - started < 10
