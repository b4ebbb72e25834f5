"""The moshi-server config (TOML): found, read, parsed, every key with its line, paths examined.

What it reads is what ``moshi-server worker --config FILE`` reads (moshi-server.md §3): the
file as bytes (at most :data:`MAX_BYTES`; a BOM is skipped as the server's TOML parser does),
parsed with tomllib (tomli on Python 3.10); on failure, the parser's line and column. TOML
libraries give no positions for keys, so a small scanner (:func:`key_lines`) finds the line of
every key and table (dotted keys, quoted keys, arrays of tables, inline tables, multi-line
strings and arrays).

The strings the server expands (``static_dir``, ``log_dir``, ``instance_name``, the file keys
of each module, ``script``, and every string of a ``[modules.NAME.py]`` table) get ``$NAME``
expanded exactly as moshi-server does: ``$`` followed by ``[A-Za-z_][A-Za-z0-9_]*``, an unset
variable becoming the empty string, ``${NAME}`` left as it is. ``hf://org/repo/file`` values
are downloads, not paths. Local paths are then examined without changing anything: ``log_dir``
and ``log_folder`` are tested for "can be created and written" with ``os.access`` on the
nearest existing directory and a nameless temporary file (``O_TMPFILE`` where the kernel has
it) that is removed at once; a directory is never created. Relative paths resolve against the
working directory of a running moshi-server that uses this config when one is found, else
kyudoctor's own working directory (``server_cwd`` says which).

Secrets never enter the facts: ``authorized_ids`` is reduced to a count and whether Kyutai's
sample key ``public_token`` (or an empty key) is among them; a key whose name looks like a
secret, or a value that looks like a Hugging Face token, keeps only its length; ``HF_TOKEN``
is recorded as set or not; the HF token file as existing or not, never read beyond "empty".

Options (``ctx.options``): ``config_path`` (the file as given or discovered), ``config_source``
(``"--config"`` or ``"discovered"``; a named file that cannot be read stops the run, exit 2),
``config_candidates`` (other discovered files). Without ``config_path`` the probe discovers the
file itself (:func:`discover`).

Facts: see the ``config`` section of docs/architecture.md.
"""

from __future__ import annotations

import bisect
import importlib
import ipaddress
import os
import re
import stat
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from kyudoctor._toml import tomllib, type_name
from kyudoctor.errors import UnusableInput
from kyudoctor.probes import ProbeContext

__all__ = [
    "DEFAULT_PORT",
    "DISCOVERY",
    "MAX_BYTES",
    "compact",
    "discover",
    "expand",
    "key_lines",
    "probe",
    "run_options",
    "summary",
]

MAX_BYTES = 1 << 20
"""A moshi-server config is a few kilobytes; anything above 1 MiB is not read."""

DISCOVERY: tuple[str, ...] = ("configs/config-tts.toml", "config-tts.toml")
"""Looked for first, in this order, in the working directory (cli.md); then ``*.toml``."""

DEFAULT_PORT = 8080
DEFAULT_ADDR = "0.0.0.0"
"""moshi-server's defaults for ``worker --port`` / ``--addr`` (moshi-server.md §4)."""

PUBLIC_TOKEN = "public_token"
"""Kyutai's sample API key in its published configs."""

MAX_KEYS = 2000
MAX_CANDIDATES = 50
MAX_VOICE_ENTRIES = 50_000
MAX_STRING = 300

_VAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_BRACED = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SECRET_NAME = re.compile(
    r"(?:^|_)(?:token|secret|passwd|password|api_?key|apikey|credentials?|auth|private_key)(?:$|_)",
    re.I,
)
"""A name (config key or variable) whose value is a secret: ``hf_token``, ``API_KEY``, ``auth``
(not ``tokenizer``, not ``authorized_ids``, which has its own treatment)."""
_SECRET_VALUE = re.compile(r"^(hf_[A-Za-z0-9]{20,}|sk-[A-Za-z0-9_-]{16,})$")
_MODULES_HEADER = re.compile(
    r"^[ \t]*(\[\[?[ \t]*(modules|\"modules\"|'modules')[ \t]*\.|modules[ \t]*\.)", re.M
)
_TOML_POS = re.compile(r"(?s)(.*?) \(at line (\d+), column (\d+)\)")
_TOML_END = re.compile(r"(?s)(.*?) \(at end of document\)")

# Module keys the server expands ($VAR) or downloads (hf://), and what each names.
_MODULE_FILE_KEYS = (
    "lm_model_file",
    "text_tokenizer_file",
    "audio_tokenizer_file",
    "speaker_tokenizer_file",
    "script",
)
# Keys of the Python TTS's [py] table that name local paths (tts.py's Config).
_PY_ROLES = {
    "voice_folder": "voice_folder",
    "log_folder": "log_dir",
    "mimi_weight": "file",
    "moshi_weight": "file",
    "config_path": "file",
    "tokenizer": "file",
}
_PY_DEFAULT_VOICE_FOLDER = "models/tts-voices"
"""Under the home directory: the Python TTS's voice folder when ``voice_folder`` is not set."""
_VOICE_SUFFIX = ".safetensors"

# --------------------------------------------------------------------------- discovery


def discover(cwd: Path) -> dict[str, Any]:
    """Find the config in ``cwd``: ``configs/config-tts.toml``, ``config-tts.toml``, else a
    ``*.toml`` with a ``[modules.*]`` table (one with a ``"Py"`` module first, then by name).

    Returns ``{file, searched, candidates, note}``: ``file`` relative to ``cwd`` (None when
    nothing was found), ``candidates`` every match in order of preference.
    """
    searched = [*DISCOVERY, "*.toml with [modules.*]"]
    candidates: list[str] = []
    for name in DISCOVERY:
        if _regular(cwd / name):
            candidates.append(name)
    extra: list[tuple[int, str]] = []
    try:
        names = sorted(p.name for p in cwd.glob("*.toml"))[:MAX_CANDIDATES]
    except OSError:
        names = []
    for name in names:
        if name in candidates or not _regular(cwd / name):
            continue
        head = _read_head(cwd / name)
        if head is None or not _MODULES_HEADER.search(head):
            continue
        is_tts = re.search(r"""^[ \t]*type[ \t]*=[ \t]*["']Py["']""", head, re.M) is not None
        extra.append((0 if is_tts else 1, name))
    candidates.extend(name for _, name in sorted(extra))
    note = None
    if len(candidates) > 1:
        note = (
            f"checked {candidates[0]}; also found {', '.join(candidates[1:])} "
            "(pass --config FILE to check another)"
        )
    return {
        "file": candidates[0] if candidates else None,
        "searched": searched,
        "candidates": candidates,
        "note": note,
    }


def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except (OSError, ValueError):
        return False


def _read_head(path: Path) -> str | None:
    try:
        with path.open("rb") as handle:
            return handle.read(MAX_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return None


# --------------------------------------------------------------------------- reading


def _read(path: Path) -> tuple[bytes | None, dict[str, Any] | None, int | None]:
    """The file's bytes (``None`` with an error record when it cannot be used) and its size."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        return None, _error("unreadable", f"cannot read it: {exc.strerror or exc}"), None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, _error("unreadable", "not a regular file"), None
        if info.st_size > MAX_BYTES:
            return (
                None,
                _error(
                    "too_large",
                    f"{info.st_size} bytes: far larger than any moshi-server config "
                    f"(at most {MAX_BYTES} bytes are read); not parsed",
                    1,
                    1,
                ),
                info.st_size,
            )
        chunks: list[bytes] = []
        total = 0
        while total <= MAX_BYTES:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        data = b"".join(chunks)
    except OSError as exc:
        return None, _error("unreadable", f"cannot read it: {exc.strerror or exc}"), None
    finally:
        os.close(fd)
    if len(data) > MAX_BYTES:
        return None, _error("too_large", f"more than {MAX_BYTES} bytes; not parsed", 1, 1), None
    return data, None, len(data)


def _error(
    kind: str, message: str, line: int | None = None, column: int | None = None
) -> dict[str, Any]:
    return {"kind": kind, "message": message, "line": line, "column": column}


def _position(data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of byte ``offset``."""
    before = data[:offset]
    line = before.count(b"\n") + 1
    start = before.rfind(b"\n") + 1
    column = len(before[start:].decode("utf-8", errors="replace")) + 1
    return line, column


def _decode(data: bytes) -> tuple[str | None, dict[str, Any] | None, bool]:
    """Text without its BOM, or the error record; and whether a BOM was there."""
    bom = data.startswith(b"\xef\xbb\xbf")
    body = data[3:] if bom else data
    nul = body.find(b"\x00")
    if nul >= 0:
        line, column = _position(body, nul)
        return (
            None,
            _error("binary", "binary content (NUL bytes): not a TOML file", line, column),
            bom,
        )
    try:
        return body.decode("utf-8"), None, bom
    except UnicodeDecodeError as exc:
        line, column = _position(body, exc.start)
        byte = body[exc.start : exc.start + 1].hex()
        return (
            None,
            _error(
                "encoding",
                f"not valid UTF-8 (byte 0x{byte}): moshi-server reads the file as UTF-8 "
                '("stream did not contain valid UTF-8")',
                line,
                column,
            ),
            bom,
        )


def _parse(text: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    try:
        return tomllib.loads(text), None
    except tomllib.TOMLDecodeError as exc:
        return None, _toml_error(exc, text)
    except RecursionError:
        return None, _error("toml", "TOML parse error: arrays or tables nested too deeply", 1, 1)
    except ValueError as exc:  # tomllib's own errors are TOMLDecodeError; anything else
        return None, _error("toml", f"TOML parse error: {exc}", 1, 1)


def _toml_error(exc: Exception, text: str) -> dict[str, Any]:
    message = getattr(exc, "msg", None)
    line = getattr(exc, "lineno", None)
    column = getattr(exc, "colno", None)
    if not (isinstance(message, str) and isinstance(line, int) and isinstance(column, int)):
        raw = str(exc)
        match = _TOML_POS.fullmatch(raw)
        if match is not None:
            message, line, column = match.group(1), int(match.group(2)), int(match.group(3))
        else:
            end = _TOML_END.fullmatch(raw)
            message = end.group(1) if end else raw
            line = text.count("\n") + 1
            column = len(text) - (text.rfind("\n") + 1) + 1
    return _error("toml", f"TOML parse error: {message}", line, column)


# --------------------------------------------------------------------------- key lines


def key_lines(text: str) -> dict[tuple[str | int, ...], int]:
    """The 1-based line of every key and table of a TOML document, keyed by its path.

    Array-of-tables elements are numbered (``("modules", "x", 0, "path")``), as are array
    items. Lenient and total: on text it cannot follow it returns what it found so far.
    """
    scanner = _Scanner(text)
    try:
        scanner.document()
    except (IndexError, ValueError, RecursionError):
        pass
    return scanner.lines


class _Scanner:
    """A single forward pass over TOML text that records where keys are defined."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.n = len(text)
        self.i = 0
        self.newlines = [m.start() for m in re.finditer("\n", text)]
        self.lines: dict[tuple[str | int, ...], int] = {}
        self.arrays: dict[tuple[str, ...], int] = {}
        self.table: tuple[str | int, ...] = ()
        self.depth = 0

    def line(self, index: int) -> int:
        return bisect.bisect_left(self.newlines, index) + 1

    def document(self) -> None:
        while self.i < self.n:
            self.blank(newlines=True)
            if self.i >= self.n:
                break
            start = self.i
            if self.s[self.i] == "[":
                self.header()
            else:
                self.keyval(self.table)
            self.rest_of_line()
            if self.i <= start:  # never stall
                self.i = start + 1

    def blank(self, newlines: bool) -> None:
        s, n = self.s, self.n
        while self.i < n:
            c = s[self.i]
            if c in " \t" or (newlines and c in "\r\n"):
                self.i += 1
            elif c == "#":
                end = s.find("\n", self.i)
                self.i = n if end < 0 else (end + 1 if newlines else end)
            else:
                break

    def rest_of_line(self) -> None:
        end = self.s.find("\n", self.i)
        self.i = self.n if end < 0 else end + 1

    def header(self) -> None:
        line = self.line(self.i)
        double = self.s.startswith("[[", self.i)
        self.i += 2 if double else 1
        keys = self.key()
        plain: tuple[str, ...] = ()
        path: list[str | int] = []
        for depth, name in enumerate(keys):
            plain = (*plain, name)
            path.append(name)
            last = depth == len(keys) - 1
            if last and double:
                count = self.arrays.get(plain, 0)
                self.arrays[plain] = count + 1
                self.lines.setdefault(tuple(path), line)
                path.append(count)
            elif plain in self.arrays:
                path.append(self.arrays[plain] - 1)
            self.lines.setdefault(tuple(path), line)
        self.table = tuple(path)

    def key(self) -> list[str]:
        keys: list[str] = []
        s = self.s
        while self.i < self.n:
            self.blank(newlines=False)
            if self.i >= self.n:
                break
            c = s[self.i]
            if c in "\"'":
                start = self.i
                self.string()
                keys.append(_unquote(s[start : self.i]))
            else:
                match = re.compile(r"[A-Za-z0-9_-]+").match(s, self.i)
                if match is None:
                    break
                keys.append(match.group(0))
                self.i = match.end()
            self.blank(newlines=False)
            if self.i < self.n and s[self.i] == ".":
                self.i += 1
                continue
            break
        return keys

    def keyval(self, base: tuple[str | int, ...]) -> None:
        line = self.line(self.i)
        keys = self.key()
        if not keys or self.i >= self.n or self.s[self.i] != "=":
            return
        self.i += 1
        path = base
        for name in keys:
            path = (*path, name)
            self.lines.setdefault(path, line)
        self.blank(newlines=False)
        self.value(path)

    def value(self, path: tuple[str | int, ...]) -> None:
        if self.i >= self.n:
            return
        c = self.s[self.i]
        if c in "\"'":
            self.string()
        elif c in "[{":
            self.depth += 1
            if self.depth > 200:
                raise ValueError("nested too deep")
            try:
                if c == "[":
                    self.array(path)
                else:
                    self.inline_table(path)
            finally:
                self.depth -= 1
        else:
            match = re.compile(r"[^,\]}\n#]*").match(self.s, self.i)
            self.i = match.end() if match else self.i + 1

    def array(self, path: tuple[str | int, ...]) -> None:
        self.i += 1
        index = 0
        while self.i < self.n:
            self.blank(newlines=True)
            if self.i >= self.n or self.s[self.i] == "]":
                self.i += 1
                return
            start = self.i
            self.lines.setdefault((*path, index), self.line(self.i))
            self.value((*path, index))
            index += 1
            self.blank(newlines=True)
            if self.i < self.n and self.s[self.i] == ",":
                self.i += 1
            elif self.i <= start:
                return

    def inline_table(self, path: tuple[str | int, ...]) -> None:
        self.i += 1
        while self.i < self.n:
            self.blank(newlines=True)
            if self.i >= self.n or self.s[self.i] == "}":
                self.i += 1
                return
            start = self.i
            self.keyval(path)
            self.blank(newlines=True)
            if self.i < self.n and self.s[self.i] == ",":
                self.i += 1
            elif self.i <= start:
                return

    def string(self) -> None:
        s, i = self.s, self.i
        quote = s[i]
        if s.startswith(quote * 3, i):
            j = i + 3
            while j < self.n:
                if quote == '"' and s[j] == "\\":
                    j += 2
                elif s.startswith(quote * 3, j):
                    j += 3
                    extra = 0
                    while j < self.n and s[j] == quote and extra < 2:
                        j += 1
                        extra += 1
                    break
                else:
                    j += 1
            self.i = min(j, self.n)
            return
        j = i + 1
        while j < self.n and s[j] != quote and s[j] != "\n":
            j += 2 if quote == '"' and s[j] == "\\" else 1
        self.i = min(j + 1, self.n)


def _unquote(raw: str) -> str:
    try:
        value = tomllib.loads(f"k = {raw}")["k"]
    except (tomllib.TOMLDecodeError, KeyError, ValueError):
        return raw.strip("\"'")
    return value if isinstance(value, str) else raw


def _line_of(lines: Mapping[tuple[str | int, ...], int], path: Sequence[str | int]) -> int:
    """The line of ``path``, else of its nearest ancestor that has one, else 1."""
    for end in range(len(path), 0, -1):
        found = lines.get(tuple(path[:end]))
        if found is not None:
            return found
    return 1


def dotted(path: Sequence[str | int]) -> str:
    """``modules.tts_py.batch_size``; quoted where a name is not bare; ``[0]`` for an index."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        name = (
            part if re.fullmatch(r"[A-Za-z0-9_-]+", part) else '"' + part.replace('"', '\\"') + '"'
        )
        out += ("." if out else "") + name
    return out


# --------------------------------------------------------------------------- keys and values


def _walk(value: Any, path: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*path, key), child
            yield from _walk(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            if isinstance(child, (dict, list)):
                yield (*path, index), child
                yield from _walk(child, (*path, index))


def _is_secret_name(path: Sequence[str | int]) -> bool:
    names = [p for p in path if isinstance(p, str)]
    return bool(names) and (
        _SECRET_NAME.search(names[-1]) is not None or names[-1] == "authorized_ids"
    )


def _key_record(
    path: tuple[str | int, ...], value: Any, lines: Mapping[tuple[str | int, ...], int]
) -> dict[str, Any]:
    kind = type_name(value)
    record: dict[str, Any] = {
        "key": dotted(path),
        "path": list(path),
        "line": _line_of(lines, path),
        "type": kind,
    }
    if kind == "array":
        record["items"] = len(value)
        record["item_types"] = sorted({type_name(v) for v in value})
    elif kind == "table":
        pass
    elif isinstance(value, str) and (_is_secret_name(path) or _SECRET_VALUE.match(value)):
        record["redacted"] = True
        record["length"] = len(str(value))
    elif kind == "string":
        record["value"] = value[:MAX_STRING]
        if len(value) > MAX_STRING:
            record["truncated"] = True
    elif kind == "datetime":
        record["value"] = value.isoformat()
    else:
        record["value"] = value
    return record


def _authorized_ids(
    data: Mapping[str, Any], lines: Mapping[tuple[str | int, ...], int]
) -> dict[str, Any] | None:
    if "authorized_ids" not in data:
        return None
    value = data["authorized_ids"]
    items = value if isinstance(value, list) else []
    strings = [v for v in items if isinstance(v, str)]
    return {
        "line": _line_of(lines, ("authorized_ids",)),
        "type": type_name(value),
        "count": len(items),
        "public_token": PUBLIC_TOKEN in strings,
        "empty": "" in strings,
        "non_strings": len(items) - len(strings),
    }


# --------------------------------------------------------------------------- expansion


def expand(value: str, env: Mapping[str, str]) -> dict[str, Any]:
    """``$NAME`` expanded as moshi-server does (``utils::replace_env_vars``).

    Returns ``{expanded, vars, unset, braced}``: an unset variable becomes ``""``; ``${NAME}``
    is not a form the server knows (``braced`` lists such names; the text stays literal).
    """
    names: list[str] = []
    unset: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        names.append(name)
        if name not in env:
            unset.append(name)
        return env.get(name, "")

    expanded = _VAR.sub(replace, value)
    return {
        "expanded": expanded,
        "vars": list(dict.fromkeys(names)),
        "unset": list(dict.fromkeys(unset)),
        "braced": list(dict.fromkeys(_BRACED.findall(value))),
    }


def _expanded_strings(
    data: Mapping[str, Any],
) -> Iterator[tuple[tuple[str | int, ...], str, str]]:
    """Every string the server expands or downloads, with its path and role."""
    for key, role in (
        ("static_dir", "static_dir"),
        ("log_dir", "log_dir"),
        ("instance_name", "name"),
    ):
        if isinstance(data.get(key), str):
            yield (key,), data[key], role
    modules = data.get("modules")
    if not isinstance(modules, dict):
        return
    for name, module in modules.items():
        if not isinstance(module, dict):
            continue
        base = ("modules", name)
        for key in _MODULE_FILE_KEYS:
            if isinstance(module.get(key), str):
                yield (*base, key), module[key], "file"
        if isinstance(module.get("voice_dir"), str):
            yield (*base, "voice_dir"), module["voice_dir"], "dir"
        voices = module.get("voices")
        if isinstance(voices, dict):
            for voice, value in voices.items():
                if isinstance(value, str):
                    yield (*base, "voices", voice), value, "file"
        py = module.get("py")
        if isinstance(py, dict):
            # A custom script takes any keys: only the embedded TTS's names are known paths.
            custom = module.get("script") is not None or module.get("type") != "Py"
            for path, value in _strings(py, (*base, "py")):
                leaf = path[-1]
                role = "value"
                if not custom and len(path) == len(base) + 2 and isinstance(leaf, str):
                    role = _PY_ROLES.get(leaf, "value")
                yield path, value, role


def _strings(
    value: Any, path: tuple[str | int, ...]
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Every string inside a table, at any depth (the server's ``walk_toml``)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, child in value.items():
            yield from _strings(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _strings(child, (*path, index))


def _scheme(value: str) -> str:
    if value.startswith("hf://"):
        return "hf"
    if value.startswith("hf-snapshot://"):
        return "hf-snapshot"
    return "local"


# --------------------------------------------------------------------------- filesystem


def _kind(path: Path) -> str | None:
    try:
        mode = path.stat().st_mode
    except (OSError, ValueError):
        return None
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISREG(mode):
        return "file"
    return "other"


def _nearest_existing(path: Path) -> tuple[Path | None, str | None]:
    """The deepest existing ancestor of ``path`` (or itself), and a component that blocks it
    (an existing non-directory on the way), if any."""
    current = path
    while True:
        kind = _kind(current)
        if kind == "dir":
            return current, None
        if kind is not None:
            return None, str(current)
        if current.parent == current:
            return None, None
        current = current.parent


def _can_write(directory: Path) -> tuple[bool, str | None]:
    """Whether a file can be created in ``directory``; nothing is left behind."""
    if not os.access(directory, os.W_OK | os.X_OK):
        return False, "no write permission"
    try:
        with tempfile.TemporaryFile(dir=directory, prefix=".kyudoctor-"):
            pass
    except OSError as exc:
        return False, exc.strerror or str(exc)
    return True, None


def _examine_dir(resolved: Path, create: bool) -> dict[str, Any]:
    """A directory the server reads (``create`` False) or creates and writes (True)."""
    kind = _kind(resolved)
    out: dict[str, Any] = {"exists": kind is not None, "kind": kind}
    if not create:
        return out
    if kind == "dir":
        writable, reason = _can_write(resolved)
        out.update(writable=writable, creatable=True, nearest_existing=str(resolved))
        out["reason"] = reason
        return out
    if kind is not None:
        out.update(writable=False, creatable=False, nearest_existing=None)
        out["reason"] = "exists and is not a directory"
        return out
    ancestor, blocked = _nearest_existing(resolved.parent)
    if ancestor is None:
        out.update(writable=False, creatable=False, nearest_existing=None)
        out["reason"] = f"{blocked} is not a directory" if blocked else "no existing parent"
        out["blocked_by"] = blocked
        return out
    writable, reason = _can_write(ancestor)
    out.update(writable=False, creatable=writable, nearest_existing=str(ancestor))
    out["reason"] = None if writable else f"{ancestor}: {reason}"
    return out


def _count_voices(folder: Path, deadline: float) -> dict[str, Any]:
    count = 0
    seen = 0
    capped = False
    for _root, dirs, files in os.walk(folder, followlinks=True):
        seen += len(dirs) + len(files)
        count += sum(1 for f in files if f.endswith(_VOICE_SUFFIX))
        if seen > MAX_VOICE_ENTRIES or time.monotonic() > deadline:
            capped = True
            break
        dirs.sort()
    return {"count": count, "capped": capped}


def _default_voice(folder: Path, name: str) -> dict[str, Any]:
    """Whether ``folder/name<suffix>`` exists (tts.py: ``{voice_folder}/{default_voice}{suffix}``;
    the suffix depends on the checkpoint, e.g. ``.1e68beda@240.safetensors``)."""
    target = folder / name
    try:
        parent_names = sorted(os.listdir(target.parent))
    except OSError:
        parent_names = []
    matches = [n for n in parent_names if n.startswith(target.name) and n.endswith(_VOICE_SUFFIX)]
    return {"name": name, "found": bool(matches), "match": matches[0] if matches else None}


def _hf_valid(value: str) -> bool:
    """moshi-server splits ``hf://org/repo/file``: fewer than three parts is an error."""
    parts = value[len("hf://") :].split("/")
    return len(parts) >= 3 and all(parts[:3])


# --------------------------------------------------------------------------- the server


def _server_process(resolved: Path | None, deadline: float) -> dict[str, Any] | None:
    """A running ``moshi-server worker --config <this file>``: pid, addr, port, cwd."""
    if resolved is None:
        return None
    try:
        # By name: psutil ships no type information.
        psutil: Any = importlib.import_module("psutil")
    except ImportError:  # pragma: no cover - psutil is a dependency
        return None
    try:
        target = os.path.realpath(resolved)
        for proc in psutil.process_iter(["pid", "name", "cmdline", "cwd"]):
            if time.monotonic() > deadline:
                return None
            info = proc.info
            cmdline = list(info.get("cmdline") or [])
            name = str(info.get("name") or "")
            first = os.path.basename(cmdline[0]) if cmdline else ""
            if "moshi-server" not in (name, first) or "worker" not in cmdline:
                continue
            args = cmdline[cmdline.index("worker") + 1 :]
            config = _arg(args, "--config")
            cwd = info.get("cwd")
            if not config:
                continue
            path = config if os.path.isabs(config) or not cwd else os.path.join(cwd, config)
            if os.path.realpath(path) != target:
                continue
            port = _arg(args, "-p", "--port")
            return {
                "pid": info.get("pid"),
                "addr": _arg(args, "-a", "--addr") or DEFAULT_ADDR,
                "port": int(port) if port and port.isdigit() else DEFAULT_PORT,
                "cwd": cwd,
            }
    except Exception:  # noqa: BLE001 - psutil.Error and races: no process is a fact, not a crash
        return None
    return None


def _arg(args: Sequence[str], *names: str) -> str | None:
    for index, word in enumerate(args):
        for name in names:
            if word == name and index + 1 < len(args):
                return args[index + 1]
            if word.startswith(name + "=") and name.startswith("--"):
                return word.split("=", 1)[1]
    return None


def _loopback(addr: str) -> bool:
    if addr.strip().lower() in ("localhost", "localhost.localdomain", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(addr.strip("[]")).is_loopback
    except ValueError:
        return False


def _client_host(addr: str) -> str:
    """The address a client on this machine dials for a server bound to ``addr``."""
    bare = addr.strip("[]")
    if bare in ("0.0.0.0", "::", "", "localhost"):
        return "127.0.0.1"
    try:
        ip = ipaddress.ip_address(bare)
    except ValueError:
        return "127.0.0.1"
    return f"[{ip}]" if ip.version == 6 else str(ip)


# --------------------------------------------------------------------------- the TTS module


def _tts_module(
    data: Mapping[str, Any], lines: Mapping[tuple[str | int, ...], int]
) -> dict[str, Any] | None:
    """The first ``type = "Py"`` module (the Python TTS), in file order."""
    modules = data.get("modules")
    if not isinstance(modules, dict):
        return None
    for name, module in modules.items():
        if isinstance(module, dict) and module.get("type") == "Py":
            batch = module.get("batch_size")
            route = module.get("path")
            return {
                "module": name,
                "line": _line_of(lines, ("modules", name)),
                "path": route if isinstance(route, str) else None,
                "batch_size": batch
                if isinstance(batch, int) and not isinstance(batch, bool)
                else None,
                "batch_size_line": _line_of(lines, ("modules", name, "batch_size")),
            }
    return None


def _load(path: Path) -> tuple[dict[str, Any] | None, str]:
    data, error, _size = _read(path)
    if data is None or error is not None:
        return None, ""
    text, error, _bom = _decode(data)
    if text is None:
        return None, ""
    parsed, error = _parse(text)
    return parsed, text


def summary(
    path: str | os.PathLike[str],
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> dict[str, Any] | None:
    """What the server checks learn from a config: ``{file, port, addr, path, batch_size,
    log_dir, instance_name, url}``, or ``None`` when the file does not parse.

    ``port`` and ``addr`` are command-line options of moshi-server, not config keys: they come
    from a running ``moshi-server worker --config <this file>`` when there is one, else the
    server's defaults (8080, 0.0.0.0). ``url`` is the TTS WebSocket URL a client on this
    machine dials (``0.0.0.0`` -> ``127.0.0.1``), ``None`` when there is no ``Py`` module.
    """
    env = os.environ if env is None else env
    base = cwd or Path.cwd()
    resolved = Path(path) if os.path.isabs(path) else base / path
    data, _text = _load(resolved)
    if data is None:
        return None
    tts = _tts_module(data, {}) or {}
    process = _server_process(resolved, time.monotonic() + 2.0)
    port = process["port"] if process else DEFAULT_PORT
    addr = process["addr"] if process else DEFAULT_ADDR
    log_dir = data.get("log_dir")
    instance = data.get("instance_name")
    route = tts.get("path")
    url = None
    if isinstance(route, str) and route.startswith("/"):
        url = f"ws://{_client_host(addr)}:{port}{route}"
    server_cwd = Path(process["cwd"]) if process and process.get("cwd") else base
    expanded_log = None
    if isinstance(log_dir, str):
        expanded_log = str(expand(log_dir, env)["expanded"])
        if expanded_log and not os.path.isabs(expanded_log):
            expanded_log = str(server_cwd / expanded_log)
    return {
        "file": str(path),
        "port": port,
        "addr": addr,
        "path": route,
        "batch_size": tts.get("batch_size"),
        "log_dir": expanded_log,
        "instance_name": expand(instance, env)["expanded"] if isinstance(instance, str) else None,
        "url": url,
    }


def run_options(
    extra: Mapping[str, Any], cwd: Path, env: Mapping[str, str], *, server: bool
) -> dict[str, Any]:
    """Probe options a ``check`` run derives from its config (for :func:`kyudoctor.api.run_check`).

    ``config_path`` (``--config`` as given, else the discovered file, relative to ``cwd``),
    ``config_source``, ``config_candidates``, ``config_note``; with ``server``, the server
    probe's ``config`` (:func:`summary`) and, unless ``--url`` was given, ``urls`` pointing at
    the config's TTS route. Empty when no config is named or found.
    """
    out: dict[str, Any] = {}
    given = extra.get("config_path")
    if given:
        out.update(config_path=str(given), config_source="--config")
    else:
        found = discover(cwd)
        if found["file"] is None:
            return out
        out.update(
            config_path=found["file"],
            config_source="discovered",
            config_candidates=found["candidates"],
            config_note=found["note"],
        )
    if server:
        facts = summary(out["config_path"], env, cwd)
        if facts is not None:
            if not isinstance(extra.get("config"), Mapping):
                out["config"] = facts
            if not extra.get("urls_explicit") and facts.get("url"):
                out["urls"] = [facts["url"]]
    return out


def compact(facts: Mapping[str, Any]) -> dict[str, Any]:
    """The few config facts a report shows under each check (for ``kyudoctor.facts.VIEWS``)."""
    out: dict[str, Any] = {
        key: facts.get(key) for key in ("file", "source", "error") if facts.get(key) is not None
    }
    if not facts.get("found"):
        out["found"] = False
        return out
    out["modules"] = [
        {k: m.get(k) for k in ("name", "type", "path", "batch_size") if m.get(k) is not None}
        for m in facts.get("modules") or []
        if isinstance(m, Mapping)
    ]
    ids = facts.get("authorized_ids") or {}
    if ids:
        out["authorized_ids"] = {k: ids.get(k) for k in ("count", "public_token", "empty")}
    bind = facts.get("bind") or {}
    if bind:
        out["bind"] = f"{bind.get('addr')}:{bind.get('port')} ({bind.get('source')})"
    hf = facts.get("hf") or {}
    if hf.get("downloads"):
        out["hf"] = {
            "downloads": len(hf["downloads"]),
            "token_file_exists": hf.get("token_file_exists"),
        }
    return out


# --------------------------------------------------------------------------- the probe


def probe(ctx: ProbeContext) -> dict[str, Any]:
    """Find, read, parse and examine the config (see the module docstring)."""
    deadline = time.monotonic() + max(0.5, ctx.remaining() - 0.5)
    given = ctx.options.get("config_path")
    if given:
        source = str(ctx.options.get("config_source") or "--config")
        discovery: dict[str, Any] = {
            "file": str(given),
            "searched": [],
            "candidates": list(ctx.options.get("config_candidates") or [str(given)]),
            "note": ctx.options.get("config_note"),
        }
    else:
        discovery = discover(ctx.cwd)
        given = discovery["file"]
        source = "discovered"
    facts: dict[str, Any] = {
        "found": given is not None,
        "file": str(given) if given else None,
        "resolved": None,
        "source": source if given else None,
        "discovery": {"cwd": str(ctx.cwd), **{k: v for k, v in discovery.items() if k != "file"}},
        "size_bytes": None,
        "bom": False,
        "crlf": False,
        "error": None,
        "keys": [],
        "keys_truncated": False,
        "modules": [],
        "authorized_ids": None,
        "paths": [],
        "hf": None,
        "bind": None,
        "server_cwd": None,
        "tts": None,
    }
    if not given:
        return facts
    resolved = Path(str(given))
    if not resolved.is_absolute():
        resolved = ctx.cwd / resolved
    facts["resolved"] = os.path.abspath(resolved)

    data, error, size = _read(resolved)
    facts["size_bytes"] = size
    if error is not None and error["kind"] == "unreadable" and source == "--config":
        raise UnusableInput(f"--config {given}: {error['message']}")
    if data is None:
        facts["error"] = error
        return facts
    facts["crlf"] = b"\r\n" in data
    text, error, facts["bom"] = _decode(data)
    if text is None:
        facts["error"] = error
        return facts
    parsed, error = _parse(text)
    if parsed is None:
        facts["error"] = error
        return facts

    lines = key_lines(text)
    keys = [_key_record(path, value, lines) for path, value in _walk(parsed, ())]
    facts["keys_truncated"] = len(keys) > MAX_KEYS
    facts["keys"] = keys[:MAX_KEYS]
    facts["modules"] = _modules(parsed, lines)
    facts["authorized_ids"] = _authorized_ids(parsed, lines)
    facts["tts"] = _tts_module(parsed, lines)

    process = _server_process(resolved, min(deadline, time.monotonic() + 2.0))
    addr = process["addr"] if process else DEFAULT_ADDR
    facts["bind"] = {
        "addr": addr,
        "port": process["port"] if process else DEFAULT_PORT,
        "source": "process" if process else "default",
        "pid": process["pid"] if process else None,
        "loopback": _loopback(addr),
    }
    if process and process.get("cwd"):
        server_cwd, cwd_source = Path(process["cwd"]), "process"
    else:
        server_cwd, cwd_source = ctx.cwd, "kyudoctor"
    facts["server_cwd"] = {"path": str(server_cwd), "source": cwd_source}
    facts["paths"] = _paths(parsed, lines, ctx.env, server_cwd, ctx.home, deadline)
    facts["hf"] = _hf(facts["paths"], ctx.env, ctx.home)
    return facts


def _modules(
    data: Mapping[str, Any], lines: Mapping[tuple[str | int, ...], int]
) -> list[dict[str, Any]]:
    modules = data.get("modules")
    if not isinstance(modules, dict):
        return []
    out = []
    for name, module in modules.items():
        record: dict[str, Any] = {"name": name, "line": _line_of(lines, ("modules", name))}
        if isinstance(module, dict):
            kind, route, batch = module.get("type"), module.get("path"), module.get("batch_size")
            record["type"] = kind if isinstance(kind, str) else None
            record["path"] = route if isinstance(route, str) else None
            record["batch_size"] = (
                batch if isinstance(batch, int) and not isinstance(batch, bool) else None
            )
        out.append(record)
    return out


def _paths(
    data: Mapping[str, Any],
    lines: Mapping[tuple[str | int, ...], int],
    env: Mapping[str, str],
    server_cwd: Path,
    home: Path,
    deadline: float,
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path, raw, role in _expanded_strings(data):
        scheme = _scheme(raw)
        # hf:// values are downloaded as they are; everything else is expanded.
        if scheme == "hf":
            expansion: dict[str, Any] = {"expanded": raw, "vars": [], "unset": [], "braced": []}
        else:
            expansion = expand(raw, env)
        secret_var = any(_SECRET_NAME.search(v) for v in expansion["vars"])
        record: dict[str, Any] = {
            "key": dotted(path),
            "path": list(path),
            "line": _line_of(lines, path),
            "role": role,
            "raw": raw[:MAX_STRING],
            "scheme": scheme,
            "vars": expansion["vars"],
            "unset": expansion["unset"],
            "braced": expansion["braced"],
            "expanded": "***" if secret_var else expansion["expanded"][:MAX_STRING],
            "default": False,
        }
        if scheme == "hf":
            record["hf_valid"] = _hf_valid(raw)
        elif (
            scheme == "local"
            and role in ("value", "name")
            and not expansion["vars"]
            and not expansion["braced"]
        ):
            continue  # a plain value: nothing to expand, nothing to examine
        if scheme == "local" and role not in ("value", "name") and not secret_var:
            _examine(record, expansion["expanded"], role, server_cwd, data, path, deadline)
        out.append(record)
    out.extend(_default_voice_folders(data, lines, home, deadline))
    return out


def _examine(
    record: dict[str, Any],
    expanded: str,
    role: str,
    server_cwd: Path,
    data: Mapping[str, Any],
    path: tuple[str | int, ...],
    deadline: float,
) -> None:
    record["relative"] = not os.path.isabs(expanded)
    if not expanded:
        record.update(resolved=None, exists=False, kind=None)
        return
    resolved = Path(expanded) if os.path.isabs(expanded) else server_cwd / expanded
    record["resolved"] = os.path.normpath(resolved)
    if role in ("log_dir",):
        record.update(_examine_dir(resolved, create=True))
    elif role in ("static_dir", "dir"):
        record.update(_examine_dir(resolved, create=False))
    elif role == "voice_folder":
        record.update(_examine_dir(resolved, create=False))
        if record["kind"] == "dir":
            record["voices"] = _count_voices(resolved, deadline)
            default = _py_table(data, path).get("default_voice")
            if isinstance(default, str):
                record["default_voice"] = _default_voice(resolved, default)
    else:
        record.update(exists=_kind(resolved) is not None, kind=_kind(resolved))


def _py_table(data: Mapping[str, Any], path: Sequence[str | int]) -> Mapping[str, Any]:
    """The ``[modules.NAME.py]`` table that holds ``path``."""
    try:
        table = data["modules"][path[1]]["py"]
    except (KeyError, IndexError, TypeError):
        return {}
    return table if isinstance(table, dict) else {}


def _default_voice_folders(
    data: Mapping[str, Any],
    lines: Mapping[tuple[str | int, ...], int],
    home: Path,
    deadline: float,
) -> list[dict[str, Any]]:
    """The Python TTS's own voice folder for ``Py`` modules that do not set ``voice_folder``."""
    modules = data.get("modules")
    out: list[dict[str, Any]] = []
    if not isinstance(modules, dict):
        return out
    for name, module in modules.items():
        if not isinstance(module, dict) or module.get("type") != "Py" or "script" in module:
            continue
        py = module.get("py") if isinstance(module.get("py"), dict) else {}
        assert isinstance(py, dict)
        if "voice_folder" in py:
            continue
        folder = home / _PY_DEFAULT_VOICE_FOLDER
        where = ("modules", name, "py") if "py" in module else ("modules", name)
        record: dict[str, Any] = {
            "key": dotted(("modules", name, "py", "voice_folder")),
            "path": ["modules", name, "py", "voice_folder"],
            "line": _line_of(lines, where),
            "role": "voice_folder",
            "raw": None,
            "scheme": "local",
            "vars": [],
            "unset": [],
            "braced": [],
            "expanded": str(folder),
            "default": True,
            "relative": False,
            "resolved": str(folder),
        }
        record.update(_examine_dir(folder, create=False))
        if record["kind"] == "dir":
            record["voices"] = _count_voices(folder, deadline)
            default = py.get("default_voice")
            if isinstance(default, str):
                record["default_voice"] = _default_voice(folder, default)
        out.append(record)
    return out


def _hf(paths: Sequence[Mapping[str, Any]], env: Mapping[str, str], home: Path) -> dict[str, Any]:
    """The ``hf://`` downloads and the token file moshi-server's HF client reads."""
    hf_home = env.get("HF_HOME")
    token_file = Path(hf_home) / "token" if hf_home else home / ".cache" / "huggingface" / "token"
    kind = _kind(token_file)
    empty: bool | None = None
    if kind == "file":
        try:
            with token_file.open("rb") as handle:
                empty = not handle.read(4096).strip()
        except OSError:
            empty = None
    downloads = [
        {"key": p["key"], "line": p["line"], "value": p["raw"], "valid": p.get("hf_valid")}
        for p in paths
        if p.get("scheme") == "hf"
    ]
    return {
        "downloads": downloads,
        "snapshots": [
            {"key": p["key"], "line": p["line"], "value": p["raw"]}
            for p in paths
            if p.get("scheme") == "hf-snapshot"
        ],
        "hf_home": hf_home,
        "token_file": str(token_file),
        "token_file_exists": kind == "file",
        "token_file_empty": empty,
        "hf_token_env": bool(env.get("HF_TOKEN")),
        "hub_token_env": bool(env.get("HUGGING_FACE_HUB_TOKEN")),
    }
