"""The catalog's log signatures prepared for scanning: prefilter anchors, context patterns.

Every signature gets a set of *anchors*: literal strings, one of which every match of its regex
contains. A fast multi-literal scan over raw bytes (Hyperscan, or ``bytes.find``) finds the few
lines that hold an anchor; only those are normalised and matched with the full regex. Anchors
are derived from the regex's parse tree: the longest required literal run, a required
alternation's branch literals, and, so that a terminal-wrapped message still has an intact piece
on one of its two lines, long runs split into pieces of a few words.

The same parse tree gives a POSIX ERE rendering of each pattern, used by the speed benchmark to
run ``grep -E`` with the same signature set.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kyudoctor import catalog
from kyudoctor.catalog import CatalogError, CompiledSignature

__all__ = [
    "ContextPattern",
    "SignatureSet",
    "anchor_quality",
    "anchors_of",
    "load",
    "to_ere",
    "usable_anchor",
]

# The regex parser of the standard library (private, stable since Python 3.0; renamed in 3.11).
_parser: Any = getattr(re, "_parser", None) or importlib.import_module("sre_parse")
_c: Any = getattr(re, "_constants", None) or importlib.import_module("sre_constants")

MIN_ANCHOR = 3
"""Shortest anchor accepted: shorter literals would make most lines of a big log candidates.
Two characters pass when one of them is punctuation (``^M``, ``\\r``): rare in real logs."""

_PIECE_MIN = 10  # a long literal is split into word pieces of at least this many characters
_PIECE_QUALITY = 8  # ... each at least this selective (see anchor_quality)
_SPLIT_FROM = 24


@dataclass(frozen=True)
class ContextPattern:
    """A distinct ``near`` pattern: where it is seen decides a signature's confidence.

    One that some signature looks for anywhere in the log (window 0) is scanned for like a
    signature (it has anchors); the others are looked for only in the lines around a match.
    """

    index: int
    regex: re.Pattern[str]
    anywhere: bool


@dataclass(frozen=True)
class SignatureSet:
    """Everything the scanner needs, built once per process from the catalog."""

    signatures: tuple[CompiledSignature, ...]
    contexts: tuple[ContextPattern, ...]
    context_of: tuple[int | None, ...]  # signature index -> context index
    anchors: tuple[bytes, ...]  # lower-cased, deduplicated
    anchor_signatures: tuple[tuple[int, ...], ...]  # anchor index -> signature indexes
    anchor_contexts: tuple[tuple[int, ...], ...]  # anchor index -> context indexes
    exact: frozenset[int]  # signatures whose one anchor is their whole (literal) pattern


# --------------------------------------------------------------------------- anchors


# Words on nearly every line of some log: an anchor made only of one of them would make most
# lines candidates. A phrase of several common words is rare enough ("cuda out of memory").
_COMMON = frozenset(
    """a about after all also an and any api are as at audio batch be been before bin build but
    by can candle cannot certificate client code command compile compiling config connect
    connection format frame frames kyutai messagepack moshi pcmmessagepack session step stt
    tokio tts unmute voice websocket websockets
    container could cpu cuda data debug default did dir directory do docker does done down
    download downloading error errors exit failed failure false file find for found from get
    gpu had has have home host http https if in info install installed installing invalid is
    it its key lib line lines load loaded loading local localhost main may memory model module
    more must name named new no none not null of ok old on one only or other out over path pip
    please port process python ready request require required requires response restart run
    running send sent server set should slot slots some src ssl start started starting status
    stop such than that the then there this thread time timed timeout tls to torch true two
    type up use used using uv valid value version versions warn warning was we were when where
    which while will with would you your""".split()
)
_TOKEN = re.compile(r"[a-z0-9_]+")


def anchor_quality(anchor: str) -> int:
    """How selective a literal is: characters of uncommon words, with bonuses for phrases of
    several words and for punctuation. A ubiquitous word ("server", "moshi-server") scores
    under 3, a phrase of common words ("cuda out of memory") well above."""
    words = anchor.lower().split()
    tokens = _TOKEN.findall(anchor.lower())
    rare = sum(len(t) for t in tokens if t not in _COMMON)
    punctuation = sum(1 for c in anchor if not (c.isalnum() or c.isspace() or c == "_"))
    return rare + 3 * max(len(words) - 1, 0) + min(punctuation, 3)


def usable_anchor(anchor: str, *, selective: bool = True) -> bool:
    """Long enough (see :data:`MIN_ANCHOR`) and, when ``selective``, not one ubiquitous word:
    the anchors of signatures are scanned for on every line of the log."""
    if len(anchor) < MIN_ANCHOR and not (
        len(anchor) == 2 and any(not (c.isalnum() or c.isspace()) for c in anchor)
    ):
        return False
    return not selective or anchor_quality(anchor) >= 3


def _best(sets: Sequence[frozenset[str]], selective: bool = True) -> frozenset[str] | None:
    usable = [s for s in sets if s and all(usable_anchor(a, selective=selective) for a in s)]
    if not usable:
        return None
    return max(
        usable,
        key=lambda s: (min(anchor_quality(a) for a in s), min(len(a) for a in s), -len(s)),
    )


_SMALL_CLASS = 6  # a class of at most this many literal characters extends a run by each one
_MAX_ALTERNATIVES = 16


class _Walker:
    """Collects the required literal sets of one sequence of parse-tree items."""

    def __init__(
        self, ignore_case: bool, prefix: Sequence[str] = ("",), selective: bool = True
    ) -> None:
        self.ignore_case = ignore_case
        self.selective = selective
        self.sets: list[frozenset[str]] = []
        self.run: list[str] = list(prefix)  # the current literal run, as alternatives

    def flush(self) -> None:
        if all(self.run):
            self.sets.append(frozenset(self.run))
        self.run = [""]

    def walk(self, items: Any) -> None:
        for op, av in items:
            if op is _c.LITERAL:
                char = chr(av).lower() if self.ignore_case else chr(av)
                self.run = [r + char for r in self.run]
            elif op is _c.AT:
                continue  # zero-width: the literals around it are adjacent in the text
            elif op is _c.SUBPATTERN:
                sub = av[-1]
                if len(sub.data) == 1 and sub.data[0][0] is _c.BRANCH:
                    self.walk(sub)
                else:
                    self.walk(sub)  # a plain group: its literals continue the run
            elif op is _c.BRANCH:
                words = [_literal_sequence(b, self.ignore_case) for b in av[1]]
                if all(w is not None for w in words) and (
                    len(self.run) * len(words) <= _MAX_ALTERNATIVES
                ):
                    # `(?:gcc|g\+\+): not found`: each plain word continues the run.
                    self.run = [r + (w or "") for r in self.run for w in words]
                    continue
                # The parser factors a common prefix out of the branches ("gcc-|g++-" becomes
                # "g" then "cc-|++-"): each branch continues the current run.
                prefix = self.run
                self.flush()
                branches = [_required(b, self.ignore_case, prefix, self.selective) for b in av[1]]
                if all(branches):
                    self.sets.append(frozenset().union(*(b for b in branches if b)))
            elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT) or op is getattr(_c, "POSSESSIVE_REPEAT", 0):
                self.flush()
                low, _high, sub = av
                if low >= 1:
                    inner = _Walker(self.ignore_case, selective=self.selective)
                    inner.walk(sub)
                    inner.flush()
                    self.sets.extend(inner.sets)
            elif op is getattr(_c, "ATOMIC_GROUP", 0):
                self.walk(av)
            elif (
                op is _c.IN
                and all(self.run)
                and _literal_class(av)
                and len(self.run) * len(_literal_class(av)) <= _MAX_ALTERNATIVES
            ):
                # `moshi[-_]server` is "moshi-server" or "moshi_server": the run continues as
                # alternatives, each longer than either side alone.
                self.run = [r + c for r in self.run for c in _literal_class(av)]
            else:  # ANY, IN, NOT_LITERAL, CATEGORY, ASSERT, ASSERT_NOT, GROUPREF...
                self.flush()


def _literal_sequence(items: Any, ignore_case: bool) -> str | None:
    """The text of a branch made only of literal characters, else ``None``."""
    chars: list[str] = []
    for op, av in items:
        if op is not _c.LITERAL:
            return None
        chars.append(chr(av).lower() if ignore_case else chr(av))
    return "".join(chars)


def _literal_class(items: Any) -> list[str]:
    """The characters of a small class of plain literals (``['"]``), else an empty list."""
    chars: list[str] = []
    for op, av in items:
        if op is not _c.LITERAL:
            return []
        chars.append(chr(av).lower())
    return sorted(set(chars)) if len(chars) <= _SMALL_CLASS else []


def _required(
    items: Any, ignore_case: bool, prefix: Sequence[str] = ("",), selective: bool = True
) -> frozenset[str] | None:
    walker = _Walker(ignore_case, prefix, selective)
    walker.walk(items)
    walker.flush()
    return _best(walker.sets, selective)


def _pieces(literal: str) -> list[str]:
    """A long literal split at spaces into pieces of a few words (each a required literal),
    each still selective: a terminal that wraps the message leaves one piece whole."""
    if len(literal) < _SPLIT_FROM or " " not in literal.strip():
        return [literal]

    def good(piece: str) -> bool:
        return len(piece) >= _PIECE_MIN and anchor_quality(piece) >= _PIECE_QUALITY

    pieces: list[str] = []
    current = ""
    for word in literal.split(" "):
        current = f"{current} {word}" if current else word
        if good(current):
            pieces.append(current)
            current = ""
    if current:
        if pieces and not good(current):
            pieces[-1] = f"{pieces[-1]} {current}"
        else:
            pieces.append(current)
    return pieces if all(good(p) for p in pieces) else [literal]


def anchors_of(
    pattern: str, *, ignore_case: bool = True, selective: bool = True
) -> tuple[str, ...]:
    """The anchors of ``pattern``: literals one of which every match contains.

    Raises :class:`ValueError` when the pattern has no usable literal that every match must
    contain (see :func:`usable_anchor`; the signature then needs explicit ``anchors``).
    """
    parsed = _parser.parse(pattern, re.IGNORECASE if ignore_case else 0)
    walker = _Walker(ignore_case, selective=selective)
    walker.walk(parsed)
    walker.flush()
    chosen = _best(walker.sets, selective)
    if chosen is None:
        raise ValueError(f"{pattern!r} has no required literal of {MIN_ANCHOR}+ characters")
    # More required literals make a wrapped message findable from either of its lines.
    extra = [
        s
        for s in walker.sets
        if s != chosen and len(s) == 1 and anchor_quality(next(iter(s))) >= _PIECE_QUALITY
    ]
    out: dict[str, None] = {}
    for group in (chosen, *extra[:2]):
        for literal in sorted(group):
            for piece in _pieces(literal) if len(group) == 1 else [literal]:
                out[piece] = None
    return tuple(out)


# --------------------------------------------------------------------------- the set


def _build(signatures: tuple[CompiledSignature, ...]) -> SignatureSet:
    anchor_index: dict[bytes, int] = {}
    anchor_sigs: list[list[int]] = []
    anchor_ctxs: list[list[int]] = []

    def add(anchor: str, target: list[list[int]], value: int) -> None:
        key = anchor.lower().encode("utf-8", "replace")
        if key not in anchor_index:
            anchor_index[key] = len(anchor_index)
            anchor_sigs.append([])
            anchor_ctxs.append([])
        bucket = target[anchor_index[key]]
        if value not in bucket:
            bucket.append(value)

    contexts: dict[str, tuple[int, re.Pattern[str], bool]] = {}
    context_of: list[int | None] = []
    for compiled in signatures:
        sig = compiled.signature
        if compiled.near is None:
            continue
        previous = contexts.get(sig.near)
        anywhere = sig.window == 0 or bool(previous and previous[2])
        index = previous[0] if previous else len(contexts)
        contexts[sig.near] = (index, compiled.near, anywhere)
    for near, (index, _regex, anywhere) in contexts.items():
        if not anywhere:
            continue  # looked for around each match only, in the lines kept in memory
        try:
            near_anchors = anchors_of(near, ignore_case=True, selective=False)
        except ValueError as exc:
            raise CatalogError(f"near {near!r}: {exc}") from None
        for anchor in near_anchors:
            add(anchor, anchor_ctxs, index)
    exact: set[int] = set()
    for i, compiled in enumerate(signatures):
        sig = compiled.signature
        where = f"{compiled.code}: signature #{compiled.index + 1}"

        try:
            anchors = sig.anchors or anchors_of(sig.pattern, ignore_case=True)
        except ValueError as exc:
            raise CatalogError(f"{where}: {exc}; give it anchors") from None
        for anchor in anchors:
            if not usable_anchor(anchor, selective=not sig.anchors):
                raise CatalogError(f"{where}: anchor {anchor!r} is too short")
            add(anchor, anchor_sigs, i)
        literal = _literal_sequence(_parser.parse(sig.pattern, 0), ignore_case=True)
        if (
            literal is not None
            and tuple(a.lower() for a in anchors) == (literal,)
            and not sig.case_sensitive
        ):
            exact.add(i)
        context_of.append(None if compiled.near is None else contexts[sig.near][0])
    return SignatureSet(
        signatures=signatures,
        contexts=tuple(
            ContextPattern(index, regex, anywhere)
            for index, regex, anywhere in sorted(contexts.values(), key=lambda c: c[0])
        ),
        context_of=tuple(context_of),
        anchors=tuple(anchor_index),
        anchor_signatures=tuple(tuple(s) for s in anchor_sigs),
        anchor_contexts=tuple(tuple(c) for c in anchor_ctxs),
        exact=frozenset(exact),
    )


_CACHE: dict[int, SignatureSet] = {}


def load(signatures: tuple[CompiledSignature, ...] | None = None) -> SignatureSet:
    """The signature set of the catalog (cached), or of ``signatures`` (tests)."""
    if signatures is not None:
        return _build(signatures)
    if 0 not in _CACHE:
        _CACHE[0] = _build(catalog.compiled_signatures())
    return _CACHE[0]


# --------------------------------------------------------------------------- ERE


_ERE_SPECIAL = set(".[]()*+?{}|^$\\")
_CATEGORY = {
    "CATEGORY_DIGIT": ("[:digit:]", False),
    "CATEGORY_NOT_DIGIT": ("[:digit:]", True),
    "CATEGORY_SPACE": ("[:space:]", False),
    "CATEGORY_NOT_SPACE": ("[:space:]", True),
    "CATEGORY_WORD": ("[:alnum:]_", False),
    "CATEGORY_NOT_WORD": ("[:alnum:]_", True),
}


def _ere_char(code: int) -> str:
    char = chr(code)
    return "\\" + char if char in _ERE_SPECIAL else char


def _ere_class(items: Any) -> str:
    negate = False
    parts: list[str] = []
    for op, av in items:
        if op is _c.NEGATE:
            negate = True
        elif op is _c.LITERAL:
            char = chr(av)
            parts.append("\\]" if char == "]" else ("\\-" if char == "-" else char))
        elif op is _c.RANGE:
            parts.append(f"{chr(av[0])}-{chr(av[1])}")
        elif op is _c.CATEGORY:
            body, negated = _CATEGORY.get(str(av), ("", False))
            if negated or not body:
                return "."  # cannot be expressed inside one bracket: approximate
            parts.append(body)
    body = "".join(p for p in parts if p not in ("\\]", "\\-"))
    # POSIX brackets: ']' first, '-' last, no backslash escapes.
    if "\\]" in parts:
        body = "]" + body
    if "\\-" in parts:
        body += "-"
    return f"[{'^' if negate else ''}{body}]"


def _ere(items: Any) -> str:
    out: list[str] = []
    for op, av in items:
        if op is _c.LITERAL:
            out.append(_ere_char(av))
        elif op is _c.NOT_LITERAL:
            out.append(f"[^{chr(av)}]")
        elif op is _c.ANY:
            out.append(".")
        elif op is _c.IN:
            out.append(_ere_class(av))
        elif op is _c.CATEGORY:
            body, negated = _CATEGORY.get(str(av), ("", False))
            out.append(f"[{'^' if negated else ''}{body}]" if body else ".")
        elif op is _c.AT:
            name = str(av)
            out.append(
                {"AT_BEGINNING": "^", "AT_END": "$", "AT_BOUNDARY": "\\b"}.get(name, "")
                if name != "AT_NON_BOUNDARY"
                else "\\B"
            )
        elif op is _c.SUBPATTERN:
            out.append(f"({_ere(av[-1])})")
        elif op is _c.BRANCH:
            out.append("(" + "|".join(_ere(b) for b in av[1]) + ")")
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT) or op is getattr(_c, "POSSESSIVE_REPEAT", 0):
            low, high, sub = av
            inner = _ere(sub)
            if len(sub.data) != 1 or sub.data[0][0] in (_c.SUBPATTERN, _c.BRANCH):
                inner = f"({inner})" if not inner.startswith("(") else inner
            if high is _c.MAXREPEAT or high == _c.MAXREPEAT:
                suffix = "*" if low == 0 else ("+" if low == 1 else f"{{{low},}}")
            elif low == 0 and high == 1:
                suffix = "?"
            else:
                suffix = f"{{{low}}}" if low == high else f"{{{low},{high}}}"
            out.append(inner + suffix)
        elif op is getattr(_c, "ATOMIC_GROUP", 0):
            out.append(f"({_ere(av)})")
        # ASSERT / ASSERT_NOT (lookaround) have no ERE form: dropped, which only widens.
    return "".join(out)


def to_ere(pattern: str) -> str:
    """``pattern`` as a POSIX extended regex for ``grep -E`` (lookarounds dropped: wider)."""
    return _ere(_parser.parse(pattern, 0))
