"""client.websockets: WS013 when the target environment's websockets is too old."""

from __future__ import annotations

import pytest

from kyudoctor.checks import client_websockets
from kyudoctor.model import Outcome
from tests.healthy import facts


def run(version: str | None) -> Outcome:
    dists = dict(facts()["python"]["distributions"])
    dists.pop("websockets", None)
    if version is not None:
        dists["websockets"] = {"name": "websockets", "version": version, "requires": []}
    return client_websockets.CHECK.run(facts(python={"distributions": dists}))


@pytest.mark.parametrize(
    ("version", "codes"),
    [("15.0.1", []), ("14.0", []), ("13.1", ["WS013"]), ("10.4", ["WS013"])],
)
def test_codes(version: str, codes: list[str]) -> None:
    """websockets older than 14 lacks additional_headers: WS013."""
    outcome = run(version)
    assert [f.code for f in outcome.findings] == codes


def test_very_old_mentions_1005() -> None:
    """Before 11, the finding also says 1005 is reported as an error."""
    (finding,) = run("10.4").findings
    assert "additional_headers" in finding.message and "1005" in finding.message


def test_not_installed_is_skipped() -> None:
    """Without websockets in the target, there is nothing to judge."""
    outcome = run(None)
    assert outcome.skipped and "not installed" in outcome.summary


def test_python_probe_failed() -> None:
    """A failed python probe skips the check."""
    assert client_websockets.CHECK.run(facts(python=None)).skipped
