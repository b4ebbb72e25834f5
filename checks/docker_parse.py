"""docker.parse: every Dockerfile and compose file to lint can be read and parsed.

What it checks
    Each Dockerfile and compose file the ``files`` probe read: those named with
    ``--dockerfile`` / ``--compose``, else ``Dockerfile*``, ``docker-compose*.y*ml`` and
    ``compose.y*ml`` in the current directory, and the Dockerfiles a compose ``build:`` names.
    A file that is missing, unreadable, binary, UTF-16, larger than the probe's cap, or that
    Docker would refuse to parse (unknown instruction, instruction before ``FROM``, unterminated
    heredoc; YAML syntax, a tab in the indentation, a duplicate key, an alias bomb) is reported
    with its line.

Why it matters
    DOCKER008: ``docker build`` and ``docker compose`` stop at such a file, and the other
    Docker checks cannot look inside it.

How to fix
    Correct the file at the line shown (YAML is indented with spaces, never tabs), or fix the
    ``build.context`` / ``build.dockerfile`` of the compose service that names a missing file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kyudoctor.model import Check, Facts, Finding, Outcome

from ._docker import files_facts, nothing_found, where


def _finding(item: Mapping[str, Any], kind: str) -> Finding:
    error = item.get("error") or {}
    message = str(error.get("message") or "cannot be parsed")
    path = str(item.get("path"))
    line = int(error.get("line") or 1)
    references = [r for r in item.get("referenced_by") or [] if isinstance(r, Mapping)]
    if message == "no such file" and references:
        # A compose build: names a Dockerfile that is not there: point at the build: line.
        ref = references[0]
        return Finding(
            "DOCKER008",
            f"{where(str(ref.get('file')), ref.get('line'))}: service {ref.get('service')!r} "
            f"builds from {path}, which does not exist",
            evidence={"file": ref.get("file"), "line": ref.get("line"), "dockerfile": path},
        )
    column = error.get("column")
    at = f"{path}:{line}" + (f":{column}" if column else "")
    return Finding(
        "DOCKER008",
        f"{at}: {kind} {message}",
        evidence={"file": path, "line": line, "column": column, "error": message},
    )


def check(facts: Facts) -> Outcome:
    """DOCKER008 for each Dockerfile or compose file that could not be read or parsed."""
    files = files_facts(facts)
    reason = nothing_found(files)
    if reason is not None or files is None:
        return Outcome.skip(reason or "no facts")
    findings: list[Finding] = []
    total = 0
    for key, kind in (("dockerfiles", "Dockerfile"), ("compose_files", "compose file")):
        for item in files.get(key) or []:
            if not isinstance(item, Mapping):
                continue
            total += 1
            if item.get("error"):
                findings.append(_finding(item, kind))
    if findings:
        return Outcome.found(f"{len(findings)} of {total} files cannot be parsed", *findings)
    return Outcome.ok(f"{total} file{'s' if total != 1 else ''} read and parsed")


CHECK = Check(
    id="docker.parse",
    group="files",
    title="Dockerfiles and compose files parse",
    codes=("DOCKER008",),
    probes=("files",),
    run=check,
)
