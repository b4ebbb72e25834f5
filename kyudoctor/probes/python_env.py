"""Probe ``python``: the target interpreter moshi-server's embedded Python will use.

The interpreter named by ``--python`` runs kyudoctor's introspection script
(``kyudoctor/data/introspect.py``, stdlib only) once. The script lists the distributions on its
``sys.path`` from their metadata and reads ``torch/version.py`` with ``ast``: torch is never
imported, so this takes a fraction of a second even in a 10 GB environment. A Python too old
for the script still answers a minimal query, so the version check can say it is too old; only
something that is not a Python at all is an unusable ``--python``.

The requirements come from ``--pyproject`` (moshi-server's own pyproject.toml, and the
``uv.lock`` beside it when there is one), else from kyudoctor's policy data.
"""

from __future__ import annotations

import json
import os
import re
import stat
from importlib import resources
from pathlib import Path
from typing import Any

from kyudoctor._toml import tomllib
from kyudoctor.errors import UnusableInput
from kyudoctor.probes import CommandResult, ProbeContext

MARKER = "KYUDOCTOR-INTROSPECT:"
"""The prefix of the introspection script's one JSON line (see ``data/introspect.py``)."""

MINIMAL_QUERY = (
    "import sys, platform; "
    'print("%d.%d.%d" % tuple(sys.version_info[:3])); '
    "print(sys.executable); "
    "print(sys.prefix); "
    'print(getattr(sys, "base_prefix", getattr(sys, "real_prefix", sys.prefix))); '
    "print(platform.python_implementation().lower())"
)
"""Python 2 and 3 syntax alike: what an interpreter too old for the script can still tell."""

MINIMAL_TIMEOUT_S = 10.0
OUTPUT_LIMIT = 32 << 20  # a large environment describes thousands of distributions


def script() -> str:
    """The text of the introspection script, shipped as package data."""
    return resources.files("kyudoctor.data").joinpath("introspect.py").read_text("utf-8")


def probe(ctx: ProbeContext) -> dict[str, Any]:
    """Facts about the target interpreter and the requirements it must satisfy."""
    given = str(ctx.options["python"])
    interpreter = _resolve_interpreter(ctx, given)
    needs = requirements(ctx)  # first: an unusable --pyproject fails before any command runs
    result = ctx.run([interpreter, "-c", script()], max_bytes=OUTPUT_LIMIT)
    described = _parse_marked(result)
    if described is not None:
        facts: dict[str, Any] = {"interpreter": interpreter, "introspected": True, "error": None}
        facts.update(described)
    else:
        facts = _minimal(ctx, given, interpreter, result)
    facts["requirements"] = needs
    return facts


# --- the interpreter ------------------------------------------------------------------------


def _resolve_interpreter(ctx: ProbeContext, given: str) -> str:
    """The executable ``--python`` names: a path, a venv directory, or a name on PATH."""
    if os.sep not in given:
        found = ctx.which(given)
        if found is None:
            raise UnusableInput(f"--python {given}: not found on PATH")
        return found
    path = Path(given).expanduser()
    if not path.is_absolute():
        path = ctx.cwd / path
    if path.is_dir():
        for name in ("python", "python3"):
            candidate = path / "bin" / name
            if candidate.is_file():
                path = candidate
                break
        else:
            raise UnusableInput(f"--python {given}: a directory without bin/python")
    if not path.exists():
        raise UnusableInput(f"--python {given}: no such file")
    if not os.access(path, os.X_OK):
        mode = stat.filemode(path.stat().st_mode)
        raise UnusableInput(f"--python {given}: not executable ({mode})")
    return str(path)


def _parse_marked(result: CommandResult) -> dict[str, Any] | None:
    """The introspection JSON, or None when the interpreter did not produce it."""
    if not result.ok:
        return None
    for line in reversed(result.stdout.splitlines()):
        if line.startswith(MARKER):
            try:
                value = json.loads(line[len(MARKER) :])
            except ValueError:
                return None
            return value if isinstance(value, dict) else None
    return None


def _minimal(
    ctx: ProbeContext, given: str, interpreter: str, first: CommandResult
) -> dict[str, Any]:
    """Facts from the minimal query, or UnusableInput when ``--python`` is not a Python."""
    reason = _why_failed(first)
    if first.error is not None:  # could not even start: exec format error, permission...
        raise UnusableInput(f"--python {given}: not a Python interpreter ({reason})")
    second = ctx.run([interpreter, "-c", MINIMAL_QUERY], timeout=MINIMAL_TIMEOUT_S)
    lines = second.stdout.splitlines()
    if not second.ok or len(lines) < 5 or not re.fullmatch(r"\d+\.\d+\.\d+", lines[0].strip()):
        raise UnusableInput(f"--python {given}: not a Python interpreter ({reason})")
    version = lines[0].strip()
    prefix, base_prefix = lines[2].strip(), lines[3].strip()
    return {
        "interpreter": interpreter,
        "introspected": False,
        "error": f"Python {version} could not run kyudoctor's introspection script: {reason}",
        "executable": lines[1].strip(),
        "version": version,
        "version_info": [int(part) for part in version.split(".")],
        "version_full": None,
        "implementation": lines[4].strip() or None,
        "prefix": prefix,
        "base_prefix": base_prefix,
        "is_venv": prefix != base_prefix,
        "libdir": None,
        "ldlibrary": None,
        "instsoname": None,
        "enable_shared": False,
        "libpython_paths": [],
        "markers": None,
        "sys_path": [],
        "distributions": None,
        "torch": None,
    }


def _why_failed(result: CommandResult) -> str:
    """One line saying why a command did not give the introspection JSON."""
    if result.error is not None:
        return result.error
    lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
    if result.returncode != 0:
        # A Python traceback ends with the exception; other programs say it first.
        text = lines[-1] if lines and _looks_like_traceback(lines) else (lines[0] if lines else "")
        reason = f"exit status {result.returncode}"
        return f"{reason}: {_clip(_without_script(text))}" if text else reason
    out = result.stdout.strip().splitlines()
    return f"unexpected output: {_clip(_without_script(out[0]))}" if out else "no output"


def _without_script(text: str) -> str:
    """A message with the script text a non-Python echoed back (``ls: cannot access ...``) cut."""
    head = script().lstrip('"').split("\n", 1)[0][:30]
    start = text.find(head)
    if start < 0:
        return text
    cut = start
    while cut > 0 and text[cut - 1] in "'\"$":
        cut -= 1
    tail_at = max(text.rfind("': "), text.rfind('": '))
    tail = text[tail_at + 1 :] if tail_at > start else ""
    return f"{text[:cut]}<kyudoctor's script>{tail}"


def _looks_like_traceback(lines: list[str]) -> bool:
    return lines[0].startswith(("Traceback", "File ")) or bool(
        re.match(r"\w+(Error|Exception)\b", lines[-1])
    )


def _clip(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- the requirements -----------------------------------------------------------------------


def requirements(ctx: ProbeContext) -> dict[str, Any]:
    """What the environment must satisfy: ``--pyproject``'s, else kyudoctor's known ones."""
    from kyudoctor import policy

    pol = policy.load()
    known = pol.known_requirements()
    optional_names = {_normalize(name) for name in known.optional}
    given = ctx.options.get("pyproject")
    if not given:
        return {
            "source": (
                f"kyudoctor's known requirements of moshi-server {pol.moshi_server_recommended}"
            ),
            "origin": known.source,
            "path": None,
            "requires_python": known.requires_python,
            "dependencies": list(known.dependencies),
            "optional": sorted(optional_names),
            "lock": dict(known.lock),
            "lock_path": None,
            "lock_error": None,
            "torch_flavour": known.torch_flavour,
        }
    path = Path(str(given)).expanduser()
    if not path.is_absolute():
        path = ctx.cwd / path
    project = _read_pyproject(str(given), path)
    requires_python = project.get("requires-python")
    dependencies = project.get("dependencies") or []
    if not isinstance(dependencies, list) or not all(isinstance(d, str) for d in dependencies):
        raise UnusableInput(f"--pyproject {given}: [project] dependencies is not a list of strings")
    names = {_requirement_name(d) for d in dependencies}
    lock, lock_path, lock_error = _read_uv_lock(path.parent / "uv.lock")
    return {
        "source": str(path),
        "origin": str(path),
        "path": str(path),
        "requires_python": str(requires_python) if requires_python is not None else None,
        "dependencies": list(dependencies),
        "optional": sorted(optional_names & names),
        "lock": lock,
        "lock_path": lock_path,
        "lock_error": lock_error,
        "torch_flavour": None,
    }


MAX_PYPROJECT_BYTES = 4 * 2**20
MAX_LOCK_BYTES = 64 * 2**20
"""Inputs larger than these are refused unread (a pyproject is kilobytes, a uv.lock megabytes)."""


def _read_pyproject(given: str, path: Path) -> dict[str, Any]:
    """The ``[project]`` table of ``path``; UnusableInput when it cannot be used."""
    try:
        size = path.stat().st_size
        if size > MAX_PYPROJECT_BYTES:
            raise UnusableInput(
                f"--pyproject {given}: {size / 1e6:.0f} MB is far too large for a pyproject.toml"
            )
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise UnusableInput(f"--pyproject {given}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UnusableInput(f"--pyproject {given}: cannot read it ({exc})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UnusableInput(f"--pyproject {given}: {_toml_error(exc)}") from None
    project = data.get("project")
    if not isinstance(project, dict):
        raise UnusableInput(f"--pyproject {given}: no [project] table (not a pyproject.toml)")
    return project


def _toml_error(exc: tomllib.TOMLDecodeError) -> str:
    """``TOML parse error at line L, column C: <what>`` from tomllib's exception."""
    message = getattr(exc, "msg", None)
    line = getattr(exc, "lineno", None)
    column = getattr(exc, "colno", None)
    if not (isinstance(message, str) and isinstance(line, int) and isinstance(column, int)):
        text = str(exc)
        match = re.fullmatch(r"(?s)(.*?) \(at line (\d+), column (\d+)\)", text)
        if match is None:
            end = re.fullmatch(r"(?s)(.*?) \(at end of document\)", text)
            return f"TOML parse error at end of document: {end.group(1) if end else text}"
        message, line, column = match.group(1), int(match.group(2)), int(match.group(3))
    return f"TOML parse error at line {line}, column {column}: {message}"


def _read_uv_lock(path: Path) -> tuple[dict[str, str], str | None, str | None]:
    """Pinned versions from a ``uv.lock`` (name -> version), its path, and why it was not read.

    A name locked at two versions (uv forks per platform) is left out: it is ambiguous.
    """
    if not path.is_file():
        return {}, None, None
    if path.stat().st_size > MAX_LOCK_BYTES:
        return {}, str(path), f"larger than {MAX_LOCK_BYTES // 2**20} MiB: not read"
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return {}, str(path), f"{type(exc).__name__}: {exc}"
    lock: dict[str, str] = {}
    ambiguous: set[str] = set()
    for package in data.get("package") or []:
        if not isinstance(package, dict):
            continue
        name, version = package.get("name"), package.get("version")
        if not (isinstance(name, str) and isinstance(version, str)):
            continue
        key = _normalize(name)
        if key in lock and lock[key] != version:
            ambiguous.add(key)
        lock.setdefault(key, version)
    for key in ambiguous:
        del lock[key]
    return lock, str(path), None


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return _normalize(match.group(1)) if match else ""
