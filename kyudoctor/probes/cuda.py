"""Probe ``nvcc``: the CUDA toolkit a moshi-server build would use.

Facts (see docs/architecture.md, "nvcc"): which ``nvcc`` a build would run and how it was found,
its version, the toolkit directory it belongs to, ``include/cuda.h``, the GPU architectures it
can target, and where the CUDA runtime libraries resolve. Beyond the contract it also lists
every toolkit installed under the search roots (``toolkits``) so a fix can point at one that is
already there, the CUDA environment variables and what they point at (``cuda_env``), and the
standard directories a build looks in (``standard``).

Discovery order: ``nvcc`` on PATH, then ``$CUDA_HOME/bin``, ``$CUDA_PATH/bin``,
``$CUDA_ROOT/bin``, then for each search root ``<root>/cuda/bin`` and ``<root>/cuda-*/bin``
(highest version first). The roots default to ``/usr/local`` and ``/opt`` (Arch installs CUDA
in ``/opt/cuda``); tests set ``ctx.options["cuda_search_roots"]``.

Wrappers: some installs put a small shell script on PATH (``exec /usr/local/cuda-13.0/bin/nvcc
"$@"``; Debian's ``/usr/bin/nvcc`` is one). The toolkit is the directory of the *real* nvcc, so
a small ``#!`` script whose ``exec`` line names an absolute ``.../nvcc`` is followed (a few hops
at most) before taking ``realpath(dirname(dirname(nvcc)))``. ``nvcc.path`` stays the path a
build runs; ``nvcc.real_path`` is the followed one.
"""

from __future__ import annotations

import glob
import json
import os
import re
from typing import Any

from kyudoctor.probes import CommandResult, ProbeContext

NVCC_TIMEOUT_S = 5.0
"""``nvcc --version`` answers in milliseconds; a hang here means a broken install."""

LDCONFIG_TIMEOUT_S = 5.0

DEFAULT_SEARCH_ROOTS = ("/usr/local", "/opt")
DEFAULT_LDCONFIG_FALLBACKS = ("/sbin/ldconfig", "/usr/sbin/ldconfig")
"""ldconfig lives in /sbin, often not on a normal user's PATH."""

LIBRARIES = ("libcudart", "libcublas", "libnvrtc", "libcurand")
CUDA_ENV_VARS = ("CUDA_HOME", "CUDA_PATH", "CUDA_ROOT", "CUDA_TOOLKIT_ROOT_DIR")
_DISCOVERY_VARS = ("CUDA_HOME", "CUDA_PATH", "CUDA_ROOT")

_RELEASE_RE = re.compile(r"release\s+(\d+\.\d+)(?:,\s*V(\d+(?:\.\d+)+))?")
_ARCH_RE = re.compile(r"^\s*compute_(\d+)[a-z]?\s*$")
_EXEC_RE = re.compile(
    r"""^\s*exec\s+(?:"([^"$]+/nvcc)"|'([^'$]+/nvcc)'|([^\s"'$]+/nvcc))(?:\s|$)"""
)
_WRAPPER_MAX_BYTES = 4096
_WRAPPER_MAX_HOPS = 4


def probe(ctx: ProbeContext) -> dict[str, Any]:
    """Find nvcc, version it, and locate its toolkit, headers, archs and libraries."""
    roots = _search_roots(ctx)
    nvcc_path, found_via = _discover(ctx, roots)
    nvcc: dict[str, Any] = {
        "path": nvcc_path,
        "real_path": None,
        "found_via": found_via,
        "on_path": found_via == "PATH",
        "version": None,
        "release": None,
        "error": None if nvcc_path else "nvcc not found",
        "output": None,
    }
    toolkit_root: str | None = None
    cuda_h: str | None = None
    gpu_archs: list[str] | None = None
    if nvcc_path is not None:
        real = follow_wrapper(nvcc_path)
        nvcc["real_path"] = real
        toolkit_root = os.path.realpath(os.path.dirname(os.path.dirname(real)))
        result = ctx.run([nvcc_path, "--version"], timeout=NVCC_TIMEOUT_S)
        nvcc["output"] = result.output.strip()[:2000] or None
        nvcc["error"] = command_error(result)
        version, release = parse_nvcc_version(result.output) if result.ok else (None, None)
        nvcc["version"], nvcc["release"] = version, release
        if result.ok and release is None:
            nvcc["error"] = "`nvcc --version` printed no 'release X.Y' line"
        cuda_h = _find_cuda_h(toolkit_root, os.path.dirname(os.path.dirname(nvcc_path)))
        if result.ok:
            archs = ctx.run([nvcc_path, "--list-gpu-arch"], timeout=NVCC_TIMEOUT_S)
            gpu_archs = parse_gpu_archs(archs.stdout) if archs.ok else None
    libraries, ldconfig = _libraries(ctx, toolkit_root)
    return {
        "nvcc": nvcc,
        "toolkit_root": toolkit_root,
        "cuda_h": cuda_h,
        "gpu_archs": gpu_archs,
        "libraries": libraries,
        "ldconfig": ldconfig,
        "toolkits": _toolkits(ctx, roots, toolkit_root, nvcc),
        "cuda_env": _cuda_env(ctx),
        "standard": _standard_dirs(roots),
        "search_roots": list(roots),
    }


# -- parsers (pure) -------------------------------------------------------------------------


def parse_nvcc_version(text: str) -> tuple[str | None, str | None]:
    """``(version, release)`` from ``nvcc --version``: ("12.4.131", "12.4"), or Nones."""
    match = _RELEASE_RE.search(text)
    if match is None:
        return None, None
    release = match.group(1)
    return match.group(2) or release, release


def parse_gpu_archs(text: str) -> list[str] | None:
    """``nvcc --list-gpu-arch`` lines (``compute_75``, ``compute_100``) as ["7.5", "10.0"]."""
    archs: list[str] = []
    for line in text.splitlines():
        match = _ARCH_RE.match(line)
        if match is None:
            continue
        digits = match.group(1)
        arch = f"{digits[:-1]}.{digits[-1]}"
        if arch not in archs:
            archs.append(arch)
    return archs or None


def parse_ldconfig(text: str) -> dict[str, list[str]]:
    """``ldconfig -p`` output as soname -> paths, in the cache's order."""
    entries: dict[str, list[str]] = {}
    for line in text.splitlines():
        name, sep, path = line.strip().partition(" => ")
        if not sep:
            continue
        soname = name.split(" (", 1)[0].strip()
        if soname and path:
            entries.setdefault(soname, []).append(path.strip())
    return entries


def command_error(result: CommandResult) -> str | None:
    """One line saying why a command did not succeed, or None when it exited 0."""
    return result.failure()


def follow_wrapper(path: str) -> str:
    """The real nvcc behind ``path``: symlinks resolved, ``exec …/nvcc`` wrapper scripts followed."""
    current = os.path.realpath(path)
    for _ in range(_WRAPPER_MAX_HOPS):
        try:
            if os.path.getsize(current) > _WRAPPER_MAX_BYTES:
                return current
            with open(current, "rb") as handle:
                head = handle.read(_WRAPPER_MAX_BYTES)
        except OSError:
            return current
        if not head.startswith(b"#!"):
            return current
        target = None
        for line in head.decode("utf-8", "replace").splitlines():
            match = _EXEC_RE.match(line)
            if match:
                target = next(g for g in match.groups() if g)
                break
        if target is None or not os.path.isabs(target) or not os.path.isfile(target):
            return current
        resolved = os.path.realpath(target)
        if resolved == current:
            return current
        current = resolved
    return current


# -- discovery ------------------------------------------------------------------------------


def _search_roots(ctx: ProbeContext) -> tuple[str, ...]:
    roots = ctx.options.get("cuda_search_roots")
    if roots is None:
        return DEFAULT_SEARCH_ROOTS
    return tuple(str(r) for r in roots)


def _version_key(name: str) -> tuple[int, ...]:
    """``cuda-12.8`` -> (12, 8); names without a version sort last."""
    numbers = re.findall(r"\d+", name.rpartition("cuda-")[2])
    return tuple(int(n) for n in numbers) if numbers else (-1,)


def _standard_toolkit_dirs(roots: tuple[str, ...]) -> list[str]:
    """``<root>/cuda`` then ``<root>/cuda-*`` (highest version first), for each root."""
    dirs: list[str] = []
    for root in roots:
        dirs.append(os.path.join(root, "cuda"))
        versioned = [d for d in glob.glob(os.path.join(root, "cuda-*")) if os.path.isdir(d)]
        dirs.extend(
            sorted(versioned, key=lambda d: _version_key(os.path.basename(d)), reverse=True)
        )
    return dirs


def _executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _discover(ctx: ProbeContext, roots: tuple[str, ...]) -> tuple[str | None, str | None]:
    on_path = ctx.which("nvcc")
    if on_path:
        return on_path, "PATH"
    for var in _DISCOVERY_VARS:
        value = ctx.env.get(var)
        if value:
            candidate = os.path.join(value, "bin", "nvcc")
            if _executable(candidate):
                return candidate, var
    for directory in _standard_toolkit_dirs(roots):
        candidate = os.path.join(directory, "bin", "nvcc")
        if _executable(candidate):
            return candidate, "standard"
    return None, None


def _find_cuda_h(toolkit_root: str, nvcc_parent: str) -> str | None:
    """``include/cuda.h`` of the toolkit (or of the wrapper's prefix, e.g. /usr/include)."""
    candidates = [os.path.join(toolkit_root, "include", "cuda.h")]
    candidates += sorted(glob.glob(os.path.join(toolkit_root, "targets", "*", "include", "cuda.h")))
    candidates.append(os.path.join(nvcc_parent, "include", "cuda.h"))
    for candidate in candidates:
        if os.path.isfile(candidate):
            return candidate
    return None


def _has_cuda_h(directory: str) -> bool:
    return os.path.isfile(os.path.join(directory, "include", "cuda.h")) or bool(
        glob.glob(os.path.join(directory, "targets", "*", "include", "cuda.h"))
    )


# -- other toolkits, environment, standard dirs ----------------------------------------------


def _toolkit_version_from_files(root: str) -> str | None:
    """The nvcc version from ``version.json`` (CUDA 11.1+) or ``version.txt`` (older)."""
    try:
        with open(os.path.join(root, "version.json"), encoding="utf-8") as handle:
            data = json.load(handle)
        for key in ("cuda_nvcc", "cuda"):
            entry = data.get(key) if isinstance(data, dict) else None
            if isinstance(entry, dict) and isinstance(entry.get("version"), str):
                return str(entry["version"])
    except (OSError, ValueError):
        pass
    try:
        with open(os.path.join(root, "version.txt"), encoding="utf-8") as handle:
            match = re.search(r"CUDA Version\s+(\d+(?:\.\d+)+)", handle.read(200))
        if match:
            return match.group(1)
    except OSError:
        pass
    return None


def _toolkits(
    ctx: ProbeContext, roots: tuple[str, ...], chosen_root: str | None, nvcc: dict[str, Any]
) -> list[dict[str, Any]]:
    """Every toolkit under the search roots (realpath, deduplicated), highest version first."""
    seen: dict[str, dict[str, Any]] = {}
    for directory in _standard_toolkit_dirs(roots):
        nvcc_path = os.path.join(directory, "bin", "nvcc")
        if not _executable(nvcc_path):
            continue
        root = os.path.realpath(directory)
        if root in seen:
            continue
        if root == chosen_root:
            version = nvcc.get("version")
        else:
            version = _toolkit_version_from_files(root)
            if version is None:
                result = ctx.run([nvcc_path, "--version"], timeout=NVCC_TIMEOUT_S)
                version = parse_nvcc_version(result.output)[0] if result.ok else None
        release = ".".join(version.split(".")[:2]) if version else None
        seen[root] = {
            "root": root,
            "version": version,
            "release": release,
            "nvcc": os.path.join(root, "bin", "nvcc"),
            "cuda_h": _has_cuda_h(root),
        }
    if chosen_root is not None and chosen_root not in seen:
        seen[chosen_root] = {
            "root": chosen_root,
            "version": nvcc.get("version"),
            "release": nvcc.get("release"),
            "nvcc": nvcc.get("real_path"),
            "cuda_h": _has_cuda_h(chosen_root),
        }
    return sorted(
        seen.values(),
        key=lambda t: tuple(int(n) for n in re.findall(r"\d+", t["version"] or "")) or (-1,),
        reverse=True,
    )


def _cuda_env(ctx: ProbeContext) -> dict[str, Any]:
    """The CUDA location variables that are set, and what each points at."""
    out: dict[str, Any] = {}
    for var in CUDA_ENV_VARS:
        value = ctx.env.get(var)
        if not value:
            continue
        out[var] = {
            "value": value,
            "realpath": os.path.realpath(value),
            "exists": os.path.isdir(value),
            "cuda_h": _has_cuda_h(value),
            "nvcc": _executable(os.path.join(value, "bin", "nvcc")),
        }
    return out


def _standard_dirs(roots: tuple[str, ...]) -> list[dict[str, Any]]:
    """``<root>/cuda`` directories that exist: where a build looks with no variable set."""
    out = []
    for root in roots:
        path = os.path.join(root, "cuda")
        if os.path.isdir(path):
            out.append(
                {"path": path, "realpath": os.path.realpath(path), "cuda_h": _has_cuda_h(path)}
            )
    return out


# -- libraries ------------------------------------------------------------------------------


def _lib_pattern(lib: str, soversion: str | None = None) -> re.Pattern[str]:
    """``libcudart.so``, ``libcudart.so.12``, ...; with ``soversion``, only that major's names."""
    if soversion is not None:
        return re.compile(rf"^{re.escape(lib)}\.so\.{re.escape(soversion)}(?:\.\d+)*$")
    return re.compile(rf"^{re.escape(lib)}\.so(?:\.\d+)*$")


def _soversion(lib: str, path: str | None) -> str | None:
    """The major soname version of a library file (``libcudart.so.12.8.90`` -> ``12``)."""
    if path is None:
        return None
    match = re.match(rf"^{re.escape(lib)}\.so\.(\d+)", os.path.basename(path))
    return match.group(1) if match else None


def _best(names: list[str]) -> str | None:
    """Prefer a versioned soname (what the loader asks for), the shortest one first."""
    if not names:
        return None
    return min(names, key=lambda n: (n.endswith(".so"), n.count("."), n))


def _in_dir(directory: str, lib: str, soversion: str | None = None) -> str | None:
    try:
        names = os.listdir(directory)
    except OSError:
        return None
    pattern = _lib_pattern(lib, soversion)
    best = _best([n for n in names if pattern.match(n)])
    return os.path.join(directory, best) if best else None


def _toolkit_lib_dirs(toolkit_root: str | None) -> list[str]:
    if toolkit_root is None:
        return []
    dirs = [os.path.join(toolkit_root, "lib64"), os.path.join(toolkit_root, "lib")]
    dirs += sorted(glob.glob(os.path.join(toolkit_root, "targets", "*", "lib")))
    out: list[str] = []
    real_seen: set[str] = set()
    for directory in dirs:
        real = os.path.realpath(directory)
        if os.path.isdir(directory) and real not in real_seen:
            real_seen.add(real)
            out.append(directory)
    return out


def _run_ldconfig(ctx: ProbeContext) -> tuple[dict[str, list[str]] | None, dict[str, Any]]:
    candidates: list[str] = ["ldconfig"]
    fallbacks = ctx.options.get("ldconfig_fallbacks")
    candidates += list(DEFAULT_LDCONFIG_FALLBACKS if fallbacks is None else fallbacks)
    for candidate in candidates:
        if ctx.which(candidate) is None:
            continue
        result = ctx.run([candidate, "-p"], timeout=LDCONFIG_TIMEOUT_S)
        info = {"path": result.path, "ran": result.ok, "error": command_error(result)}
        return (parse_ldconfig(result.stdout) if result.ok else None), info
    return None, {"path": None, "ran": False, "error": "ldconfig not found"}


def _libraries(
    ctx: ProbeContext, toolkit_root: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Where each CUDA library resolves: LD_LIBRARY_PATH, the ldconfig cache, the toolkit."""
    cache, ldconfig = _run_ldconfig(ctx)
    ld_dirs = [d for d in ctx.env.get("LD_LIBRARY_PATH", "").split(":") if d]
    toolkit_dirs = _toolkit_lib_dirs(toolkit_root)
    out: dict[str, Any] = {}
    for lib in LIBRARIES:
        in_toolkit = next((p for p in (_in_dir(d, lib) for d in toolkit_dirs) if p), None)
        # A binary built with this toolkit asks for its soname (libcudart.so.12): the same
        # library of another CUDA major (libcudart.so.13 of another toolkit) does not count.
        soversion = _soversion(lib, in_toolkit)
        in_ld = next((p for p in (_in_dir(d, lib, soversion) for d in ld_dirs) if p), None)
        in_cache = None
        if cache is not None:
            pattern = _lib_pattern(lib, soversion)
            best = _best([name for name in cache if pattern.match(name)])
            in_cache = cache[best][0] if best else None
        if in_ld:
            resolved, where = in_ld, "LD_LIBRARY_PATH"
        elif in_cache:
            resolved, where = in_cache, "ldconfig"
        elif in_toolkit:
            resolved, where = in_toolkit, "toolkit"
        else:
            resolved, where = None, None
        out[lib] = {
            "resolved": resolved,
            "where": where,
            "in_toolkit": in_toolkit,
            "soversion": soversion,
        }
    return out, ldconfig
