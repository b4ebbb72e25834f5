"""The streaming scan: bytes in, signature matches (line, confidence, excerpt) out.

The input is read in large binary chunks and never held whole: memory stays flat whatever the
size, and any bytes are accepted (lines are split on ``\\n`` and decoded with replacement).
A multi-literal matcher looks for every signature's anchors in each chunk at once; only the
lines that hold an anchor are decoded, normalised and matched with the full regular
expressions. Two matchers give the same answers:

- ``hyperscan`` (PyPI ``hyperscan``, x86-64 wheels): one SIMD pass over the chunk, gigabytes
  per second;
- ``python``, the fallback everywhere else: ``bytes.find`` per anchor over the lower-cased chunk.

``KYUDOCTOR_TRIAGE_MATCHER=python`` (or ``hyperscan``) forces one; the default takes Hyperscan
when it imports.

The buffer keeps the tail of what was already scanned (for a match's previous line and the
lines before it) and leaves the last lines of a chunk for the next round (the next line and the
lines after it), so a wrapped message can be joined and a ``near`` context looked for around a
match without a second pass. A line longer than :data:`LONG_LINE` is scanned in pieces that
overlap, and a regex only ever sees a bounded window of it.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Protocol

from kyudoctor.triage._normalize import COMPOSE_PREFIX, light, normalize, redact, visible
from kyudoctor.triage._signatures import SignatureSet

__all__ = ["MATCHERS", "Hit", "ScanResult", "available_matchers", "make_matcher", "scan"]

CHUNK = 8 << 20
HISTORY = 64 << 10  # bytes of scanned lines kept before the current chunk
LOOKAHEAD_LINES = 51  # lines left for the next round: the largest window, plus one
LOOKAHEAD_MAX = 256 << 10
LONG_LINE = 1 << 20  # a buffer past this with too few newlines is scanned mid-line
OVERLAP = 4096  # re-scanned across a mid-line cut, so no anchor is split
VERIFY_WINDOW = 2048  # characters either side of an anchor a regex sees in a long line
MAX_VERIFIED_LINE = 4096  # lines up to this long are matched whole
MAX_WINDOWS_PER_LINE = 64  # a giant line with anchors everywhere: the first windows only
JOIN_MIN = 60  # a line at least this long may be one a terminal wrapped
JOIN_PART = 2048  # characters of a neighbour line used for a join
STORE = 50  # matches kept per signature (line, confidence, excerpt); more are only counted
EXCERPT = 300
SAMPLE = 64 << 10  # start of the log inspected for docker-compose prefixes
CONTEXT_BYTES = 256 << 10  # at most this much text is searched for a windowed context

MATCHERS = ("hyperscan", "python")


@dataclass
class Hit:
    """One line a signature matched."""

    line: int
    confidence: float | None  # None: decided at the end (a context looked for anywhere)
    excerpt: str
    params: dict[str, str]


@dataclass
class _SignatureState:
    hits: list[Hit] = field(default_factory=list)
    count: int = 0
    recent: list[int] = field(default_factory=list)  # last lines counted (dedupe of joins)


@dataclass(frozen=True)
class ScanResult:
    """What the scan saw: sizes, and per signature (index in the set) its matches."""

    lines: int
    bytes: int
    hits: tuple[tuple[Hit, ...], ...]
    counts: tuple[int, ...]
    matcher: str
    encoding: str


# --------------------------------------------------------------------------- matchers


class Matcher(Protocol):
    """Finds anchors in ``buf[lo:hi]``: ``(end offset in buf, anchor index)`` pairs, sorted,
    at most :data:`PER_LINE` of one anchor on one line (a line is counted once anyway)."""

    name: str

    def find(self, buf: bytearray, lo: int, hi: int) -> list[tuple[int, int]]: ...

    def drop(self, anchors: Sequence[int]) -> None: ...


PER_LINE = 4  # occurrences of one anchor kept per line: enough for a long line's windows


class _PythonMatcher:
    name = "python"

    def __init__(self, anchors: Sequence[bytes]) -> None:
        self._anchors = list(anchors)
        self._active = list(range(len(anchors)))

    def find(self, buf: bytearray, lo: int, hi: int) -> list[tuple[int, int]]:
        low = bytes(buf[lo:hi]).lower()
        out: list[tuple[int, int]] = []
        append = out.append
        for index in self._active:
            anchor = self._anchors[index]
            size = len(anchor)
            at = low.find(anchor)
            kept = 0
            line_end = -1
            while at >= 0:
                if at >= line_end:
                    line_end = low.find(b"\n", at)
                    line_end = len(low) if line_end < 0 else line_end
                    kept = 0
                if kept < PER_LINE:
                    append((lo + at + size, index))
                    kept += 1
                    at = low.find(anchor, at + 1)
                else:  # the rest of this line holds nothing new for this anchor
                    at = low.find(anchor, line_end)
        out.sort()
        return out

    def drop(self, anchors: Sequence[int]) -> None:
        gone = set(anchors)
        self._active = [i for i in self._active if i not in gone]


class _HyperscanMatcher:
    name = "hyperscan"

    def __init__(self, anchors: Sequence[bytes]) -> None:
        import hyperscan

        self._hs: Any = hyperscan
        self._anchors = list(anchors)
        self._active = list(range(len(anchors)))
        self._db: Any = None
        self._compile()

    def _compile(self) -> None:
        if not self._active:
            self._db = None
            return
        db = self._hs.Database(mode=self._hs.HS_MODE_BLOCK)
        db.compile(
            expressions=[self._anchors[i] for i in self._active],
            ids=list(self._active),
            elements=len(self._active),
            flags=self._hs.HS_FLAG_CASELESS,
            literal=True,
        )
        self._db = db

    def find(self, buf: bytearray, lo: int, hi: int) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        if self._db is None or hi <= lo:
            return out
        append = out.append
        line_end = -1
        seen: dict[int, int] = {}

        def on_match(index: int, _start: int, end: int, _flags: int, _context: object) -> None:
            nonlocal line_end, seen
            at = lo + end
            if at > line_end:
                line_end = buf.find(b"\n", at)
                line_end = len(buf) if line_end < 0 else line_end
                seen = {}
            kept = seen.get(index, 0)
            if kept < PER_LINE:
                seen[index] = kept + 1
                append((at, index))

        with memoryview(buf) as view:
            self._db.scan(view[lo:hi], match_event_handler=on_match)
        out.sort()
        return out

    def drop(self, anchors: Sequence[int]) -> None:
        gone = set(anchors)
        self._active = [i for i in self._active if i not in gone]
        self._compile()


def available_matchers() -> tuple[str, ...]:
    """The matchers that work in this process (``python`` always)."""
    try:
        import hyperscan  # noqa: F401
    except Exception:  # noqa: BLE001 - a broken wheel is as good as none
        return ("python",)
    return MATCHERS


_HYPERSCAN_CACHE: dict[tuple[bytes, ...], Any] = {}


def make_matcher(anchors: Sequence[bytes], name: str | None = None) -> Matcher:
    """A matcher for ``anchors``: ``name``, else ``$KYUDOCTOR_TRIAGE_MATCHER``, else the best.

    Raises :class:`ValueError` for an unknown name and :class:`ImportError` when ``hyperscan``
    is asked for by name and cannot be used.
    """
    choice = (name or os.environ.get("KYUDOCTOR_TRIAGE_MATCHER") or "auto").strip().lower()
    if choice not in (*MATCHERS, "auto"):
        raise ValueError(f"unknown matcher {choice!r} (one of {', '.join(MATCHERS)}, auto)")
    if choice in ("hyperscan", "auto"):
        try:
            return _HyperscanMatcher(anchors)
        except Exception:  # noqa: BLE001 - no wheel for this platform, or a CPU without SSSE3
            if choice == "hyperscan":
                raise ImportError("the hyperscan matcher is not available here") from None
    return _PythonMatcher(anchors)


# --------------------------------------------------------------------------- reading


class _Reader:
    """Bytes of the input as UTF-8: a UTF-16 file (PowerShell's ``>``) is transcoded."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._first = True
        self._decoder: codecs.IncrementalDecoder | None = None
        self.raw_bytes = 0
        self.encoding = "utf-8"

    def read(self, size: int) -> bytes:
        while True:
            data = self._stream.read(size)
            if not isinstance(data, bytes):  # a text stream given by mistake
                data = str(data).encode("utf-8", "replace")
            self.raw_bytes += len(data)
            if self._first:
                self._first = False
                data = self._sniff(data)
            if self._decoder is None:
                return data
            text = self._decoder.decode(data, final=not data)
            if text or not data:
                return text.encode("utf-8", "replace")

    def _sniff(self, data: bytes) -> bytes:
        if data.startswith(codecs.BOM_UTF8):
            return data[len(codecs.BOM_UTF8) :]
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            self._decoder = codecs.getincrementaldecoder("utf-16")("replace")
            self.encoding = "utf-16"
        elif _looks_utf16le(data[:4096]):
            self._decoder = codecs.getincrementaldecoder("utf-16-le")("replace")
            self.encoding = "utf-16-le"
        return data


def _looks_utf16le(head: bytes) -> bool:
    """ASCII text written as UTF-16-LE without a BOM: every odd byte zero, few even ones."""
    if len(head) < 64:
        return False
    odd_zero = head[1::2].count(0)
    even_zero = head[0::2].count(0)
    return odd_zero > 0.9 * len(head[1::2]) and even_zero < 0.1 * len(head[0::2])


# --------------------------------------------------------------------------- the scan


class _Scan:
    def __init__(self, sigset: SignatureSet, matcher: Matcher) -> None:
        self.sigset = sigset
        self.matcher = matcher
        self.states = [_SignatureState() for _ in sigset.signatures]
        self.found = [False] * len(sigset.contexts)
        self.dropped: set[int] = set()
        self.filled = False  # a signature stored its last example: floods may be counted
        self.buf = bytearray()

    # ---- helpers over the buffer

    def _neighbour(self, start: int, end: int, before: bool) -> str | None:
        buf = self.buf
        if before:
            if start == 0:
                return None
            begin = buf.rfind(b"\n", 0, start - 1) + 1
            return bytes(buf[max(begin, start - 1 - JOIN_PART) : start - 1]).decode(
                "utf-8", "replace"
            )
        if end >= len(buf):
            return None
        stop = buf.find(b"\n", end + 1)
        stop = len(buf) if stop < 0 else stop
        return bytes(buf[end + 1 : min(stop, end + 1 + JOIN_PART)]).decode("utf-8", "replace")

    def _around(self, start: int, end: int, window: int) -> list[str]:
        """The ``window`` lines before and after the line ``buf[start:end]``, itself included."""
        buf = self.buf
        low = start
        for _ in range(window):
            if low <= 0:
                break
            low = buf.rfind(b"\n", 0, low - 1) + 1
        high = end
        for _ in range(window):
            if high >= len(buf):
                break
            nxt = buf.find(b"\n", high + 1)
            high = len(buf) if nxt < 0 else nxt
        low = max(low, start - CONTEXT_BYTES // 2)
        high = min(high, end + CONTEXT_BYTES // 2)
        return bytes(buf[low:high]).decode("utf-8", "replace").split("\n")

    # ---- matching one candidate line

    def verify(
        self, line_no: int, start: int, end: int, lo: int, hi: int, anchors: set[int]
    ) -> None:
        sigset = self.sigset
        signatures: set[int] = set()
        contexts: set[int] = set()
        for anchor in anchors:
            signatures.update(sigset.anchor_signatures[anchor])
            contexts.update(c for c in sigset.anchor_contexts[anchor] if not self.found[c])
        if not signatures and not contexts:
            return
        if not contexts:
            # A flood of one literal message: once its examples are stored, an anchor that is
            # the whole pattern is the match, and only the count grows.
            for index in [i for i in signatures if i in sigset.exact]:
                state = self.states[index]
                if len(state.hits) >= STORE and line_no not in state.recent:
                    state.recent = [*state.recent[-3:], line_no]
                    state.count += 1
                    signatures.discard(index)
            if not signatures:
                return
        raw = bytes(self.buf[lo:hi]).decode("utf-8", "replace")
        if contexts:
            text = light(raw)
            for index in contexts:
                if sigset.contexts[index].regex.search(text):
                    self.found[index] = True
        if not signatures:
            return
        norm = normalize(raw)
        whole = lo == start and hi == end
        for index in sorted(signatures):
            state = self.states[index]
            if line_no in state.recent:
                continue
            compiled = sigset.signatures[index]
            match = compiled.regex.search(norm)
            where, text, at_line = match, norm, line_no
            if match is None and whole:
                joined = self._join(compiled.regex, raw, norm, start, end, line_no)
                if joined is None:
                    continue
                where, text, at_line = joined
            elif match is None:
                continue
            assert where is not None
            self._record(index, at_line, text, where, start, end)

    def _join(
        self, regex: Any, raw: str, norm: str, start: int, end: int, line_no: int
    ) -> tuple[Any, str, int] | None:
        """A match of a message a terminal wrapped: this line joined with a neighbour."""
        before = self._neighbour(start, end, before=True)
        if before is not None and len(light(before)) >= JOIN_MIN:
            first = normalize(before).rstrip()
            for glue in ("", " "):
                text = first + glue + norm
                match = regex.search(text)
                if match is not None and match.end() > len(first) + len(glue):
                    at = line_no - 1 if match.start() < len(first) else line_no
                    return match, text, at
        after = self._neighbour(start, end, before=False)
        if after is not None and len(light(raw)) >= JOIN_MIN:
            first = norm.rstrip()
            second = normalize(after)
            for glue in ("", " "):
                text = first + glue + second
                match = regex.search(text)
                if match is not None and match.start() < len(first):
                    return match, text, line_no
        return None

    def _record(
        self, index: int, line_no: int, text: str, match: Any, start: int, end: int
    ) -> None:
        state = self.states[index]
        state.recent = [*state.recent[-3:], line_no]
        state.count += 1
        if len(state.hits) >= STORE:
            return
        compiled = self.sigset.signatures[index]
        sig = compiled.signature
        confidence: float | None = sig.confidence
        if sig.near and sig.if_near is not None:
            context = self.sigset.context_of[index]
            assert context is not None
            if sig.window == 0:
                confidence = sig.if_near if self.found[context] else None
            else:
                regex = self.sigset.contexts[context].regex
                seen = any(regex.search(light(t)) for t in self._around(start, end, sig.window))
                confidence = sig.if_near if seen else sig.confidence
        params = {
            name: _clean(value) for name, value in match.groupdict().items() if value is not None
        }
        state.hits.append(Hit(line_no, confidence, _excerpt(text, match), params))
        if len(state.hits) >= STORE and index in self.sigset.exact:
            self.filled = True

    # ---- one round over the buffer

    def process(self, scan_from: int, start: int, cut: int, line_base: int) -> int:
        """Match the anchors found in ``buf[scan_from:cut]`` that end after ``start``; return
        the number of newlines in ``buf[start:cut]``."""
        found = self.matcher.find(self.buf, scan_from, cut)
        buf = self.buf
        anchor_signatures = self.sigset.anchor_signatures
        bulk = self._flooded()
        counted_to = start
        line_no = line_base
        i = 0
        total = len(found)
        while i < total:
            end_at, anchor = found[i]
            if end_at <= start:
                i += 1
                continue
            if self.filled:
                bulk = self._flooded()
                self.filled = False
            if anchor in bulk:
                # A flood of a literal message whose examples are stored: counted, not read.
                for index in anchor_signatures[anchor]:
                    self.states[index].count += 1
                i += 1
                continue
            line_start = buf.rfind(b"\n", 0, end_at) + 1
            line_end = buf.find(b"\n", end_at)
            if line_end < 0:
                line_end = len(buf)
            if line_start > counted_to:
                line_no += buf.count(b"\n", counted_to, line_start)
                counted_to = line_start
            # every anchor on this line
            j = i
            ends: list[tuple[int, int]] = []
            while j < total and found[j][0] <= line_end:
                ends.append(found[j])
                j += 1
            i = j
            if line_end - line_start <= MAX_VERIFIED_LINE:
                self.verify(
                    line_no, line_start, line_end, line_start, line_end, {a for _, a in ends}
                )
                continue
            for lo, hi, anchors in _windows(ends, line_start, line_end):
                self.verify(line_no, line_start, line_end, lo, hi, anchors)
        return line_no - line_base + buf.count(b"\n", counted_to, cut)

    def _flooded(self) -> set[int]:
        """Anchors all of whose signatures are exact and have their examples stored."""
        sigset = self.sigset
        full = {i for i in sigset.exact if len(self.states[i].hits) >= STORE}
        if not full:
            return set()
        return {
            anchor
            for anchor, signatures in enumerate(sigset.anchor_signatures)
            if signatures
            and not sigset.anchor_contexts[anchor]
            and all(i in full for i in signatures)
        }

    def drop_found_contexts(self) -> None:
        """Stop scanning for the anchors of contexts already seen (and of nothing else)."""
        sigset = self.sigset
        gone = [
            i
            for i, contexts in enumerate(sigset.anchor_contexts)
            if i not in self.dropped
            and contexts
            and not sigset.anchor_signatures[i]
            and all(self.found[c] for c in contexts)
        ]
        if gone:
            self.dropped.update(gone)
            self.matcher.drop(gone)

    def sample(self, head: bytes) -> None:
        """A log whose lines carry docker-compose prefixes counts as mentioning docker compose."""
        lines = head.decode("utf-8", "replace").splitlines()[:500]
        prefixed = sum(1 for line in lines if COMPOSE_PREFIX.match(light(line)))
        if prefixed >= 2 and prefixed * 3 >= len(lines):
            for context in self.sigset.contexts:
                if context.anywhere and context.regex.search("docker compose"):
                    self.found[context.index] = True


def _windows(
    ends: list[tuple[int, int]], line_start: int, line_end: int
) -> list[tuple[int, int, set[int]]]:
    """Bounded windows of a long line around its anchors (merged when they overlap)."""
    out: list[tuple[int, int, set[int]]] = []
    for end, anchor in ends:
        lo = max(line_start, end - VERIFY_WINDOW)
        hi = min(line_end, end + VERIFY_WINDOW)
        if out and lo <= out[-1][1] and hi - out[-1][0] <= 2 * VERIFY_WINDOW:
            prev_lo, _, anchors = out[-1]
            anchors.add(anchor)
            out[-1] = (prev_lo, hi, anchors)
            continue
        if len(out) >= MAX_WINDOWS_PER_LINE:
            break
        out.append((lo, hi, {anchor}))
    return out


def _clean(value: str) -> str:
    return redact(value.strip().strip("'\"`‘’"))[:120]


def _excerpt(text: str, match: Any) -> str:
    """The visible part of the line around the match, at most :data:`EXCERPT` characters."""
    segment, offset = visible(text, match.start())
    if len(segment) > EXCERPT:
        left = max(0, min(match.start() - offset - 60, len(segment) - EXCERPT))
        right = left + EXCERPT
        segment = (
            ("…" if left else "") + segment[left:right] + ("…" if right < len(segment) else "")
        )
    return redact(segment.replace("\r", "").replace("\t", " ").strip())


def scan(
    stream: BinaryIO,
    sigset: SignatureSet,
    matcher: Matcher,
    *,
    chunk_size: int = CHUNK,
    on_progress: Callable[[int], None] | None = None,
) -> ScanResult:
    """Scan ``stream`` to its end; never raises for what the bytes are."""
    reader = _Reader(stream)
    state = _Scan(sigset, matcher)
    start = 0  # buf[:start] was scanned (kept as history)
    line_base = 1  # number of the line that holds buf[start]
    newlines = 0
    mid_line = False  # the previous cut fell inside a line
    sampled = False
    last_byte = b"\n"
    while True:
        data = reader.read(chunk_size)
        eof = not data
        if data:
            state.buf += data
            last_byte = data[-1:]
        buf = state.buf
        if not sampled and (eof or len(buf) >= SAMPLE):
            state.sample(bytes(buf[:SAMPLE]))
            sampled = True
        if eof:
            cut = len(buf)
        else:
            found_cut = _cut(buf, start)
            if found_cut is None:
                if len(buf) - start < LONG_LINE:
                    continue
                last_newline = buf.rfind(b"\n", start)
                found_cut = last_newline + 1 if last_newline >= 0 else len(buf) - OVERLAP
            cut = found_cut
        scan_from = max(0, start - OVERLAP) if mid_line else start
        crossed = state.process(scan_from, start, cut, line_base)
        state.drop_found_contexts()
        newlines += crossed
        line_base += crossed
        mid_line = cut > 0 and buf[cut - 1] != 0x0A
        keep_from = max(0, cut - HISTORY)
        del buf[:keep_from]
        start = cut - keep_from
        if on_progress is not None:
            on_progress(reader.raw_bytes)
        if eof:
            break
    lines = newlines + (0 if last_byte == b"\n" else 1)
    hits: list[tuple[Hit, ...]] = []
    for index, signature_state in enumerate(state.states):
        compiled = sigset.signatures[index]
        sig = compiled.signature
        context = sigset.context_of[index]
        resolved: list[Hit] = []
        for hit in signature_state.hits:
            if hit.confidence is None:
                assert context is not None and sig.if_near is not None
                hit.confidence = sig.if_near if state.found[context] else sig.confidence
            resolved.append(hit)
        hits.append(tuple(resolved))
    return ScanResult(
        lines=lines,
        bytes=reader.raw_bytes,
        hits=tuple(hits),
        counts=tuple(s.count for s in state.states),
        matcher=matcher.name,
        encoding=reader.encoding,
    )


def _cut(buf: bytearray, start: int) -> int | None:
    """Where this round stops: after the line that leaves :data:`LOOKAHEAD_LINES` complete
    lines (at most :data:`LOOKAHEAD_MAX` bytes) for the next round; ``None`` when the buffer
    does not hold that many lines past ``start``."""
    position = len(buf)
    for _ in range(LOOKAHEAD_LINES + 1):
        position = buf.rfind(b"\n", start, position)
        if position < 0:
            return None
        if len(buf) - position > LOOKAHEAD_MAX:
            break
    cut = position + 1
    return cut if cut > start else None
