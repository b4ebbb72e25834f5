"""Project defaults: ``kyudoctor.toml`` or ``[tool.kyudoctor]`` in ``pyproject.toml``.

A project keeps the options it always passes in a file next to it, with the long options of
``kyudoctor check`` as keys::

    # kyudoctor.toml (top-level keys), or the same keys under [tool.kyudoctor] in pyproject.toml
    ignore = ["PY004"]            # a list option: a TOML array, or a comma string "PY004,PY001"
    fail-on = "warning"
    url = "ws://127.0.0.1:8080/api/tts_streaming"
    only = "host,files"
    timeout = 20
    format = "junit"
    output = "reports/kyudoctor.xml"   # paths are relative to the file's directory
    config = "configs/config-tts.toml"

Rules:

- The file is looked for in the current directory. When both exist, ``kyudoctor.toml`` wins and
  ``pyproject.toml`` is not read (ruff's rule for ``ruff.toml``); a ``pyproject.toml`` without a
  ``[tool.kyudoctor]`` table gives no defaults, and one that does not even mention kyudoctor is
  not parsed at all (a broken moshi-server pyproject is the checks' business, not a reason to
  refuse to run).
- Keys are the long options of ``kyudoctor check`` without the dashes (``fail-on``, not
  ``fail_on``), derived from the parser, so every option added to ``check`` is a key with no
  change here. An unknown key, a value of the wrong type or outside the option's choices, and
  a broken file are errors: one line naming the file (and line:column for TOML syntax), exit 2.
- The command line wins, option by option, and a list option given on the command line replaces
  the file's list (``--ignore PY001`` ignores only PY001): what you type is what you get.
  An option of a mutually exclusive pair (``-v``/``-q``) given on the command line also drops
  the other one from the file.
- ``api-key`` is refused: a project file gets committed. The error points at ``KYUTAI_API_KEY``
  and never shows the value.
- Paths (options whose metavar is FILE, PATH or DIR: ``python``, ``pyproject``, ``config``,
  ``dockerfile``, ``compose``, ``cacert``, ``output``, ...) are relative to the file's directory.
- A command built on ``check``'s own options (``bundle`` inherits them) takes every key. Other
  commands take the keys in :data:`SHARED` that they have an option for: what is checked
  (``url``, ``python``, ``config``, TLS) and how findings are judged (``select``, ``ignore``,
  ``fail-on``); their ``format``, ``output``, ``timeout`` or ``text`` mean something else, or
  would write over ``check``'s report, so the file's values stay ``check``'s. Commands with no
  such option (``explain``, ``simulate``) never read the file.

Not to be confused with ``--pyproject`` (moshi-server's pyproject.toml, whose requirements the
checks verify): this is the *project's* pyproject, read only for ``[tool.kyudoctor]``.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kyudoctor._toml import a_type_name, tomllib
from kyudoctor.errors import UsageError

KYUDOCTOR_TOML = "kyudoctor.toml"
PYPROJECT_TOML = "pyproject.toml"
MAX_BYTES = 1 << 20
"""A project file larger than this is refused (a defaults file is a few lines)."""

DEFAULTS_COMMAND = "check"
"""The command whose long options are the keys."""

SHARED = frozenset(
    {
        "url",
        "python",
        "pyproject",
        "config",
        "dockerfile",
        "compose",
        "cacert",
        "insecure",
        "voice",
        "select",
        "ignore",
        "fail-on",
        "only",
        "skip",
        "ttfa-max",
        "rtf-max",
        "wait",
    }
)
"""Keys other commands take too, when they have an option of that name."""

SECRET_KEYS = frozenset({"api-key"})
NOT_KEYS = frozenset({"help", "version"})
PATH_METAVARS = frozenset({"FILE", "PATH", "DIR"})

_TOML_POS = re.compile(r"(?s)(.*?) \(at line (\d+), column (\d+)\)")
_UNSET: Any = object()
"""Default of an option while parsing: still there afterwards means "not on the command line"."""


@dataclass(frozen=True)
class ProjectDefaults:
    """The defaults of a project file: where they come from and the raw TOML values."""

    path: Path
    label: str
    """How messages name the source: ``kyudoctor.toml`` or ``pyproject.toml [tool.kyudoctor]``."""
    values: Mapping[str, Any]


def find(cwd: Path) -> ProjectDefaults | None:
    """The project defaults of ``cwd``, or None; :class:`UsageError` for a broken file."""
    own = cwd / KYUDOCTOR_TOML
    if own.exists() or own.is_symlink():
        data = _read_toml(own, KYUDOCTOR_TOML)
        return ProjectDefaults(own, KYUDOCTOR_TOML, data)
    pyproject = cwd / PYPROJECT_TOML
    if not pyproject.is_file():
        return None
    text = _read_text(pyproject, PYPROJECT_TOML)
    if "kyudoctor" not in text:
        return None
    data = _parse_toml(text, PYPROJECT_TOML)
    tool = data.get("tool")
    if not isinstance(tool, dict) or "kyudoctor" not in tool:
        return None
    label = f"{PYPROJECT_TOML} [tool.kyudoctor]"
    table = tool["kyudoctor"]
    if not isinstance(table, dict):
        raise UsageError(f"{label}: must be a table of options, not {a_type_name(table)}")
    return ProjectDefaults(pyproject, label, table)


def parse_args(
    parser: argparse.ArgumentParser,
    args: Sequence[str],
    command: str | None,
    *,
    cwd: Path | None = None,
) -> argparse.Namespace:
    """``parser.parse_args(args)`` with the project's defaults beneath the command line.

    Only the commands that share a key with ``check`` read the file, so ``explain`` and
    ``simulate`` run whatever state the file is in.
    """
    commands = _commands(parser)
    if command not in commands or DEFAULTS_COMMAND not in commands:
        return parser.parse_args(args)
    sub = commands[command]
    names = _long_options(commands[DEFAULTS_COMMAND])
    options = {
        key: action
        for key, action in _long_options(sub).items()
        # check's own option (bundle inherits them all), or one of the same name and meaning.
        if names.get(key) is action or (key in SHARED and key in names)
    }
    if not options:
        return parser.parse_args(args)
    project = find(Path.cwd() if cwd is None else cwd)
    if project is None:
        return parser.parse_args(args)
    _validate_keys(project, names)
    # Every value is checked as check's, whatever the command: a mistake shows everywhere.
    as_check = {key: _convert(project, key, v, names[key]) for key, v in project.values.items()}
    from_file: dict[argparse.Action, Any] = {}
    for key, value in project.values.items():
        action = options.get(key)
        if action is None:
            continue
        if action is names[key]:
            from_file[action] = as_check[key]
            continue
        try:
            from_file[action] = _convert(project, key, value, action)
        except UsageError:
            continue  # e.g. several urls for load's one --url: load asks for it
    # Actions whose presence on the command line matters: the file's, and their exclusive peers.
    watched = set(from_file)
    for group in sub._mutually_exclusive_groups:
        members = set(group._group_actions)
        if members & set(from_file):
            both = [a for a in members if a in from_file and from_file[a] is not False]
            if len(both) > 1:
                names_ = " and ".join(sorted(_key(a) for a in both))
                raise UsageError(f"{project.label}: {names_} exclude each other")
            watched |= members
    original = {action: (action.default, action.required) for action in watched}
    for action in watched:
        # append/count build on their default: None is their own "nothing given".
        action.default = None if _accumulates(action) else _UNSET
        if action in from_file:
            action.required = False
    try:
        ns = parser.parse_args(args)
    finally:
        for action, (default, required) in original.items():
            action.default, action.required = default, required
    given = {a for a in watched if getattr(ns, a.dest, _UNSET) not in (_UNSET, None)}
    blocked = set()
    for group in sub._mutually_exclusive_groups:
        if set(group._group_actions) & given:
            blocked |= set(group._group_actions)
    for action in watched:
        if action in given:
            continue
        if action in from_file and action not in blocked:
            setattr(ns, action.dest, from_file[action])
        else:
            setattr(ns, action.dest, original[action][0])
    ns.project_defaults = str(project.path)
    return ns


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _long_options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """Key (long option without ``--``) -> action, for the options a file may set."""
    out = {}
    for action in parser._actions:
        for option in action.option_strings:
            key = option[2:]
            if option.startswith("--") and key not in NOT_KEYS:
                out[key] = action
    return out


def _key(action: argparse.Action) -> str:
    return next(o[2:] for o in action.option_strings if o.startswith("--"))


def _accumulates(action: argparse.Action) -> bool:
    return isinstance(action, (argparse._AppendAction, argparse._CountAction))


def _validate_keys(project: ProjectDefaults, names: Mapping[str, argparse.Action]) -> None:
    for key in project.values:
        if key in SECRET_KEYS:
            raise UsageError(
                f"{project.label}: {key}: an API key does not belong in a project file (it gets "
                "committed); set the KYUTAI_API_KEY environment variable or pass --api-key"
            )
        if key not in names:
            close = difflib.get_close_matches(key.replace("_", "-"), list(names), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UsageError(
                f"{project.label}: unknown key {key!r}{hint}; the keys are the long options "
                f"of `kyudoctor {DEFAULTS_COMMAND}`"
            )


def _convert(project: ProjectDefaults, key: str, value: Any, action: argparse.Action) -> Any:
    """The value argparse would have produced had the option been typed."""
    where = f"{project.label}: {key}"
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
        if not isinstance(value, bool):
            raise UsageError(f"{where}: must be true or false, not {a_type_name(value)}")
        return action.const if value else action.default
    if isinstance(action, argparse._StoreConstAction):
        if not isinstance(value, bool):
            raise UsageError(f"{where}: must be true or false, not {a_type_name(value)}")
        return action.const if value else action.default
    if isinstance(action, argparse._CountAction):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise UsageError(f"{where}: must be a whole number, not {a_type_name(value)}")
        return value
    if isinstance(action, argparse._AppendAction):
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise UsageError(
                f"{where}: must be a string or an array of strings, not {a_type_name(value)}"
            )
        return [_one(project, key, item, action) for item in items]
    if type(action) is not argparse._StoreAction or action.nargs not in (None, "?"):
        raise UsageError(f"{where}: cannot be set in a project file")
    if isinstance(value, list) and len(value) == 1:
        value = value[0]  # url = ["ws://..."] for a command that takes one
    return _one(project, key, value, action)


def _one(project: ProjectDefaults, key: str, value: Any, action: argparse.Action) -> Any:
    where = f"{project.label}: {key}"
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        kind = "a string" if action.type is None else "a number or a string"
        raise UsageError(f"{where}: must be {kind}, not {a_type_name(value)}")
    if not isinstance(value, str) and action.type is None:
        raise UsageError(f"{where}: must be a string, not {a_type_name(value)}")
    text = str(value)
    if action.metavar in PATH_METAVARS and text:
        text = str(project.path.parent / os.path.expanduser(text))
    converted: Any = text
    if callable(action.type):
        try:
            converted = action.type(text)
        except (argparse.ArgumentTypeError, TypeError, ValueError) as exc:
            raise UsageError(f"{where}: {exc}") from None
    if action.choices is not None and converted not in action.choices:
        choices = ", ".join(str(c) for c in action.choices)
        raise UsageError(f"{where}: {text!r} is not one of {choices}")
    return converted


def _read_text(path: Path, label: str) -> str:
    """The file as text (UTF-8, a BOM skipped); UsageError for anything else."""
    try:
        if path.is_dir():
            raise UsageError(f"{label}: is a directory")
        if path.stat().st_size > MAX_BYTES:
            raise UsageError(f"{label}: larger than {MAX_BYTES // 1024} KiB: not a defaults file")
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{label}: cannot read: {exc.strerror or exc}") from None
    if b"\0" in data:
        raise UsageError(f"{label}: binary content (NUL bytes): not a TOML file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{label}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from None


def _read_toml(path: Path, label: str) -> dict[str, Any]:
    return _parse_toml(_read_text(path, label), label)


def _parse_toml(text: str, label: str) -> dict[str, Any]:
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc.args[0]) if exc.args else str(exc)
        match = _TOML_POS.fullmatch(message)
        if match:
            what, line, column = match.groups()
            raise UsageError(f"{label}:{line}:{column}: invalid TOML: {what}") from None
        if message.endswith(" (at end of document)"):
            lines = text.split("\n")
            what = message.removesuffix(" (at end of document)")
            raise UsageError(
                f"{label}:{len(lines)}:{len(lines[-1]) + 1}: invalid TOML: {what} at the end"
            ) from None
        raise UsageError(f"{label}: invalid TOML: {message}") from None
    return data
