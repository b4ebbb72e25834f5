"""Compact views of probe facts: what a report shows under each check (``-v``, JSON).

The full facts of every probe go to support bundles; a report shows, for each check, the few
facts of its probes that a person reads first (versions, paths, the GPU table), so that a JSON
report stays small and a ``-v`` console report stays readable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

KEY_DISTRIBUTIONS = (
    "moshi",
    "torch",
    "torchaudio",
    "xformers",
    "huggingface-hub",
    "julius",
    "pydantic",
    "websockets",
)


def _pick(facts: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {k: facts.get(k) for k in keys if facts.get(k) not in (None, "", [], {})}


def _version_of(record: Any) -> Any:
    return record.get("version") if isinstance(record, Mapping) else None


def _system(f: Mapping[str, Any]) -> dict[str, Any]:
    out = _pick(f, "os", "package_manager", "dev_nvidia")
    release = f.get("os_release") or {}
    if release.get("pretty_name"):
        out["os_release"] = release["pretty_name"]
    container = f.get("container") or {}
    if container.get("inside"):
        out["container"] = container.get("evidence") or True
    return out


def _gpu(f: Mapping[str, Any]) -> dict[str, Any]:
    out = _pick(f, "source", "driver_version", "driver_max_cuda", "error")
    out["gpus"] = [
        _pick(g, "index", "name", "compute_cap", "memory_total_mib", "memory_free_mib")
        for g in f.get("gpus") or []
        if isinstance(g, Mapping)
    ]
    return out


def _nvcc(f: Mapping[str, Any]) -> dict[str, Any]:
    nvcc = f.get("nvcc") or {}
    out = _pick(nvcc, "path", "version", "found_via")
    out.update(_pick(f, "toolkit_root", "cuda_h", "gpu_archs"))
    return out


def _toolchain(f: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("gxx", "cmake", "pkg_config", "openssl", "git", "cargo", "rustc"):
        record = f.get(key) or {}
        if isinstance(record, Mapping):
            out[key] = record.get("version") if record.get("version") else record.get("path")
    return out


def _python(f: Mapping[str, Any]) -> dict[str, Any]:
    out = _pick(f, "interpreter", "version", "prefix", "is_venv", "libdir", "ldlibrary", "error")
    dists = f.get("distributions") or {}
    out["distributions"] = len(dists)
    out["installed"] = {n: _version_of(dists.get(n)) for n in KEY_DISTRIBUTIONS if n in dists}
    torch = f.get("torch") or {}
    if torch:
        out["torch"] = _pick(torch, "version", "cuda")
    requirements = f.get("requirements") or {}
    if requirements:
        out["requirements"] = requirements.get("source")
    return out


def _binary(f: Mapping[str, Any]) -> dict[str, Any]:
    out = _pick(
        f, "first_on_path", "first_kind", "cargo_bin", "cargo_binary", "install", "install_error"
    )
    ldd = f.get("ldd") or {}
    if ldd.get("not_found"):
        out["ldd_not_found"] = ldd["not_found"]
    return out


def _server(f: Mapping[str, Any]) -> dict[str, Any]:
    from kyudoctor.probes.server import compact as server_compact

    return server_compact(f)


def _config(f: Mapping[str, Any]) -> dict[str, Any]:
    from kyudoctor.probes.config import compact as config_compact

    return config_compact(f)


def _files(f: Mapping[str, Any]) -> dict[str, Any]:
    from kyudoctor.probes.files import compact as files_compact

    return files_compact(f)


VIEWS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "system": _system,
    "gpu": _gpu,
    "nvcc": _nvcc,
    "toolchain": _toolchain,
    "python": _python,
    "binary": _binary,
    "server": _server,
    "config": _config,
    "files": _files,
}


def compact(probe: str, facts: Mapping[str, Any] | None) -> dict[str, Any]:
    """The compact view of one probe's facts ({} when the probe gave none)."""
    if not facts:
        return {}
    view = VIEWS.get(probe)
    return view(facts) if view else dict(facts)
