"""binary.build: BIN004 built without cuda, BIN006 outdated, and when the record cannot tell."""

from __future__ import annotations

from typing import Any

import pytest

from kyudoctor.checks import bin_build
from kyudoctor.model import Outcome
from kyudoctor.rules import render_fix
from tests.healthy import binary as healthy_binary
from tests.healthy import facts, status

RECORD = "/home/kyu/.cargo/.crates2.json"
TOML = "/home/kyu/.cargo/.crates.toml"
REGISTRY = "registry+https://github.com/rust-lang/crates.io-index"


def install(**changes: Any) -> dict[str, Any]:
    out = dict(healthy_binary.FACTS["install"])
    out.update(changes)
    return out


def toml_install(version: str = "0.6.4") -> dict[str, Any]:
    return {"version": version, "features": None, "source": REGISTRY, "record": TOML}


def run(**binary: Any) -> Outcome:
    return bin_build.CHECK.run(facts(binary=binary))


@pytest.mark.parametrize(
    ("binary", "codes", "expected_status"),
    [
        ({}, [], "ok"),
        ({"install": install(features=[])}, ["BIN004"], "error"),
        ({"install": install(features=["default"])}, ["BIN004"], "error"),
        ({"install": install(features=[], all_features=True)}, [], "ok"),
        ({"install": install(version="0.6.3")}, ["BIN006"], "warning"),
        ({"install": install(version="0.6.1", features=[])}, ["BIN004", "BIN006"], "error"),
        ({"install": install(version="0.7.0")}, [], "ok"),
        ({"install": toml_install("0.6.2")}, ["BIN006"], "warning"),
        ({"install": toml_install()}, [], "skipped"),
        ({"install": None}, [], "skipped"),
        ({"install": None, "install_error": f"{RECORD}: invalid JSON: x"}, [], "skipped"),
        ({"install": None, "cargo_binary": None}, [], "skipped"),
        ({"cargo_binary": None}, [], "skipped"),
        ({"candidates": []}, [], "skipped"),
    ],
    ids=[
        "healthy",
        "no-features",
        "default-only",
        "all-features",
        "outdated",
        "outdated-cpu",
        "newer",
        "toml-outdated",
        "toml-current",
        "no-record",
        "corrupt-record",
        "copied-binary",
        "record-without-file",
        "not-installed",
    ],
)
def test_codes(binary: dict[str, Any], codes: list[str], expected_status: str) -> None:
    """Each install record state gives its codes and status."""
    outcome = run(**binary)
    assert [f.code for f in outcome.findings] == codes
    assert status(outcome) == expected_status


def test_healthy_summary() -> None:
    """The ok summary says version, cuda and the record read."""
    assert run().summary == f"moshi-server 0.6.4 with cuda ({RECORD})"


def test_without_cuda() -> None:
    """BIN004 shows the recorded features and reinstalls the recommended version with cuda."""
    outcome = run(install=install(features=[]))
    (finding,) = outcome.findings
    assert finding.message == (
        f"cargo built moshi-server 0.6.4 without the cuda feature (features: none, in {RECORD}): "
        "its Rust side runs on the CPU"
    )
    assert render_fix(finding, {}).commands == (
        "cargo install --force --features cuda moshi-server@0.6.4",
    )


def test_outdated_names_bugs() -> None:
    """BIN006 names the version, the recommended one and the policy's known bugs."""
    (finding,) = run(install=install(version="0.6.3")).findings
    assert finding.message.startswith(
        f"moshi-server 0.6.3 is installed (per {RECORD}); 0.6.4 is recommended: "
    )
    assert "previous user of the same slot" in finding.message
    assert "script" not in finding.message


def test_outdated_requires_script() -> None:
    """For 0.6.0/0.6.1 BIN006 adds that Kyutai's current configs fail ("missing field")."""
    (finding,) = run(install=install(version="0.6.1")).findings
    assert "missing field `script`" in finding.message


def test_corrupt_record_summary() -> None:
    """A corrupt record skips the check with the file and the parse error in the summary."""
    error = f"{RECORD}: invalid JSON: Expecting value at line 1 column 1"
    outcome = run(install=None, install_error=error)
    assert outcome.summary == f"cargo's install record could not be read: {error}"


def test_corrupt_record_with_toml_version() -> None:
    """With .crates2.json corrupt but .crates.toml readable, the version is still judged."""
    error = f"{RECORD}: invalid JSON: Expecting value at line 1 column 1"
    current = run(install=toml_install(), install_error=error)
    assert current.skipped and error in current.summary
    old = run(install=toml_install("0.6.3"), install_error=error)
    assert [f.code for f in old.findings] == ["BIN006"] and error in old.summary


def test_no_record_says_how_to_look() -> None:
    """Without a record the reason points at `cargo install --list`."""
    outcome = run(install=None)
    assert outcome.skipped and "cargo install --list" in outcome.summary
    assert healthy_binary.BINARY in outcome.summary


def test_python_script_only() -> None:
    """With only the Python script, the reason names BIN001 and BIN003."""
    candidate = {
        "path": "/home/kyu/tts/.venv/bin/moshi-server",
        "kind": "python-script",
        "on_path": True,
        "shebang": "#!/home/kyu/tts/.venv/bin/python",
    }
    outcome = run(candidates=[candidate], cargo_binary=None, install=None)
    assert outcome.skipped and "BIN001" in outcome.summary and "BIN003" in outcome.summary
