"""Rules: catalog attached, fixes rendered with real values, ranking, statuses, exit codes."""

from __future__ import annotations

import io
import json

import pytest

from kyudoctor import rules
from kyudoctor.model import Check, Finding, Outcome, Report, Severity, Status
from kyudoctor.report import render
from kyudoctor.runner import Executed, ProbeOutcome
from tests.reportschema import validate_report


def _check(check_id: str, codes: tuple[str, ...] = ("GPU001",)) -> Check:
    return Check(check_id, "host", check_id.title(), codes, (), lambda f: Outcome.ok("x"))


def _ran(check_id: str, *findings: Finding, skipped: bool = False) -> Executed:
    outcome = Outcome.skip("no driver (GPU001)") if skipped else Outcome.found("looked", *findings)
    return Executed(_check(check_id), outcome, None, None, None, 1.0)


def _report(*executed: Executed, **kwargs: object) -> Report:
    return rules.build_report(
        list(executed),
        {"gpu": ProbeOutcome("gpu", Status.OK, {"driver_version": None}, 1.0)},
        kyudoctor_version="0.0.test",
        targets={"python": "/usr/bin/python3", "urls": [], "config": None},
        duration_ms=5.0,
        base_params={"python": "/usr/bin/python3", "moshi_server_version": "0.6.4"},
        **kwargs,  # type: ignore[arg-type]
    )


def test_catalog_severity_is_the_default_and_a_finding_may_override_it() -> None:
    """A finding without severity takes the catalog's; an explicit one wins."""
    assert rules.severity_of(Finding("PY004", "x")) is Severity.WARNING
    assert rules.severity_of(Finding("GPU004", "x", severity=Severity.ERROR)) is Severity.ERROR


def test_fix_commands_with_missing_values_are_dropped_and_computed_ones_win() -> None:
    """Templates render with the finding's values; computed commands replace the templates."""
    fix = rules.render_fix(
        Finding("TORCH002", "x", params={"torch_version": "2.9.1", "flavour": "cu128"}),
        {"python": "/v/bin/python"},
    )
    assert fix.commands == (
        "/v/bin/python -m pip install --force-reinstall 'torch==2.9.1' --index-url https://download.pytorch.org/whl/cu128",
    )
    assert rules.render_fix(Finding("TORCH002", "x"), {"python": "/p"}).commands == ()
    assert rules.render_fix(Finding("TORCH002", "x", commands=("echo fix",)), {}).commands == (
        "echo fix",
    )


def test_status_follows_the_worst_finding() -> None:
    """A check is error with an error finding, warning with a warning, ok with none or info."""
    report = _report(
        _ran("a.err", Finding("GPU001", "no driver")),
        _ran("b.warn", Finding("PY004", "no xformers")),
        _ran("c.ok"),
        _ran("d.skip", skipped=True),
    )
    assert [c.status for c in report.checks] == [
        Status.ERROR,
        Status.WARNING,
        Status.OK,
        Status.SKIPPED,
    ]


def test_ranking_puts_root_causes_first() -> None:
    """Errors before warnings, then the driver before the torch wheel, ignored findings last."""
    report = _report(
        _ran("t.wheel", Finding("TORCH002", "cpu build")),
        _ran("p.deps", Finding("PY004", "no xformers")),
        _ran("g.driver", Finding("GPU001", "no driver")),
        _ran("c.nvcc", Finding("CUDA003", "nvcc 13")),
        ignore=frozenset({"CUDA003"}),
    )
    assert [f.code for f in report.findings] == ["GPU001", "TORCH002", "PY004", "CUDA003"]
    assert report.findings[-1].ignored


@pytest.mark.parametrize(
    ("codes", "fail_on", "expected"),
    [
        (("PY004",), "error", 0),
        (("PY004",), "warning", 1),
        (("GPU001",), "never", 0),
        (("GPU001",), "error", 1),
        ((), "error", 0),
    ],
)
def test_exit_code_follows_fail_on(codes: tuple[str, ...], fail_on: str, expected: int) -> None:
    """Exit 1 only for a finding at or above --fail-on."""
    report = _report(_ran("x.y", *(Finding(c, "seen") for c in codes)), fail_on=fail_on)
    assert report.exit_code == expected


def test_ignored_findings_do_not_fail() -> None:
    """An ignored error is reported as ignored and does not make the exit status 1."""
    report = _report(_ran("x.y", Finding("GPU001", "seen")), ignore=frozenset({"GPU001"}))
    assert report.exit_code == 0 and report.summary.ignored == 1 and report.summary.errors == 0
    assert report.checks[0].status is Status.OK and "ignored: GPU001" in report.checks[0].summary


def test_crash_is_exit_3_and_says_please_report() -> None:
    """A crashed check gives exit 3 when nothing else fails, with 'please report' and the traceback."""
    crashed = Executed(_check("x.y"), None, Status.CRASHED, "KeyError: 'a'", "Traceback ...", 1.0)
    report = _report(crashed)
    assert report.exit_code == 3 and "please report" in report.checks[0].summary
    assert report.checks[0].traceback == "Traceback ..."
    assert _report(crashed, _ran("z.z", Finding("GPU001", "x"))).exit_code == 1


def test_select_keeps_only_selected_codes() -> None:
    """--select drops findings of other codes."""
    report = _report(
        _ran("x.y", Finding("GPU001", "a"), Finding("PY004", "b")), select=frozenset({"PY004"})
    )
    assert [f.code for f in report.findings] == ["PY004"]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["TORCH002"], {"TORCH002"}),
        (["torch-cpu-only"], {"TORCH002"}),
        (["GPU001,PY004"], {"GPU001", "PY004"}),
    ],
)
def test_code_lists_accept_codes_slugs_and_prefixes(values: list[str], expected: set[str]) -> None:
    """--select/--ignore take codes, slugs and family prefixes."""
    assert rules.parse_code_list(values) == expected
    assert {"GPU001", "GPU006"} <= rules.parse_code_list(["GPU"])


def test_json_report_validates_against_the_schema() -> None:
    """Every field the reporter writes is in the published schema."""
    crashed = Executed(
        _check("x.crash"), None, Status.CRASHED, "KeyError: 'a'", "Traceback ...", 1.0
    )
    report = _report(
        _ran(
            "a.err",
            Finding(
                "TORCH002",
                "cpu",
                evidence={"version": "2.13.0+cpu"},
                params={"torch_version": "2.13.0", "flavour": "cu130"},
            ),
        ),
        _ran("d.skip", skipped=True),
        crashed,
        ignore=frozenset({"TORCH002"}),
    )
    stream = io.StringIO()
    render("json", report, stream)
    data = json.loads(stream.getvalue())
    validate_report(data)
    assert data["findings"][0]["docs"] == "explain TORCH002"


def test_console_report_shows_symbols_fixes_and_summary() -> None:
    """The console report has a line per check, the finding with its command, and the exit."""
    report = _report(
        _ran(
            "gpu.driver",
            Finding(
                "GPU001",
                "NVML cannot be loaded",
                commands=("sudo apt-get install -y nvidia-driver",),
            ),
        ),
        _ran("env.platform"),
    )
    out = io.StringIO()
    render("console", report, out)
    text = out.getvalue()
    assert "✗ gpu.driver" in text and "✓ env.platform" in text
    assert "$ sudo apt-get install -y nvidia-driver" in text
    assert "More: kyudoctor explain GPU001" in text
    assert text.rstrip().endswith("exit 1")
    quiet = io.StringIO()
    render("console", report, quiet, quiet=True)
    assert "env.platform" not in quiet.getvalue() and "GPU001" in quiet.getvalue()
