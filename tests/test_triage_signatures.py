"""Meta-tests of the log signatures in the catalog: complete, valid, selective, grep-able."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kyudoctor import catalog
from kyudoctor.catalog import CatalogError
from kyudoctor.triage import _signatures
from kyudoctor.triage._signatures import anchor_quality, anchors_of, to_ere, usable_anchor

REPO = Path(__file__).resolve().parents[1]
SYMPTOMS_MD = REPO.parent / "shared" / "spec" / "symptoms.md"

ENTRY = re.compile(r"^- \*\*([A-Z]+[0-9]{3}) [a-z0-9-]+\*\*(.*?)(?=^- \*\*|^## |\Z)", re.M | re.S)


def _codes_with_log_text() -> list[str]:
    if not SYMPTOMS_MD.is_file():
        pytest.skip(f"spec not found at {SYMPTOMS_MD}")
    text = SYMPTOMS_MD.read_text(encoding="utf-8")
    return [code for code, body in ENTRY.findall(text) if re.search(r"\blog:", body)]


def test_every_code_with_a_log_entry_has_a_signature() -> None:
    """Each code whose symptoms.md entry has a `log:` text has at least one signature."""
    codes = _codes_with_log_text()
    assert len(codes) > 60, "the spec parser found too few log entries"
    missing = [code for code in codes if not catalog.get(code).signatures]
    assert missing == []


def test_every_signature_compiles_and_gets_anchors() -> None:
    """The whole catalog compiles, and every signature has usable prefilter anchors."""
    sigset = _signatures.load()
    assert len(sigset.signatures) == sum(len(s.signatures) for s in catalog.all_symptoms())
    covered = {i for sigs in sigset.anchor_signatures for i in sigs}
    assert covered == set(range(len(sigset.signatures)))
    for anchor in sigset.anchors:
        assert anchor == anchor.lower() and len(anchor) >= 2


def test_derived_anchors_are_selective() -> None:
    """No derived anchor of a signature is a ubiquitous word such as "server" or "torch"."""
    for compiled in catalog.compiled_signatures():
        if compiled.signature.anchors:
            continue
        for anchor in anchors_of(compiled.signature.pattern):
            assert usable_anchor(anchor), (compiled.code, anchor)


def test_context_patterns_compile_against_real_lines() -> None:
    """The `near` contexts of the catalog match the lines they are written for."""
    samples = {
        "no free channels": "ERROR moshi_server: no free channels",
        r"\+cpu\b": "torch 2.6.0+cpu",
    }
    for compiled in catalog.compiled_signatures():
        if compiled.near is not None and compiled.signature.near in samples:
            assert compiled.near.search(samples[compiled.signature.near])


ANCHOR_CASES = [
    ("CUDA out of memory", {"cuda out of memory"}),
    (r"Connection refused|\[Errno 111\]", {"connection refused", "[errno 111]"}),
    (r"moshi[-_]server: error", {"moshi-server: error", "moshi_server: error"}),
    (r"(?:gcc|g\+\+)-1[5-9]", {"gcc-1", "g++-1"}),
    (r"env: .?(?:ba|z)?sh(?:\\r|\^M)", {"env: "}),
    (r"task failed name=\W?model_loop", {"task failed name=", "model_loop"}),
]


@pytest.mark.parametrize(("pattern", "expected"), ANCHOR_CASES)
def test_anchors_of(pattern: str, expected: set[str]) -> None:
    """Anchors are the literals every match must contain, lower-cased."""
    anchors = set(anchors_of(pattern))
    assert anchors == expected
    for anchor in anchors:
        assert usable_anchor(anchor, selective=False)


def test_anchors_of_a_long_literal_are_pieces_for_wrapped_lines() -> None:
    """A long message is split into word pieces, so a terminal-wrapped copy keeps one whole."""
    anchors = anchors_of("CUDA driver version is insufficient for CUDA runtime version")
    assert len(anchors) >= 2
    assert all(a in "cuda driver version is insufficient for cuda runtime version" for a in anchors)


def test_anchors_of_rejects_a_pattern_without_literal() -> None:
    """A pattern with no required literal cannot be prefiltered: ValueError."""
    with pytest.raises(ValueError, match="required literal"):
        anchors_of(r"\d+\s+\w+")


def test_anchor_quality_ranks_phrases_above_common_words() -> None:
    """A phrase of common words outranks one common word; a hyphenated name is one word."""
    assert anchor_quality("cuda out of memory") > anchor_quality("not found") >= 3
    assert anchor_quality("server") < 3 and anchor_quality("moshi-server") < 3
    assert anchor_quality("[errno 111]") > 8


ERE_CASES = [
    (r"CUDA out of memory", "CUDA out of memory"),
    (r"(?:ab|cd)e", "(ab|cd)e"),
    (r"x\d+\.y", "x[[:digit:]]+\\.y"),
    (r"No module named [\"'‘]?(?P<package>[\w.]+)", "No module named [\"'‘]?([[:alnum:]_.]+)"),
    (r"foo(?!bar)", "foo"),
    (r"a{2,5}b?", "a{2,5}b?"),
]


@pytest.mark.parametrize(("pattern", "expected"), ERE_CASES)
def test_to_ere(pattern: str, expected: str) -> None:
    """Python regexes become POSIX ERE for the grep baseline (lookarounds dropped)."""
    assert to_ere(pattern) == expected


@pytest.mark.skipif(shutil.which("grep") is None, reason="no grep")
def test_grep_accepts_every_converted_signature(tmp_path: Path) -> None:
    """`grep -E` compiles the ERE form of every signature (the speed benchmark's baseline)."""
    patterns = tmp_path / "patterns.ere"
    patterns.write_text(
        "\n".join(to_ere(s.signature.pattern) for s in catalog.compiled_signatures()) + "\n",
        encoding="utf-8",
    )
    sample = tmp_path / "sample.log"
    sample.write_text("torch.OutOfMemoryError: CUDA out of memory.\nnothing here\n")
    proc = subprocess.run(
        ["grep", "-E", "-c", "-i", "-f", str(patterns), str(sample)],
        capture_output=True,
        text=True,
        check=False,
        env={"LC_ALL": "C"},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "1"


VALID_ENTRY = """schema = "kyudoctor.catalog/1"

[[symptom]]
code = "GPU006"
slug = "cuda-out-of-memory"
family = "GPU"
severity = "error"
title = "t"
cause = "c"
live = ""
log = "CUDA out of memory"
fix = "f"
commands = []
related = []
folklore = []

[[symptom.signature]]
pattern = 'CUDA out of memory'
confidence = 0.9
"""

BROKEN_SIGNATURES = [
    ("confidence = 0.9", "confidence = 1.5", "confidence must be a number from 0 to 1"),
    ("confidence = 0.9", "confidence = true", "confidence must be a number"),
    ("confidence = 0.9", 'confidence = 0.9\ncolour = "red"', "unknown field"),
    ("confidence = 0.9\n", "", "missing field confidence"),
    ("confidence = 0.9", "confidence = 0.9\nnear = 'x'", "near and if_near go together"),
    ("confidence = 0.9", "confidence = 0.9\nwindow = -1", "window must be"),
    ("confidence = 0.9", 'confidence = 0.9\nexplained_by = ["NOPE001"]', "names no code"),
    ("confidence = 0.9", 'confidence = 0.9\nseverity = "fatal"', "severity must be"),
    ("confidence = 0.9", "confidence = 0.9\nanchors = ['']", "anchors must be"),
]


@pytest.mark.parametrize(("old", "new", "message"), BROKEN_SIGNATURES)
def test_parse_rejects_a_broken_signature(old: str, new: str, message: str) -> None:
    """A malformed [[symptom.signature]] table is a CatalogError naming the problem."""
    with pytest.raises(CatalogError, match=re.escape(message)):
        catalog.parse(VALID_ENTRY.replace(old, new, 1))


BAD_REGEXES = [
    ("CUDA (out of memory", "invalid regular expression"),
    ("x*", "matches the empty string"),
    ("(?P<device>cuda)", "not a placeholder name"),
]


@pytest.mark.parametrize(("pattern", "message"), BAD_REGEXES)
def test_compiling_rejects_a_bad_regex(pattern: str, message: str) -> None:
    """A regex that does not compile, matches "" or names an unknown group fails the catalog."""
    symptoms = catalog.parse(VALID_ENTRY.replace("'CUDA out of memory'", repr(pattern), 1))
    with pytest.raises(CatalogError, match=message):
        catalog.compiled_signatures(symptoms)


def test_a_signature_without_anchor_fails_the_set() -> None:
    """A pattern with no usable literal and no explicit anchors is refused when the set is built."""
    symptoms = catalog.parse(VALID_ENTRY.replace("'CUDA out of memory'", r"'\d+ \w+'", 1))
    with pytest.raises(CatalogError, match="give it anchors"):
        _signatures.load(catalog.compiled_signatures(symptoms))


def test_catalog_import_does_not_compile_signatures() -> None:
    """Loading the catalog for `check` leaves the signature regexes uncompiled."""
    code = (
        "from kyudoctor import catalog; catalog.all_symptoms(); "
        "print(catalog._compiled_catalog.cache_info().currsize)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert out.stdout.strip() == "0"
