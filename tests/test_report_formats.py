"""The markdown, JUnit and GitHub reporters: hand-made reports with every status and the text
that breaks formats, snapshots, properties, and the installed command with each ``--format``.

Every scenario of ``tests/test_scenarios.py`` is also validated in every format, through
``tests/scenario_runner.py``.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import subprocess
import sys
import sysconfig
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kyudoctor.model import CheckResult, Fix, RenderedFinding, Report, Severity, Status, Summary
from kyudoctor.report import FORMATS, github, junit, markdown
from tests.reportformats import (
    flat,
    inline_text,
    markdown_parser,
    parse_github,
    rendered,
    report_from_json,
    validate_every_format,
    validate_github,
    validate_junit,
    validate_markdown,
)
from tests.scenarios import KYUDOCTOR

SNAPSHOTS = Path(__file__).parent / "data" / "report"
UPDATE = os.environ.get("KYUDOCTOR_UPDATE_SNAPSHOTS") == "1"
NASTY = (
    "a | pipe, *stars*, _under_, <b>html</b>, [link](http://x), ~~strike~~, &amp; 100% "
    "key: value, a,b\n# not a heading\n1. not a list\n- not a bullet\n> not a quote"
)


def finding(
    code: str,
    check: str,
    severity: Severity = Severity.ERROR,
    *,
    message: str | None = None,
    evidence: dict[str, Any] | None = None,
    commands: tuple[str, ...] = (),
    ignored: bool = False,
) -> RenderedFinding:
    """A rendered finding with a fix, made by hand."""
    return RenderedFinding(
        code=code,
        slug=f"slug-of-{code.lower()}",
        severity=severity,
        check=check,
        title=f"title of {code}",
        message=message or f"what {code} saw",
        evidence=evidence or {},
        fix=Fix(f"how to fix {code}", commands),
        docs=f"explain {code}",
        ignored=ignored,
    )


def check(check_id: str, group: str, status: Status, summary: str = "", **kw: Any) -> CheckResult:
    """A check result made by hand."""
    return CheckResult(
        check_id, group, check_id, status, summary or f"{check_id} {status}", 12.5, **kw
    )


def sample_report(**changes: Any) -> Report:
    """Every status, a file finding, a finding below the threshold, info, ignored, nasty text."""
    checks = (
        check("gpu.driver", "host", Status.OK, facts={"gpu": {"driver_version": "570.124.06"}}),
        check("torch.wheel", "host", Status.ERROR, facts={"python": {"torch": "2.9.1+cpu"}}),
        check("cxx.cmake", "host", Status.WARNING),
        check("gpu.memory", "host", Status.SKIPPED, "no NVIDIA driver (GPU001)"),
        check("gpu.capability", "host", Status.TIMEOUT, "timed out: nvidia-smi after 10 s"),
        check(
            "python.deps",
            "host",
            Status.CRASHED,
            "crashed: KeyError: 'x'; this is a bug in kyudoctor",
            traceback="Traceback (most recent call last):\n  ...\nKeyError: 'x'\n",
        ),
        check("config.keys", "files", Status.ERROR, "2 problems in configs/config-tts.toml"),
        check("ws.session", "server", Status.WARNING, NASTY, facts={"server": {"x": "```"}}),
    )
    findings = (
        finding(
            "CFG003",
            "config.keys",
            message="[server] num_workers does nothing: batch_size is the concurrency knob",
            evidence={"file": "configs/config-tts.toml", "line": 12, "key": "num_workers"},
        ),
        finding(
            "TORCH002",
            "torch.wheel",
            commands=(
                "python -m pip install torch==2.9.1 --index-url https://download.pytorch.org/whl/cu128",
            ),
        ),
        finding("CFG001", "config.keys", evidence={"file": "configs/config-tts.toml"}),
        finding(
            "WS008",
            "ws.session",
            Severity.WARNING,
            message=NASTY,
            commands=("echo '```' | grep -c x", "printf '%s\\n' a,b:c"),
        ),
        finding("CXX005", "cxx.cmake", Severity.WARNING, evidence={"line": 3}),
        finding("PY001", "torch.wheel", Severity.INFO),
        finding("PY004", "cxx.cmake", Severity.WARNING, ignored=True),
    )
    report = Report(
        kyudoctor_version="0.1.0",
        created="2026-11-25T03:14:55Z",
        targets={
            "python": "/srv/tts/.venv/bin/python",
            "urls": ["ws://127.0.0.1:8080/api/tts"],
            "config": "configs/config-tts.toml",
        },
        checks=checks,
        findings=findings,
        summary=Summary(
            errors=3, warnings=2, infos=1, ignored=1, crashed=1, timeouts=1, duration_ms=250.0
        ),
        exit_code=1,
    )
    return dataclasses.replace(report, **changes)


# --- every format, hand-made reports ----------------------------------------------------------


def test_formats_are_registered() -> None:
    """`--format` offers console, json, markdown, junit and github."""
    assert FORMATS == ("console", "json", "markdown", "junit", "github")


@pytest.mark.parametrize("insecure", [False, True])
@pytest.mark.parametrize("fail_on", ["error", "warning", "never"])
def test_sample_report_valid_in_every_format(insecure: bool, fail_on: str) -> None:
    """The sample report renders valid JSON, JUnit, markdown and workflow commands."""
    validate_every_format(sample_report(insecure=insecure, fail_on=fail_on))


def test_empty_report_valid_in_every_format() -> None:
    """A run with no checks (everything skipped by --only/--skip) is valid in every format."""
    validate_every_format(sample_report(checks=(), findings=(), summary=Summary(), exit_code=0))


@pytest.mark.parametrize("fmt", FORMATS)
def test_rendering_is_stable(fmt: str) -> None:
    """Rendering the same report twice gives the same bytes."""
    report = sample_report()
    assert rendered(report, fmt) == rendered(report, fmt)


@pytest.mark.parametrize(
    ("fmt", "suffix"), [("markdown", "md"), ("junit", "xml"), ("github", "txt")]
)
def test_snapshot(fmt: str, suffix: str) -> None:
    """The sample report matches its snapshot (KYUDOCTOR_UPDATE_SNAPSHOTS=1 rewrites them)."""
    path = SNAPSHOTS / f"sample.{suffix}"
    text = rendered(sample_report(insecure=True), fmt)
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


# --- markdown ------------------------------------------------------------------------------------


def test_markdown_shows_text_as_typed() -> None:
    """Pipes, stars, HTML, links and line-start markers in a message render as the text typed."""
    tokens = markdown_parser().parse(rendered(sample_report(), "markdown"))
    paragraphs = [
        inline_text(tokens[i + 1]) for i, t in enumerate(tokens) if t.type == "paragraph_open"
    ]
    assert NASTY.replace("\n", " ") in [flat(p) for p in paragraphs]
    assert not [t for t in tokens if t.type in ("bullet_list_open", "ordered_list_open")]
    assert not [t for t in tokens if t.type == "blockquote_open"]


def test_markdown_table_cell_keeps_pipes() -> None:
    """A summary with `|` stays in its cell (three cells per row, the pipe shown)."""
    text = rendered(sample_report(), "markdown")
    [row] = [line for line in text.splitlines() if line.startswith("| ws.session ")]
    assert "a \\| pipe" in row


def test_markdown_code_spans_of_messages_stay_code() -> None:
    """`code` in a message (the catalog's convention) renders as code, even in a table cell."""
    report = sample_report(
        checks=(check("cuda.nvcc", "host", Status.ERROR, "run `nvcc | head`"),),
        findings=(finding("CUDA003", "cuda.nvcc", message="install `cuda-toolkit-12-8` now"),),
    )
    tokens = validate_markdown(rendered(report, "markdown"), report)
    codes = [c.content for t in tokens for c in t.children or [] if c.type == "code_inline"]
    assert "nvcc | head" in codes and "cuda-toolkit-12-8" in codes


def test_markdown_fence_outgrows_backticks() -> None:
    """Commands and facts holding ``` are fenced with four backticks and come back intact."""
    text = rendered(sample_report(), "markdown")
    assert "````sh\necho '```' | grep -c x\nprintf '%s\\n' a,b:c\n````" in text
    tokens = markdown_parser().parse(text)
    [facts] = [t for t in tokens if t.type == "fence" and t.info == "json"]
    assert json.loads(facts.content)["ws.session"] == {"server": {"x": "```"}}


def test_markdown_insecure_notice_first() -> None:
    """A report made with --insecure says so before anything else."""
    first = rendered(sample_report(insecure=True), "markdown").splitlines()[0]
    assert first.startswith("> **Warning:**") and "--insecure" in first
    assert "insecure" not in rendered(sample_report(), "markdown").splitlines()[0]


def test_markdown_marks_ignored_and_below_threshold() -> None:
    """Ignored findings and warnings below --fail-on say so in their heading."""
    text = rendered(sample_report(), "markdown")
    assert re.search(r"^#### \d+\. `PY004` .* · warning \(ignored\)$", text, re.M)
    assert re.search(r"^#### \d+\. `CXX005` .* · warning \(below --fail-on error\)$", text, re.M)


def test_markdown_traceback_in_details() -> None:
    """A crashed check's traceback is in its own collapsed block."""
    text = rendered(sample_report(), "markdown")
    assert "<details><summary>Tracebacks" in text
    assert "python.deps:\nTraceback (most recent call last):" in text


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters="`")))
def test_markdown_escape_round_trip(text: str) -> None:
    """Any printable text (no backticks) renders to exactly itself, whitespace aside."""
    tokens = markdown_parser().parse(markdown.escape(text) or "x")
    shown = "".join(inline_text(t) for t in tokens if t.type == "inline")
    assert flat(shown) == (flat(text) or "x")


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E)))
def test_markdown_escape_never_makes_markup(text: str) -> None:
    """With backticks too, escaped text makes no emphasis, link, HTML or block: code at most."""
    tokens = markdown_parser().parse(markdown.cell(text))
    assert [t.type for t in tokens] in (["paragraph_open", "inline", "paragraph_close"], [])
    for token in tokens:
        for child in token.children or []:
            assert child.type in ("text", "code_inline", "softbreak"), child


# --- JUnit ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fail_on", "failing"),
    [
        ("error", {"config.keys", "torch.wheel"}),
        ("warning", {"config.keys", "torch.wheel", "ws.session", "cxx.cmake"}),
        ("never", set()),
    ],
)
def test_junit_failures_follow_fail_on(fail_on: str, failing: set[str]) -> None:
    """A testcase fails exactly when one of its findings counts for the exit status."""
    report = sample_report(fail_on=fail_on)
    root = validate_junit(rendered(report, "junit"), report)
    failed = {c.get("name") for c in root.iter("testcase") if c.find("failure") is not None}
    assert failed == failing
    assert root.get("failures") == str(len(failing))


def test_junit_statuses() -> None:
    """Skipped is <skipped>, timeout and crashed are <error> with the traceback, ignored is no failure."""
    root = ET.fromstring(rendered(sample_report(), "junit"))
    cases = {c.get("name"): c for c in root.iter("testcase")}
    skipped = cases["gpu.memory"].find("skipped")
    assert skipped is not None and skipped.get("message") == "skipped: no NVIDIA driver (GPU001)"
    timeout = cases["gpu.capability"].find("error")
    assert timeout is not None and timeout.get("type") == "timeout"
    crashed = cases["python.deps"].find("error")
    assert crashed is not None and crashed.get("type") == "crashed"
    assert "KeyError: 'x'" in (crashed.text or "")
    assert root.get("errors") == "2"
    # cxx.cmake: CXX005 below --fail-on error and PY004 ignored: no failure, both in system-out.
    cmake = cases["cxx.cmake"]
    assert cmake.find("failure") is None
    out = cmake.findtext("system-out") or ""
    assert "PY004" in out and "(ignored)" in out and "below --fail-on error" in out


def test_junit_failure_carries_codes_and_fixes() -> None:
    """One <failure> per failing check, with every failing code, message, fix and command."""
    root = ET.fromstring(rendered(sample_report(), "junit"))
    [config] = [c for c in root.iter("testcase") if c.get("name") == "config.keys"]
    [failure] = config.findall("failure")
    assert failure.get("type") == "error"
    assert (failure.get("message") or "").startswith("CFG003: [server] num_workers does nothing")
    assert "CFG001: what CFG001 saw" in (failure.get("message") or "")
    assert "Fix: how to fix CFG003" in (failure.text or "")
    [torch] = [c for c in root.iter("testcase") if c.get("name") == "torch.wheel"]
    assert "  $ python -m pip install torch==2.9.1" in (torch.findtext("failure") or "")


def test_junit_suites_per_group() -> None:
    """One testsuite per group, in order, each with its properties, times in seconds."""
    root = ET.fromstring(rendered(sample_report(insecure=True), "junit"))
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["host", "files", "server"]
    assert [s.get("tests") for s in suites] == ["6", "1", "1"]
    props = {p.get("name"): p.get("value") for p in suites[0].iter("property")}
    assert props == {"kyudoctor_version": "0.1.0", "fail_on": "error", "insecure": "true"}
    assert "--insecure" in (suites[0].findtext("system-out") or "")
    # 12.5 ms is 0.013 s; a suite's time is the sum of its testcases'.
    assert {c.get("time") for c in root.iter("testcase")} == {"0.013"}
    assert suites[0].get("time") == "0.078" and root.get("time") == "0.104"


def test_junit_strips_characters_xml_cannot_hold() -> None:
    """NUL, ESC, vertical tab and lone surrogates are dropped; the document stays valid."""
    bad = "nul\x00 esc\x1b[31m vt\x0b ff\x0c lone\ud800 fffe\ufffe ok"
    report = sample_report(
        checks=(check("gpu.driver", "host", Status.ERROR, bad),),
        findings=(finding("GPU001", "gpu.driver", message=bad, commands=(bad,)),),
    )
    text = rendered(report, "junit")
    validate_junit(text, report)
    assert "nul esc[31m vt ff lone fffe ok" in text


def test_junit_finding_of_unknown_check_still_fails() -> None:
    """A finding whose check is not in the report gets its own failing testcase."""
    report = sample_report(checks=(), findings=(finding("LOAD001", "load.capacity"),))
    root = ET.fromstring(rendered(report, "junit"))
    [case] = root.iter("testcase")
    assert case.get("name") == "load.capacity" and case.find("failure") is not None


@settings(max_examples=100, deadline=None)
@given(st.text())
def test_junit_any_text_is_schema_valid(text: str) -> None:
    """Whatever a message or summary holds, the JUnit document is valid."""
    report = sample_report(
        checks=(check("gpu.driver", "host", Status.ERROR, text or "x"),),
        findings=(finding("GPU001", "gpu.driver", message=text or "x", commands=(text,)),),
    )
    validate_junit(rendered(report, "junit"), report)


# --- github --------------------------------------------------------------------------------------


def test_github_file_findings_point_at_file_and_line() -> None:
    """A finding with evidence file/line is annotated at that file and line."""
    lines = rendered(sample_report(), "github").splitlines()
    cfg003 = next(line for line in lines if "title=CFG003" in line)
    assert cfg003.startswith(
        "::error file=configs/config-tts.toml,line=12,title=CFG003 title of CFG003::CFG003: "
    )
    cfg001 = next(line for line in lines if "title=CFG001" in line)
    assert cfg001.startswith("::error file=configs/config-tts.toml,title=CFG001 ")
    # line without file: no location at all.
    cxx005 = next(line for line in lines if "title=CXX005" in line)
    assert cxx005.startswith("::warning title=CXX005 ")


def test_github_levels_and_order() -> None:
    """Insecure notice first, crashes and timeouts as errors, findings by severity, summary last."""
    annotations, plain = parse_github(rendered(sample_report(insecure=True), "github"))
    assert annotations[0][0] == "warning" and "--insecure" in annotations[0][2]
    heads = [(a[0], a[1]["title"].split(" ")[0]) for a in annotations[1:]]
    assert heads == [
        ("error", "kyudoctor"),
        ("error", "kyudoctor"),
        ("error", "CFG003"),
        ("error", "TORCH002"),
        ("error", "CFG001"),
        ("warning", "WS008"),
        ("warning", "CXX005"),
        ("notice", "PY001"),
    ]
    assert plain == [
        "kyudoctor: failed · 3 errors, 2 warnings, 1 info, 1 ignored, 1 timed out, 1 crashed · exit 1"
    ]


def test_github_escapes_data_and_properties() -> None:
    """%, CR and LF are encoded in messages; `:` and `,` also in property values."""
    report = sample_report(
        checks=(),
        findings=(
            finding(
                "CFG003",
                "config.keys",
                message="100% sure\r\nnext: a,b",
                evidence={"file": "C:\\conf,1.toml", "line": 2},
            ),
        ),
    )
    [line, _] = rendered(report, "github").splitlines()
    assert line.startswith("::error file=C%3A\\conf%2C1.toml,line=2,title=CFG003 title of CFG003::")
    assert "CFG003: 100%25 sure%0D%0Anext: a,b%0AFix: how to fix CFG003" in line
    validate_github(rendered(report, "github"), report)


@settings(max_examples=200, deadline=None)
@given(st.text(), st.text())
def test_github_escape_round_trip(value: str, message: str) -> None:
    """Any property or message comes back exactly, on one line, with no stray `:` or `,`."""
    line = github.command("error", {"file": value, "title": "T"}, message)
    assert "\n" not in line and "\r" not in line
    annotations, plain = parse_github(line + "\n")
    assert plain == [] and annotations == [("error", {"file": value, "title": "T"}, message)]


# --- the installed command ---------------------------------------------------------------------

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="fake Linux hosts: ELF binaries, ldd, /bin/sh"
)


@pytest.fixture(scope="module")
def cpu_torch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Report]:
    """The CPU-torch scenario (TORCH002) of the scenario suite, built once, and its report."""
    from tests.scenarios import embedding_elf, gpu_host, invoke

    libdir, soname = sysconfig.get_config_var("LIBDIR"), sysconfig.get_config_var("INSTSONAME")
    if not sysconfig.get_config_var("Py_ENABLE_SHARED") or not libdir or not soname:
        pytest.skip("the Python running the tests has no shared libpython to embed")
    root = tmp_path_factory.mktemp("formats")
    host = gpu_host(root / "host", embedding_elf(root / "elf", libdir, soname), torch=CPU_TORCH)
    data = invoke(host, *QUIET_PY001).report
    assert data is not None
    return host, report_from_json(data)


CPU_TORCH = ("2.9.1+cpu", None)
QUIET_PY001 = ("--ignore", "PY001")


@linux_only
@pytest.mark.parametrize("fmt", ["json", "markdown", "junit", "github"])
def test_cli_format_to_stdout_and_file(
    cpu_torch: tuple[Any, Report], fmt: str, tmp_path: Path
) -> None:
    """`kyudoctor check --format F` prints a valid report; with --output the same report goes to
    the file and the terminal gets the summary line."""
    host, report = cpu_torch
    target = tmp_path / f"report.{fmt}"
    printed, written = (
        subprocess.run(
            [str(KYUDOCTOR), "check", "--only", "host", "--python", str(host.venv.python)]
            + ["--format", fmt, *QUIET_PY001, *output],
            capture_output=True,
            text=True,
            env=host.env(),
            cwd=host.root,
            timeout=60,
            check=False,
        )
        for output in ((), ("--output", str(target)))
    )
    for result in (printed, written):
        assert result.returncode == 1 and result.stderr == ""
    assert written.stdout.splitlines()[-1] == f"report written to {target}"
    assert "exit 1" in written.stdout.splitlines()[0]
    # Durations and time stamps differ between runs; everything the validators compare does not.
    for text in (printed.stdout, target.read_text(encoding="utf-8")):
        if fmt == "json":
            assert report_from_json(json.loads(text)).findings == report.findings
        elif fmt == "junit":
            validate_junit(text, report)
            assert "TORCH002: " in text
        elif fmt == "markdown":
            validate_markdown(text, report, same_run=False)
            assert "`TORCH002`" in text
        else:
            validate_github(text, report)
            assert "::error title=TORCH002 " in text


def test_help_lists_formats() -> None:
    """`kyudoctor check --help` and `kyudoctor load --help` offer every format."""
    for command in ("check", "load"):
        out = subprocess.run(
            [sys.executable, "-m", "kyudoctor", command, "--help"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "{console,json,markdown,junit,github}" in out


def test_reporter_modules_are_small_and_rich_free() -> None:
    """The markdown, junit and github reporters import neither rich nor each other."""
    code = (
        "import sys; import kyudoctor.report.markdown, kyudoctor.report.junit, "
        "kyudoctor.report.github; print('rich' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    for module in (markdown, junit, github):
        source = Path(module.__file__ or "").read_text(encoding="utf-8")
        assert "import rich" not in source and "from rich" not in source


def test_render_to_a_stream() -> None:
    """Each reporter writes to any text stream and ends with a newline."""
    for module in (markdown, junit, github):
        stream = io.StringIO()
        module.render(sample_report(), stream)
        assert stream.getvalue().endswith("\n")


def test_load_reports_in_every_format(tmp_path: Path) -> None:
    """`kyudoctor load` renders its report through the same reporters: LOAD001 is a JUnit
    failure and an ::error annotation; --output writes the file."""
    from kyudoctor.simulate import SimConfig, running

    fast = {"first_audio_delay_s": 0.05, "words_per_second": 40.0, "final_padding_s": 0.05}
    argv = ["load", "--levels", "1,2,4", "--expect-concurrency", "4"]
    env = {k: v for k, v in os.environ.items() if k != "KYUTAI_API_KEY"}
    outputs: dict[str, str] = {}
    with running(SimConfig(port=0, batch_size=2, **fast)) as sim:
        for fmt in ("json", "junit", "markdown", "github"):
            target = tmp_path / f"load.{fmt}"
            result = subprocess.run(
                [str(KYUDOCTOR), *argv, "--url", sim.url, "--format", fmt, "--output", str(target)],
                capture_output=True,
                text=True,
                env=env,
                timeout=120,
                check=False,
            )
            assert result.returncode == 1, result.stderr
            outputs[fmt] = target.read_text(encoding="utf-8")
    report = report_from_json(json.loads(outputs["json"]))
    # LOAD002 (first audio slower under load) is a timing measurement a busy machine can make.
    assert [f.code for f in report.findings if f.code != "LOAD002"] == ["LOAD001"]
    root = validate_junit(outputs["junit"], report)
    assert "LOAD001" in (next(root.iter("failure")).get("message") or "")
    validate_markdown(outputs["markdown"], report, same_run=False)
    assert "::error title=LOAD001 " in outputs["github"]
    validate_github(outputs["github"], report)
