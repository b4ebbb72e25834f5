"""A Dockerfile parser that follows BuildKit's rules, for linting (no side effects).

What it understands, the way ``docker build`` does:

- parser directives at the top (``# syntax=``, ``# escape=`` with ``\\`` or a backtick,
  ``# check=``), a UTF-8 BOM, CRLF line endings;
- line continuations with the escape character (trailing blanks allowed after it), comment
  lines and blank lines inside a continuation (dropped, as BuildKit drops them);
- heredocs on ``RUN``, ``COPY`` and ``ADD`` (``<<EOF``, ``<<-EOF``, ``<<"EOF"``, several per
  line), their bodies kept with the line they start on;
- exec (JSON array) and shell forms of ``RUN``, ``CMD``, ``ENTRYPOINT``, ``SHELL`` and
  ``HEALTHCHECK CMD`` (a JSON array that does not parse is shell form, as in Docker);
- ``--flag=value`` options (``FROM --platform``, ``COPY --from``, ``RUN --mount``,
  ``HEALTHCHECK --start-period``);
- multi-stage builds (``FROM ... AS name``, a stage built ``FROM`` an earlier one), ``ARG``
  before the first ``FROM`` (overridable by build arguments) and per stage, ``ENV``, and
  variable substitution (``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR:+alt}``) where
  Docker applies it: ``FROM``, ``COPY``/``ADD``, ``ENV``, ``ARG``, ``WORKDIR`` and the like,
  never ``RUN``/``CMD``/``ENTRYPOINT`` (the shell expands those when the container runs).

Every instruction keeps the number of its first physical line. Errors Docker itself reports
(an unknown instruction, an instruction before ``FROM``, an unterminated heredoc, a bad escape
directive, an empty file, binary bytes) raise :class:`DockerfileError` with the line; nothing
else is raised, whatever the input (a property test feeds it random text).

>>> df = parse("ARG CUDA=12.8.1\\nFROM nvidia/cuda:${CUDA}-devel-ubuntu22.04 AS build\\n")
>>> df.stages[0].base, df.stages[0].name, df.stages[0].line
('nvidia/cuda:12.8.1-devel-ubuntu22.04', 'build', 2)
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "INSTRUCTIONS",
    "Dockerfile",
    "DockerfileError",
    "Heredoc",
    "Instruction",
    "Stage",
    "clip",
    "expand",
    "join_path",
    "parse",
    "parse_exec_form",
    "redact",
    "runtime",
    "shell_words",
    "split_commands",
    "to_facts",
]

INSTRUCTIONS = frozenset(
    {
        "ADD",
        "ARG",
        "CMD",
        "COPY",
        "ENTRYPOINT",
        "ENV",
        "EXPOSE",
        "FROM",
        "HEALTHCHECK",
        "LABEL",
        "MAINTAINER",
        "ONBUILD",
        "RUN",
        "SHELL",
        "STOPSIGNAL",
        "USER",
        "VOLUME",
        "WORKDIR",
    }
)
"""Every instruction BuildKit accepts; anything else is "unknown instruction"."""

_DIRECTIVES = frozenset({"syntax", "escape", "check"})
_WITH_FLAGS = frozenset({"ADD", "COPY", "FROM", "RUN", "HEALTHCHECK"})
_WITH_HEREDOCS = frozenset({"ADD", "COPY", "RUN"})
_EXEC_CAPABLE = frozenset({"CMD", "ENTRYPOINT", "RUN", "SHELL"})
# Docker expands variables in these (docs: "Environment replacement").
_EXPANDED = frozenset(
    {"ADD", "COPY", "ENV", "EXPOSE", "LABEL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"}
)

_DIRECTIVE_RE = re.compile(r"^#\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(.*?)\s*$")
_HEREDOC_RE = re.compile(r"(?<!<)<<(-?)\s*([\"']?)([A-Za-z_][A-Za-z0-9_.-]*)\2")
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEYWORD_RE = re.compile(r"\s*(\S+)\s*(.*)", re.DOTALL)

MAX_TEXT = 4000
"""Characters kept of one instruction's text in the facts (a RUN is rarely longer)."""
MAX_HEREDOC = 8000
"""Characters kept of one heredoc body in the facts."""


class DockerfileError(ValueError):
    """The Dockerfile is not one Docker would build: ``line`` (1-based) and ``message``."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


@dataclass(frozen=True)
class Heredoc:
    """A here-document body: its delimiter, the line its body starts on, and the text."""

    name: str
    line: int
    text: str
    strip_tabs: bool = False


@dataclass(frozen=True)
class Instruction:
    """One instruction: keyword, lines, flags, the exec form (a list) or the shell text."""

    keyword: str
    line: int
    end_line: int
    stage: int
    """Index of the stage it belongs to; -1 for an ``ARG`` before the first ``FROM``."""
    text: str
    """Everything after the keyword and the flags, continuations joined (not expanded)."""
    flags: Mapping[str, str | None] = field(default_factory=dict)
    exec_form: tuple[str, ...] | None = None
    heredocs: tuple[Heredoc, ...] = ()
    expanded: str | None = None
    """``text`` after variable substitution, for the instructions Docker expands."""
    workdir: str = "/"
    """The working directory in force when it runs (relative paths resolve against it)."""
    variables: Mapping[str, str] = field(default_factory=dict)
    """``ENV``/``ARG`` names set by this instruction, with their values (not redacted)."""


@dataclass(frozen=True)
class Stage:
    """A build stage: where its ``FROM`` is, the base image (substituted), its name."""

    index: int
    line: int
    base: str
    base_raw: str
    name: str | None = None
    parent: int | None = None
    """Index of the earlier stage it is built ``FROM``, if any."""
    platform: str | None = None
    unresolved: tuple[str, ...] = ()
    """Variables in ``FROM`` that had no value (the base is then uncertain)."""


@dataclass(frozen=True)
class Dockerfile:
    """A parsed Dockerfile."""

    instructions: tuple[Instruction, ...]
    stages: tuple[Stage, ...]
    directives: Mapping[str, str] = field(default_factory=dict)
    escape: str = "\\"
    bom: bool = False
    crlf: bool = False

    def stage_named(self, ref: str) -> Stage | None:
        """The stage called ``ref`` (a name, case-insensitive, or an index)."""
        for stage in self.stages:
            if stage.name is not None and stage.name == ref.lower():
                return stage
        if ref.isdigit() and int(ref) < len(self.stages):
            return self.stages[int(ref)]
        return None

    def in_stage(self, index: int) -> Iterator[Instruction]:
        """The instructions of stage ``index`` (its ``FROM`` included)."""
        return (i for i in self.instructions if i.stage == index)


# --------------------------------------------------------------------------------------------
# Variable substitution
# --------------------------------------------------------------------------------------------


def expand(
    text: str, variables: Mapping[str, str], escape: str = "\\", missing: list[str] | None = None
) -> str:
    """``text`` with ``$VAR``, ``${VAR}``, ``${VAR:-word}``, ``${VAR:+word}`` substituted.

    Single-quoted parts are left alone; the escape character before ``$`` keeps it literal.
    An unset variable becomes empty; its name is appended to ``missing`` when given.

    >>> expand("nvidia/cuda:${V:-12.8.1}-devel $X", {"X": "y"})
    'nvidia/cuda:12.8.1-devel y'
    """
    out: list[str] = []
    i = 0
    quote: str | None = None
    n = len(text)
    while i < n:
        char = text[i]
        if char == escape and i + 1 < n and quote != "'":
            if text[i + 1] == "$":
                out.append("$")
                i += 2
                continue
            out.append(text[i : i + 2])
            i += 2
            continue
        if char in "'\"":
            if quote is None:
                quote = char
            elif quote == char:
                quote = None
            out.append(char)
            i += 1
            continue
        if char != "$" or quote == "'":
            out.append(char)
            i += 1
            continue
        if i + 1 < n and text[i + 1] == "{":
            end = _closing_brace(text, i + 2)
            if end < 0:
                out.append(text[i:])
                break
            out.append(_expand_braced(text[i + 2 : end], variables, escape, missing))
            i = end + 1
            continue
        match = _VAR_NAME.match(text, i + 1)
        if match is None:
            out.append(char)
            i += 1
            continue
        name = match.group(0)
        if name in variables:
            out.append(variables[name])
        elif missing is not None:
            missing.append(name)
        i = match.end()
    return "".join(out)


def _closing_brace(text: str, start: int) -> int:
    """Index of the ``}`` closing a ``${`` whose body starts at ``start`` (nesting allowed)."""
    depth = 1
    i = start
    while i < len(text):
        if text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _expand_braced(
    inner: str, variables: Mapping[str, str], escape: str, missing: list[str] | None
) -> str:
    match = _VAR_NAME.match(inner)
    if match is None:
        return "${" + inner + "}"
    name, rest = match.group(0), inner[match.end() :]
    value = variables.get(name)
    if rest == "":
        if value is None and missing is not None:
            missing.append(name)
        return value or ""
    for operator in (":-", ":+", "-", "+"):
        if rest.startswith(operator):
            word = expand(rest[len(operator) :], variables, escape, missing)
            if operator == ":-":
                return value if value else word
            if operator == "-":
                return value if value is not None else word
            if operator == ":+":
                return word if value else ""
            return word if value is not None else ""
    # ${VAR#pattern} and friends: keep the value, uncut (good enough to read a base image).
    return value or ""


# --------------------------------------------------------------------------------------------
# Words and commands
# --------------------------------------------------------------------------------------------


def shell_words(text: str, punctuation: bool = True) -> list[str]:
    """Split shell text into words (quotes removed); tolerant of unbalanced quotes.

    With ``punctuation``, ``;``, ``&&``, ``|`` and the like are words of their own.
    """
    try:
        lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|()<>" if punctuation else False)
        lexer.whitespace_split = True
        lexer.commenters = ""
        return list(lexer)
    except ValueError:
        return text.split()


_SEPARATORS = frozenset({";", "&&", "||", "|", "&", "(", ")", "\n"})


def split_commands(text: str) -> list[list[str]]:
    """The simple commands of shell text: words split at ``;``, ``&&``, ``||``, ``|``, newlines.

    Comment lines are dropped. ``sudo``, ``exec``, ``env VAR=x`` and ``VAR=x`` prefixes stay in
    the words; callers look past them (see ``command_name`` in ``checks._docker``).
    """
    commands: list[list[str]] = []
    for line in text.split("\n"):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        current: list[str] = []
        for word in shell_words(stripped):
            if word in _SEPARATORS or set(word) <= set(";&|()"):
                if current:
                    commands.append(current)
                current = []
                continue
            if word.startswith("#") and not current:
                break
            current.append(word)
        if current:
            commands.append(current)
    return commands


# --------------------------------------------------------------------------------------------
# Secrets
# --------------------------------------------------------------------------------------------

_SECRET_NAME = r"[A-Za-z0-9_]*(?:TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|APIKEY|ACCESS_KEY|_KEY)\b"
_ASSIGN_RE = re.compile(rf"(?i)\b({_SECRET_NAME})(\s*[=:]\s*|\s+)([\"']?)([^\s\"']+)\3")
_FLAG_RE = re.compile(
    r"(?i)(--(?:token|api-key|api_key|password|secret|hf-token|hf_token|auth-token)"
    r"(?:=|\s+))([\"']?)([^\s\"']+)\2"
)
_HEADER_RE = re.compile(
    r"(?i)((?:kyutai-api-key|authorization|x-api-key)\s*:\s*(?:bearer\s+|token\s+)?)"
    r"([^\s\"']+)"
)
_HF_TOKEN_RE = re.compile(r"\bhf_[A-Za-z0-9]{8,}\b")
_USERINFO_RE = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@\"']+@")
_QUERY_RE = re.compile(r"(?i)([?&](?:auth_id|api_key|token|key)=)[^&\s\"']+")


def _is_reference(value: str) -> bool:
    return value.startswith("$") or value in ("***", "")


def redact(text: str) -> str:
    """``text`` with secret values replaced by ``***``: variables named like tokens or keys,
    ``--token X`` style flags, API-key headers, Hugging Face tokens, URL credentials.

    References to variables (``$HF_TOKEN``) are kept: they are not secrets.

    >>> redact("ENV HF_TOKEN=hf_abcdefghijklmnop KYUTAI_API_KEY=$KEY")
    'ENV HF_TOKEN=*** KYUTAI_API_KEY=$KEY'
    """

    def assignment(match: re.Match[str]) -> str:
        value = match.group(4)
        if _is_reference(value):
            return match.group(0)
        return f"{match.group(1)}{match.group(2)}{match.group(3)}***{match.group(3)}"

    def flag(match: re.Match[str]) -> str:
        value = match.group(3)
        if _is_reference(value):
            return match.group(0)
        return f"{match.group(1)}{match.group(2)}***{match.group(2)}"

    def header(match: re.Match[str]) -> str:
        return match.group(0) if _is_reference(match.group(2)) else f"{match.group(1)}***"

    text = _ASSIGN_RE.sub(assignment, text)
    text = _FLAG_RE.sub(flag, text)
    text = _HEADER_RE.sub(header, text)
    text = _HF_TOKEN_RE.sub("***", text)
    text = _USERINFO_RE.sub(lambda m: f"{m.group(1)}***@", text)
    return _QUERY_RE.sub(lambda m: f"{m.group(1)}***", text)


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------


@dataclass
class _Logical:
    line: int
    end_line: int
    text: str
    heredocs: list[Heredoc]


def _physical_lines(text: str) -> tuple[list[str], bool, bool]:
    bom = text.startswith("\ufeff")
    if bom:
        text = text[1:]
    crlf = "\r\n" in text
    lines = text.split("\n")
    return [line[:-1] if line.endswith("\r") else line for line in lines], bom, crlf


def _directives(lines: list[str]) -> tuple[dict[str, str], int]:
    """Parser directives at the top, and the index of the first line after them."""
    found: dict[str, str] = {}
    index = 0
    for index, line in enumerate(lines):  # noqa: B007 - the index is returned
        match = _DIRECTIVE_RE.match(line.strip())
        if match is None or match.group(1).lower() not in _DIRECTIVES:
            return found, index
        key = match.group(1).lower()
        if key in found:
            raise DockerfileError(index + 1, f"only one {key} parser directive can be used")
        found[key] = match.group(2)
    return found, len(lines)


def _continues(line: str, escape: str) -> str | None:
    """The line without its trailing escape character, or None when it does not continue."""
    stripped = line.rstrip(" \t")
    if stripped.endswith(escape):
        return stripped[: -len(escape)]
    return None


def _logical_lines(lines: list[str], start: int, escape: str) -> Iterator[_Logical]:
    i = start
    total = len(lines)
    while i < total:
        line = lines[i]
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        first = i
        parts: list[str] = []
        current: str | None = line
        while current is not None:
            continued = _continues(current, escape)
            if continued is None:
                parts.append(current)
                break
            parts.append(continued)
            i += 1
            # Comment and blank lines inside a continuation are dropped, as BuildKit does.
            while i < total and (not lines[i].strip() or lines[i].strip().startswith("#")):
                i += 1
            current = lines[i] if i < total else None
        text = "".join(parts)
        end = min(i, total - 1)
        heredocs: list[Heredoc] = []
        keyword = stripped.split(None, 1)[0].upper()
        if keyword in _WITH_HEREDOCS or (
            keyword == "ONBUILD" and _onbuild_keyword(text) in _WITH_HEREDOCS
        ):
            for match in _HEREDOC_RE.finditer(text):
                strip_tabs, name = match.group(1) == "-", match.group(3)
                body_start = end + 1
                j = body_start
                body: list[str] = []
                while j < total:
                    candidate = lines[j].lstrip("\t") if strip_tabs else lines[j]
                    if candidate == name:
                        break
                    body.append(candidate)
                    j += 1
                else:
                    raise DockerfileError(
                        first + 1,
                        f"heredoc <<{name} opened on line {first + 1} is never closed",
                    )
                heredocs.append(Heredoc(name, body_start + 1, "\n".join(body), strip_tabs))
                end = j
        yield _Logical(first + 1, end + 1, text, heredocs)
        i = end + 1


def _onbuild_keyword(text: str) -> str:
    words = text.split(None, 2)
    return words[1].upper() if len(words) > 1 else ""


_FLAG_TOKEN = re.compile(r"--([A-Za-z][A-Za-z0-9_-]*)(?:=(\S*))?(?:\s+|$)")


def _split_flags(text: str) -> tuple[dict[str, str | None], str]:
    """Leading ``--name=value`` / ``--name`` options, and the rest of the text."""
    flags: dict[str, str | None] = {}
    rest = text.lstrip()
    while True:
        match = _FLAG_TOKEN.match(rest)
        if match is None:
            return flags, rest
        flags[match.group(1).lower()] = match.group(2)
        rest = rest[match.end() :]


def parse_exec_form(text: str) -> tuple[str, ...] | None:
    """The words of an exec-form argument (a JSON array of strings), else ``None``."""
    stripped = text.strip()
    if not stripped.startswith("["):
        return None
    try:
        value = json.loads(stripped)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def _key_values(text: str) -> list[tuple[str, str | None]]:
    """``ENV``/``ARG`` pairs: ``A=1 B="two words"``, ``ARG NAME``, legacy ``ENV A b c``."""
    words = shell_words(text, punctuation=False)
    if not words:
        return []
    if "=" not in words[0]:
        # Legacy ``ENV NAME value words`` (one pair), or ``ARG NAME`` without a default.
        name = words[0]
        return [(name, " ".join(words[1:]) if len(words) > 1 else None)]
    pairs: list[tuple[str, str | None]] = []
    for word in words:
        name, eq, value = word.partition("=")
        pairs.append((name, value if eq else None))
    return pairs


def _normpath(path: str) -> str:
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/" + "/".join(parts)


def join_path(workdir: str, path: str) -> str:
    """``path`` made absolute against ``workdir`` and normalised (``..`` stops at ``/``)."""
    return _normpath(path if path.startswith("/") else f"{workdir}/{path}")


def parse(text: str, build_args: Mapping[str, str] | None = None) -> Dockerfile:
    """Parse Dockerfile text; ``build_args`` override ``ARG`` defaults (``--build-arg``).

    Raises :class:`DockerfileError` (with the line) for what Docker rejects; nothing else.
    """
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise DockerfileError(line, "binary content (a NUL byte): not a Dockerfile")
    lines, bom, crlf = _physical_lines(text)
    directives, start = _directives(lines)
    escape = directives.get("escape", "\\")
    if escape not in ("\\", "`"):
        raise DockerfileError(
            list(directives).index("escape") + 1,
            f"invalid escape token {escape!r} does not match ` or \\",
        )
    given = dict(build_args or {})
    global_args: dict[str, str] = {}
    instructions: list[Instruction] = []
    stages: list[Stage] = []
    stage_vars: dict[str, str] = {}
    workdir = "/"
    stage_env: list[dict[str, str]] = []
    stage_workdir: list[str] = []

    for logical in _logical_lines(lines, start, escape):
        match = _KEYWORD_RE.match(logical.text)
        if match is None:  # pragma: no cover - _logical_lines yields non-blank lines only
            continue
        keyword, rest = match.group(1).upper(), match.group(2).strip()
        if keyword not in INSTRUCTIONS:
            raise DockerfileError(logical.line, f"unknown instruction: {keyword}")
        if not rest and not logical.heredocs:
            raise DockerfileError(logical.line, f"{keyword} requires at least one argument")
        flags: dict[str, str | None] = {}
        if keyword in _WITH_FLAGS:
            flags, rest = _split_flags(rest)
        variables: dict[str, str] = {}

        if keyword == "FROM":
            words = rest.split()
            if not words:
                raise DockerfileError(logical.line, "FROM requires at least one argument")
            name = None
            if len(words) >= 3 and words[1].lower() == "as":
                name = words[2].lower()
            elif len(words) != 1:
                raise DockerfileError(
                    logical.line, "FROM requires either one or three arguments (image AS name)"
                )
            missing: list[str] = []
            base = expand(words[0], {**global_args}, escape, missing)
            platform = flags.get("platform")
            parent_stage = next(
                (s for s in stages if s.name is not None and s.name == base.lower()), None
            )
            stage = Stage(
                index=len(stages),
                line=logical.line,
                base=base,
                base_raw=words[0],
                name=name,
                parent=parent_stage.index if parent_stage else None,
                platform=expand(platform, global_args, escape) if platform else None,
                unresolved=tuple(dict.fromkeys(missing)),
            )
            stages.append(stage)
            if parent_stage is not None:
                stage_vars = dict(stage_env[parent_stage.index])
                workdir = stage_workdir[parent_stage.index]
            else:
                stage_vars, workdir = {}, "/"
            stage_env.append(stage_vars)
            stage_workdir.append(workdir)
        elif not stages and keyword != "ARG":
            raise DockerfileError(
                logical.line, f"{keyword} before the first FROM (only ARG may come first)"
            )
        elif keyword == "ARG":
            for name, default in _key_values(rest):
                if not stages:
                    value = given.get(name, default)
                    if value is not None:
                        global_args[name] = expand(value, global_args, escape)
                        variables[name] = global_args[name]
                    continue
                if name in given:
                    value = given[name]
                elif default is not None:
                    value = expand(default, stage_vars, escape)
                else:
                    value = global_args.get(name)
                if value is not None:
                    stage_vars[name] = value
                    variables[name] = value
        elif keyword == "ENV":
            for name, value in _key_values(rest):
                if value is None:
                    raise DockerfileError(logical.line, f"ENV {name} has no value")
                stage_vars[name] = expand(value, stage_vars, escape)
                variables[name] = stage_vars[name]
        elif keyword == "WORKDIR":
            workdir = join_path(workdir, expand(rest, stage_vars, escape).strip("\"'"))
            stage_workdir[-1] = workdir

        exec_form = None
        if keyword in _EXEC_CAPABLE:
            exec_form = parse_exec_form(rest)
        elif keyword == "HEALTHCHECK":
            head, _, tail = rest.partition(" ")
            if head.upper() == "CMD":
                exec_form = parse_exec_form(tail)
            elif head.upper() != "NONE":
                raise DockerfileError(logical.line, "HEALTHCHECK takes CMD or NONE")
        if keyword == "SHELL" and exec_form is None:
            raise DockerfileError(logical.line, "SHELL requires the arguments as a JSON array")
        expanded = (
            expand(rest, stage_vars, escape)
            if keyword in _EXPANDED or (keyword == "ONBUILD" and stages)
            else None
        )
        instructions.append(
            Instruction(
                keyword=keyword,
                line=logical.line,
                end_line=logical.end_line,
                stage=len(stages) - 1,
                text=rest,
                flags=flags,
                exec_form=exec_form,
                heredocs=tuple(logical.heredocs),
                expanded=expanded,
                workdir=workdir,
                variables=variables,
            )
        )
    if not instructions:
        raise DockerfileError(1, "the file has no instructions")
    if not stages:
        raise DockerfileError(instructions[-1].line, "no FROM instruction: no build stage")
    return Dockerfile(
        instructions=tuple(instructions),
        stages=tuple(stages),
        directives=directives,
        escape=escape,
        bom=bom,
        crlf=crlf,
    )


# --------------------------------------------------------------------------------------------
# What the image runs
# --------------------------------------------------------------------------------------------


def runtime(dockerfile: Dockerfile, final: int | None = None) -> dict[str, Any]:
    """The stage chain of the image (``final`` stage first, then what it is built ``FROM``),
    and the lines of the ``ENTRYPOINT`` and ``CMD`` in force when its container starts.

    The last of each in the chain wins; an ``ENTRYPOINT`` set in a later stage than the last
    ``CMD`` resets it, as Docker does.
    """
    index = len(dockerfile.stages) - 1 if final is None else final
    chain = [index]
    parent = dockerfile.stages[index].parent
    while parent is not None and parent not in chain:
        chain.append(parent)
        parent = dockerfile.stages[parent].parent
    members = set(chain)
    entrypoint = cmd = None
    for ins in dockerfile.instructions:
        if ins.stage not in members:
            continue
        if ins.keyword == "ENTRYPOINT":
            entrypoint = ins
        elif ins.keyword == "CMD":
            cmd = ins
    if entrypoint is not None and cmd is not None and entrypoint.stage != cmd.stage:
        if chain.index(entrypoint.stage) < chain.index(cmd.stage):
            cmd = None
    return {
        "final_stage": index,
        "chain": chain,
        "entrypoint_line": entrypoint.line if entrypoint else None,
        "cmd_line": cmd.line if cmd else None,
    }


# --------------------------------------------------------------------------------------------
# Facts
# --------------------------------------------------------------------------------------------


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters (an ellipsis marks the cut)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _copy_facts(instruction: Instruction) -> dict[str, Any]:
    words = shell_words(instruction.expanded or instruction.text)
    exec_form = parse_exec_form(instruction.expanded or instruction.text)
    if exec_form is not None:
        words = list(exec_form)
    sources, dest = words[:-1], (words[-1] if words else "")
    return {
        "sources": sources,
        "dest": dest,
        "dest_path": join_path(instruction.workdir, dest) if dest else None,
        "dest_is_dir": dest.endswith("/") or len(sources) > 1,
    }


def to_facts(dockerfile: Dockerfile) -> dict[str, Any]:
    """JSON facts of a parsed Dockerfile (texts redacted and clipped)."""
    stages = [
        {
            "index": s.index,
            "line": s.line,
            "name": s.name,
            "base": s.base,
            "base_raw": s.base_raw,
            "parent": s.parent,
            "platform": s.platform,
            "unresolved": list(s.unresolved),
        }
        for s in dockerfile.stages
    ]
    instructions: list[dict[str, Any]] = []
    for ins in dockerfile.instructions:
        record: dict[str, Any] = {
            "keyword": ins.keyword,
            "line": ins.line,
            "end_line": ins.end_line,
            "stage": ins.stage,
            "text": clip(redact(ins.text), MAX_TEXT),
            "flags": {k: (redact(v) if v else v) for k, v in ins.flags.items()},
            "form": None
            if ins.keyword not in _EXEC_CAPABLE and ins.keyword != "HEALTHCHECK"
            else ("exec" if ins.exec_form is not None else "shell"),
            "exec": [redact(w) for w in ins.exec_form] if ins.exec_form is not None else None,
            "workdir": ins.workdir,
        }
        if ins.heredocs:
            record["heredocs"] = [
                {"name": h.name, "line": h.line, "text": clip(redact(h.text), MAX_HEREDOC)}
                for h in ins.heredocs
            ]
        if ins.variables:
            record["variables"] = {
                name: redact(f"{name}={value}").partition("=")[2]
                for name, value in ins.variables.items()
            }
        if ins.keyword in ("COPY", "ADD"):
            record.update(_copy_facts(ins))
        if ins.keyword == "HEALTHCHECK":
            head, _, tail = ins.text.partition(" ")
            record["none"] = head.upper() == "NONE"
            record["command"] = clip(redact(tail.strip()), MAX_TEXT)
        instructions.append(record)
    return {
        "escape": dockerfile.escape,
        "directives": dict(dockerfile.directives),
        "bom": dockerfile.bom,
        "crlf": dockerfile.crlf,
        "stages": stages,
        "instructions": instructions,
        **runtime(dockerfile),
    }
