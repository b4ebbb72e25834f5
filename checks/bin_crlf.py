"""bin.crlf: the scripts an image copies and runs have Unix (LF) line endings.

What it checks
    Every script the ``files`` probe found behind a Dockerfile or compose file: the scripts a
    ``RUN``, ``ENTRYPOINT``/``CMD`` or compose ``command``/``entrypoint`` runs (followed through
    ``COPY``/``ADD`` and the ``WORKDIR`` back to the build context, or through a bind mount),
    and the shell scripts copied by name. A script with a CRLF line ending is reported with the
    first such line.

Why it matters
    BIN007: a script saved with Windows line endings names its interpreter ``bash\\r``. Linux
    finds no such program and says "No such file or directory" for a script that exists
    (Docker: ``exec ./start.sh: no such file or directory``). Repositories cloned on Windows
    with ``core.autocrlf=true`` produce exactly this.

How to fix
    Convert the script (``dos2unix start.sh``), set ``git config core.autocrlf input`` (or add
    ``*.sh text eol=lf`` to ``.gitattributes``) so Git keeps LF, or clone inside WSL.
"""

from __future__ import annotations

from collections.abc import Mapping

from kyudoctor.model import Check, Facts, Finding, Outcome

from ._docker import files_facts, iter_scripts, nothing_found, where
from ._util import quote


def check(facts: Facts) -> Outcome:
    """BIN007 for each referenced script with a CRLF line ending."""
    files = files_facts(facts)
    reason = nothing_found(files)
    if reason is not None or files is None:
        return Outcome.skip(reason or "no facts")
    scripts = list(iter_scripts(files))
    readable = [
        s for s in scripts if s.get("exists") and not s.get("error") and not s.get("inline")
    ]
    if not readable:
        return Outcome.skip("no script copied or run by the images was found in the build context")
    findings = []
    for script in readable:
        line = script.get("crlf_line")
        if not isinstance(line, int) or script.get("binary"):
            continue
        path = str(script.get("path"))
        refs = [r for r in script.get("referenced_by") or [] if isinstance(r, Mapping)]
        used = ", ".join(where(str(r.get("file")), r.get("line")) for r in refs[:3])
        findings.append(
            Finding(
                "BIN007",
                f"{path} has Windows (CRLF) line endings from line {line} on; used by {used}: "
                f'in the container it fails with "No such file or directory"',
                evidence={
                    "file": path,
                    "line": line,
                    "referenced_by": [where(str(r.get("file")), r.get("line")) for r in refs],
                },
                params={"script": quote(path)},
            )
        )
    if findings:
        return Outcome.found(f"{len(findings)} script(s) with CRLF line endings", *findings)
    return Outcome.ok(f"{len(readable)} script(s) have LF line endings")


CHECK = Check(
    id="bin.crlf",
    group="files",
    title="Scripts copied into images have LF line endings",
    codes=("BIN007",),
    probes=("files",),
    run=check,
)
