"""The host system: OS and platform, WSL, distribution, container, GPU device nodes, privileges,
package manager, an allow-listed slice of the environment, and free disk space.

Filesystem evidence (``/.dockerenv``, ``/run/.containerenv``, ``/proc``, ``/etc/os-release``,
``/dev``) is read under ``ctx.options["root"]`` (default ``/``), so tests can build a fake root.
Paths in the facts are always given as they are on the host (``/dev/nvidia0``), not re-rooted.
"""

from __future__ import annotations

import os
import platform
import shlex
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kyudoctor.probes import ProbeContext

ENV_ALLOW: tuple[str, ...] = (
    "CUDA_HOME",
    "CUDA_PATH",
    "CUDA_ROOT",
    "CUDA_TOOLKIT_ROOT_DIR",
    "CUDA_COMPUTE_CAP",
    "CUDA_VISIBLE_DEVICES",
    "CUDA_DEVICE_ORDER",
    "NVIDIA_VISIBLE_DEVICES",
    "NVIDIA_DRIVER_CAPABILITIES",
    "NVIDIA_REQUIRE_CUDA",
    "NVCC_CCBIN",
    "CC",
    "CXX",
    "CXXFLAGS",
    "LD_LIBRARY_PATH",
    "PATH",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "CARGO_HOME",
    "RUSTUP_HOME",
    "HF_HOME",
    "HF_ENDPOINT",
    "HF_HUB_OFFLINE",
    "PYO3_PYTHON",
    "NO_TORCH_COMPILE",
    "NO_CUDA_GRAPH",
    "CMAKE_POLICY_VERSION_MINIMUM",
    "TOKIO_WORKER_THREADS",
    "CUDARC_CUDA_VERSION",
    # Beyond the contract's list: the WSL distribution name, so a fix can name it.
    "WSL_DISTRO_NAME",
)
"""Environment variables copied into the facts when set. Nothing else is ever copied."""

_SECRET_SUFFIXES = ("_TOKEN", "_KEY", "_SECRET", "_PASSWORD")

PACKAGE_MANAGERS: tuple[str, ...] = ("apt-get", "dnf", "yum", "zypper", "pacman")
"""In order of preference: dnf before yum, because dnf hosts often carry a yum shim."""

CGROUP_MARKERS: tuple[str, ...] = ("docker", "kubepods", "containerd", "libpod")

_READ_LIMIT = 1 << 16


def probe(ctx: ProbeContext) -> dict[str, Any]:
    """Gather the system facts (see the ``system`` contract in docs/architecture.md)."""
    root = Path(str(ctx.options.get("root") or "/"))
    return {
        "os": _os_facts(root),
        "os_release": _os_release(root),
        "container": _container(root, ctx.env),
        "dev_nvidia": _dev_nvidia(root),
        "is_root": _is_root(),
        "has_sudo": ctx.which("sudo") is not None,
        "package_manager": next((m for m in PACKAGE_MANAGERS if ctx.which(m)), None),
        "env": allowed_env(ctx.env),
        "disk": _disk(ctx),
        "home": str(ctx.home),
    }


def allowed_env(env: Mapping[str, str]) -> dict[str, str]:
    """The allow-listed variables that are set; never a token, key or other secret."""
    return {
        name: env[name]
        for name in ENV_ALLOW
        if name in env and not name.upper().endswith(_SECRET_SUFFIXES)
    }


def _read_text(path: Path) -> str | None:
    try:
        with path.open("rb") as handle:
            return handle.read(_READ_LIMIT).decode("utf-8", "replace")
    except OSError:
        return None


def _os_facts(root: Path) -> dict[str, Any]:
    release = platform.release()
    osrelease = (_read_text(root / "proc/sys/kernel/osrelease") or "").strip()
    kernel = osrelease or release
    is_wsl = "microsoft" in kernel.lower()
    return {
        "system": platform.system(),
        "release": release,
        "machine": platform.machine(),
        "is_wsl": is_wsl,
        # Beyond the contract: 2 for WSL2 (GPU passthrough works), 1 for WSL1 (no GPU at all).
        "wsl_version": _wsl_version(kernel) if is_wsl else None,
    }


def _wsl_version(kernel: str) -> int | None:
    lowered = kernel.lower()
    if "wsl2" in lowered or "microsoft-standard" in lowered:
        return 2
    # WSL1 reports the Windows build, e.g. "4.4.0-19041-Microsoft".
    if kernel.endswith("-Microsoft"):
        return 1
    return None


def parse_os_release(text: str) -> dict[str, str]:
    """``KEY=value`` lines of os-release(5), unquoted the way a shell would."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        try:
            words = shlex.split(value)
        except ValueError:  # an unbalanced quote: keep the raw text
            words = [value.strip()]
        values[key.strip()] = " ".join(words)
    return values


def _os_release(root: Path) -> dict[str, Any] | None:
    for relative in ("etc/os-release", "usr/lib/os-release"):
        text = _read_text(root / relative)
        if text is not None:
            values = parse_os_release(text)
            return {
                "id": values.get("ID"),
                "version_id": values.get("VERSION_ID"),
                "pretty_name": values.get("PRETTY_NAME"),
                # Beyond the contract: the family (``ubuntu debian``) and the codename.
                "id_like": values.get("ID_LIKE"),
                "version_codename": values.get("VERSION_CODENAME"),
            }
    return None


def _container(root: Path, env: Mapping[str, str]) -> dict[str, Any]:
    evidence: list[str] = []
    for marker in (".dockerenv", "run/.containerenv"):
        if os.path.exists(root / marker):
            evidence.append("/" + marker)
    cgroup = (_read_text(root / "proc/1/cgroup") or "").lower()
    for name in CGROUP_MARKERS:
        if name in cgroup:
            evidence.append(f"cgroup: {name}")
    kind = env.get("container")
    if kind:
        evidence.append(f"env container={kind}")
    return {"inside": bool(evidence), "evidence": evidence}


def _dev_nvidia(root: Path) -> list[str]:
    dev = root / "dev"
    try:
        entries = sorted(dev.glob("nvidia*"))
    except OSError:
        return []
    # Directories such as /dev/nvidia-caps are not device nodes.
    return [f"/dev/{entry.name}" for entry in entries if not os.path.isdir(entry)]


def _is_root() -> bool:
    geteuid = getattr(os, "geteuid", None)
    return bool(geteuid is not None and geteuid() == 0)


def _expand(value: str, ctx: ProbeContext) -> Path:
    if value == "~" or value.startswith("~/"):
        value = str(ctx.home) + value[1:]
    path = Path(value)
    return path if path.is_absolute() else ctx.cwd / path


def _nearest_existing(path: Path) -> Path | None:
    for candidate in (path, *path.parents):
        if os.path.exists(candidate):
            return candidate
    return None


def _disk(ctx: ProbeContext) -> list[dict[str, Any]]:
    hf_home = ctx.env.get("HF_HOME")
    cargo_home = ctx.env.get("CARGO_HOME")
    targets = (
        ("hf_cache", _expand(hf_home, ctx) if hf_home else ctx.home / ".cache" / "huggingface"),
        ("cargo", _expand(cargo_home, ctx) if cargo_home else ctx.home / ".cargo"),
        ("cwd", ctx.cwd),
    )
    return [_usage(purpose, path) for purpose, path in targets]


def _usage(purpose: str, path: Path) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "path": str(path),
        "purpose": purpose,
        "free_bytes": None,
        "total_bytes": None,
        # Beyond the contract: where it was measured (the nearest existing directory), its
        # filesystem id (to tell two paths on one filesystem apart), and why it failed.
        "measured_at": None,
        "device": None,
        "error": None,
    }
    existing = _nearest_existing(path)
    if existing is None:
        entry["error"] = "no existing parent directory"
        return entry
    try:
        usage = shutil.disk_usage(existing)
        device = os.stat(existing).st_dev
    except OSError as exc:
        entry["measured_at"] = str(existing)
        entry["error"] = exc.strerror or type(exc).__name__
        return entry
    entry.update(
        measured_at=str(existing),
        free_bytes=int(usage.free),
        total_bytes=int(usage.total),
        device=int(device),
    )
    return entry
