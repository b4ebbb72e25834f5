"""The registry of checks: an explicit, ordered list. Installed as ``kyudoctor.checks``.

Each module holds one check: a docstring that is its documentation (What it checks / Why it
matters / How to fix), and ``CHECK``, a :class:`kyudoctor.model.Check` whose function is pure:
facts in, :class:`kyudoctor.model.Outcome` out. No subprocess, no socket, no file access.
Private modules (``_util``, ``_gpu``, ``_cuda``, ``_python``) hold pure helpers shared by a family.

The order is the order of the report: root causes (platform, driver) before what depends on them.
"""

from __future__ import annotations

import importlib
from functools import lru_cache

from kyudoctor.model import Check

__all__ = ["MODULES", "all_checks", "get"]

MODULES: tuple[str, ...] = (
    "env_platform",
    "gpu_driver",
    "gpu_capability",
    "gpu_memory",
    "gpu_driver_cuda",
    "cuda_nvcc",
    "cuda_home",
    "cuda_libraries",
    "cuda_driver",
    "cuda_arch",
    "cxx_compiler",
    "cxx_libstdcxx",
    "cxx_cmake",
    "cxx_prerequisites",
    "cxx_rust",
    "python_version",
    "python_deps",
    "python_embedded",
    "client_websockets",
    "torch_install",
    "torch_wheel",
    "bin_install",
    "bin_build",
    "bin_libraries",
    "env_disk",
    "config_file",
    "config_schema",
    "config_keys",
    "config_paths",
    "config_vram",
    "config_secrets",
    "docker_parse",
    "bin_crlf",
    "docker_base",
    "docker_install",
    "docker_python",
    "docker_compose_gpu",
    "docker_healthcheck",
    "net_connect",
    "net_port",
    "tls_certificate",
    "http_routes",
    "ws_session",
    "ws_slots",
)


@lru_cache(maxsize=1)
def all_checks() -> tuple[Check, ...]:
    """Every registered check, in report order."""
    checks = []
    for name in MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        check = module.CHECK
        if not isinstance(check, Check):  # pragma: no cover - a registry bug
            raise TypeError(f"{__name__}.{name}.CHECK is not a Check")
        checks.append(check)
    return tuple(checks)


def get(check_id: str) -> Check:
    """The check with this id; ``KeyError`` naming the known ids for an unknown one."""
    for check in all_checks():
        if check.id == check_id:
            return check
    known = ", ".join(c.id for c in all_checks())
    raise KeyError(f"unknown check id {check_id!r} (known: {known})")
