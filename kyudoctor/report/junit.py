"""The JUnit XML report, for the test-report views of CI systems (GitLab, Jenkins, Azure, GitHub).

Valid against Jenkins xUnit's ``junit-10.xsd``: one ``<testsuite>`` per check group, one
``<testcase>`` per check (``classname`` the group, ``name`` the check id, ``time`` in seconds).
A check fails exactly when one of its findings counts for the exit status (not ignored, at or
above ``--fail-on``): one ``<failure>`` carrying every such finding's code, message and fix.
Other findings (below the threshold, info, ignored) go to the testcase's ``<system-out>``. A
skipped check is ``<skipped>``; a crashed or timed out one is an ``<error>`` (kyudoctor could not
finish: exit 3)::

    <?xml version="1.0" encoding="UTF-8"?>
    <testsuites name="kyudoctor" tests="2" failures="1" errors="0" time="0.120">
      <testsuite name="host" tests="2" failures="1" errors="0" skipped="1" time="0.015"
                 timestamp="2026-11-25T03:14:55Z">
        <properties>
          <property name="kyudoctor_version" value="0.1.0" />
          <property name="fail_on" value="error" />
          <property name="insecure" value="false" />
        </properties>
        <testcase classname="host" name="gpu.driver" time="0.012">
          <failure type="error" message="GPU001: NVML cannot be loaded ...">GPU001 ...
    Fix: install the NVIDIA driver and reboot.
      $ sudo apt-get install -y nvidia-driver
    More: kyudoctor explain GPU001</failure>
          <system-out>no NVIDIA driver: NVML Shared Library Not Found</system-out>
        </testcase>
        <testcase classname="host" name="gpu.capability" time="0.003">
          <skipped message="no NVIDIA driver (GPU001)" />
        </testcase>
      </testsuite>
    </testsuites>

Characters XML 1.0 cannot hold (control characters other than tab and newlines) are dropped.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import TextIO

from kyudoctor.model import CheckResult, RenderedFinding, Report, Status
from kyudoctor.report._text import INSECURE_NOTICE, fails, fix_lines, status_summary

# XML 1.0 Char production: tab, LF, CR, and the ranges below; everything else cannot appear.
_INVALID_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def render(report: Report, stream: TextIO) -> None:
    """Write the report as one JUnit XML document."""
    groups: dict[str, list[CheckResult]] = {}
    for check in report.checks:
        groups.setdefault(check.group, []).append(check)
    by_check: dict[str, list[RenderedFinding]] = {}
    for finding in report.findings:
        by_check.setdefault(finding.check, []).append(finding)
    # A finding whose check is not in the report (never made by the runner) still shows.
    known = {c.id for c in report.checks}
    for check_id in by_check:
        if check_id not in known:
            groups.setdefault("kyudoctor", []).append(
                CheckResult(check_id, "kyudoctor", check_id, Status.ERROR, "", 0.0)
            )

    root = ET.Element("testsuites", name="kyudoctor")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    total_seconds = 0.0
    for group, checks in groups.items():
        suite = ET.SubElement(root, "testsuite", name=_clean(group))
        properties = ET.SubElement(suite, "properties")
        for name, value in (
            ("kyudoctor_version", report.kyudoctor_version),
            ("fail_on", report.fail_on),
            ("insecure", "true" if report.insecure else "false"),
        ):
            ET.SubElement(properties, "property", name=name, value=_clean(value))
        if report.insecure:
            ET.SubElement(suite, "system-out").text = INSECURE_NOTICE
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for check in checks:
            outcome = _testcase(suite, report, check, by_check.get(check.id, []))
            counts["tests"] += 1
            if outcome:
                counts[outcome] += 1
        # Checks run concurrently: a suite's time is the sum of its testcases' (what consumers
        # add up), not the run's wall time (in the JSON report).
        seconds = sum(float(_seconds(c.duration_ms / 1000.0)) for c in checks)
        total_seconds += seconds
        suite.set("tests", str(counts["tests"]))
        suite.set("failures", str(counts["failures"]))
        suite.set("errors", str(counts["errors"]))
        suite.set("skipped", str(counts["skipped"]))
        suite.set("time", _seconds(seconds))
        suite.set("timestamp", _clean(report.created))
        for key in totals:
            totals[key] += counts[key]
    for key, total in totals.items():
        root.set(key, str(total))
    root.set("time", _seconds(total_seconds))
    ET.indent(root)
    stream.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    stream.write(ET.tostring(root, encoding="unicode"))
    stream.write("\n")


def _testcase(
    suite: ET.Element, report: Report, check: CheckResult, findings: list[RenderedFinding]
) -> str | None:
    """Add the check's testcase; return which count it adds to (failures, errors, skipped)."""
    case = ET.SubElement(
        suite,
        "testcase",
        classname=_clean(check.group),
        name=_clean(check.id),
        time=_seconds(check.duration_ms / 1000.0),
    )
    failing = [f for f in findings if fails(report, f)]
    others = [f for f in findings if not fails(report, f)]
    outcome: str | None = None
    if check.status in (Status.CRASHED, Status.TIMEOUT):
        error = ET.SubElement(
            case, "error", type=check.status.value, message=_clean(_one_line(check.summary))
        )
        error.text = _clean(check.traceback or check.summary)
        outcome = "errors"
    elif failing:
        worst = max(failing, key=lambda f: f.severity.rank)
        failure = ET.SubElement(
            case,
            "failure",
            type=worst.severity.value,
            message=_clean("; ".join(f"{f.code}: {_one_line(f.message)}" for f in failing)),
        )
        failure.text = _clean("\n\n".join(_finding_text(f) for f in failing))
        outcome = "failures"
    elif check.status is Status.SKIPPED:
        ET.SubElement(
            case, "skipped", message=_clean(_one_line(status_summary(check.status, check.summary)))
        )
        outcome = "skipped"
    # The summary of a skipped, crashed or timed out check is already in its element.
    out = [check.summary] if check.summary and outcome in (None, "failures") else []
    for finding in others:
        if finding.ignored:
            note = "ignored"
        elif finding.severity.value == "info":
            note = "info"
        else:
            note = f"{finding.severity.value}, below --fail-on {report.fail_on}"
        out.append(f"{_finding_text(finding)}\n({note})")
    if out:
        ET.SubElement(case, "system-out").text = _clean("\n\n".join(out))
    return outcome


def _finding_text(finding: RenderedFinding) -> str:
    head = [f"{finding.code} {finding.slug}: {finding.title}", finding.message]
    return "\n".join([*head, *fix_lines(finding)])


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _seconds(value: float) -> str:
    # The schema's SUREFIRE_TIME: digits, an optional fraction, no sign or exponent.
    return f"{max(value, 0.0):.3f}"


def _clean(text: str) -> str:
    return _INVALID_XML.sub("", text)
