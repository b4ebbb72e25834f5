"""``kyudoctor explain``: one entry as text or JSON, the list, and errors."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from kyudoctor import catalog, explain

REPO = Path(__file__).resolve().parents[1]

JSON_FIELDS = {
    "code",
    "slug",
    "family",
    "severity",
    "title",
    "cause",
    "live",
    "log",
    "fix",
    "commands",
    "related",
    "folklore",
    "severity_note",
}


def run(target: str | None, *, list_all: bool = False, fmt: str = "text") -> tuple[int, str]:
    stream = io.StringIO()
    status = explain.run(target, list_all=list_all, fmt=fmt, stream=stream)
    return status, stream.getvalue()


def test_text_has_header_title_and_every_section() -> None:
    """One entry prints `CODE slug (severity)`, its title, then the sections in order."""
    status, out = run("WS005")
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == "WS005 no-free-channels (error)"
    assert lines[1] == catalog.get("WS005").title
    headings = ["What it means", "How it is detected", "How to fix", "Folklore", "Related"]
    positions = [lines.index(heading) for heading in headings]
    assert positions == sorted(positions)


def test_text_shows_the_folklore_correction() -> None:
    """WS005 names the num_workers recipe and says those keys do not exist."""
    _, out = run("WS005")
    flat = " ".join(out.split())
    assert 'Recipe in circulation: "Add `[server] num_workers = 16`' in flat
    assert "What is true: Those keys do not exist and are silently ignored." in flat
    assert "- CFG003 config-key-ignored: " in out


def test_text_shows_placeholders_and_commands_generically() -> None:
    """Unfilled placeholders read as <name> in prose and commands."""
    _, out = run("TORCH002")
    assert "torch `<torch_version>`" in " ".join(out.split())
    assert (
        "    <python> -m pip install --force-reinstall 'torch==<torch_version>' "
        "--index-url https://download.pytorch.org/whl/<flavour>\n"
    ) in out


def test_text_shows_live_and_log_detection() -> None:
    """The detection section labels the live check and the log evidence."""
    _, out = run("GPU001")
    assert "Live check: NVML cannot be loaded" in out
    assert 'In logs: "NVIDIA-SMI has failed' in out


def test_severity_note_is_shown() -> None:
    """A conditional severity says when it differs from the default."""
    _, out = run("NET001")
    assert "Severity: error by default; info when NET006 applies" in out


def test_slug_and_any_case_give_the_same_text() -> None:
    """A slug or a lower-case code explains the same entry."""
    assert run("no-free-channels") == run("WS005") == run("ws005")


def test_text_lines_fit_the_terminal() -> None:
    """Prose wraps at 79 columns; only commands and related lines may run longer."""
    for symptom in catalog.all_symptoms():
        for line in explain.text(symptom).splitlines():
            if len(line) > explain.WIDTH:
                assert line.startswith(("    ", "- ")), (symptom.code, line)


def test_wrap_keeps_code_spans_and_avoids_markdown_block_starts() -> None:
    """Short code spans stay on one line; no line starts with a bullet, quote or heading."""
    assert explain.wrap("aaaa `b c` d", width=8) == ["aaaa", "`b c` d"]
    assert explain.wrap("aaaa - b > c # d 1. e", width=4) == ["aaaa -", "b >", "c #", "d 1.", "e"]
    assert explain.wrap("unclosed `x y z", width=9) == ["unclosed", "`x y z"]
    assert explain.wrap("", width=9) == []


def test_list_has_one_aligned_line_per_code() -> None:
    """--list prints every code in catalog order with aligned columns."""
    status, out = run(None, list_all=True)
    assert status == 0
    lines = out.splitlines()
    symptoms = catalog.all_symptoms()
    assert [line.split()[0] for line in lines] == [s.code for s in symptoms]
    slug_columns = {line.index(s.slug) for line, s in zip(lines, symptoms, strict=True)}
    assert len(slug_columns) == 1
    assert lines[0].split(None, 3) == [
        "GPU001",
        "error",
        "nvidia-driver-missing",
        symptoms[0].title,
    ]


def test_list_with_a_prefix_filters() -> None:
    """--list TORCH lists the TORCH codes only."""
    status, out = run("TORCH", list_all=True)
    assert status == 0
    assert [line.split()[0] for line in out.splitlines()] == [f"TORCH00{i}" for i in range(1, 9)]


def test_json_for_one_code_has_every_field() -> None:
    """--format json gives the schema and one full entry, templates unrendered."""
    status, out = run("WS005", fmt="json")
    assert status == 0
    document = json.loads(out)
    assert document["schema"] == "kyudoctor.explain/1"
    (entry,) = document["symptoms"]
    assert set(entry) == JSON_FIELDS
    symptom = catalog.get("WS005")
    assert entry["code"] == "WS005"
    assert entry["fix"] == symptom.fix
    assert "{config}" in entry["fix"]
    assert entry["related"] == list(symptom.related)
    assert entry["folklore"][0] == {
        "recipe": symptom.folklore[0].recipe,
        "truth": symptom.folklore[0].truth,
    }
    assert out == json.dumps(document, indent=2, sort_keys=True) + "\n"


def test_json_list_has_every_code() -> None:
    """--list --format json holds every catalog entry."""
    status, out = run(None, list_all=True, fmt="json")
    assert status == 0
    entries = json.loads(out)["symptoms"]
    assert [e["code"] for e in entries] == [s.code for s in catalog.all_symptoms()]
    assert all(set(e) == JSON_FIELDS for e in entries)


def test_unknown_code_exits_2_with_one_line_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown code prints one suggestion line on stderr and returns 2."""
    status, out = run("GPU01")
    captured = capsys.readouterr()
    assert status == 2
    assert out == ""
    assert captured.err.startswith("kyudoctor: unknown code 'GPU01' (did you mean GPU001")
    assert captured.err.endswith("?)\n")
    assert captured.err.count("\n") == 1


@pytest.mark.parametrize(
    ("target", "list_all", "fmt", "message"),
    [
        (None, False, "text", "kyudoctor: explain needs a CODE or SLUG, or --list\n"),
        ("GPU001", False, "yaml", "kyudoctor: unknown format 'yaml' for explain (text or json)\n"),
        ("NOPE", True, "text", "kyudoctor: unknown code 'NOPE'"),
    ],
)
def test_bad_invocations_exit_2(
    capsys: pytest.CaptureFixture[str],
    target: str | None,
    list_all: bool,
    fmt: str,
    message: str,
) -> None:
    """A missing target, an unknown format or a prefix matching nothing is exit 2."""
    status, out = run(target, list_all=list_all, fmt=fmt)
    assert status == 2
    assert out == ""
    assert capsys.readouterr().err.startswith(message)


@pytest.mark.skipif(
    not (REPO / "kyudoctor" / "cli.py").exists(), reason="kyudoctor/cli.py not written yet"
)
def test_cli_prints_the_same_text() -> None:
    """`python -m kyudoctor explain GPU001` prints what explain.run prints."""
    result = subprocess.run(
        [sys.executable, "-m", "kyudoctor", "explain", "GPU001"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == run("GPU001")[1]
