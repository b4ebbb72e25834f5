"""Small pure helpers shared by checks (no side effects: facts in, strings out)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any

from kyudoctor.model import Facts

# Package names per package manager for what the fixes install. Keys are the names the checks
# use; a manager missing from a row means "no known package": the fix then names the apt one.
PACKAGES: dict[str, dict[str, str]] = {
    "build-essential": {"apt-get": "build-essential", "dnf": "gcc-c++ make", "yum": "gcc-c++ make"},
    "pkg-config": {"apt-get": "pkg-config", "dnf": "pkgconf-pkg-config", "yum": "pkgconfig"},
    "libssl-dev": {"apt-get": "libssl-dev", "dnf": "openssl-devel", "yum": "openssl-devel"},
    "git": {"apt-get": "git", "dnf": "git", "yum": "git"},
    "cmake": {"apt-get": "cmake", "dnf": "cmake", "yum": "cmake"},
}


def probe_facts(facts: Facts, name: str) -> Mapping[str, Any] | None:
    """The facts of probe ``name``, or None when that probe did not run or failed."""
    value = facts.get(name)
    return value if isinstance(value, Mapping) else None


def sudo(system: Mapping[str, Any] | None) -> str:
    """``"sudo "`` when the fix needs root and the user is not root (and sudo exists)."""
    if system is None:
        return "sudo "
    if system.get("is_root"):
        return ""
    return "sudo " if system.get("has_sudo", True) else ""


def install_command(system: Mapping[str, Any] | None, *packages: str) -> str:
    """The command that installs ``packages`` (keys of PACKAGES or literal names) here."""
    manager = (system or {}).get("package_manager") or "apt-get"
    names: list[str] = []
    for package in packages:
        row = PACKAGES.get(package)
        names.append((row.get(manager) or row["apt-get"]) if row else package)
    joined = " ".join(names)
    if manager == "apt-get":
        return f"{sudo(system)}apt-get install -y {joined}"
    if manager in ("dnf", "yum"):
        return f"{sudo(system)}{manager} install -y {joined}"
    if manager == "zypper":
        return f"{sudo(system)}zypper install -y {joined}"
    if manager == "pacman":
        return f"{sudo(system)}pacman -S --noconfirm {joined}"
    return f"{sudo(system)}{manager} install {joined}"


def quote(value: str) -> str:
    """Shell-quote a path or value for a command shown to the user."""
    return shlex.quote(value)


CUDA_SONAME = re.compile(r"^(libcudart|libcublas|libcublasLt|libnvrtc|libcurand|libcuda)\.so")
"""The CUDA libraries moshi-server links (cuda.libraries reports them, CUDA004)."""


def is_cuda_soname(soname: str) -> bool:
    """Whether ``soname`` is one of the CUDA libraries CUDA004 covers."""
    return CUDA_SONAME.match(soname) is not None
