"""binary.libraries: can the loader find the libraries moshi-server is linked against?

What it checks
    ``ldd`` of the moshi-server ELF that would run (the first on PATH, else cargo's): any
    ``libpython3.X.so...`` reported "not found" (BIN005). When the target Python is known
    (``--python``, else the active venv), the missing library's version is compared with it.
    Unresolved CUDA libraries are left to ``cuda.libraries`` (CUDA004); any other library
    reported "not found" (OpenSSL's ``libssl.so.3`` of a binary built elsewhere, ...) is BIN008.

Why it matters
    moshi-server embeds the libpython of the interpreter pyo3 found at ``cargo install`` time.
    When the loader cannot find it, the server does not start: "error while loading shared
    libraries: libpython3.12.so.1.0: cannot open shared object file". Interpreters from uv,
    pyenv or conda keep libpython outside the loader's default directories.

How to fix
    Export ``LD_LIBRARY_PATH`` to the ``LIBDIR`` of the target interpreter (the command is
    computed from it) before running moshi-server. When the binary was built against another
    Python version than the target's, rebuild it with the target venv active
    (``cargo install --force --features cuda moshi-server@<version>``), or point
    ``LD_LIBRARY_PATH`` at the ``LIBDIR`` of the Python it was built with and run it in that
    Python's environment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kyudoctor import policy
from kyudoctor.model import Check, Facts, Finding, Outcome

from ._util import is_cuda_soname, probe_facts, quote

_LIBPYTHON = re.compile(r"^libpython(?P<version>\d+\.\d+)")
# The catalog's generic form, for when the target interpreter is unknown.
_LIBDIR_OF = "$({python} -c 'import sysconfig; print(sysconfig.get_config_var(\"LIBDIR\"))')"


def _soname_version(soname: str) -> str | None:
    match = _LIBPYTHON.match(soname)
    return match.group("version") if match else None


def _target_version(python: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(``"3.12"``, ``"3.12.8"``) of the target interpreter, when known."""
    info = python.get("version_info")
    full = python.get("version")
    if isinstance(info, list) and len(info) >= 2:
        return f"{info[0]}.{info[1]}", str(full or f"{info[0]}.{info[1]}")
    if isinstance(full, str) and full.count(".") >= 1:
        major, minor = full.split(".")[:2]
        return f"{major}.{minor}", full
    return None, None


def _export(libdir: str) -> str:
    """The export line; ``libdir`` is already shell-safe (quoted, or a ``$(...)`` expression)."""
    return f"export LD_LIBRARY_PATH={libdir}:$LD_LIBRARY_PATH"


def check(facts: Facts) -> Outcome:
    """BIN005 when ldd cannot resolve the libpython of the binary, BIN008 for other libraries."""
    binary = probe_facts(facts, "binary") or {}
    candidates = [c for c in (binary.get("candidates") or []) if isinstance(c, Mapping)]
    if not any(c.get("kind") == "elf" for c in candidates):
        return Outcome.skip("no moshi-server ELF binary to inspect (BIN001)")
    ldd: Mapping[str, Any] = binary.get("ldd") or {}
    target = str(ldd.get("binary") or binary.get("first_on_path") or binary.get("cargo_binary"))
    if not ldd.get("ran"):
        return Outcome.skip(f"ldd could not inspect {target}: {ldd.get('error') or 'not run'}")

    not_found = [str(s) for s in (ldd.get("not_found") or [])]
    missing = [s for s in not_found if s.startswith("libpython")]
    # CUDA libraries are cuda.libraries' (CUDA004); anything else the loader lacks is BIN008.
    others = [s for s in not_found if not s.startswith("libpython") and not is_cuda_soname(s)]
    resolved: Mapping[str, Any] = ldd.get("resolved") or {}
    findings: list[Finding] = []
    if missing:
        findings.append(_finding(target, missing[0], probe_facts(facts, "python")))
    if others:
        findings.append(_other_libraries(target, others))
    if findings:
        return Outcome.found(f"{target}: {', '.join(missing + others)} not found", *findings)
    linked = [f"{s} -> {p}" for s, p in resolved.items() if str(s).startswith("libpython")]
    summary = f"{target}: " + (", ".join(linked) if linked else "links no libpython")
    if ldd.get("error"):
        summary += f" (ldd: {ldd.get('error')})"
    cuda = [s for s in not_found if is_cuda_soname(s)]
    if cuda:
        summary += f"; CUDA libraries unresolved: {', '.join(cuda)} (cuda.libraries, CUDA004)"
    return Outcome.ok(summary)


def _other_libraries(target: str, sonames: list[str]) -> Finding:
    """BIN008: libraries other than libpython and CUDA's that the loader cannot find."""
    return Finding(
        "BIN008",
        f"ldd {target}: {', '.join(f'{s} => not found' for s in sonames)}; the loader refuses "
        "to start moshi-server without them",
        evidence={"binary": target, "not_found": sonames},
        params={"binary": target},
    )


def _finding(target: str, soname: str, python: Mapping[str, Any] | None) -> Finding:
    built_for = _soname_version(soname)
    evidence: dict[str, Any] = {"binary": target, "not_found": soname}
    seen = f"ldd {target}: {soname} => not found; moshi-server does not start without it"
    recommended = policy.load().moshi_server_recommended

    if python is None:
        libdir_of = _LIBDIR_OF.format(python="python3")
        return Finding(
            "BIN005",
            f"{seen} (the target Python is unknown: the command below asks `python3` for its "
            "LIBDIR)",
            evidence=evidence,
            commands=(_export(libdir_of),),
        )

    executable = str(python.get("executable") or python.get("interpreter") or "python3")
    libdir = python.get("libdir")
    short, full = _target_version(python)
    evidence.update(python=executable, python_version=full, libdir=libdir)
    params: dict[str, Any] = {"python": executable, "binary": target}
    if libdir:
        params["libdir"] = libdir

    if built_for is not None and short is not None and built_for != short:
        prefix = python.get("prefix")
        # pyo3 builds against the active venv's interpreter; outside a venv, name it.
        if python.get("is_venv") and prefix:
            select = f"source {quote(str(prefix))}/bin/activate"
        else:
            select = f"export PYO3_PYTHON={quote(executable)}"
        rebuild = (
            select,
            *((_export(quote(str(libdir))),) if libdir else ()),
            f"cargo install --force --features cuda moshi-server@{recommended}",
        )
        return Finding(
            "BIN005",
            f"{seen}. It was built against Python {built_for}, but the target Python "
            f"({executable}) is {full}: rebuild it with the target environment active; or, to "
            f"keep this build, point LD_LIBRARY_PATH at the LIBDIR of a Python {built_for} and "
            "run the server in that Python's environment",
            evidence=evidence,
            params=params,
            commands=rebuild,
        )

    if not libdir:
        return Finding(
            "BIN005",
            f"{seen}; the target Python ({executable}) reports no LIBDIR to add to LD_LIBRARY_PATH",
            evidence=evidence,
            params=params,
            commands=(_export(_LIBDIR_OF.format(python=quote(executable))),),
        )

    note = ""
    if python.get("enable_shared") is False:
        note = (
            f"; note: {executable} was built without a shared libpython (Py_ENABLE_SHARED=0), "
            f"so {libdir} may not hold {soname}: use an interpreter that has one (uv's, or "
            "pyenv with --enable-shared) and rebuild moshi-server with it"
        )
    return Finding(
        "BIN005",
        f"{seen}; the target Python {f'{full} ' if full else ''}({executable}) keeps it in "
        f"{libdir}{note}",
        evidence=evidence,
        params=params,
        commands=(_export(quote(str(libdir))),),
    )


CHECK = Check(
    id="binary.libraries",
    group="host",
    title="moshi-server finds its libpython",
    codes=("BIN005", "BIN008"),
    probes=("binary",),
    run=check,
    uses=("python",),
)
