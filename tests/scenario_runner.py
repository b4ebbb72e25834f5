"""Every scenario of ``tests/test_scenarios.py`` through every report format.

The scenarios run the installed ``kyudoctor check --format json`` on whole fake machines (see
``tests/scenarios``). The autouse fixture :func:`every_format` wraps their ``invoke`` so that each
report a scenario gets is also rendered in every other format (markdown, junit, github,
console) and validated by ``tests/reportformats.py``: the reporters are pure functions of the
report, and :func:`tests.reportformats.report_from_json` proves by a round trip that the report
rebuilt from the JSON is the one the command rendered. One process per scenario run, not five:
the scenario suite stays as fast as it was. The command-line path of each format
(``--format F``, ``--output FILE``) is run end to end in ``tests/test_report_formats.py``.

A test module opts in by importing the fixture (``from tests.scenario_runner import
every_format``); :data:`VALIDATED` counts the reports checked, for the tests of this module.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests import scenarios
from tests.reportformats import report_from_json, validate_every_format

VALIDATED: list[str] = []
"""The ``created`` stamp and exit status of every scenario report validated in every format."""


def check_every_format(result: scenarios.Result) -> None:
    """Validate the report of one scenario run in every format (nothing when not JSON)."""
    if result.report is None:
        return
    report = report_from_json(result.report)
    validate_every_format(report)
    VALIDATED.append(f"{report.created} exit {report.exit_code}")


@pytest.fixture(autouse=True)
def every_format(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each scenario's reports are also rendered and validated in every format."""
    original = scenarios.invoke

    def invoke(host: scenarios.Host, *args: str, **kwargs: Any) -> scenarios.Result:
        result = original(host, *args, **kwargs)
        check_every_format(result)
        return result

    # ``run`` looks ``invoke`` up in tests.scenarios; the test module has its own import of it.
    monkeypatch.setattr(scenarios, "invoke", invoke)
    if getattr(request.module, "invoke", None) is original:
        monkeypatch.setattr(request.module, "invoke", invoke)
    yield
