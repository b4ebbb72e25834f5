"""binary.libraries: BIN005 when ldd cannot resolve moshi-server's libpython."""

from __future__ import annotations

from typing import Any

import pytest

from kyudoctor.checks import bin_libraries
from kyudoctor.model import Outcome
from kyudoctor.rules import render_fix, severity_of
from tests.healthy import binary as healthy_binary
from tests.healthy import facts
from tests.healthy import python as healthy_python

BINARY = healthy_binary.BINARY
LIBDIR = healthy_python.LIBDIR
VENV = healthy_python.VENV


def ldd(*not_found: str, **changes: Any) -> dict[str, Any]:
    """Healthy ldd facts with ``not_found`` sonames moved out of ``resolved``."""
    out = dict(healthy_binary.FACTS["ldd"])
    out["resolved"] = {k: v for k, v in out["resolved"].items() if k not in not_found}
    out["not_found"] = list(not_found)
    out.update(changes)
    return out


def run(binary: dict[str, Any] | None = None, python: Any = "healthy") -> Outcome:
    overrides: dict[str, Any] = {"binary": binary or {}}
    if python != "healthy":
        overrides["python"] = python
    return bin_libraries.CHECK.run(facts(**overrides))


@pytest.mark.parametrize(
    ("binary", "codes", "skipped"),
    [
        ({}, [], False),
        ({"ldd": ldd("libpython3.12.so.1.0")}, ["BIN005"], False),
        ({"ldd": ldd("libpython3.11.so.1.0")}, ["BIN005"], False),
        ({"ldd": ldd("libcudart.so.12", "libcublas.so.12")}, [], False),
        ({"ldd": ldd(ran=False, error="ldd not found")}, [], True),
        ({"ldd": ldd(resolved={}, error="not a dynamic executable")}, [], False),
        ({"candidates": [], "ldd": ldd(ran=False, binary=None)}, [], True),
    ],
    ids=["healthy", "libpython", "other-python", "cuda-only", "no-ldd", "static", "no-binary"],
)
def test_codes(binary: dict[str, Any], codes: list[str], skipped: bool) -> None:
    """Only an unresolved libpython is BIN005; CUDA libraries are left to CUDA004."""
    outcome = run(binary)
    assert [f.code for f in outcome.findings] == codes
    assert outcome.skipped is skipped


def test_healthy_summary() -> None:
    """The ok summary shows where libpython resolves."""
    assert run().summary == f"{BINARY}: libpython3.12.so.1.0 -> {LIBDIR}/libpython3.12.so.1.0"


def test_cuda_not_found_is_mentioned_not_reported() -> None:
    """Unresolved CUDA libraries are named in the summary and pointed to cuda.libraries."""
    outcome = run({"ldd": ldd("libcudart.so.12")})
    assert "CUDA libraries unresolved: libcudart.so.12 (cuda.libraries, CUDA004)" in outcome.summary
    assert outcome.findings == ()


def test_other_missing_library_is_bin008() -> None:
    """A missing library that is neither libpython nor CUDA's (here libssl) is BIN008, an error."""
    outcome = run({"ldd": ldd("libssl.so.3", "libcudart.so.12")})
    (finding,) = outcome.findings
    assert finding.code == "BIN008" and severity_of(finding).value == "error"
    assert "libssl.so.3 => not found" in finding.message and "libcudart" not in finding.message


def test_libpython_and_another_library_missing_give_both_codes() -> None:
    """libpython and libssl both missing are two problems: BIN005 and BIN008."""
    outcome = run({"ldd": ldd("libpython3.12.so.1.0", "libssl.so.3")})
    assert [f.code for f in outcome.findings] == ["BIN005", "BIN008"]


def test_same_version_exports_libdir() -> None:
    """BIN005 for the target's own version exports the target interpreter's LIBDIR exactly."""
    outcome = run({"ldd": ldd("libpython3.12.so.1.0")})
    (finding,) = outcome.findings
    assert severity_of(finding).value == "error"
    assert finding.message == (
        f"ldd {BINARY}: libpython3.12.so.1.0 => not found; moshi-server does not start without "
        f"it; the target Python 3.12.8 ({VENV}/bin/python) keeps it in {LIBDIR}"
    )
    assert render_fix(finding, {}).commands == (
        f"export LD_LIBRARY_PATH={LIBDIR}:$LD_LIBRARY_PATH",
    )


def test_other_version_rebuilds() -> None:
    """A libpython of another version than the target's: rebuild with the venv active."""
    (finding,) = run({"ldd": ldd("libpython3.11.so.1.0")}).findings
    assert "built against Python 3.11, but the target Python" in finding.message
    assert "is 3.12.8" in finding.message and "LIBDIR of a Python 3.11" in finding.message
    assert render_fix(finding, {}).commands == (
        f"source {VENV}/bin/activate",
        f"export LD_LIBRARY_PATH={LIBDIR}:$LD_LIBRARY_PATH",
        "cargo install --force --features cuda moshi-server@0.6.4",
    )


def test_python_unknown() -> None:
    """Without the python probe the export asks python3 for its LIBDIR."""
    (finding,) = run({"ldd": ldd("libpython3.12.so.1.0")}, python=None).findings
    assert "the target Python is unknown" in finding.message
    libdir_of = "$(python3 -c 'import sysconfig; print(sysconfig.get_config_var(\"LIBDIR\"))')"
    assert render_fix(finding, {}).commands == (
        f"export LD_LIBRARY_PATH={libdir_of}:$LD_LIBRARY_PATH",
    )


def test_static_python_noted() -> None:
    """A target built without a shared libpython is said, since its LIBDIR may not help."""
    python = {"enable_shared": False}
    (finding,) = run({"ldd": ldd("libpython3.12.so.1.0")}, python=python).findings
    assert "without a shared libpython (Py_ENABLE_SHARED=0)" in finding.message


def test_libdir_with_space_is_quoted() -> None:
    """A LIBDIR with a space is shell-quoted in the export."""
    python = {"libdir": "/opt/my python/lib"}
    (finding,) = run({"ldd": ldd("libpython3.12.so.1.0")}, python=python).findings
    assert render_fix(finding, {}).commands == (
        "export LD_LIBRARY_PATH='/opt/my python/lib':$LD_LIBRARY_PATH",
    )


def test_ldd_failure_reason() -> None:
    """When ldd could not run, the skip reason names the binary and the error."""
    outcome = run({"ldd": ldd(ran=False, error="ldd did not finish within 5 s")})
    assert outcome.summary == f"ldd could not inspect {BINARY}: ldd did not finish within 5 s"


def test_other_version_outside_venv() -> None:
    """Outside a venv the rebuild names the target interpreter through PYO3_PYTHON."""
    python = {"is_venv": False, "executable": "/opt/py/bin/python3.12", "libdir": "/opt/py/lib"}
    (finding,) = run({"ldd": ldd("libpython3.11.so.1.0")}, python=python).findings
    assert render_fix(finding, {}).commands == (
        "export PYO3_PYTHON=/opt/py/bin/python3.12",
        "export LD_LIBRARY_PATH=/opt/py/lib:$LD_LIBRARY_PATH",
        "cargo install --force --features cuda moshi-server@0.6.4",
    )
