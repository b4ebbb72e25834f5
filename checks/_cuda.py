"""Helpers shared by the CUDA toolkit and C++ toolchain checks: pure functions of facts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from kyudoctor.model import Facts, Finding, Severity
from kyudoctor.policy import Policy, parse_version

from ._util import probe_facts, quote

BUILD_ONLY_NOTE = "needed only to (re)build moshi-server"


def build_only(finding: Finding, prebuilt: str | None, what: str) -> Finding:
    """A build-toolchain finding, downgraded to a warning when a current build is installed.

    One rule for every problem that only matters to ``cargo install`` (CUDA001, CUDA003,
    CUDA006, CXX001-007): with a current CUDA build of moshi-server installed the server runs
    without them, so they warn; before the build they are errors.
    """
    if not prebuilt:
        return finding
    return replace(
        finding,
        message=f"{finding.message}; {prebuilt}, so {what} is {BUILD_ONLY_NOTE}",
        severity=Severity.WARNING,
    )


def prebuilt_moshi_server(facts: Facts, policy: Policy) -> str | None:
    """ "moshi-server X (cuda) is installed" when a current CUDA build is installed, else None.

    Build-only problems are less urgent then: the binary runs without the build tools.
    """
    binary = probe_facts(facts, "binary")
    install = binary.get("install") if binary else None
    if not isinstance(install, Mapping):
        return None
    version = install.get("version")
    features = install.get("features") or []
    if not isinstance(version, str) or parse_version(version) is None:
        return None
    if "cuda" not in features or policy.moshi_server_outdated(version):
        return None
    return f"moshi-server {version} built with cuda is already installed"


def nvcc_unusable(nvcc_facts: Mapping[str, Any] | None, policy: Policy) -> str | None:
    """Why the nvcc facts cannot be compared further (a skip reason naming the code), or None."""
    if nvcc_facts is None:
        return "the nvcc probe did not run"
    nvcc = nvcc_facts.get("nvcc") or {}
    if nvcc.get("path") is None:
        return "no nvcc (CUDA001)"
    if nvcc.get("release") is None:
        return f"nvcc at {nvcc['path']} does not work (CUDA001)"
    if not policy.cuda_build_supported(nvcc["release"]):
        return f"nvcc {nvcc.get('version')} is a CUDA version the build does not accept (CUDA003)"
    return None


def export_toolkit(root: str) -> tuple[str, ...]:
    """Point the build at a toolkit: moshi-server's build reads CUDA_PATH, other tools CUDA_HOME."""
    return (
        f"export CUDA_HOME={quote(root)} CUDA_PATH={quote(root)}",
        'export PATH="$CUDA_HOME/bin:$PATH"',
    )


def apt_package(release: str) -> str:
    """NVIDIA's apt package of a toolkit release: ``cuda-toolkit-X-Y``."""
    return "cuda-toolkit-" + release.replace(".", "-")
