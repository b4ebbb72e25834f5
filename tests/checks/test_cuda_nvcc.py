"""cuda.nvcc: CUDA001 no working nvcc (warning once built), CUDA003 unsupported CUDA release."""

from __future__ import annotations

from typing import Any

import pytest

from kyudoctor.checks import cuda_nvcc
from kyudoctor.model import Outcome
from kyudoctor.rules import render_fix
from tests.healthy import facts, status
from tests.healthy import nvcc as healthy_nvcc

BANNER_13 = "Cuda compilation tools, release 13.0, V13.0.88"
NOT_BUILT = {"install": None, "cargo_binary": None, "candidates": []}


def nvcc(**changes: Any) -> dict[str, Any]:
    """The healthy `nvcc.nvcc` record with some fields changed."""
    return {**healthy_nvcc.FACTS["nvcc"], **changes}


def toolkit(release: str, version: str | None) -> dict[str, Any]:
    root = f"/usr/local/cuda-{release}"
    return {
        "root": root,
        "version": version,
        "release": release,
        "nvcc": f"{root}/bin/nvcc",
        "cuda_h": True,
    }


MISSING = {
    "nvcc": nvcc(
        path=None,
        real_path=None,
        found_via=None,
        on_path=False,
        version=None,
        release=None,
        error="nvcc not found",
        output=None,
    ),
    "toolkit_root": None,
    "cuda_h": None,
    "gpu_archs": None,
    "toolkits": [],
}
CUDA13 = {
    "nvcc": nvcc(
        path="/usr/local/bin/nvcc",
        real_path="/usr/local/cuda-13.0/bin/nvcc",
        version="13.0.88",
        release="13.0",
        output=BANNER_13,
    ),
    "toolkit_root": "/usr/local/cuda-13.0",
    "toolkits": [toolkit("13.0", "13.0.88")],
}


def run(**overrides: Any) -> Outcome:
    return cuda_nvcc.CHECK.run(facts(**overrides))


@pytest.mark.parametrize(
    ("overrides", "codes", "expected_status"),
    [
        ({}, [], "ok"),
        ({"nvcc": MISSING, "binary": NOT_BUILT}, ["CUDA001"], "error"),
        ({"nvcc": MISSING}, ["CUDA001"], "warning"),
        ({"nvcc": MISSING, "binary": None}, ["CUDA001"], "error"),
        (
            {"nvcc": MISSING, "binary": {"install": {"version": "0.6.3", "features": ["cuda"]}}},
            ["CUDA001"],
            "error",
        ),
        (
            {"nvcc": MISSING, "binary": {"install": {"version": "0.6.4", "features": []}}},
            ["CUDA001"],
            "error",
        ),
        (
            {"nvcc": {"nvcc": nvcc(version=None, release=None, error="killed by SIGSEGV")}},
            ["CUDA001"],
            "warning",
        ),
        ({"nvcc": CUDA13}, ["CUDA003"], "warning"),
        ({"nvcc": CUDA13, "binary": NOT_BUILT}, ["CUDA003"], "error"),
        ({"nvcc": {"nvcc": nvcc(version="11.2.152", release="11.2")}}, ["CUDA003"], "warning"),
        ({"nvcc": {"nvcc": nvcc(version="11.4.152", release="11.4")}}, [], "ok"),
        ({"nvcc": {"nvcc": nvcc(version="12.9.86", release="12.9")}}, [], "ok"),
    ],
    ids=[
        "healthy",
        "missing-not-built",
        "missing-but-built",
        "missing-binary-probe-failed",
        "missing-built-outdated",
        "missing-built-without-cuda",
        "crashing-nvcc",
        "cuda13-built",
        "cuda13-not-built",
        "cuda11.2-too-old-built",
        "cuda11.4-lowest",
        "cuda12.9-highest",
    ],
)
def test_cuda_nvcc(overrides: dict[str, Any], codes: list[str], expected_status: str) -> None:
    """Each situation gives exactly the expected codes and status."""
    outcome = run(**overrides)
    assert [f.code for f in outcome.findings] == codes
    assert status(outcome) == expected_status


def test_missing_nvcc_names_the_package_and_the_search() -> None:
    """The CUDA001 message says where nvcc was looked for and which package installs it."""
    outcome = run(nvcc={**MISSING, "search_roots": ["/usr/local", "/opt"]}, binary=NOT_BUILT)
    message = outcome.findings[0].message
    assert "$CUDA_HOME/bin" in message and "/usr/local/cuda*/bin, /opt/cuda*/bin" in message
    assert "`cuda-toolkit-12-8`" in message


def test_built_binary_says_build_only() -> None:
    """With a current CUDA build installed, CUDA001 says nvcc is needed only to rebuild."""
    message = run(nvcc=MISSING).findings[0].message
    assert "moshi-server 0.6.4 built with cuda is already installed" in message
    assert "needed only to (re)build moshi-server" in message


def test_crash_is_in_the_message() -> None:
    """A crashing nvcc is reported with how it failed."""
    outcome = run(nvcc={"nvcc": nvcc(version=None, release=None, error="killed by SIGSEGV")})
    assert "killed by SIGSEGV" in outcome.findings[0].message


def test_broken_nvcc_with_another_toolkit_installed() -> None:
    """A broken nvcc while another supported toolkit is installed: the fix exports that one."""
    broken = {
        "nvcc": nvcc(version=None, release=None, error="killed by SIGSEGV"),
        "toolkit_root": "/usr/local/cuda-12.8",
        "toolkits": [toolkit("12.8", None), toolkit("12.4", "12.4.131")],
    }
    finding = run(nvcc=broken).findings[0]
    assert "CUDA 12.4 is installed in /usr/local/cuda-12.4" in finding.message
    assert finding.commands == (
        "export CUDA_HOME=/usr/local/cuda-12.4 CUDA_PATH=/usr/local/cuda-12.4",
        'export PATH="$CUDA_HOME/bin:$PATH"',
    )


def test_cuda13_message_and_install_fix() -> None:
    """nvcc 13.0 alone: real path and version in the message, exports of the future 12.8 dir."""
    finding = run(nvcc=CUDA13).findings[0]
    assert finding.message.startswith(
        "nvcc 13.0.88 at /usr/local/bin/nvcc (-> /usr/local/cuda-13.0/bin/nvcc): "
        "moshi-server's cudarc accepts CUDA 11.4 to 12.9"
    )
    assert "`cuda-toolkit-12-8` from NVIDIA's CUDA repository" in finding.message
    assert finding.commands == (
        "export CUDA_HOME=/usr/local/cuda-12.8 CUDA_PATH=/usr/local/cuda-12.8",
        'export PATH="$CUDA_HOME/bin:$PATH"',
    )


@pytest.mark.parametrize(
    ("installed", "chosen"),
    [
        (
            [toolkit("13.0", "13.0.88"), toolkit("12.8", "12.8.93"), toolkit("12.4", "12.4.131")],
            "/usr/local/cuda-12.8",
        ),
        (
            [toolkit("13.0", "13.0.88"), toolkit("12.6", "12.6.85"), toolkit("12.4", "12.4.131")],
            "/usr/local/cuda-12.6",
        ),
        ([toolkit("13.0", "13.0.88"), toolkit("10.2", "10.2.89")], None),
    ],
    ids=["recommended-installed", "newest-supported-installed", "none-supported"],
)
def test_cuda13_points_at_an_installed_supported_toolkit(
    installed: list[dict[str, Any]], chosen: str | None
) -> None:
    """With a supported toolkit already installed, the fix exports it instead of installing."""
    finding = run(nvcc={**CUDA13, "toolkits": installed}).findings[0]
    if chosen is None:
        assert "no supported toolkit is installed alongside" in finding.message
    else:
        assert f"is already installed in {chosen}" in finding.message
        assert finding.commands == (
            f"export CUDA_HOME={chosen} CUDA_PATH={chosen}",
            'export PATH="$CUDA_HOME/bin:$PATH"',
        )
        assert finding.params["cuda_home"] == chosen


def test_cudarc_override_is_called_out() -> None:
    """CUDARC_CUDA_VERSION does not hide CUDA003, and the message says why."""
    system = facts()["system"]
    env = {**system["env"], "CUDARC_CUDA_VERSION": "12.8"}
    finding = run(nvcc=CUDA13, system={"env": env}).findings[0]
    assert "CUDARC_CUDA_VERSION=12.8 only silences cudarc's version check" in finding.message


def test_fix_renders_with_the_catalog() -> None:
    """The catalog fix text of CUDA003 fills in the recommended CUDA version."""
    fix = render_fix(run(nvcc=CUDA13).findings[0], {})
    assert "`12.8`" in fix.text and fix.commands[0].startswith("export CUDA_HOME=")


def test_healthy_summary() -> None:
    """The ok summary names the nvcc, its release and the accepted range."""
    assert run().summary == (
        "nvcc 12.8.93 at /usr/local/cuda-12.8/bin/nvcc (CUDA 12.8; the build accepts 11.4 to 12.9)"
    )
