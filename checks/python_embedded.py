"""python.embedded: moshi-server's embedded Python is the target environment's interpreter.

What it checks
    The libpython that ``ldd`` resolves for the moshi-server binary, against the target
    interpreter's own (``LIBDIR`` and ``INSTSONAME``): a different Python version (another
    soname) is PY005; the same version from another installation (another path) is PY005 as a
    warning. Also that the target environment has ``huggingface_hub``, the first package the
    embedded ``tts.py`` imports. A libpython that ``ldd`` cannot resolve at all is BIN005
    (``binary.libraries``), not judged here.

Why it matters
    The binary embeds the libpython of the interpreter pyo3 found at ``cargo install`` time
    (``PYO3_PYTHON``, an active virtualenv, ``python``, then ``python3``). Built or run with the
    wrong one, the embedded interpreter imports from another environment and start-up fails with
    ``ModuleNotFoundError: No module named 'huggingface_hub'`` (or moshi, julius, torch) in
    ``tts.py``. A cached build keeps the old libpython.

How to fix
    Activate the target venv, export ``LD_LIBRARY_PATH`` to its interpreter's ``LIBDIR``, and
    reinstall with ``cargo install --force --features cuda moshi-server@<version>``; run the
    server with the same venv active (the commands are computed from the target interpreter).
    For a missing huggingface_hub, install moshi-server's requirements into the venv
    (``uv sync --locked`` in its Python project directory).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from kyudoctor import policy
from kyudoctor.model import Check, Facts, Finding, Outcome, Severity

from ._python import describe, sync_command, unusable
from ._util import probe_facts, quote

HF_HUB = "huggingface-hub"
_SONAME = re.compile(r"^libpython(\d+\.\d+)")


def check(facts: Facts) -> Outcome:
    """PY005 when moshi-server would embed another Python, or the venv lacks huggingface_hub."""
    python = probe_facts(facts, "python")
    reason = unusable(python)
    if reason is not None or python is None:
        return Outcome.skip(reason or "the target Python was not examined")
    findings: list[Finding] = []
    said: list[str] = []
    dists: Mapping[str, Any] = python.get("distributions") or {}
    if HF_HUB not in dists:
        findings.append(_hf_hub_missing(python))
        said.append(f"huggingface_hub missing in {python.get('prefix')}")

    binary = probe_facts(facts, "binary")
    linked, not_compared = _linked(binary)
    if linked is not None:
        finding = _compare(python, binary or {}, *linked)
        if finding is not None:
            findings.append(finding)
            said.append(f"moshi-server embeds {linked[1]}, not the target's libpython")
    where = describe(python)
    if findings:
        return Outcome.found("; ".join(said + ([not_compared] if not_compared else [])), *findings)
    if linked is None:
        return Outcome.skip(f"{where} has huggingface_hub; {not_compared}")
    return Outcome.ok(f"moshi-server embeds {linked[1]}, the libpython of {where}")


def _linked(binary: Mapping[str, Any] | None) -> tuple[tuple[str, str] | None, str | None]:
    """(soname, resolved path) of the libpython moshi-server links, or why it is not known."""
    if binary is None:
        return None, "moshi-server's libpython not compared (the binary probe failed)"
    candidates = [c for c in (binary.get("candidates") or []) if isinstance(c, Mapping)]
    if not any(c.get("kind") == "elf" for c in candidates):
        return None, "no moshi-server binary to compare with (BIN001)"
    ldd: Mapping[str, Any] = binary.get("ldd") or {}
    if not ldd.get("ran"):
        why = ldd.get("error") or "not run"
        return None, f"moshi-server's libpython not compared (ldd: {why})"
    if any(str(s).startswith("libpython") for s in ldd.get("not_found") or []):
        return None, "moshi-server's libpython is not found by the loader (BIN005)"
    resolved: Mapping[str, Any] = ldd.get("resolved") or {}
    for soname, path in resolved.items():
        if str(soname).startswith("libpython") and path:
            return (str(soname), str(path)), None
    return None, "moshi-server links no shared libpython"


def _realpath(binary: Mapping[str, Any], soname: str) -> str | None:
    """The file behind the path ldd resolved (the binary probe follows symlinks)."""
    real = ((binary.get("ldd") or {}).get("realpaths") or {}).get(soname)
    return os.path.normpath(str(real)) if real else None


def _compare(
    python: Mapping[str, Any], binary: Mapping[str, Any], soname: str, path: str
) -> Finding | None:
    """PY005 when the linked libpython is not the target interpreter's."""
    interpreter = str(python.get("interpreter"))
    version = str(python.get("version"))
    info = python.get("version_info") or []
    target_short = f"{info[0]}.{info[1]}" if len(info) >= 2 else None
    target_soname = python.get("instsoname")
    known_paths = {os.path.normpath(str(p)) for p in python.get("libpython_paths") or []}
    libdir = python.get("libdir")
    if libdir and target_soname:
        known_paths.add(os.path.normpath(os.path.join(str(libdir), str(target_soname))))
    match = _SONAME.match(soname)
    linked_short = match.group(1) if match else None
    evidence = {
        "linked": {soname: path},
        "target_libpython": sorted(known_paths),
        "target_python": version,
        "binary": (binary.get("ldd") or {}).get("binary"),
    }
    if linked_short is not None and target_short is not None and linked_short != target_short:
        message = (
            f"moshi-server embeds Python {linked_short} ({path}), but the target Python is "
            f"{version} ({interpreter}): it imports from another environment"
        )
        severity = None
    elif not {os.path.normpath(path), _realpath(binary, soname)} & known_paths:
        message = (
            f"moshi-server embeds {path}, another Python {linked_short or ''} installation than "
            f"the target's ({', '.join(sorted(known_paths)) or libdir or 'unknown'}): the "
            "embedded interpreter may look for packages outside the venv"
        )
        severity = Severity.WARNING
    else:
        return None
    return Finding(
        "PY005",
        message,
        evidence=evidence,
        params=_params(python, binary),
        severity=severity,
        commands=_rebuild(python, binary),
    )


def _hf_hub_missing(python: Mapping[str, Any]) -> Finding:
    prefix = python.get("prefix")
    sync = sync_command(python)
    commands = (*_activate(python), sync) if sync else ()
    return Finding(
        "PY005",
        f"huggingface_hub is not installed in {prefix}: moshi-server's embedded tts.py imports "
        "it first and fails with \"No module named 'huggingface_hub'\"; point --python at the "
        "venv moshi-server runs with, or install moshi-server's requirements into this one "
        "(`uv sync --locked` in its Python project directory)",
        evidence={"prefix": prefix, "missing": "huggingface_hub"},
        params=_params(python, None),
        commands=commands,
    )


def _params(python: Mapping[str, Any], binary: Mapping[str, Any] | None) -> dict[str, Any]:
    params: dict[str, Any] = {
        "python": python.get("interpreter"),
        "moshi_server_version": _server_version(binary),
    }
    if python.get("libdir"):
        params["libdir"] = python.get("libdir")
    return params


def _server_version(binary: Mapping[str, Any] | None) -> str:
    install = (binary or {}).get("install") or {}
    pol = policy.load()
    version = install.get("version")
    if isinstance(version, str) and not pol.moshi_server_outdated(version):
        return version
    return pol.moshi_server_recommended


def _activate(python: Mapping[str, Any]) -> tuple[str, ...]:
    prefix = python.get("prefix")
    if python.get("is_venv") and prefix:
        return (f"source {quote(os.path.join(str(prefix), 'bin', 'activate'))}",)
    return ()


def _rebuild(python: Mapping[str, Any], binary: Mapping[str, Any]) -> tuple[str, ...]:
    libdir = python.get("libdir")
    export = (f"export LD_LIBRARY_PATH={quote(str(libdir))}:$LD_LIBRARY_PATH",) if libdir else ()
    version = _server_version(binary)
    return (
        *_activate(python),
        *export,
        f"cargo install --force --features cuda moshi-server@{version}",
    )


CHECK = Check(
    id="python.embedded",
    group="host",
    title="moshi-server embeds the target Python",
    codes=("PY005",),
    probes=("python",),
    run=check,
    uses=("binary",),
)
