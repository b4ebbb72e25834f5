"""The symptom catalog: every code kyudoctor can report, loaded from ``data/symptoms.toml``.

Checks, log triage, ``kyudoctor explain`` and the generated pages in ``docs/codes/`` all read
the same entries, so a code means one thing everywhere. The file is validated when first loaded;
a broken catalog is a packaging bug and raises :class:`CatalogError`.

Fix prose and command templates hold ``{snake_case}`` placeholders (the names in
:data:`PLACEHOLDERS`) that checks fill with the real values at run time. :func:`render` shows an
unfilled placeholder as ``<name>``; :func:`render_command` gives ``None`` for a command that
cannot be completed, so the engine drops it rather than print a command that would not run.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from kyudoctor._toml import tomllib

__all__ = [
    "PLACEHOLDERS",
    "SCHEMA",
    "SEVERITIES",
    "CatalogError",
    "CompiledSignature",
    "Folklore",
    "Signature",
    "Symptom",
    "UnknownCode",
    "all_symptoms",
    "codes_matching",
    "compiled_signatures",
    "find",
    "get",
    "parse",
    "placeholders",
    "render",
    "render_command",
]

SCHEMA = "kyudoctor.catalog/1"

SEVERITIES: tuple[str, ...] = ("error", "warning", "info")

PLACEHOLDERS: Mapping[str, str] = {
    "batch_size": "a batch_size value that fits",
    "binary": "path of the moshi-server binary",
    "cargo_bin": "cargo's bin directory, $CARGO_HOME/bin",
    "compute_cap": "the GPU's compute capability as digits, e.g. 89",
    "config": "path of the moshi-server config file",
    "cuda_home": "the toolkit directory of the nvcc found",
    "cuda_version": "the CUDA version the wheel or toolkit needs",
    "driver_min": "the minimum driver version for that CUDA version",
    "flavour": "the torch wheel's CUDA flavour to install, e.g. cu128",
    "gcc_major": "the GCC major version to install or select",
    "gpu_index": "index of the GPU to use, for CUDA_VISIBLE_DEVICES",
    "libdir": "LIBDIR of the target interpreter",
    "moshi_server_version": "the recommended moshi-server version",
    "package": "a Python distribution name",
    "path": "the route of the TTS module, e.g. /api/tts_streaming",
    "port": "the port moshi-server listens on",
    "project_dir": "directory of moshi-server's pyproject.toml and uv.lock",
    "python": "path of the target interpreter",
    "recommended_cuda": "the recommended CUDA toolkit version, e.g. 12.8",
    "script": "path of a start script",
    "torch_version": "the torch version to install",
    "torchaudio_version": "the torchaudio version matching torch_version",
}
"""Every placeholder name the catalog may use, with its meaning (mirrored in symptoms.toml)."""

_CODE_RE = re.compile(r"[A-Z]+[0-9]{3}")
_SLUG_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_NAME_RE = re.compile(r"[a-z][a-z0-9_]*")

_TEXT_FIELDS = ("title", "cause", "live", "log", "fix")
_REQUIRED = (
    "code",
    "slug",
    "family",
    "severity",
    *_TEXT_FIELDS,
    "commands",
    "related",
    "folklore",
)
# `signature` is reserved for the log signatures of triage (a list of tables per symptom).
_OPTIONAL = ("severity_note", "signature")


@dataclass(frozen=True)
class Folklore:
    """A troubleshooting recipe in circulation that is wrong, and what is true instead."""

    recipe: str
    truth: str


@dataclass(frozen=True)
class Signature:
    """One log signature of a symptom: how ``kyudoctor triage`` recognises it in a pasted log.

    ``pattern`` is a Python regular expression searched in each normalised log line (ANSI
    colours, compose prefixes and leading timestamps removed; a line may be joined with its
    neighbour when a terminal wrapped it), case-insensitively unless ``case_sensitive``. Its
    named groups are placeholder names whose captured text fills the fix. ``confidence`` is how
    sure a match makes the code (0 to 1). With ``near``, a second pattern looked for within
    ``window`` lines either side (0: anywhere in the log), the match has confidence ``if_near``
    when it is found (0 drops the match: a negative context). ``explained_by`` lists codes or
    family prefixes: when one of them is also found, this match is a consequence folded under
    it. ``anchors`` are literal strings, one of which every match contains (the fast prefilter);
    empty means derived from the pattern. ``severity``, when set, replaces the code's default
    severity for a finding this signature proves (e.g. an error rather than a warning).
    """

    pattern: str
    confidence: float
    case_sensitive: bool = False
    anchors: tuple[str, ...] = ()
    near: str = ""
    window: int = 0
    if_near: float | None = None
    explained_by: tuple[str, ...] = ()
    severity: str = ""


@dataclass(frozen=True)
class CompiledSignature:
    """A signature with its regular expressions compiled (see :func:`compiled_signatures`)."""

    code: str
    index: int
    signature: Signature
    regex: re.Pattern[str]
    near: re.Pattern[str] | None


@dataclass(frozen=True)
class Symptom:
    """One catalog entry. ``fix`` and ``commands`` are templates (see :func:`render`)."""

    code: str
    slug: str
    family: str
    severity: str
    title: str
    cause: str
    live: str
    log: str
    fix: str
    commands: tuple[str, ...]
    related: tuple[str, ...]
    folklore: tuple[Folklore, ...]
    severity_note: str
    signatures: tuple[Signature, ...] = ()


class CatalogError(ValueError):
    """The catalog file is malformed: a packaging bug, never the user's fault."""


class UnknownCode(KeyError):
    """No catalog entry has this code or slug (``str()`` is the one-line message)."""

    def __init__(self, query: str, suggestions: tuple[str, ...] = ()) -> None:
        super().__init__(query)
        self.query = query
        self.suggestions = suggestions

    def __str__(self) -> str:
        if not self.suggestions:
            return f"unknown code {self.query!r} (kyudoctor explain --list shows every code)"
        if len(self.suggestions) == 1:
            options = self.suggestions[0]
        else:
            options = ", ".join(self.suggestions[:-1]) + " or " + self.suggestions[-1]
        return f"unknown code {self.query!r} (did you mean {options}?)"


# --------------------------------------------------------------------------- templates


def _fields(template: str) -> Iterator[tuple[str, str | None, str | None, str | None]]:
    # string.Formatter.parse un-doubles {{ }} in the literal text and raises ValueError on an
    # unbalanced brace, which is exactly str.format's template syntax.
    return iter(string.Formatter().parse(template))


def placeholders(template: str) -> tuple[str, ...]:
    """The placeholder names of ``template``, in order of first use, each once.

    Raises ValueError when the template is not valid ``str.format`` syntax.
    """
    names: dict[str, None] = {}
    for _literal, name, _spec, _conversion in _fields(template):
        if name is not None:
            names[name] = None
    return tuple(names)


def render(template: str, params: Mapping[str, object], *, missing: str = "<{}>") -> str:
    """Fill ``{name}`` placeholders from ``params``; unfilled ones become ``missing.format(name)``.

    A parameter whose value is ``None`` counts as not supplied. Doubled braces are literal
    braces, as in ``str.format``.
    """
    formatter = string.Formatter()
    out: list[str] = []
    for literal, name, spec, conversion in _fields(template):
        out.append(literal)
        if name is None:
            continue
        value: Any = params.get(name)
        if value is None:
            out.append(missing.format(name))
            continue
        if conversion:
            value = formatter.convert_field(value, conversion)
        out.append(format(value, spec or ""))
    return "".join(out)


def render_command(template: str, params: Mapping[str, object]) -> str | None:
    """The command with every placeholder filled, or ``None`` when any value is missing."""
    if any(params.get(name) is None for name in placeholders(template)):
        return None
    return render(template, params)


# --------------------------------------------------------------------------- loading


def _fold(text: str) -> str:
    """Paragraph text: single line breaks become spaces, blank lines separate paragraphs."""
    paragraphs = re.split(r"\n[ \t]*\n", text.strip())
    return "\n\n".join(" ".join(p.split()) for p in paragraphs if p.strip())


def _check_template(template: str, where: str) -> None:
    try:
        fields = list(_fields(template))
    except ValueError as exc:
        raise CatalogError(f"{where}: invalid template {template!r}: {exc}") from None
    for _literal, name, spec, conversion in fields:
        if name is None:
            continue
        if not _NAME_RE.fullmatch(name) or spec or conversion:
            raise CatalogError(
                f"{where}: placeholder {{{name}}} must be a plain {{snake_case}} name "
                f"(write literal braces as {{{{ }}}})"
            )
        if name not in PLACEHOLDERS:
            raise CatalogError(
                f"{where}: unknown placeholder {{{name}}}; add it to catalog.PLACEHOLDERS "
                "and to the list at the top of symptoms.toml"
            )


def _string(entry: Mapping[str, Any], key: str, where: str) -> str:
    value = entry[key]
    if not isinstance(value, str):
        raise CatalogError(f"{where}: {key} must be a string, not {type(value).__name__}")
    return value


def _strings(entry: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = entry[key]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CatalogError(f"{where}: {key} must be a list of strings")
    return tuple(value)


def _folklore(entry: Mapping[str, Any], where: str) -> tuple[Folklore, ...]:
    value = entry["folklore"]
    if not isinstance(value, list):
        raise CatalogError(f"{where}: folklore must be a list of {{recipe, truth}} tables")
    rows: list[Folklore] = []
    for row in value:
        if not isinstance(row, dict) or set(row) != {"recipe", "truth"}:
            raise CatalogError(f"{where}: each folklore row needs exactly recipe and truth")
        recipe, truth = row["recipe"], row["truth"]
        if not isinstance(recipe, str) or not isinstance(truth, str) or not recipe or not truth:
            raise CatalogError(f"{where}: folklore recipe and truth must be non-empty strings")
        rows.append(Folklore(recipe=_fold(recipe), truth=_fold(truth)))
    return tuple(rows)


def _symptom(entry: Any, index: int, source: str) -> Symptom:
    where = f"{source}: symptom #{index + 1}"
    if not isinstance(entry, dict):
        raise CatalogError(f"{where}: must be a table")
    if isinstance(entry.get("code"), str):
        where = f"{where} ({entry['code']})"
    missing = [key for key in _REQUIRED if key not in entry]
    if missing:
        raise CatalogError(f"{where}: missing field(s) {', '.join(missing)}")
    unknown = sorted(set(entry) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise CatalogError(f"{where}: unknown field(s) {', '.join(unknown)}")

    code = _string(entry, "code", where)
    if not _CODE_RE.fullmatch(code):
        raise CatalogError(f"{where}: code must look like ABC123 (family prefix, 3 digits)")
    family = _string(entry, "family", where)
    if family != code.rstrip("0123456789"):
        raise CatalogError(f"{where}: family {family!r} is not the prefix of {code}")
    slug = _string(entry, "slug", where)
    if not _SLUG_RE.fullmatch(slug):
        raise CatalogError(f"{where}: slug {slug!r} must be kebab-case")
    severity = _string(entry, "severity", where)
    if severity not in SEVERITIES:
        raise CatalogError(f"{where}: severity {severity!r} is not one of {', '.join(SEVERITIES)}")
    texts = {key: _fold(_string(entry, key, where)) for key in _TEXT_FIELDS}
    for key in ("title", "cause", "fix"):
        if not texts[key]:
            raise CatalogError(f"{where}: {key} must not be empty")
    if not texts["live"] and not texts["log"]:
        raise CatalogError(f"{where}: live or log must say how the problem is detected")
    if "\n" in texts["title"]:
        raise CatalogError(f"{where}: title must be one line")
    commands = _strings(entry, "commands", where)
    for command in commands:
        if not command.strip() or "\n" in command:
            raise CatalogError(f"{where}: each command must be one non-empty line")
    for template in (texts["fix"], *commands):
        _check_template(template, where)
    note = entry.get("severity_note", "")
    if not isinstance(note, str):
        raise CatalogError(f"{where}: severity_note must be a string")
    signature = entry.get("signature", [])
    if not isinstance(signature, list) or not all(isinstance(s, dict) for s in signature):
        raise CatalogError(f"{where}: signature must be a list of tables")
    signatures = tuple(
        _signature(row, f"{where}: signature #{i + 1}") for i, row in enumerate(signature)
    )
    return Symptom(
        code=code,
        slug=slug,
        family=family,
        severity=severity,
        title=texts["title"],
        cause=texts["cause"],
        live=texts["live"],
        log=texts["log"],
        fix=texts["fix"],
        commands=commands,
        related=_strings(entry, "related", where),
        folklore=_folklore(entry, where),
        severity_note=_fold(note),
        signatures=signatures,
    )


_SIGNATURE_KEYS = frozenset(
    {
        "pattern",
        "literal",
        "confidence",
        "case_sensitive",
        "anchors",
        "near",
        "window",
        "if_near",
        "explained_by",
        "severity",
    }
)


def _probability(value: Any, key: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise CatalogError(f"{where}: {key} must be a number from 0 to 1")
    return float(value)


def _signature(row: Mapping[str, Any], where: str) -> Signature:
    """Validate the types of one [[symptom.signature]] table (regexes compile lazily)."""
    unknown = sorted(set(row) - _SIGNATURE_KEYS)
    if unknown:
        raise CatalogError(f"{where}: unknown field(s) {', '.join(unknown)}")
    for key in ("pattern", "confidence"):
        if key not in row:
            raise CatalogError(f"{where}: missing field {key}")
    pattern = row["pattern"]
    if not isinstance(pattern, str) or not pattern.strip():
        raise CatalogError(f"{where}: pattern must be a non-empty string")
    for key in ("literal", "case_sensitive"):
        if not isinstance(row.get(key, False), bool):
            raise CatalogError(f"{where}: {key} must be true or false")
    if row.get("literal", False):
        pattern = re.escape(pattern)
    anchors = row.get("anchors", [])
    if not isinstance(anchors, list) or not all(isinstance(a, str) and a for a in anchors):
        raise CatalogError(f"{where}: anchors must be a list of non-empty strings")
    near = row.get("near", "")
    if not isinstance(near, str):
        raise CatalogError(f"{where}: near must be a string")
    window = row.get("window", 0)
    if isinstance(window, bool) or not isinstance(window, int) or window < 0:
        raise CatalogError(f"{where}: window must be a whole number of lines, 0 or more")
    if_near = row.get("if_near")
    if bool(near) != (if_near is not None):
        raise CatalogError(f"{where}: near and if_near go together")
    explained_by = row.get("explained_by", [])
    if not isinstance(explained_by, list) or not all(
        isinstance(c, str) and re.fullmatch(r"[A-Z]+[0-9]{0,3}", c) for c in explained_by
    ):
        raise CatalogError(f"{where}: explained_by must be a list of codes or family prefixes")
    severity = row.get("severity", "")
    if severity and severity not in SEVERITIES:
        raise CatalogError(f"{where}: severity must be one of {', '.join(SEVERITIES)}")
    return Signature(
        pattern=pattern,
        confidence=_probability(row["confidence"], "confidence", where),
        case_sensitive=row.get("case_sensitive", False),
        anchors=tuple(anchors),
        near=near,
        window=window,
        if_near=None if if_near is None else _probability(if_near, "if_near", where),
        explained_by=tuple(explained_by),
        severity=severity,
    )


def parse(text: str, *, source: str = "<catalog>") -> tuple[Symptom, ...]:
    """Parse and validate catalog TOML text; raises :class:`CatalogError` when it is malformed."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{source}: not valid TOML: {exc}") from None
    if data.get("schema") != SCHEMA:
        raise CatalogError(f"{source}: schema must be {SCHEMA!r}, found {data.get('schema')!r}")
    unknown = sorted(set(data) - {"schema", "symptom"})
    if unknown:
        raise CatalogError(f"{source}: unknown top-level key(s) {', '.join(unknown)}")
    entries = data.get("symptom")
    if not isinstance(entries, list) or not entries:
        raise CatalogError(f"{source}: no [[symptom]] entries")
    symptoms = tuple(_symptom(entry, i, source) for i, entry in enumerate(entries))

    keys: dict[str, str] = {}
    for symptom in symptoms:
        for key in (symptom.code.lower(), symptom.slug):
            if key in keys:
                raise CatalogError(
                    f"{source}: {symptom.code}: {key!r} is already used by {keys[key]}"
                )
            keys[key] = symptom.code
    codes = {s.code for s in symptoms}
    for symptom in symptoms:
        for related in symptom.related:
            if related not in codes:
                raise CatalogError(f"{source}: {symptom.code}: related code {related} not found")
            if related == symptom.code:
                raise CatalogError(f"{source}: {symptom.code}: lists itself as related")
        if len(set(symptom.related)) != len(symptom.related):
            raise CatalogError(f"{source}: {symptom.code}: related codes repeat")
        for signature in symptom.signatures:
            for cause in signature.explained_by:
                if not any(code.startswith(cause) for code in codes):
                    raise CatalogError(
                        f"{source}: {symptom.code}: explained_by {cause} names no code"
                    )
    return symptoms


@dataclass(frozen=True)
class _Catalog:
    symptoms: tuple[Symptom, ...]
    index: Mapping[str, Symptom]  # lower-cased code and slug -> entry


@functools.lru_cache(maxsize=1)
def _catalog() -> _Catalog:
    resource = resources.files("kyudoctor") / "data" / "symptoms.toml"
    symptoms = parse(resource.read_text(encoding="utf-8"), source="kyudoctor/data/symptoms.toml")
    index: dict[str, Symptom] = {}
    for symptom in symptoms:
        index[symptom.code.lower()] = symptom
        index[symptom.slug] = symptom
    return _Catalog(symptoms, index)


# --------------------------------------------------------------------------- signatures


def _compile(pattern: str, flags: int, where: str) -> re.Pattern[str]:
    try:
        regex = re.compile(pattern, flags)
    except re.error as exc:
        raise CatalogError(f"{where}: invalid regular expression {pattern!r}: {exc}") from None
    if regex.search(""):
        raise CatalogError(f"{where}: {pattern!r} matches the empty string")
    return regex


def _compile_all(symptoms: Iterable[Symptom]) -> tuple[CompiledSignature, ...]:
    out: list[CompiledSignature] = []
    for symptom in symptoms:
        for index, signature in enumerate(symptom.signatures):
            where = f"{symptom.code}: signature #{index + 1}"
            flags = 0 if signature.case_sensitive else re.IGNORECASE
            regex = _compile(signature.pattern, flags, where)
            for name in regex.groupindex:
                if name not in PLACEHOLDERS:
                    raise CatalogError(
                        f"{where}: named group {name!r} is not a placeholder name "
                        "(catalog.PLACEHOLDERS)"
                    )
            near = _compile(signature.near, re.IGNORECASE, where) if signature.near else None
            out.append(CompiledSignature(symptom.code, index, signature, regex, near))
    return tuple(out)


def compiled_signatures(
    symptoms: Iterable[Symptom] | None = None,
) -> tuple[CompiledSignature, ...]:
    """Every log signature with its patterns compiled, in catalog order.

    Compiled on first use only (``check`` never pays for it). Raises :class:`CatalogError` for a
    pattern that does not compile, matches the empty string, or names a group that is not a
    placeholder.
    """
    if symptoms is None:
        return _compiled_catalog()
    return _compile_all(symptoms)


@functools.lru_cache(maxsize=1)
def _compiled_catalog() -> tuple[CompiledSignature, ...]:
    return _compile_all(all_symptoms())


# --------------------------------------------------------------------------- lookups


def all_symptoms() -> tuple[Symptom, ...]:
    """Every catalog entry, in catalog order (family by family)."""
    return _catalog().symptoms


def find(code_or_slug: str) -> Symptom | None:
    """The entry with this code (any case) or slug, or ``None``."""
    return _catalog().index.get(code_or_slug.strip().lower())


def _suggestions(query: str) -> tuple[str, ...]:
    import difflib  # only on the error path

    catalog = _catalog()
    matches = difflib.get_close_matches(query.strip().lower(), list(catalog.index), n=6)
    codes = dict.fromkeys(catalog.index[match].code for match in matches)
    return tuple(codes)[:3]


def get(code_or_slug: str) -> Symptom:
    """The entry with this code (any case) or slug; raises :class:`UnknownCode` otherwise."""
    symptom = find(code_or_slug)
    if symptom is None:
        raise UnknownCode(code_or_slug, _suggestions(code_or_slug))
    return symptom


def codes_matching(prefixes: Iterable[str]) -> frozenset[str]:
    """The codes selected by codes, slugs or code prefixes (``TORCH``, ``WS00``, ``WS005``).

    Raises :class:`UnknownCode` for an item that selects nothing.
    """
    items = [prefixes] if isinstance(prefixes, str) else list(prefixes)
    selected: set[str] = set()
    for item in items:
        symptom = find(item)
        if symptom is not None:
            selected.add(symptom.code)
            continue
        prefix = item.strip().upper()
        matched = {s.code for s in all_symptoms() if prefix and s.code.startswith(prefix)}
        if not matched:
            raise UnknownCode(item, _suggestions(item))
        selected |= matched
    return frozenset(selected)
