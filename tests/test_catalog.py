"""Meta-tests of the symptom catalog: it matches the spec, is well-formed, and renders as promised."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kyudoctor import catalog
from kyudoctor.catalog import CatalogError, UnknownCode

REPO = Path(__file__).resolve().parents[1]
SPEC_DIR = REPO.parent / "shared" / "spec"
SYMPTOMS_MD = SPEC_DIR / "symptoms.md"
MOSHI_SERVER_MD = SPEC_DIR / "moshi-server.md"
CATALOG_TOML = REPO / "kyudoctor" / "data" / "symptoms.toml"

SPEC_ENTRY = re.compile(r"^- \*\*([A-Z]+[0-9]{3}) ([a-z0-9-]+)\*\* \(([^)]*)\)", re.MULTILINE)
PLACEHOLDER_LIKE = re.compile(r"\{[a-z][a-z0-9_]*\}")
CODE_SPAN = re.compile(r"`[^`]*`")


def _spec_entries() -> list[tuple[str, str, str]]:
    if not SYMPTOMS_MD.is_file():
        pytest.skip(f"spec not found at {SYMPTOMS_MD}")
    return SPEC_ENTRY.findall(SYMPTOMS_MD.read_text(encoding="utf-8"))


def _default_severity(spec_severity: str) -> str:
    match = re.search(r"error|warning|info", spec_severity)
    assert match, spec_severity
    return match.group(0)


def _texts(symptom: catalog.Symptom) -> dict[str, str]:
    texts = {
        "title": symptom.title,
        "cause": symptom.cause,
        "live": symptom.live,
        "log": symptom.log,
        "fix": catalog.render(symptom.fix, {}),
        "severity_note": symptom.severity_note,
    }
    for i, row in enumerate(symptom.folklore):
        texts[f"folklore[{i}].recipe"] = row.recipe
        texts[f"folklore[{i}].truth"] = row.truth
    return texts


# --------------------------------------------------------------------------- against the spec


def test_every_spec_code_is_in_the_catalog_in_spec_order() -> None:
    """The catalog holds every code of symptoms.md, in the same order."""
    spec_codes = [code for code, _, _ in _spec_entries()]
    assert len(spec_codes) > 80, "the spec parser found too few entries"
    catalog_codes = [s.code for s in catalog.all_symptoms()]
    assert [c for c in catalog_codes if c in spec_codes] == spec_codes
    assert set(spec_codes) <= set(catalog_codes)


def test_slugs_and_default_severities_match_the_spec() -> None:
    """Each code keeps the spec's slug and its default severity (the first word in brackets)."""
    for code, slug, spec_severity in _spec_entries():
        symptom = catalog.get(code)
        assert symptom.slug == slug, code
        assert symptom.severity == _default_severity(spec_severity), code


def test_conditional_severities_carry_a_note() -> None:
    """Where the spec's severity depends on a condition, the entry says when."""
    for code, _, spec_severity in _spec_entries():
        if spec_severity.strip() not in catalog.SEVERITIES:
            assert catalog.get(code).severity_note, code


def _folklore_rows() -> list[tuple[str, str]]:
    if not MOSHI_SERVER_MD.is_file():
        pytest.skip(f"spec not found at {MOSHI_SERVER_MD}")
    text = MOSHI_SERVER_MD.read_text(encoding="utf-8")
    section = text[text.index("## 9. Folklore") :]
    return re.findall(r'^\| "(.*)" \| (.*) \|$', section, re.MULTILINE)


FOLKLORE_HOMES = {
    "num_workers": {"WS005", "CFG003"},
    "1005 means the server crashed": {"WS006"},
    "waits for Eos": {"WS004"},
    "Ready comes after": {"WS005", "WS007"},
    "--version": {"BIN006"},
    "ssl=False": {"TLS001", "TLS004"},
    "PyPI has no CUDA torch": {"TORCH002", "TORCH003"},
}


def test_every_folklore_row_is_attached_verbatim_where_it_belongs() -> None:
    """Each row of moshi-server.md section 9 appears word for word on the codes it concerns."""
    rows = _folklore_rows()
    assert len(rows) == len(FOLKLORE_HOMES)
    for recipe, truth in rows:
        homes = {
            s.code for s in catalog.all_symptoms() if catalog.Folklore(recipe, truth) in s.folklore
        }
        expected = next(codes for key, codes in FOLKLORE_HOMES.items() if key in recipe)
        assert homes == expected, recipe


# --------------------------------------------------------------------------- well-formed


def test_codes_and_slugs_are_unique_and_well_named() -> None:
    """Codes are unique FAMILY+3 digits with the family as prefix; slugs are unique kebab-case."""
    symptoms = catalog.all_symptoms()
    codes = [s.code for s in symptoms]
    slugs = [s.slug for s in symptoms]
    assert len(set(codes)) == len(codes)
    assert len(set(slugs)) == len(slugs)
    for symptom in symptoms:
        assert re.fullmatch(r"[A-Z]+[0-9]{3}", symptom.code)
        assert symptom.code.startswith(symptom.family)
        assert symptom.code[len(symptom.family) :].isdigit()
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", symptom.slug)
        assert symptom.severity in catalog.SEVERITIES


def test_related_codes_exist() -> None:
    """Every related code names a catalog entry other than itself."""
    codes = {s.code for s in catalog.all_symptoms()}
    for symptom in catalog.all_symptoms():
        assert set(symptom.related) <= codes - {symptom.code}, symptom.code


def test_placeholders_are_documented_and_all_used() -> None:
    """Templates use only documented placeholder names, and every documented name is used."""
    used: set[str] = set()
    for symptom in catalog.all_symptoms():
        for template in (symptom.fix, *symptom.commands):
            names = set(catalog.placeholders(template))
            assert names <= set(catalog.PLACEHOLDERS), (symptom.code, names)
            used |= names
    assert used == set(catalog.PLACEHOLDERS)


def test_placeholder_list_in_the_toml_matches_the_module() -> None:
    """The list at the top of symptoms.toml is exactly catalog.PLACEHOLDERS."""
    header = CATALOG_TOML.read_text(encoding="utf-8").split("\nschema = ")[0]
    listed = header.split("# Placeholder names")[1]
    documented = dict(re.findall(r"^#   ([a-z_]+) +(.+)$", listed, re.MULTILINE))
    assert documented == dict(catalog.PLACEHOLDERS)


def test_prose_placeholders_sit_inside_code_spans() -> None:
    """Fix prose keeps placeholders in backticks, so `<name>` survives Markdown rendering."""
    for symptom in catalog.all_symptoms():
        outside = CODE_SPAN.sub("", symptom.fix.replace("{{", "").replace("}}", ""))
        assert not PLACEHOLDER_LIKE.search(outside), symptom.code


def test_plain_fields_hold_no_placeholders() -> None:
    """Only fix and commands are templates: other fields contain no {name} by mistake."""
    for symptom in catalog.all_symptoms():
        for field in ("title", "cause", "live", "log", "severity_note"):
            assert not PLACEHOLDER_LIKE.search(getattr(symptom, field)), (symptom.code, field)


def test_texts_are_ascii_and_markdown_safe() -> None:
    """Text prints on any terminal, and no <tag>-like text outside code spans hides in docs."""
    for symptom in catalog.all_symptoms():
        for field, text in _texts(symptom).items():
            assert text.isascii(), (symptom.code, field)
            assert not re.search(r"<[A-Za-z/!?]", CODE_SPAN.sub("", text)), (symptom.code, field)


def test_commands_render_without_placeholders_left() -> None:
    """With every documented placeholder supplied, each command renders fully."""
    params = {name: f"X{name}" for name in catalog.PLACEHOLDERS}
    for symptom in catalog.all_symptoms():
        for template in symptom.commands:
            command = catalog.render_command(template, params)
            assert command is not None
            assert "{" not in command.replace("${", ""), (symptom.code, command)


# --------------------------------------------------------------------------- rendering


def test_render_fills_known_and_marks_missing_placeholders() -> None:
    """Known names are filled, unknown ones shown as <name>, doubled braces are literal."""
    template = 'send `{{"type": "Eos"}}` to {host}:{port}'
    assert catalog.render(template, {"port": 8080}) == 'send `{"type": "Eos"}` to <host>:8080'
    assert catalog.render(template, {"port": 1}, missing="[{}]") == (
        'send `{"type": "Eos"}` to [host]:1'
    )


def test_render_treats_none_as_missing() -> None:
    """A parameter whose value is None counts as not supplied."""
    assert catalog.render("{python} -V", {"python": None}) == "<python> -V"


def test_render_command_needs_every_placeholder() -> None:
    """A command with an unfilled placeholder is None; a complete one is rendered."""
    template = "{python} -m pip install 'torch=={torch_version}'"
    assert catalog.render_command(template, {"python": "/v/bin/python"}) is None
    assert catalog.render_command(
        template, {"python": "/v/bin/python", "torch_version": "2.9.1"}
    ) == ("/v/bin/python -m pip install 'torch==2.9.1'")
    assert catalog.render_command("export NO_TORCH_COMPILE=1", {}) == "export NO_TORCH_COMPILE=1"


def test_placeholders_lists_names_once_in_order() -> None:
    """placeholders() gives each name once, in order of first use."""
    assert catalog.placeholders("{b} {a} {b} {{c}}") == ("b", "a")


def test_placeholders_rejects_unbalanced_braces() -> None:
    """An unbalanced brace is a template error, as in str.format."""
    with pytest.raises(ValueError):
        catalog.placeholders("{python")


# --------------------------------------------------------------------------- lookups


def test_get_by_code_any_case_and_by_slug() -> None:
    """get() accepts a code in any case, or a slug."""
    assert catalog.get("TORCH002").slug == "torch-cpu-only"
    assert catalog.get("torch002").code == "TORCH002"
    assert catalog.get(" Torch002 ").code == "TORCH002"
    assert catalog.get("torch-cpu-only").code == "TORCH002"
    assert catalog.get("TORCH-CPU-ONLY").code == "TORCH002"


def test_find_returns_none_for_unknown() -> None:
    """find() is get() without the exception."""
    assert catalog.find("GPU999") is None
    assert catalog.find("gpu001") is catalog.get("GPU001")


def test_unknown_code_suggests_close_matches() -> None:
    """An unknown code raises a KeyError subclass whose message suggests the nearest codes."""
    with pytest.raises(UnknownCode) as info:
        catalog.get("GPU01")
    assert isinstance(info.value, KeyError)
    assert info.value.suggestions[0] == "GPU001"
    assert str(info.value).startswith("unknown code 'GPU01' (did you mean GPU001")


def test_unknown_slug_suggests_its_code() -> None:
    """A mistyped slug suggests the code of the slug it resembles."""
    with pytest.raises(UnknownCode) as info:
        catalog.get("torch-cpu-onyl")
    assert info.value.suggestions[0] == "TORCH002"


def test_unknown_code_without_match_points_to_the_list() -> None:
    """With nothing close, the message says where the codes are listed."""
    with pytest.raises(UnknownCode) as info:
        catalog.get("qqqqqqqq")
    assert info.value.suggestions == ()
    assert str(info.value) == (
        "unknown code 'qqqqqqqq' (kyudoctor explain --list shows every code)"
    )


def test_codes_matching_families_codes_prefixes_and_slugs() -> None:
    """Families, full codes, partial prefixes and slugs select codes."""
    torch_codes = {s.code for s in catalog.all_symptoms() if s.family == "TORCH"}
    assert len(torch_codes) == 8
    assert catalog.codes_matching(["TORCH"]) == torch_codes
    assert catalog.codes_matching(["WS005"]) == {"WS005"}
    assert catalog.codes_matching(["ws00"]) == {f"WS00{i}" for i in range(1, 10)}
    assert catalog.codes_matching(["no-free-channels", "gpu001"]) == {"WS005", "GPU001"}
    assert catalog.codes_matching("CFG00") == {f"CFG00{i}" for i in range(1, 9)}
    assert catalog.codes_matching([]) == frozenset()


@pytest.mark.parametrize("selector", ["NOPE", "WS9", ""])
def test_codes_matching_rejects_a_selector_matching_nothing(selector: str) -> None:
    """A selector that matches no code raises UnknownCode."""
    with pytest.raises(UnknownCode):
        catalog.codes_matching(["GPU", selector])


# --------------------------------------------------------------------------- load validation

VALID = '''
schema = "kyudoctor.catalog/1"

[[symptom]]
code = "GPU001"
slug = "nvidia-driver-missing"
family = "GPU"
severity = "error"
title = "NVIDIA driver not found"
cause = """First line
folded into one.

Second paragraph."""
live = "NVML cannot be loaded."
log = ""
fix = "Install the driver for `{python}`."
commands = ["{python} -V"]
related = ["GPU002"]
folklore = [{ recipe = "r", truth = "t" }]

[[symptom]]
code = "GPU002"
slug = "gpu-not-visible-in-container"
family = "GPU"
severity = "warning"
severity_note = "error inside Docker"
title = "GPU not visible"
cause = "c"
live = ""
log = "no CUDA-capable device"
fix = "f"
commands = []
related = []
folklore = []
'''


def test_parse_accepts_a_valid_catalog_and_folds_paragraphs() -> None:
    """A well-formed file loads; single line breaks fold, blank lines keep paragraphs."""
    first, second = catalog.parse(VALID)
    assert first.cause == "First line folded into one.\n\nSecond paragraph."
    assert first.folklore == (catalog.Folklore("r", "t"),)
    assert second.severity_note == "error inside Docker"
    assert first.severity_note == ""


def test_parse_accepts_a_signature_table() -> None:
    """A [[symptom.signature]] sub-table (triage's log signatures) loads with the entry."""
    text = VALID.replace(
        "folklore = []\n",
        'folklore = []\n[[symptom.signature]]\npattern = "x"\nconfidence = 0.5\n',
        1,
    )
    symptoms = catalog.parse(text)
    assert len(symptoms) == 2
    assert [s.signatures for s in symptoms if s.signatures] == [
        (catalog.Signature(pattern="x", confidence=0.5),)
    ]


BROKEN = [
    ('schema = "kyudoctor.catalog/1"', 'schema = "other/9"', "schema must be"),
    ('severity = "warning"', 'severity = "fatal"', "severity 'fatal' is not one of"),
    ('code = "GPU002"', 'code = "GPU001"', "already used by GPU001"),
    ('slug = "gpu-not-visible-in-container"', 'slug = "nvidia-driver-missing"', "already used"),
    ('related = ["GPU002"]', 'related = ["GPU404"]', "related code GPU404 not found"),
    ('related = ["GPU002"]', 'related = ["GPU001"]', "lists itself"),
    ('family = "GPU"\nseverity = "error"', 'family = "CUDA"\nseverity = "error"', "prefix"),
    ('slug = "nvidia-driver-missing"', 'slug = "Driver_Missing"', "kebab-case"),
    ('code = "GPU002"', 'code = "GPU2"', "code must look like"),
    ('"{python} -V"', '"{interpreter} -V"', "unknown placeholder {interpreter}"),
    ('"{python} -V"', '"{python -V"', "invalid template"),
    ('"{python} -V"', '"{python!r} -V"', "plain {snake_case} name"),
    ('title = "GPU not visible"\n', "", "missing field(s) title"),
    ('title = "GPU not visible"', 'title = "x"\ncolour = "red"', "unknown field(s) colour"),
    ('log = "no CUDA-capable device"', 'log = ""', "live or log"),
    ('cause = "c"', 'cause = ""', "cause must not be empty"),
    ("commands = []", 'commands = "ls"', "commands must be a list"),
    ('folklore = [{ recipe = "r", truth = "t" }]', 'folklore = [{ recipe = "r" }]', "folklore"),
    ('schema = "kyudoctor.catalog/1"', "schema = [", "not valid TOML"),
]


@pytest.mark.parametrize(("old", "new", "message"), BROKEN)
def test_parse_rejects_malformed_catalogs_with_a_clear_message(
    old: str, new: str, message: str
) -> None:
    """Each kind of packaging mistake is caught at load with a message naming it."""
    assert old in VALID
    with pytest.raises(CatalogError, match=re.escape(message)):
        catalog.parse(VALID.replace(old, new, 1), source="test.toml")


def test_the_packaged_catalog_loads_from_package_data() -> None:
    """The shipped file parses to the same entries all_symptoms() serves."""
    text = CATALOG_TOML.read_text(encoding="utf-8")
    assert catalog.parse(text) == catalog.all_symptoms()
