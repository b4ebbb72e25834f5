"""cuda.home: CUDA002 when CUDA_HOME/CUDA_PATH, PATH and the nvcc found disagree."""

from __future__ import annotations

from typing import Any

import pytest

from kyudoctor.checks import cuda_home
from kyudoctor.model import Outcome
from tests.healthy import facts, status
from tests.healthy import nvcc as healthy_nvcc

ROOT = healthy_nvcc.TOOLKIT
EXPORTS = (f"export CUDA_HOME={ROOT} CUDA_PATH={ROOT}", 'export PATH="$CUDA_HOME/bin:$PATH"')


def nvcc(**changes: Any) -> dict[str, Any]:
    return {**healthy_nvcc.FACTS["nvcc"], **changes}


def env_entry(value: str, *, realpath: str | None = None, exists: bool = True) -> dict[str, Any]:
    return {
        "value": value,
        "realpath": realpath or value,
        "exists": exists,
        "cuda_h": exists,
        "nvcc": exists,
    }


def link(target: str) -> list[dict[str, Any]]:
    return [{"path": "/usr/local/cuda", "realpath": target, "cuda_h": True}]


def run(**nvcc_facts: Any) -> Outcome:
    return cuda_home.CHECK.run(facts(nvcc=nvcc_facts))


@pytest.mark.parametrize(
    ("nvcc_facts", "codes", "expected_status", "in_message"),
    [
        ({}, [], "ok", None),
        ({"cuda_env": {}}, [], "ok", None),
        (
            {"cuda_env": {"CUDA_HOME": env_entry("/usr/local/cuda-12.1")}},
            ["CUDA002"],
            "warning",
            f"CUDA_HOME=/usr/local/cuda-12.1 is not the toolkit of nvcc ({ROOT})",
        ),
        (
            {"cuda_env": {"CUDA_PATH": env_entry("/opt/cuda-gone", exists=False)}},
            ["CUDA002"],
            "warning",
            "a directory that does not exist",
        ),
        (
            {"cuda_env": {"CUDA_HOME": env_entry("/usr/local/cuda", realpath=ROOT)}},
            [],
            "ok",
            None,
        ),
        (
            {"cuda_env": {}, "standard": link("/usr/local/cuda-12.4")},
            ["CUDA002"],
            "warning",
            "outside the standard locations (/usr/local/cuda -> /usr/local/cuda-12.4)",
        ),
        (
            {"cuda_env": {}, "standard": []},
            ["CUDA002"],
            "warning",
            "outside the standard locations (no /usr/local/cuda)",
        ),
        (
            {"nvcc": nvcc(found_via="CUDA_HOME", on_path=False)},
            ["CUDA002"],
            "warning",
            "nvcc is not on PATH",
        ),
        ({"cuda_h": None}, ["CUDA002"], "warning", "has no include/cuda.h"),
        (
            {
                "nvcc": nvcc(
                    path="/usr/bin/nvcc",
                    real_path="/usr/lib/nvidia-cuda-toolkit/bin/nvcc",
                    version="12.0.140",
                    release="12.0",
                ),
                "toolkit_root": "/usr/lib/nvidia-cuda-toolkit",
                "cuda_h": "/usr/include/cuda.h",
                "cuda_env": {},
                "standard": [],
            },
            [],
            "ok",
            None,
        ),
        (
            {"nvcc": nvcc(path=None, version=None, release=None, error="nvcc not found")},
            [],
            "skipped",
            "CUDA001",
        ),
        ({"nvcc": nvcc(version="13.0.88", release="13.0")}, [], "skipped", "CUDA003"),
    ],
    ids=[
        "healthy",
        "healthy-no-vars-standard-link",
        "cuda-home-other-toolkit",
        "cuda-path-missing-dir",
        "cuda-home-symlink-to-same",
        "no-vars-link-to-other-toolkit",
        "no-vars-no-standard-dir",
        "nvcc-not-on-path",
        "no-cuda-h",
        "debian-package-in-usr",
        "no-nvcc",
        "cuda13",
    ],
)
def test_cuda_home(
    nvcc_facts: dict[str, Any], codes: list[str], expected_status: str, in_message: str | None
) -> None:
    """Each situation gives exactly the expected codes, status and reason."""
    outcome = run(**nvcc_facts)
    assert [f.code for f in outcome.findings] == codes
    assert status(outcome) == expected_status
    if in_message is not None:
        text = outcome.findings[0].message if outcome.findings else outcome.summary
        assert in_message in text


def test_mismatch_fix_exports_the_toolkit_of_nvcc() -> None:
    """The fix sets CUDA_HOME and CUDA_PATH (the one the build reads) to nvcc's toolkit."""
    finding = run(cuda_env={"CUDA_HOME": env_entry("/usr/local/cuda-12.1")}).findings[0]
    assert finding.commands == EXPORTS
    assert finding.params == {"cuda_home": ROOT}


def test_other_mismatched_variables_are_exported_too() -> None:
    """A stale CUDA_ROOT is set to the same toolkit in the export line."""
    finding = run(cuda_env={"CUDA_ROOT": env_entry("/opt/cuda-11.8")}).findings[0]
    assert finding.commands == (EXPORTS[0] + f" CUDA_ROOT={ROOT}", EXPORTS[1])


def test_missing_cuda_h_has_no_export_fix() -> None:
    """A toolkit without headers is not fixed by exporting it: no commands, the package named."""
    finding = run(cuda_h=None).findings[0]
    assert finding.commands == ()
    assert "`cuda-toolkit-12-8`" in finding.message
