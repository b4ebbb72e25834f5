"""The moshi-server binary: every copy on PATH and in cargo's bin, what each one is, cargo's
install record (version and features), and what ``ldd`` says about the ELF that would run.

The server itself is never run (it has no ``--version``, and ``worker`` would start serving):
files are classified by their first bytes, and only ``ldd`` is run, only on ELF files.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path
from typing import Any

from kyudoctor.probes import ProbeContext

NAME = "moshi-server"
ELF_MAGIC = b"\x7fELF"
LDD_TIMEOUT_S = 5.0
_HEAD_BYTES = 1 << 16

# What the Python ``moshi`` package's console script does (pip and uv write it this way).
_MOSHI_SERVER_IMPORT = re.compile(
    r"^\s*(from\s+moshi\.server\s+import|import\s+moshi\.server)", re.MULTILINE
)
# pip's launcher for interpreter paths too long for a shebang line:
#   #!/bin/sh
#   '''exec' "/very/long/venv/bin/python" "$0" "$@"
#   ' '''
_SH_EXEC_LINE = re.compile(r"""^'''exec' (?P<cmd>.+?) "\$0" "\$@"\s*$""", re.MULTILINE)
_LDD_MUSL_MISSING = re.compile(r"^(?P<soname>\S+): Error loading shared library (?P=soname)\b")
_CRATES_TOML_KEY = re.compile(r'^\s*"(?P<key>moshi-server [^"]+)"\s*=', re.MULTILINE)

MAX_RECORD_BYTES = 16 * 2**20
"""cargo's install records are kilobytes; a larger file is reported, not read."""


def probe(ctx: ProbeContext) -> dict[str, Any]:
    """Gather the binary facts (see the ``binary`` contract in docs/architecture.md)."""
    cargo_home = _cargo_home(ctx)
    cargo_bin = cargo_home / "bin"
    path_dirs = _path_dirs(ctx)
    cargo_bin_on_path = any(_same_dir(d, cargo_bin) for d in path_dirs)

    candidates: list[dict[str, Any]] = []
    seen: set[str] = set()
    for directory in path_dirs:
        path = directory / NAME
        # The same file twice (``/bin`` -> ``/usr/bin`` on merged-usr systems) is listed once.
        if os.path.isfile(path) and os.access(path, os.X_OK) and os.path.realpath(path) not in seen:
            seen.add(os.path.realpath(path))
            candidates.append(describe(path, on_path=True))
    cargo_path = cargo_bin / NAME
    cargo_binary = str(cargo_path) if os.path.isfile(cargo_path) else None
    if cargo_binary is not None and not any(_same_file(c["path"], cargo_path) for c in candidates):
        candidates.append(describe(cargo_path, on_path=False))

    first = next((c for c in candidates if c["on_path"]), None)
    install, install_error = read_install_record(cargo_home)
    return {
        "candidates": candidates,
        "first_on_path": first["path"] if first else None,
        "first_kind": first["kind"] if first else None,
        "cargo_home": str(cargo_home),
        "cargo_bin": str(cargo_bin),
        "cargo_bin_on_path": cargo_bin_on_path,
        "cargo_binary": cargo_binary,
        "install": install,
        "install_error": install_error,
        "ldd": _ldd(ctx, candidates, cargo_binary),
    }


def _cargo_home(ctx: ProbeContext) -> Path:
    value = ctx.env.get("CARGO_HOME")
    if not value:
        return ctx.home / ".cargo"
    path = Path(value.replace("~", str(ctx.home), 1) if value.startswith("~") else value)
    return path if path.is_absolute() else ctx.cwd / path


def _path_dirs(ctx: ProbeContext) -> list[Path]:
    # An empty PATH entry means the current directory, as for execvp(3).
    return [Path(p) if p else ctx.cwd for p in ctx.env.get("PATH", os.defpath).split(os.pathsep)]


def _same_dir(a: Path, b: Path) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def _same_file(a: str, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def describe(path: Path, *, on_path: bool) -> dict[str, Any]:
    """What one ``moshi-server`` file is: ``elf``, ``python-script``, ``script`` or ``other``."""
    entry: dict[str, Any] = {
        "path": str(path),
        "kind": "other",
        "on_path": on_path,
        "shebang": None,
        # Beyond the contract: the resolved path, whether it may be executed, and for a Python
        # script the interpreter that runs it (from the shebang or pip's ``exec`` launcher).
        "realpath": os.path.realpath(path),
        "executable": os.access(path, os.X_OK),
        "interpreter": None,
    }
    try:
        with path.open("rb") as handle:
            head = handle.read(_HEAD_BYTES)
    except OSError as exc:
        entry["error"] = exc.strerror or type(exc).__name__
        return entry
    if head.startswith(ELF_MAGIC):
        entry["kind"] = "elf"
        return entry
    text = head.decode("utf-8", "replace")
    shebang = text.splitlines()[0].strip() if text.startswith("#!") else None
    entry["shebang"] = shebang
    exec_line = _SH_EXEC_LINE.search(text)
    imports_server = _MOSHI_SERVER_IMPORT.search(text) is not None
    if (shebang is not None and "python" in shebang) or imports_server:
        entry["kind"] = "python-script"
        entry["interpreter"] = _interpreter(shebang, exec_line)
    elif shebang is not None:
        entry["kind"] = "script"
    return entry


def _interpreter(shebang: str | None, exec_line: re.Match[str] | None) -> str | None:
    words: list[str] = []
    try:
        if exec_line is not None:
            words = shlex.split(exec_line.group("cmd"))
        elif shebang is not None:
            words = shlex.split(shebang[2:])
    except ValueError:
        return None
    if len(words) >= 2 and os.path.basename(words[0]) == "env":
        # ``#!/usr/bin/env python3``: the interpreter is looked up on PATH; skip env's options.
        rest = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
        return rest[0] if rest else None
    return words[0] if words else None


def read_install_record(cargo_home: Path) -> tuple[dict[str, Any] | None, str | None]:
    """moshi-server's entry in cargo's install record, and a one-line error if it is unreadable.

    ``.crates2.json`` (cargo >= 1.41) carries the features; ``.crates.toml`` only the version.
    When ``.crates2.json`` is corrupt, the error is returned and ``.crates.toml`` still read.
    """
    json_path = cargo_home / ".crates2.json"
    error: str | None = None
    if os.path.isfile(json_path) and os.path.getsize(json_path) > MAX_RECORD_BYTES:
        error = f"{json_path}: larger than {MAX_RECORD_BYTES // 2**20} MiB, not read"
    elif os.path.isfile(json_path):
        try:
            data = json.loads(json_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            error = f"{json_path}: invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        except (OSError, UnicodeDecodeError) as exc:
            error = f"{json_path}: {_reason(exc)}"
        else:
            installs = data.get("installs") if isinstance(data, dict) else None
            if not isinstance(installs, dict):
                error = f'{json_path}: unexpected layout (no "installs" object)'
            else:
                for key, info in installs.items():
                    parsed = _parse_key(key)
                    if parsed is not None:
                        return _from_json(parsed, info, json_path), None
                return None, None
    toml_path = cargo_home / ".crates.toml"
    if os.path.isfile(toml_path) and os.path.getsize(toml_path) <= MAX_RECORD_BYTES:
        try:
            text = toml_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return None, error or f"{toml_path}: {_reason(exc)}"
        for match in _CRATES_TOML_KEY.finditer(text):
            parsed = _parse_key(match.group("key"))
            if parsed is not None:
                version, source = parsed
                return {
                    "version": version,
                    "features": None,  # .crates.toml does not record them
                    "source": source,
                    "record": str(toml_path),
                }, error
    return None, error


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _parse_key(key: str) -> tuple[str, str] | None:
    """``"moshi-server 0.6.4 (registry+https://...)"`` -> ``("0.6.4", "registry+https://...")``."""
    parts = key.split(" ", 2)
    if len(parts) < 2 or parts[0] != NAME:
        return None
    source = parts[2].strip() if len(parts) == 3 else ""
    if source.startswith("(") and source.endswith(")"):
        source = source[1:-1]
    return parts[1], source


def _from_json(parsed: tuple[str, str], info: Any, record: Path) -> dict[str, Any]:
    version, source = parsed
    info = info if isinstance(info, dict) else {}
    features = info.get("features")
    return {
        "version": version,
        "features": [str(f) for f in features] if isinstance(features, list) else None,
        "source": source,
        # Beyond the contract: the file read and cargo's other build settings.
        "record": str(record),
        "all_features": _bool_or_none(info.get("all_features")),
        "no_default_features": _bool_or_none(info.get("no_default_features")),
        "profile": _str_or_none(info.get("profile")),
        "target": _str_or_none(info.get("target")),
        "rustc": _first_line(info.get("rustc")),  # cargo stores all of `rustc -vV`
    }


def _bool_or_none(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _first_line(value: Any) -> str | None:
    return value.splitlines()[0] if isinstance(value, str) and value.strip() else None


def _ldd(
    ctx: ProbeContext, candidates: list[dict[str, Any]], cargo_binary: str | None
) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "ran": False,
        "not_found": [],
        "resolved": {},
        "realpaths": {},
        "error": None,
        "binary": None,  # beyond the contract: which ELF was inspected
    }
    elf = next((c["path"] for c in candidates if c["on_path"] and c["kind"] == "elf"), None)
    if elf is None and cargo_binary is not None:
        elf = next(
            (c["path"] for c in candidates if c["path"] == cargo_binary and c["kind"] == "elf"),
            None,
        )
    if elf is None:
        return facts
    facts["binary"] = elf
    argv = ["ldd", elf]
    if ctx.which("ldd") is None:
        # PATH may be trimmed (cron, systemd units); glibc installs ldd in one of these.
        fallback = next((p for p in ("/usr/bin/ldd", "/bin/ldd") if ctx.which(p)), None)
        if fallback is None:
            facts["error"] = "ldd not found"
            return facts
        argv[0] = fallback
    result = ctx.run(argv, timeout=LDD_TIMEOUT_S)
    if result.timed_out:
        facts["error"] = f"ldd did not finish within {LDD_TIMEOUT_S:g} s"
        return facts
    if result.returncode is None:
        facts["error"] = f"ldd could not run: {result.error}"
        return facts
    facts["ran"] = True
    not_found, resolved = parse_ldd(result.output)
    facts["not_found"] = not_found
    facts["resolved"] = resolved
    # The files behind the paths: a symlink to the target's own libpython is that libpython.
    facts["realpaths"] = {soname: os.path.realpath(path) for soname, path in resolved.items()}
    if result.returncode != 0:
        message = (result.stderr.strip() or result.stdout.strip()).splitlines()
        facts["error"] = message[0].strip() if message else f"ldd exited {result.returncode}"
    return facts


def parse_ldd(text: str) -> tuple[list[str], dict[str, str]]:
    """Unresolved sonames and ``{soname: path}`` from ``ldd`` output (glibc or musl)."""
    not_found: list[str] = []
    resolved: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        musl = _LDD_MUSL_MISSING.match(line)
        if musl is not None:
            not_found.append(musl.group("soname"))
        elif "=>" in line:
            soname, _, rest = line.partition("=>")
            soname, rest = soname.strip(), rest.strip()
            if rest.startswith("not found"):
                not_found.append(soname)
            else:
                target = rest.split(" (0x", 1)[0].strip()
                if target:
                    resolved[soname] = target
        elif line.startswith("/"):
            # The dynamic loader: "/lib64/ld-linux-x86-64.so.2 (0x00007f...)".
            target = line.split(" (0x", 1)[0].strip()
            resolved[os.path.basename(target)] = target
    return list(dict.fromkeys(not_found)), resolved
