"""Probe ``toolchain``: the C/C++ and Rust tools a moshi-server build needs.

Facts (see docs/architecture.md, "toolchain"): g++ and c++ with their versions, whether g++
finds ``libstdc++.so``, cmake, pkg-config and OpenSSL through it, git, cargo and rustc.

Beyond the contract:

- every compiler record (``gxx``, ``cxx``, ``cxx_env``, ``ccbin``) has ``{path, version, major,
  banner, compiler ("gcc" | "clang" | "other"), error}``;
- ``cxx_env``: the compiler named by ``CXX`` (what cargo's cc crate and cmake use when it is
  set), ``None`` when ``CXX`` is unset; ``value`` holds the variable as written;
- ``ccbin``: the compiler named by ``NVCC_CCBIN`` (nvcc's host compiler; a directory is searched
  for g++, gcc, c++), ``None`` when unset;
- ``gxx_versions``: versioned ``g++-N`` executables on PATH (``[{name, path, major}]``), so a
  fix can select one that is already installed;
- ``cargo``/``rustc`` also carry ``on_path`` and ``cargo_home``: rustup installs into
  ``$CARGO_HOME/bin`` (``~/.cargo/bin``) and a fresh shell may not have it on PATH yet.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Callable
from typing import Any

from kyudoctor.probes import ProbeContext
from kyudoctor.probes.cuda import command_error

TOOL_TIMEOUT_S = 5.0
"""Version queries answer at once; a hang is recorded as "timed out" and the probe goes on."""

_WRAPPERS = frozenset({"ccache", "sccache", "distcc", "icecc"})
_PAREN_VERSION_RE = re.compile(r"\)\s+(\d+(?:\.\d+)+)")
_CLANG_VERSION_RE = re.compile(r"clang version\s+(\d+(?:\.\d+)+)")
_ANY_VERSION_RE = re.compile(r"(\d+\.\d+(?:\.\d+)*)")
_VERSIONED_GXX_RE = re.compile(r"^g\+\+-(\d+)$")


def probe(ctx: ProbeContext) -> dict[str, Any]:
    """Version every build tool; absence is a fact (path None)."""
    gxx = _compiler(ctx, ctx.which("g++"))
    return {
        "gxx": gxx,
        "cxx": _compiler(ctx, ctx.which("c++")),
        "cxx_env": _named_compiler(ctx, ctx.env.get("CXX")),
        "ccbin": _named_compiler(ctx, ctx.env.get("NVCC_CCBIN"), directory_ok=True),
        "gxx_versions": _versioned_gxx(ctx),
        "libstdcxx": _libstdcxx(ctx, gxx["path"]),
        "cmake": _cmake(ctx),
        "pkg_config": _simple(ctx, "pkg-config", parse_plain_version),
        "openssl": _openssl(ctx),
        "git": _simple(ctx, "git", parse_plain_version),
        "cargo": _rust_tool(ctx, "cargo"),
        "rustc": _rust_tool(ctx, "rustc"),
    }


# -- parsers (pure) -------------------------------------------------------------------------


def parse_compiler_banner(text: str) -> dict[str, Any]:
    """``{version, major, banner, compiler}`` from ``g++ --version`` / ``clang++ --version``.

    "g++ (Debian 12.2.0-14+deb12u1) 12.2.0" -> 12.2.0 (gcc); "g++ (GCC) 15.1.1 20250425" ->
    15.1.1; "Ubuntu clang version 18.1.3 (1ubuntu1)" -> 18.1.3 (clang).
    """
    lines = [ln for ln in text.splitlines() if ln.strip()]
    banner = lines[0].strip() if lines else None
    if banner is None:
        return {"version": None, "major": None, "banner": None, "compiler": None}
    clang = _CLANG_VERSION_RE.search(text)
    if clang:
        version: str | None = clang.group(1)
        kind = "clang"
    else:
        match = _PAREN_VERSION_RE.search(banner) or _ANY_VERSION_RE.search(banner)
        version = match.group(1) if match else None
        gnu = "Free Software Foundation" in text or re.match(r"^(g\+\+|gcc|c\+\+|cc)\b", banner)
        kind = "gcc" if gnu else "other"
    return {"version": version, "major": _major(version), "banner": banner, "compiler": kind}


def parse_plain_version(text: str) -> str | None:
    """The first dotted version on the first line: "git version 2.39.5" -> "2.39.5"."""
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    match = _ANY_VERSION_RE.search(first)
    return match.group(1) if match else None


def _major(version: str | None) -> int | None:
    if not version:
        return None
    head = version.split(".", 1)[0]
    return int(head) if head.isdigit() else None


# -- tools ----------------------------------------------------------------------------------


def _compiler(ctx: ProbeContext, path: str | None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "path": path,
        "version": None,
        "major": None,
        "banner": None,
        "compiler": None,
        "error": None if path else "not found",
    }
    if path is None:
        return record
    result = ctx.run([path, "--version"], timeout=TOOL_TIMEOUT_S)
    record["error"] = command_error(result)
    if result.ok:
        record.update(parse_compiler_banner(result.stdout or result.output))
    return record


def _named_compiler(
    ctx: ProbeContext, value: str | None, *, directory_ok: bool = False
) -> dict[str, Any] | None:
    """The compiler a variable (CXX, NVCC_CCBIN) names, versioned; None when it is unset."""
    if not value or not value.strip():
        return None
    try:
        words = shlex.split(value)
    except ValueError:
        words = value.split()
    while len(words) > 1 and os.path.basename(words[0]) in _WRAPPERS:
        words = words[1:]
    name = words[0] if words else value
    path: str | None = None
    if directory_ok and os.path.isdir(name):
        for candidate in ("g++", "gcc", "c++"):
            path = ctx.runner.which(os.path.join(name, candidate))
            if path:
                break
    else:
        path = ctx.which(name)
    record = _compiler(ctx, path)
    record["value"] = value
    return record


def _versioned_gxx(ctx: ProbeContext) -> list[dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for directory in ctx.env.get("PATH", "").split(os.pathsep):
        try:
            names = os.listdir(directory) if directory else []
        except OSError:
            continue
        for name in names:
            match = _VERSIONED_GXX_RE.match(name)
            path = os.path.join(directory, name)
            if match and name not in found and os.access(path, os.X_OK):
                found[name] = {"name": name, "path": path, "major": int(match.group(1))}
    return sorted(found.values(), key=lambda r: int(r["major"]))


def _libstdcxx(ctx: ProbeContext, gxx: str | None) -> dict[str, Any]:
    """``g++ -print-file-name=libstdc++.so``: a full path when found, the bare name when not."""
    if gxx is None:
        return {"printed": None, "exists": False, "error": "g++ not found"}
    result = ctx.run([gxx, "-print-file-name=libstdc++.so"], timeout=TOOL_TIMEOUT_S)
    printed = result.stdout.strip() if result.ok else None
    exists = bool(printed) and os.path.isabs(printed or "") and os.path.exists(printed or "")
    return {"printed": printed, "exists": exists, "error": command_error(result)}


def _cmake(ctx: ProbeContext) -> dict[str, Any]:
    record = _simple(ctx, "cmake", parse_plain_version)
    record["major"] = _major(record["version"])
    return record


def _simple(ctx: ProbeContext, name: str, parse: Callable[[str], str | None]) -> dict[str, Any]:
    path = ctx.which(name)
    record: dict[str, Any] = {"path": path, "version": None, "error": None if path else "not found"}
    if path is None:
        return record
    result = ctx.run([path, "--version"], timeout=TOOL_TIMEOUT_S)
    record["error"] = command_error(result)
    if result.ok:
        record["version"] = parse(result.stdout or result.output)
    return record


def _openssl(ctx: ProbeContext) -> dict[str, Any]:
    """OpenSSL headers as the openssl-sys build finds them first: ``pkg-config openssl``."""
    path = ctx.which("pkg-config")
    if path is None:
        return {"found": False, "version": None, "via": None, "error": "pkg-config not found"}
    exists = ctx.run([path, "--exists", "openssl"], timeout=TOOL_TIMEOUT_S)
    if not exists.ok:
        return {
            "found": False,
            "version": None,
            "via": "pkg-config",
            "error": command_error(exists),
        }
    version = ctx.run([path, "--modversion", "openssl"], timeout=TOOL_TIMEOUT_S)
    return {
        "found": True,
        "version": version.stdout.strip() or None if version.ok else None,
        "via": "pkg-config",
        "error": None,
    }


def _cargo_home(ctx: ProbeContext) -> str:
    return ctx.env.get("CARGO_HOME") or str(ctx.home / ".cargo")


def _rust_tool(ctx: ProbeContext, name: str) -> dict[str, Any]:
    """cargo / rustc on PATH, else in ``$CARGO_HOME/bin`` (rustup's place), with on_path."""
    cargo_home = _cargo_home(ctx)
    path = ctx.which(name)
    on_path = path is not None
    if path is None:
        candidate = os.path.join(cargo_home, "bin", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            path = candidate
    record: dict[str, Any] = {
        "path": path,
        "version": None,
        "on_path": on_path,
        "cargo_home": cargo_home,
        "error": None if path else "not found",
    }
    if path is None:
        return record
    # rustup's proxies may try to download a toolchain named by a rust-toolchain file in the
    # current directory; a probe must not touch the network.
    env = {**ctx.env, "RUSTUP_AUTO_INSTALL": "0"}
    result = ctx.run([path, "--version"], timeout=TOOL_TIMEOUT_S, env=env)
    record["error"] = command_error(result)
    if result.ok:
        record["version"] = parse_plain_version(result.stdout)
    return record
