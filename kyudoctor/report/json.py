"""The JSON report, schema ``kyudoctor.report/1`` (``kyudoctor/data/report.schema.json``).

Sorted keys, two-space indent, stable across runs but for ``created`` and durations::

    {
      "checks": [{"duration_ms": 3.1, "facts": {...}, "group": "host", "id": "gpu.driver",
                  "status": "error", "summary": "...", "title": "NVIDIA driver", "traceback": null}],
      "created": "2026-11-25T03:14:55Z",
      "exit_code": 1,
      "findings": [{"check": "gpu.driver", "code": "GPU001", "docs": "explain GPU001", ...}],
      "insecure": false,
      "kyudoctor_version": "0.1.0",
      "schema": "kyudoctor.report/1",
      "summary": {"crashed": 0, "duration_ms": 120.4, "errors": 1, ...},
      "targets": {"config": null, "python": "/usr/bin/python3", "urls": []}
    }
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from kyudoctor.model import Report

SCHEMA = "kyudoctor.report/1"


def to_dict(report: Report) -> dict[str, Any]:
    """The report as JSON-ready data, exactly the shape of the published schema."""
    return {
        "schema": SCHEMA,
        "kyudoctor_version": report.kyudoctor_version,
        "created": report.created,
        "targets": dict(report.targets),
        "insecure": report.insecure,
        "fail_on": report.fail_on,
        "checks": [
            {
                "id": c.id,
                "group": c.group,
                "title": c.title,
                "status": c.status.value,
                "duration_ms": c.duration_ms,
                "summary": c.summary,
                "facts": _jsonable(c.facts),
                "traceback": c.traceback,
            }
            for c in report.checks
        ],
        "findings": [
            {
                "code": f.code,
                "slug": f.slug,
                "severity": f.severity.value,
                "check": f.check,
                "title": f.title,
                "message": f.message,
                "evidence": _jsonable(f.evidence),
                "fix": {"text": f.fix.text, "commands": list(f.fix.commands)},
                "docs": f.docs,
                "ignored": f.ignored,
            }
            for f in report.findings
        ],
        "summary": {
            "errors": report.summary.errors,
            "warnings": report.summary.warnings,
            "infos": report.summary.infos,
            "ignored": report.summary.ignored,
            "crashed": report.summary.crashed,
            "timeouts": report.summary.timeouts,
            "duration_ms": report.summary.duration_ms,
        },
        "exit_code": report.exit_code,
    }


def render(report: Report, stream: TextIO) -> None:
    """Write the report as one JSON document."""
    json.dump(to_dict(report), stream, indent=2, sort_keys=True, ensure_ascii=False)
    stream.write("\n")


def _jsonable(value: Any) -> Any:
    """Facts are JSON types already; tuples and mappings from checks are normalised here."""
    return json.loads(json.dumps(value, default=str))
