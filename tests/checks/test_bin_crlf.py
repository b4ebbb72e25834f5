"""bin.crlf: BIN007 for scripts an image copies or runs that have CRLF line endings."""

from __future__ import annotations

from pathlib import Path

from kyudoctor.checks import bin_crlf
from kyudoctor.rules import render_fix
from tests.dockerfiles import GOOD_DOCKERFILE, GOOD_START, codes, run, where


def test_lf_script_is_ok(tmp_path: Path) -> None:
    """A start script with LF endings is fine."""
    outcome = run(bin_crlf.CHECK, tmp_path, {"Dockerfile": GOOD_DOCKERFILE, "start.sh": GOOD_START})
    assert outcome.findings == () and not outcome.skipped


def test_crlf_start_script(tmp_path: Path) -> None:
    """A CRLF start script is BIN007 at its first CRLF line, with the dos2unix command."""
    script = ("#!/bin/bash\n" + GOOD_START.split("\n", 1)[1].replace("\n", "\r\n")).encode()
    outcome = run(bin_crlf.CHECK, tmp_path, {"Dockerfile": GOOD_DOCKERFILE, "start.sh": script})
    assert codes(outcome) == ["BIN007"]
    assert where(outcome) == [("start.sh", 2)]
    assert "Dockerfile:8" in outcome.findings[0].message
    assert render_fix(outcome.findings[0], {}).commands[0] == "dos2unix start.sh"


def test_no_scripts_is_skipped(tmp_path: Path) -> None:
    """A Dockerfile that copies and runs no script: nothing to judge."""
    outcome = run(bin_crlf.CHECK, tmp_path, {"Dockerfile": 'FROM ubuntu\nCMD ["bash"]\n'})
    assert outcome.skipped


def test_script_named_with_spaces_is_quoted_in_the_fix(tmp_path: Path) -> None:
    """The fix command quotes a path that needs it."""
    tree: dict[str, str | bytes] = {
        "Dockerfile": 'FROM ubuntu\nCOPY ["my start.sh", "/s.sh"]\nCMD ["/s.sh"]\n',
        "my start.sh": b"#!/bin/sh\r\n",
    }
    outcome = run(bin_crlf.CHECK, tmp_path, tree)
    assert render_fix(outcome.findings[0], {}).commands[0] == "dos2unix 'my start.sh'"
