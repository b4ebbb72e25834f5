"""The deployment files: Dockerfiles, compose files, and the scripts the images copy and run.

Which files: those named with ``--dockerfile`` / ``--compose`` (repeatable); with neither,
``Dockerfile*``, ``docker-compose*.y*ml`` and ``compose.y*ml`` in the current directory. A
compose service's ``build:`` adds its Dockerfile (with the service's build arguments and
target). Each file is read with a size cap and parsed by :mod:`kyudoctor.dockerfile` /
:mod:`kyudoctor.compose`; a file that does not parse is a fact (``error`` with its line), not
an exception. Only a file named on the command line that cannot be read raises
:class:`~kyudoctor.errors.UnusableInput`.

Scripts: every path a ``RUN``, ``ENTRYPOINT``/``CMD`` or compose ``command``/``entrypoint``
runs that the image got from the build context (``COPY``/``ADD``, followed through the copies,
the ``WORKDIR`` and the stage chain) or from a bind mount, and every shell script copied by
name, is read: its first CRLF line (BIN007) and its lines that install or run things (pip, uv,
cargo, moshi-server), redacted, so checks see what the container does when it starts.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kyudoctor import compose, dockerfile
from kyudoctor.errors import UnusableInput
from kyudoctor.probes import ProbeContext

MAX_FILE_BYTES = 1 << 20
"""Dockerfiles and compose files are kilobytes; a larger one is reported, not read."""
MAX_SCRIPT_BYTES = 1 << 20
"""Scripts are read up to this size (the CRLF fact needs only the first lines)."""
MAX_SCRIPT_LINES = 200
"""Lines of interest kept per script."""
DOCKERFILE_PATTERNS = ("Dockerfile*",)
COMPOSE_PATTERNS = ("docker-compose*.yml", "docker-compose*.yaml", "compose.yml", "compose.yaml")

_INTERESTING = re.compile(r"moshi|cargo|pip|\buv\b|uvx|torch|python|conda|poetry|rustup")
_SHELL_NAMES = frozenset({"sh", "bash", "dash", "zsh", "ash", "/bin/sh", "/bin/bash"})


def probe(ctx: ProbeContext) -> dict[str, Any]:
    """Gather the ``files`` facts (see the contract in docs/architecture.md)."""
    given_dockerfiles = [str(p) for p in ctx.options.get("dockerfiles") or []]
    given_compose = [str(p) for p in ctx.options.get("compose_files") or []]
    explicit = bool(given_dockerfiles or given_compose)
    if explicit:
        for option, paths in (("--dockerfile", given_dockerfiles), ("--compose", given_compose)):
            for path in paths:
                _require_readable(ctx, option, path)
        dockerfile_paths, compose_paths = given_dockerfiles, given_compose
    else:
        dockerfile_paths = _discover(ctx.cwd, DOCKERFILE_PATTERNS)
        compose_paths = _discover(ctx.cwd, COMPOSE_PATTERNS)

    collector = _Collector(ctx)
    for path in dockerfile_paths:
        collector.add_dockerfile(
            path, origin="--dockerfile" if explicit else "discovered", contexts=[".", _dir(path)]
        )
    compose_facts = [
        collector.add_compose(path, origin="--compose" if explicit else "discovered")
        for path in compose_paths
    ]
    collector.find_scripts(compose_facts)
    return {
        "cwd": str(ctx.cwd),
        "source": "command line" if explicit else "discovered",
        "searched": [] if explicit else [*DOCKERFILE_PATTERNS, *COMPOSE_PATTERNS],
        "dockerfiles": [d.facts for d in collector.dockerfiles],
        "compose_files": compose_facts,
        "scripts": list(collector.scripts.values()),
    }


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def _resolve(ctx: ProbeContext, path: str) -> Path:
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else ctx.cwd / candidate


def _require_readable(ctx: ProbeContext, option: str, path: str) -> None:
    real = _resolve(ctx, path)
    if not real.exists():
        raise UnusableInput(f"{option} {path}: no such file")
    if real.is_dir():
        raise UnusableInput(f"{option} {path}: is a directory")
    if not os.access(real, os.R_OK):
        raise UnusableInput(f"{option} {path}: not readable")


def _discover(cwd: Path, patterns: Iterable[str]) -> list[str]:
    try:
        names = sorted(os.listdir(cwd))
    except OSError:
        return []
    found = []
    for name in names:
        if any(fnmatch.fnmatchcase(name, p) for p in patterns) and (cwd / name).is_file():
            # Editor backups and disabled copies are not what docker builds.
            if not name.endswith(("~", ".bak", ".orig", ".swp")):
                found.append(name)
    return found


def _dir(path: str) -> str:
    return posixpath.dirname(path) or "."


def _display(*parts: str) -> str:
    """A path for the report: joined and normalised, relative when the parts are."""
    joined = posixpath.join(*parts) if parts else "."
    return posixpath.normpath(joined)


@dataclass
class _Read:
    text: str | None
    error: str | None
    size: int | None = None


def _read_text(real: Path, limit: int) -> _Read:
    try:
        with open(real, "rb") as stream:
            data = stream.read(limit + 1)
    except FileNotFoundError:
        return _Read(None, "no such file")
    except IsADirectoryError:
        return _Read(None, "is a directory")
    except OSError as exc:
        return _Read(None, f"cannot read it ({exc.strerror or exc})")
    if len(data) > limit:
        return _Read(None, f"larger than {limit // 2**20} MiB: not read", len(data))
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _Read(None, "UTF-16 encoded: Docker reads UTF-8 text", len(data))
    return _Read(data.decode("utf-8", errors="replace"), None, len(data))


# --------------------------------------------------------------------------------------------
# Dockerfiles, compose files, scripts
# --------------------------------------------------------------------------------------------


@dataclass
class _Dockerfile:
    facts: dict[str, Any]
    parsed: dockerfile.Dockerfile | None
    contexts: list[str]
    key: tuple[str, tuple[tuple[str, str], ...], str | None]
    references: list[dict[str, Any]] = field(default_factory=list)


class _Collector:
    def __init__(self, ctx: ProbeContext) -> None:
        self.ctx = ctx
        self.dockerfiles: list[_Dockerfile] = []
        self.scripts: dict[str, dict[str, Any]] = {}

    # -- Dockerfiles ---------------------------------------------------------------------------

    def add_dockerfile(
        self,
        path: str,
        *,
        origin: str,
        contexts: list[str],
        build_args: Mapping[str, str] | None = None,
        target: str | None = None,
        reference: dict[str, Any] | None = None,
        inline: tuple[str, int] | None = None,
    ) -> _Dockerfile:
        args = dict(build_args or {})
        key = (posixpath.normpath(path), tuple(sorted(args.items())), target)
        for existing in self.dockerfiles:
            if existing.key == key and inline is None:
                if reference is not None:
                    existing.facts["referenced_by"].append(reference)
                return existing
        facts: dict[str, Any] = {
            "path": path,
            "origin": origin,
            "context": contexts[0],
            "referenced_by": [reference] if reference else [],
            "build_args": {
                k: dockerfile.redact(f"{k}={v}").partition("=")[2] for k, v in args.items()
            },
            "target": target,
            "inline": inline is not None,
            "line_offset": inline[1] if inline else 0,
            "size": None,
            "error": None,
        }
        if inline is not None:
            read = _Read(inline[0], None, len(inline[0]))
        else:
            read = _read_text(_resolve(self.ctx, path), MAX_FILE_BYTES)
        facts["size"] = read.size
        parsed = None
        if read.text is None:
            facts["error"] = {"line": 1, "message": read.error}
        else:
            try:
                parsed = dockerfile.parse(read.text, build_args=args)
                facts.update(dockerfile.to_facts(parsed))
                if target is not None:
                    stage = parsed.stage_named(target)
                    if stage is None:
                        facts["error"] = {
                            "line": parsed.stages[-1].line,
                            "message": f"target stage {target!r} is not defined",
                        }
                    else:
                        facts.update(dockerfile.runtime(parsed, stage.index))
            except dockerfile.DockerfileError as exc:
                facts["error"] = {"line": exc.line, "message": exc.message}
        if inline is not None:
            _shift_lines(facts, inline[1])
        entry = _Dockerfile(facts, parsed, _unique(contexts), key)
        self.dockerfiles.append(entry)
        return entry

    # -- compose -------------------------------------------------------------------------------

    def add_compose(self, path: str, *, origin: str) -> dict[str, Any]:
        facts: dict[str, Any] = {"path": path, "origin": origin, "error": None, "services": []}
        read = _read_text(_resolve(self.ctx, path), MAX_FILE_BYTES)
        facts["size"] = read.size
        if read.text is None:
            facts["error"] = {"line": 1, "message": read.error}
            return facts
        try:
            facts.update(compose.parse(read.text, env=self.ctx.env))
        except compose.ComposeError as exc:
            facts["error"] = {"line": exc.line, "column": exc.column, "message": exc.message}
            return facts
        base = _dir(path)
        for service in facts["services"]:
            build = service.get("build")
            if not build or build.get("remote"):
                continue
            context = _display(base, build["context"])
            reference = {"file": path, "line": build["line"], "service": service["name"]}
            if build.get("dockerfile_inline") is not None:
                entry = self.add_dockerfile(
                    path,
                    origin="compose",
                    contexts=[context],
                    build_args=build.get("args"),
                    target=build.get("target"),
                    reference=reference,
                    inline=(build["dockerfile_inline"], build["dockerfile_inline_line"] or 1),
                )
            else:
                name = build.get("dockerfile") or "Dockerfile"
                entry = self.add_dockerfile(
                    name if posixpath.isabs(name) else _display(context, name),
                    origin="compose",
                    contexts=[context],
                    build_args=build.get("args"),
                    target=build.get("target"),
                    reference=reference,
                )
            build["dockerfile_path"] = entry.facts["path"]
            build["dockerfile_index"] = self.dockerfiles.index(entry)
        return facts

    # -- scripts -------------------------------------------------------------------------------

    def find_scripts(self, compose_facts: list[dict[str, Any]]) -> None:
        for entry in self.dockerfiles:
            if entry.parsed is None or entry.facts.get("error"):
                continue
            self._dockerfile_scripts(entry)
        for facts in compose_facts:
            for service in facts.get("services") or []:
                self._service_scripts(facts["path"], service)

    def _dockerfile_scripts(self, entry: _Dockerfile) -> None:
        parsed = entry.parsed
        assert parsed is not None
        final = int(entry.facts["final_stage"])
        last = [i for i in parsed.instructions if i.stage == final][-1]
        starts = {entry.facts.get("entrypoint_line"), entry.facts.get("cmd_line")} - {None}
        offset = int(entry.facts.get("line_offset") or 0)
        for ins in parsed.instructions:
            if ins.keyword == "RUN":
                run_at, at, after = "build", ins, False
            elif ins.keyword in ("ENTRYPOINT", "CMD") and ins.line + offset in starts:
                # At container start every copy of the image is in place, wherever it was made.
                run_at, at, after = "start", last, True
            elif ins.keyword in ("COPY", "ADD") and not ins.flags.get("from"):
                self._copied_scripts(entry, ins, offset)
                continue
            else:
                continue
            for word in _command_words(ins):
                container_path = _container_path(word, ins.workdir)
                if container_path is None:
                    continue
                source = _source_of(parsed, at, container_path, self.ctx, entry.contexts, after)
                if source is None:
                    continue
                self._add_script(
                    source,
                    container_path=container_path,
                    run_at=run_at,
                    dockerfile_path=entry.facts["path"],
                    stage=ins.stage if run_at == "build" else final,
                    reference={"file": entry.facts["path"], "line": ins.line + offset},
                )

    def _copied_scripts(self, entry: _Dockerfile, ins: dockerfile.Instruction, offset: int) -> None:
        for source in _copy_sources(ins):
            if any(c in source for c in "*?[") or "://" in source or source.startswith("<<"):
                continue
            if not source.endswith((".sh", ".bash")):
                continue
            for context in entry.contexts:
                display = _display(context, source.lstrip("/"))
                if _resolve(self.ctx, display).is_file():
                    self._add_script(
                        (display, None, 0),
                        container_path=None,
                        run_at="copied",
                        dockerfile_path=entry.facts["path"],
                        stage=ins.stage,
                        reference={"file": entry.facts["path"], "line": ins.line + offset},
                    )
                    break

    def _service_scripts(self, compose_path: str, service: Mapping[str, Any]) -> None:
        build = service.get("build") or {}
        index = build.get("dockerfile_index")
        entry = self.dockerfiles[index] if isinstance(index, int) else None
        for key in ("entrypoint", "command"):
            value = service.get(key)
            if value is None:
                continue
            words = value if isinstance(value, list) else dockerfile.shell_words(str(value))
            workdir = service.get("working_dir") or _final_workdir(entry)
            for word in words:
                container_path = _container_path(word, workdir)
                if container_path is None:
                    continue
                source = _bind_source(service, container_path, _dir(compose_path))
                if source is None and entry is not None and entry.parsed is not None:
                    final = int(entry.facts["final_stage"])
                    last = [i for i in entry.parsed.instructions if i.stage == final][-1]
                    source = _source_of(
                        entry.parsed, last, container_path, self.ctx, entry.contexts, after=True
                    )
                if source is None:
                    continue
                self._add_script(
                    source,
                    container_path=container_path,
                    run_at="start",
                    dockerfile_path=entry.facts["path"] if entry else None,
                    stage=None,
                    reference={
                        "file": compose_path,
                        "line": service.get(f"{key}_line") or service.get("line"),
                        "service": service.get("name"),
                    },
                )

    def _add_script(
        self,
        source: tuple[str, str | None, int],
        *,
        container_path: str | None,
        run_at: str,
        dockerfile_path: str | None,
        stage: int | None,
        reference: dict[str, Any],
    ) -> None:
        display, inline_text, text_offset = source
        key = f"{display}\x00{container_path or ''}" if inline_text is not None else display
        existing = self.scripts.get(key)
        if existing is not None:
            if reference not in existing["referenced_by"]:
                existing["referenced_by"].append(reference)
            if _RUN_AT_RANK[run_at] > _RUN_AT_RANK[existing["run_at"]]:
                existing.update(run_at=run_at, stage=stage, container_path=container_path)
            return
        facts: dict[str, Any] = {
            # A heredoc's lines are counted in its Dockerfile, so findings point there.
            "path": dockerfile_path if inline_text is not None and dockerfile_path else display,
            "label": display,
            "container_path": container_path,
            "run_at": run_at,
            "dockerfile": dockerfile_path,
            "stage": stage,
            "referenced_by": [reference],
            "inline": inline_text is not None,
        }
        if inline_text is not None:
            facts.update(_script_facts(inline_text.encode("utf-8"), line_offset=text_offset))
        else:
            real = _resolve(self.ctx, display)
            try:
                with open(real, "rb") as stream:
                    data = stream.read(MAX_SCRIPT_BYTES)
                facts.update(_script_facts(data))
            except OSError as exc:
                facts.update(exists=real.exists(), error=f"cannot read it ({exc.strerror or exc})")
        self.scripts[key] = facts


_RUN_AT_RANK = {"copied": 0, "build": 1, "start": 2}


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _shift_lines(facts: dict[str, Any], offset: int) -> None:
    """Lines of an inline Dockerfile counted in the compose file that holds it."""
    for record in [*facts.get("instructions", []), *facts.get("stages", [])]:
        for key in ("line", "end_line"):
            if isinstance(record.get(key), int):
                record[key] += offset
        for heredoc in record.get("heredocs", []):
            heredoc["line"] += offset
    for key in ("entrypoint_line", "cmd_line"):
        if isinstance(facts.get(key), int):
            facts[key] += offset
    if facts.get("error"):
        facts["error"]["line"] += offset


def _stage_chain(parsed: dockerfile.Dockerfile, index: int) -> list[int]:
    chain = [index]
    seen = {index}
    parent = parsed.stages[index].parent
    while parent is not None and parent not in seen:
        chain.append(parent)
        seen.add(parent)
        parent = parsed.stages[parent].parent
    return chain


def _final_workdir(entry: _Dockerfile | None) -> str:
    if entry is None or entry.parsed is None:
        return "/"
    final = int(entry.facts["final_stage"])
    return [i for i in entry.parsed.instructions if i.stage == final][-1].workdir


def _command_words(ins: dockerfile.Instruction) -> list[str]:
    if ins.exec_form is not None:
        return list(ins.exec_form)
    words: list[str] = []
    for command in dockerfile.split_commands(ins.text):
        words.extend(command)
    for heredoc in ins.heredocs:
        for command in dockerfile.split_commands(heredoc.text):
            words.extend(command)
    return words


def _container_path(word: str, workdir: str) -> str | None:
    """The absolute path a command word names, when it names a script-like file."""
    if not word or word.startswith(("-", "$", "<")) or "=" in word or "://" in word:
        return None
    if word in _SHELL_NAMES:
        return None
    if "/" not in word and not word.endswith((".sh", ".bash", ".py")):
        return None
    if word.startswith("~"):
        return None
    return dockerfile.join_path(workdir, word)


def _copy_sources(ins: dockerfile.Instruction) -> list[str]:
    text = ins.expanded or ins.text
    exec_form = dockerfile.parse_exec_form(text)
    words = list(exec_form) if exec_form is not None else dockerfile.shell_words(text, False)
    return words[:-1]


def _source_of(
    parsed: dockerfile.Dockerfile,
    at: dockerfile.Instruction,
    container_path: str,
    ctx: ProbeContext,
    contexts: list[str],
    after: bool = False,
) -> tuple[str, str | None, int] | None:
    """Where ``container_path`` came from: (context path, None) or (label, heredoc text)."""
    chain = set(_stage_chain(parsed, at.stage))
    copies = [
        i
        for i in parsed.instructions
        if i.keyword in ("COPY", "ADD")
        and i.stage in chain
        and (i.line < at.line or (after and i.line <= at.line))
        and not i.flags.get("from")
    ]
    for ins in reversed(copies):
        text = ins.expanded or ins.text
        exec_form = dockerfile.parse_exec_form(text)
        words = list(exec_form) if exec_form is not None else dockerfile.shell_words(text, False)
        if len(words) < 2:
            continue
        sources, dest = words[:-1], words[-1]
        dest_path = dockerfile.join_path(ins.workdir, dest)
        dest_is_dir = dest.endswith("/") or len(sources) > 1 or dest in (".", "./")
        for source in sources:
            if source.startswith("<<"):
                name = source.lstrip("<-").strip("\"'")
                heredoc = next((h for h in ins.heredocs if h.name == name), None)
                target = dest_path if not dest_is_dir else posixpath.join(dest_path, name)
                if heredoc is not None and target == container_path:
                    return (f"{_label(ins)} (heredoc {name})", heredoc.text, heredoc.line - 1)
                continue
            if "://" in source:
                continue
            relative = posixpath.normpath(source.lstrip("/")) if source.strip("/") else "."
            for context in contexts:
                found = _match_copy(ctx, context, relative, dest_path, dest_is_dir, container_path)
                if found is not None:
                    return (found, None, 0)
    return None


def _label(ins: dockerfile.Instruction) -> str:
    return f"{ins.keyword} on line {ins.line}"


def _match_copy(
    ctx: ProbeContext,
    context: str,
    source: str,
    dest_path: str,
    dest_is_dir: bool,
    container_path: str,
) -> str | None:
    if any(c in source for c in "*?["):
        if posixpath.dirname(container_path) != dest_path:
            return None
        name = posixpath.basename(container_path)
        if not fnmatch.fnmatchcase(name, posixpath.basename(source)):
            return None
        candidate = _display(context, posixpath.dirname(source), name)
        return candidate if _resolve(ctx, candidate).is_file() else None
    local = _display(context, source)
    real = _resolve(ctx, local)
    if source == "." or real.is_dir():
        prefix = dest_path.rstrip("/") + "/"
        if container_path.startswith(prefix) or dest_path == "/":
            relative = container_path[len(dest_path.rstrip("/")) + 1 :]
            candidate = _display(local, relative)
            return candidate if _resolve(ctx, candidate).is_file() else None
        return None
    target = posixpath.join(dest_path, posixpath.basename(source)) if dest_is_dir else dest_path
    if target == container_path and real.is_file():
        return local
    return None


def _bind_source(
    service: Mapping[str, Any], container_path: str, base: str
) -> tuple[str, str | None, int] | None:
    for volume in service.get("volumes") or []:
        target = str(volume.get("target") or "").rstrip("/")
        source = str(volume.get("source") or "")
        if not target or source.startswith("~"):
            continue
        if container_path == target:
            return (_display(base, source), None, 0)
        if container_path.startswith(target + "/"):
            return (_display(base, source, container_path[len(target) + 1 :]), None, 0)
    return None


def _script_facts(data: bytes, line_offset: int = 0) -> dict[str, Any]:
    """CRLF, shebang and the lines that install or run things, from a script's bytes."""
    crlf_at = data.find(b"\r\n")
    crlf_line = data.count(b"\n", 0, crlf_at) + 1 if crlf_at >= 0 else None
    binary = b"\x00" in data[:4096]
    text = data.decode("utf-8", errors="replace")
    lines = text.split("\n")
    shebang = lines[0].rstrip("\r") if lines and lines[0].startswith("#!") else None
    commands: list[dict[str, Any]] = []
    if not binary:
        i = 0
        while i < len(lines) and len(commands) < MAX_SCRIPT_LINES:
            start = i
            parts = [lines[i].rstrip("\r")]
            while parts[-1].rstrip().endswith("\\") and i + 1 < len(lines):
                parts[-1] = parts[-1].rstrip()[:-1]
                i += 1
                parts.append(lines[i].rstrip("\r"))
            logical = " ".join(p.strip() for p in parts).strip()
            i += 1
            if not logical or logical.startswith("#") or not _INTERESTING.search(logical):
                continue
            commands.append(
                {
                    "line": start + 1 + line_offset,
                    "text": dockerfile.clip(dockerfile.redact(logical), dockerfile.MAX_TEXT),
                }
            )
    return {
        "exists": True,
        "error": None,
        "size": len(data),
        "binary": binary,
        "crlf_line": crlf_line,
        "shebang": dockerfile.redact(shebang) if shebang else None,
        "commands": commands,
    }


def compact(facts: Mapping[str, Any]) -> dict[str, Any]:
    """The few facts a report shows under each ``files`` check: which files, which failed."""

    def name(item: Mapping[str, Any]) -> str:
        error = item.get("error")
        if isinstance(error, Mapping):
            return f"{item.get('path')} (line {error.get('line')}: {error.get('message')})"
        return str(item.get("path"))

    out: dict[str, Any] = {"source": facts.get("source")}
    for key in ("dockerfiles", "compose_files"):
        items = [i for i in facts.get(key) or [] if isinstance(i, Mapping)]
        if items:
            out[key] = [name(i) for i in items]
    scripts = [s for s in facts.get("scripts") or [] if isinstance(s, Mapping)]
    if scripts:
        out["scripts"] = [
            f"{s.get('path')} (CRLF from line {s['crlf_line']})"
            if isinstance(s.get("crlf_line"), int)
            else str(s.get("path"))
            for s in scripts
        ]
    return out
