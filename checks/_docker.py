"""Pure helpers of the DOCKER family: read the ``files`` facts, understand shell commands.

No side effects: the ``files`` probe parsed the Dockerfiles and compose files and read the
scripts; these helpers interpret those facts (what a command installs or runs, what a base
image is) so that each check stays a short judgement.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from kyudoctor import policy
from kyudoctor.dockerfile import parse_exec_form, shell_words, split_commands
from kyudoctor.model import Facts

from ._util import probe_facts

MOSHI_SERVER = "moshi-server"
MOSHI_SERVER_DEFAULT_PORT = 8080
"""``moshi-server worker``'s default ``--port`` (moshi-server.md section 1)."""


# --------------------------------------------------------------------------------------------
# Policy facts of the family (the [docker] table of policy.toml)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DockerPolicy:
    """The ``[docker]`` facts of ``kyudoctor/data/policy.toml`` (read by :mod:`kyudoctor.policy`)."""

    healthcheck_start_period_min_s: float
    python_moshi_shim_until: str
    """The first Python ``moshi`` release without its own ``moshi-server`` script."""


def docker_policy() -> DockerPolicy:
    """The family's policy facts, from :func:`kyudoctor.policy.load` (cached there)."""
    loaded = policy.load()
    return DockerPolicy(
        healthcheck_start_period_min_s=loaded.docker_healthcheck_start_period_min_s,
        python_moshi_shim_until=loaded.python_moshi_shim_until,
    )


# --------------------------------------------------------------------------------------------
# The facts
# --------------------------------------------------------------------------------------------


def files_facts(facts: Facts) -> Mapping[str, Any] | None:
    """The ``files`` probe's facts, or None."""
    return probe_facts(facts, "files")


def nothing_found(files: Mapping[str, Any] | None) -> str | None:
    """The skip reason when there is nothing to lint, else None."""
    if files is None:
        return "the files probe gave no facts"
    if files.get("dockerfiles") or files.get("compose_files"):
        return None
    if files.get("source") == "command line":
        return "no Dockerfile or compose file to lint"
    return (
        f"no Dockerfile or compose file given (--dockerfile, --compose) or found in "
        f"{files.get('cwd') or 'the current directory'}"
    )


def parsed(items: Iterable[Any]) -> list[Mapping[str, Any]]:
    """The Dockerfiles or compose files that were read and parsed."""
    return [i for i in items if isinstance(i, Mapping) and not i.get("error")]


def where(file: str, line: int | None) -> str:
    """``file:line`` as a message shows it."""
    return f"{file}:{line}" if line else file


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """One simple command the image runs, and where it is written."""

    words: tuple[str, ...]
    file: str
    line: int
    at: str
    """``"build"`` (a ``RUN``), ``"start"`` (ENTRYPOINT/CMD, a start script) or ``"compose"``."""
    stage: int | None = None


_WRAPPERS = frozenset({"sudo", "exec", "nohup", "time", "command", "builtin", "eval", "then", "do"})
_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ash"})
_UV_RUN_VALUE_OPTIONS = frozenset(
    {
        "--project",
        "--directory",
        "--python",
        "-p",
        "--with",
        "--with-requirements",
        "--with-editable",
        "--env-file",
        "--package",
        "--extra",
        "--group",
        "--index",
        "--index-url",
        "--extra-index-url",
        "-C",
        "--config-setting",
        "--cache-dir",
    }
)


def program(words: Sequence[str]) -> tuple[str, list[str]]:
    """The program a simple command runs and its arguments, past ``sudo``, ``exec``,
    ``env A=b``, ``A=b`` prefixes and ``uv run`` / ``uvx`` / ``poetry run`` launchers."""
    items = list(words)
    while items:
        head = items[0]
        if head in _WRAPPERS or re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", head):
            items = items[1:]
            continue
        if head == "env" or head.endswith("/env"):
            items = items[1:]
            while items and (items[0].startswith("-") or "=" in items[0]):
                items = items[1:]
            continue
        base = posixpath.basename(head)
        if base in ("uv", "poetry", "pdm", "pipenv") and len(items) > 1 and items[1] == "run":
            items = _skip_options(items[2:], _UV_RUN_VALUE_OPTIONS)
            continue
        if base == "uvx":
            items = _skip_options(items[1:], _UV_RUN_VALUE_OPTIONS)
            continue
        break
    if not items:
        return "", []
    return items[0], items[1:]


def _skip_options(items: list[str], value_options: frozenset[str]) -> list[str]:
    while items and items[0].startswith("-"):
        option = items[0]
        items = items[1:]
        if option == "--":
            break
        if option in value_options and items:
            items = items[1:]
    return items


def _shell_script(words: Sequence[str]) -> str | None:
    """The script text of ``sh -c "..."`` (exec form often wraps a shell this way)."""
    name, args = program(words)
    if posixpath.basename(name) not in _SHELLS:
        return None
    for i, arg in enumerate(args):
        if arg.startswith("-") and "c" in arg[1:] and i + 1 < len(args):
            return args[i + 1]
    return None


def commands_of_text(text: str) -> list[tuple[str, ...]]:
    """The simple commands of shell text, ``sh -c`` bodies unwrapped."""
    out: list[tuple[str, ...]] = []
    for words in split_commands(text):
        inner = _shell_script(words)
        if inner is not None:
            out.extend(commands_of_text(inner))
        else:
            out.append(tuple(words))
    return out


def instruction_commands(ins: Mapping[str, Any]) -> list[tuple[str, ...]]:
    """The simple commands of a ``RUN``/``CMD``/``ENTRYPOINT`` instruction's facts."""
    exec_words = ins.get("exec")
    out: list[tuple[str, ...]] = []
    if isinstance(exec_words, list):
        inner = _shell_script(exec_words)
        out.extend(commands_of_text(inner) if inner is not None else [tuple(exec_words)])
    else:
        out.extend(commands_of_text(str(ins.get("text") or "")))
    for heredoc in ins.get("heredocs") or []:
        out.extend(commands_of_text(str(heredoc.get("text") or "")))
    return out


# --------------------------------------------------------------------------------------------
# One image: a parsed Dockerfile with its scripts
# --------------------------------------------------------------------------------------------


@dataclass
class Image:
    """What one Dockerfile builds: its stages, what it runs at build and at start."""

    facts: Mapping[str, Any]
    path: str
    chain: list[int]
    build: list[Command] = field(default_factory=list)
    start: list[Command] = field(default_factory=list)
    scripts: list[Mapping[str, Any]] = field(default_factory=list)

    @property
    def instructions(self) -> list[Mapping[str, Any]]:
        """Every instruction's facts."""
        return [i for i in self.facts.get("instructions") or [] if isinstance(i, Mapping)]

    @property
    def stages(self) -> list[Mapping[str, Any]]:
        """Every stage's facts."""
        return [s for s in self.facts.get("stages") or [] if isinstance(s, Mapping)]

    def in_chain(self, ins: Mapping[str, Any]) -> bool:
        """Whether an instruction belongs to the final image (its stage or what it is FROM)."""
        return ins.get("stage") in self.chain

    def chain_of(self, stage_index: int) -> list[int]:
        """A stage and the stages it is built ``FROM``, nearest first."""
        stages = self.stages
        out: list[int] = []
        index: int | None = stage_index
        while isinstance(index, int) and 0 <= index < len(stages) and index not in out:
            out.append(index)
            index = stages[index].get("parent")
        return out

    def root_base(self, stage_index: int) -> Mapping[str, Any] | None:
        """The stage whose ``FROM`` names an image (not an earlier stage), from ``stage_index``."""
        stages = self.stages
        seen: set[int] = set()
        index: int | None = stage_index
        while index is not None and 0 <= index < len(stages) and index not in seen:
            seen.add(index)
            stage = stages[index]
            if stage.get("parent") is None:
                return stage
            index = stage.get("parent")
        return None

    def line(self, ins: Mapping[str, Any]) -> int:
        """The 1-based line of an instruction in its file."""
        return int(ins.get("line") or 1)


def images(files: Mapping[str, Any]) -> list[Image]:
    """Every parsed Dockerfile with the commands it runs at build and at start."""
    scripts = [s for s in files.get("scripts") or [] if isinstance(s, Mapping)]
    out: list[Image] = []
    for df in parsed(files.get("dockerfiles") or []):
        path = str(df.get("path"))
        chain = [int(i) for i in df.get("chain") or [] if isinstance(i, int)]
        image = Image(df, path, chain)
        starts = {df.get("entrypoint_line"), df.get("cmd_line")} - {None}
        entrypoint = cmd = None
        for ins in image.instructions:
            keyword = ins.get("keyword")
            if keyword == "RUN":
                for words in instruction_commands(ins):
                    image.build.append(
                        Command(words, path, image.line(ins), "build", ins.get("stage"))
                    )
            elif keyword == "ENTRYPOINT" and ins.get("line") in starts:
                entrypoint = ins
            elif keyword == "CMD" and ins.get("line") in starts:
                cmd = ins
        for words, ins in _start_commands(entrypoint, cmd):
            image.start.append(Command(words, path, image.line(ins), "start", image.chain[0]))
        for script in scripts:
            if script.get("dockerfile") != path:
                continue
            if not any(r.get("file") == path for r in script.get("referenced_by") or []):
                continue
            image.scripts.append(script)
            at = script.get("run_at")
            if at not in ("build", "start"):
                continue
            target = image.build if at == "build" else image.start
            for record in script.get("commands") or []:
                for words in commands_of_text(str(record.get("text") or "")):
                    target.append(
                        Command(
                            words,
                            str(script.get("path")),
                            int(record.get("line") or 1),
                            str(at),
                            script.get("stage"),
                        )
                    )
        out.append(image)
    return out


def _start_commands(
    entrypoint: Mapping[str, Any] | None, cmd: Mapping[str, Any] | None
) -> list[tuple[tuple[str, ...], Mapping[str, Any]]]:
    """The commands a container of the image starts with (ENTRYPOINT + CMD as Docker joins
    them: exec + exec is one command; a shell-form ENTRYPOINT ignores CMD)."""
    if entrypoint is not None:
        ep_words = entrypoint.get("exec")
        if isinstance(ep_words, list):
            inner = _shell_script(ep_words)
            if inner is not None:
                return [(c, entrypoint) for c in commands_of_text(inner)]
            extra = cmd.get("exec") if cmd is not None else None
            words = tuple(ep_words) + (tuple(extra) if isinstance(extra, list) else ())
            return [(words, entrypoint)]
        return [(c, entrypoint) for c in instruction_commands(entrypoint)]
    if cmd is not None:
        return [(c, cmd) for c in instruction_commands(cmd)]
    return []


# --------------------------------------------------------------------------------------------
# What a command does
# --------------------------------------------------------------------------------------------


def runs_moshi_server(words: Sequence[str]) -> str | None:
    """``"bare"`` when the command runs ``moshi-server`` by name, ``"path"`` by a path ending
    in ``/moshi-server``, ``"cargo-run"`` for ``cargo run ... moshi-server``; else None."""
    name, args = program(words)
    if name == MOSHI_SERVER:
        return "bare"
    if name.endswith("/" + MOSHI_SERVER):
        return "path"
    if posixpath.basename(name) == "cargo" and args[:1] == ["run"]:
        if any(a == MOSHI_SERVER or a.endswith("=" + MOSHI_SERVER) for a in args):
            return "cargo-run"
    return None


def installs_moshi_server(words: Sequence[str]) -> bool:
    """Whether the command builds moshi-server: ``cargo install ... moshi-server[@v]``,
    ``cargo install --path <moshi-server dir>``, ``cargo build ... -p moshi-server``."""
    name, args = program(words)
    if posixpath.basename(name) != "cargo" or not args:
        return False
    if args[0] == "install":
        return any(
            a == MOSHI_SERVER
            or a.startswith(MOSHI_SERVER + "@")
            or a.rstrip("/").endswith("/" + MOSHI_SERVER)
            for a in args[1:]
        )
    if args[0] in ("build", "run"):
        return any(a == MOSHI_SERVER or a.endswith("=" + MOSHI_SERVER) for a in args[1:])
    return False


def moshi_server_install_version(words: Sequence[str]) -> str | None:
    """The version a ``cargo install moshi-server@V`` / ``--version V`` pins, if any."""
    _, args = program(words)
    for i, arg in enumerate(args):
        if arg.startswith(MOSHI_SERVER + "@"):
            return arg.split("@", 1)[1] or None
        if arg in ("--version", "--vers") and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--version="):
            return arg.split("=", 1)[1] or None
    return None


def installs_cuda_toolkit(words: Sequence[str]) -> bool:
    """Whether the command installs nvcc (``cuda-toolkit-*``, ``cuda-nvcc-*``,
    ``nvidia-cuda-toolkit`` from apt/dnf/conda)."""
    name, args = program(words)
    if posixpath.basename(name) not in ("apt-get", "apt", "dnf", "yum", "conda", "mamba"):
        return False
    return any(
        a.startswith(("cuda-toolkit", "cuda-nvcc", "nvidia-cuda-toolkit", "cuda-compiler"))
        or a in ("cuda", "cuda-toolkit")
        or a.startswith("nvidia::cuda")
        for a in args
    )


_PIP_VALUE_OPTIONS = frozenset(
    {
        "-r",
        "--requirement",
        "-c",
        "--constraint",
        "-e",
        "--editable",
        "-i",
        "--index-url",
        "--extra-index-url",
        "--index",
        "--default-index",
        "-f",
        "--find-links",
        "-t",
        "--target",
        "--prefix",
        "--root",
        "--python",
        "-p",
        "--platform",
        "--python-version",
        "--implementation",
        "--abi",
        "--trusted-host",
        "--src",
        "--upgrade-strategy",
        "--progress-bar",
        "--cache-dir",
        "--log",
        "-C",
        "--config-settings",
        "--config-setting",
        "--global-option",
        "--only-binary",
        "--no-binary",
        "--index-strategy",
        "--extra",
        "--group",
        "--torch-backend",
        "--resolution",
        "--prerelease",
        "--python-platform",
        "--keyring-provider",
        "--link-mode",
        "--exclude-newer",
    }
)


@dataclass(frozen=True)
class PipInstall:
    """A Python package install written in a command."""

    tool: str
    """``pip``, ``uv pip``, ``uv add``, ``conda``..."""
    requirements: tuple[str, ...]
    """PEP 508 strings (and wheel URLs) named on the command line."""
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    torch_backend: str | None = None
    from_project: bool = False
    """Also installs from a file the linter cannot see (``-r``, ``.``, a path, a lock)."""


def pip_install(words: Sequence[str]) -> PipInstall | None:
    """The install a command performs, or None when it installs no Python package."""
    name, args = program(words)
    base = posixpath.basename(name)
    if re.fullmatch(r"python[0-9.]*", base) and args[:2] == ["-m", "pip"]:
        base, args = "pip", args[2:]
    tool: str
    if re.fullmatch(r"pip[0-9.]*", base) and args[:1] == ["install"]:
        tool, args = "pip", args[1:]
    elif base == "uv" and args[:2] == ["pip", "install"]:
        tool, args = "uv pip", args[2:]
    elif base == "uv" and args[:1] == ["add"]:
        tool, args = "uv add", args[1:]
    elif base in ("uv", "poetry", "pdm", "pipenv") and args[:1] in (["sync"], ["install"]):
        return PipInstall(f"{base} {args[0]}", (), from_project=True)
    elif base == "uv" and args[:2] == ["pip", "sync"]:
        return PipInstall("uv pip sync", (), from_project=True)
    else:
        return None
    requirements: list[str] = []
    index_url = None
    extra: list[str] = []
    backend = None
    from_project = False
    i = 0
    while i < len(args):
        arg = args[i]
        option, eq, inline = arg.partition("=")
        if arg.startswith("-") and option in _PIP_VALUE_OPTIONS:
            value = inline if eq else (args[i + 1] if i + 1 < len(args) else "")
            i += 1 if eq else 2
            if option in ("-i", "--index-url", "--default-index"):
                index_url = value
            elif option in ("--extra-index-url", "--index"):
                extra.append(value)
            elif option == "--torch-backend":
                backend = value
            elif option in ("-r", "--requirement", "-e", "--editable"):
                from_project = True
            continue
        i += 1
        if arg.startswith("-"):
            continue
        if arg.startswith((".", "/", "~")) or (
            "/" in arg and "://" not in arg and not arg.endswith(".whl")
        ):
            from_project = True
            continue
        requirements.append(arg)
    return PipInstall(tool, tuple(requirements), index_url, tuple(extra), backend, from_project)


@dataclass(frozen=True)
class Wanted:
    """One requirement named in an install: its name, specifier text, and wheel flavour."""

    name: str
    specifier: str
    version: str | None
    """The exact version for ``==`` pins (local part dropped), else None."""
    local: str | None
    """The local version label of a pin (``cpu``, ``cu124``), or of a wheel URL."""
    url: str | None = None


def wanted(requirement: str) -> Wanted | None:
    """Parse a requirement string or a wheel URL; None when it is neither."""
    if "://" in requirement:
        path = unquote(urlsplit(requirement).path)
        filename = posixpath.basename(path)
        match = re.match(r"([A-Za-z0-9_.]+)-([0-9][^-]*)-", filename)
        if match is None:
            return None
        version = match.group(2)
        public, _, local = version.partition("+")
        return Wanted(
            canonicalize_name(match.group(1)), f"=={version}", public, local or None, path
        )
    try:
        req = Requirement(requirement)
    except InvalidRequirement:
        return None
    version = local = None
    specs = list(req.specifier)
    if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
        public, _, label = specs[0].version.partition("+")
        version, local = public, (label or None)
    return Wanted(canonicalize_name(req.name), str(req.specifier), version, local)


def index_flavour(url: str | None) -> str | None:
    """The wheel flavour a PyTorch index URL serves (``.../whl/cu124`` -> ``cu124``)."""
    if not url:
        return None
    parts = [p for p in urlsplit(url).path.split("/") if p]
    if "whl" in parts:
        after = parts[parts.index("whl") + 1 :]
        if after and after[0] != "nightly":
            return after[0].lower()
        if len(after) > 1:
            return after[1].lower()
    return None


def version_of(text: str | None) -> Version | None:
    """A version, or None."""
    if not text:
        return None
    try:
        return Version(text)
    except InvalidVersion:
        return None


# --------------------------------------------------------------------------------------------
# Base images
# --------------------------------------------------------------------------------------------

_NON_CUDA_IMAGES = frozenset(
    {
        "ubuntu",
        "debian",
        "python",
        "rust",
        "alpine",
        "fedora",
        "centos",
        "rockylinux",
        "almalinux",
        "amazonlinux",
        "archlinux",
        "node",
        "buildpack-deps",
        "busybox",
        "golang",
        "astral-sh/uv",
        "astral/uv",
        "continuumio/miniconda3",
        "continuumio/anaconda3",
        "mambaorg/micromamba",
        "condaforge/miniforge3",
        "opensuse/leap",
        "opensuse/tumbleweed",
        "redhat/ubi8",
        "redhat/ubi9",
    }
)
_CUDA_TAG = re.compile(
    r"(?P<cuda>\d+\.\d+(?:\.\d+)?)-(?:cudnn\d*-)?(?P<variant>devel|runtime|base)\b"
)
_PYTORCH_TAG = re.compile(r"cuda(?P<cuda>\d+\.\d+)-cudnn\d+-(?P<variant>devel|runtime)")
_PYTHON_TAG = re.compile(r"^(?P<python>\d+\.\d+)")


@dataclass(frozen=True)
class BaseImage:
    """What a ``FROM`` image is, as far as its name tells."""

    repository: str
    tag: str
    kind: str
    """``cuda`` (nvidia/cuda), ``pytorch``, ``non-cuda`` (a known plain OS or language image),
    ``moshi-server`` (an image that already holds it), ``scratch`` or ``unknown``."""
    cuda: str | None = None
    variant: str | None = None
    """``devel`` (has nvcc), ``runtime`` or ``base`` (no nvcc)."""
    python: str | None = None


def base_image(reference: str) -> BaseImage:
    """Classify an image reference such as ``nvidia/cuda:12.8.1-devel-ubuntu22.04``."""
    ref = reference.strip().split("@", 1)[0]
    name, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "")
    parts = name.lower().split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        registry, parts = parts[0], parts[1:]
    else:
        registry = ""
    if parts[:1] == ["library"]:
        parts = parts[1:]
    repository = "/".join(parts)
    if repository == "scratch":
        return BaseImage(repository, tag, "scratch")
    if MOSHI_SERVER in repository or "moshi_server" in repository:
        return BaseImage(repository, tag, "moshi-server")
    if repository in ("nvidia/cuda", "cuda") and (registry in ("", "docker.io", "nvcr.io")):
        match = _CUDA_TAG.match(tag)
        return BaseImage(
            repository,
            tag,
            "cuda",
            cuda=match.group("cuda") if match else None,
            variant=match.group("variant") if match else None,
        )
    if repository == "pytorch/pytorch":
        match = _PYTORCH_TAG.search(tag)
        return BaseImage(
            repository,
            tag,
            "pytorch",
            cuda=match.group("cuda") if match else None,
            variant=match.group("variant") if match else None,
        )
    if repository in _NON_CUDA_IMAGES and registry in ("", "docker.io", "ghcr.io"):
        python = None
        if repository == "python":
            match = _PYTHON_TAG.match(tag)
            python = match.group("python") if match else None
        return BaseImage(repository, tag, "non-cuda", python=python)
    return BaseImage(repository, tag, "unknown")


# --------------------------------------------------------------------------------------------
# The image's Python
# --------------------------------------------------------------------------------------------

_PY_VERSION = re.compile(r"^(?:python|cpython-?|cp)?(?P<v>3\.\d+)(?:\.\d+)?\b")


def image_python(image: Image) -> tuple[str, str, int] | None:
    """The Python version the image installs packages for, with the file and line that say it:
    ``FROM python:X.Y``, ``uv venv --python X.Y``, ``uv python install X.Y``, ``pyenv install``,
    ``apt-get install pythonX.Y``, ``conda create python=X.Y``, ``ENV PYTHON_VERSION``/``UV_PYTHON``."""
    found: tuple[str, str, int] | None = None
    for stage in image.stages:
        if stage.get("parent") is None:
            info = base_image(str(stage.get("base") or ""))
            if info.python is not None:
                found = (info.python, image.path, int(stage.get("line") or 1))
    for ins in image.instructions:
        for name, value in (ins.get("variables") or {}).items():
            if name in ("PYTHON_VERSION", "UV_PYTHON") and isinstance(value, str):
                match = _PY_VERSION.match(value.strip())
                if match:
                    found = (match.group("v"), image.path, image.line(ins))
    for command in (*image.build, *image.start):
        version = _python_in_command(command.words)
        if version is not None:
            found = (version, command.file, command.line)
    return found


def _python_in_command(words: Sequence[str]) -> str | None:
    name, args = program(words)
    base = posixpath.basename(name)
    candidates: list[str] = []
    if base == "uv" and args[:1] in (["venv"], ["python"]):
        for i, arg in enumerate(args):
            if arg in ("--python", "-p") and i + 1 < len(args):
                candidates.append(args[i + 1])
            elif arg.startswith("--python="):
                candidates.append(arg.split("=", 1)[1])
            elif args[:2] in (["python", "install"], ["python", "pin"]) and i >= 2:
                candidates.append(arg)
    elif base == "pyenv" and args[:1] in (["install"], ["global"]):
        candidates.extend(args[1:])
    elif base in ("apt-get", "apt", "dnf", "yum") and "install" in args:
        candidates.extend(a for a in args if re.fullmatch(r"python3\.\d+(-dev|-venv|-full)?", a))
    elif base in ("conda", "mamba", "micromamba") and args[:1] in (["create"], ["install"]):
        candidates.extend(a.split("=", 1)[1] for a in args if a.startswith("python="))
    for candidate in candidates:
        match = _PY_VERSION.match(candidate.strip())
        if match:
            return match.group("v")
    return None


# --------------------------------------------------------------------------------------------
# moshi-server in images and services
# --------------------------------------------------------------------------------------------


def image_runs_moshi_server(image: Image) -> Command | None:
    """The start command that runs moshi-server (directly or in a start script), if any."""
    return next((c for c in image.start if runs_moshi_server(c.words)), None)


def image_installs_moshi_server(image: Image) -> tuple[str, str, int] | None:
    """How the final image gets moshi-server: ``("cargo", file, line)`` for a build in the
    image (at build or at start), ``("copy", ...)`` for a binary copied in, ``("base", ...)``
    for a base image that holds it; None when nothing does."""
    for command in image.build:
        if command.stage in image.chain and installs_moshi_server(command.words):
            return ("cargo", command.file, command.line)
    for command in image.start:
        if installs_moshi_server(command.words) or runs_moshi_server(command.words) == "cargo-run":
            return ("cargo", command.file, command.line)
    for ins in image.instructions:
        if ins.get("keyword") not in ("COPY", "ADD") or not image.in_chain(ins):
            continue
        paths = [str(s) for s in ins.get("sources") or []] + [str(ins.get("dest") or "")]
        if any(
            posixpath.basename(p.rstrip("/")) in (MOSHI_SERVER, "bin")
            and (MOSHI_SERVER in p or ".cargo" in p)
            or p.rstrip("/").endswith(".cargo")
            for p in paths
        ):
            return ("copy", image.path, image.line(ins))
    root = image.root_base(image.chain[0]) if image.chain else None
    if root is not None and base_image(str(root.get("base") or "")).kind == "moshi-server":
        return ("base", image.path, int(root.get("line") or 1))
    return None


def is_moshi_server_image(image: Image) -> bool:
    """Whether the Dockerfile builds or runs moshi-server at all."""
    return (
        image_runs_moshi_server(image) is not None or image_installs_moshi_server(image) is not None
    )


def python_installs(image: Image) -> list[tuple[PipInstall, Command]]:
    """Every Python package install the image performs, at build or at start."""
    out: list[tuple[PipInstall, Command]] = []
    for command in (*image.build, *image.start):
        install = pip_install(command.words)
        if install is not None:
            out.append((install, command))
    return out


def service_runs_moshi_server(
    service: Mapping[str, Any],
    compose_path: str,
    by_path: Mapping[str, Image],
    scripts: Sequence[Mapping[str, Any]],
) -> tuple[str, int] | None:
    """Why a compose service runs moshi-server (a reason and the line that shows it), or None."""
    line = int(service.get("line") or 1)
    for key in ("entrypoint", "command"):
        value = service.get(key)
        if value is None:
            continue
        words = value if isinstance(value, list) else shell_words(str(value))
        key_line = int(service.get(f"{key}_line") or line)
        for command in _value_commands(words):
            if runs_moshi_server(command):
                return (f"its {key} runs moshi-server", key_line)
        if key == "command" and words[:1] == ["worker"] and "--config" in words:
            return ("its command is moshi-server's `worker --config`", key_line)
    for script in scripts:
        refs = script.get("referenced_by") or []
        if any(
            r.get("file") == compose_path and r.get("service") == service.get("name") for r in refs
        ):
            for record in script.get("commands") or []:
                if any(
                    runs_moshi_server(c) for c in commands_of_text(str(record.get("text") or ""))
                ):
                    return (f"its start script {script.get('path')} runs moshi-server", line)
    build = service.get("build") or {}
    image = by_path.get(str(build.get("dockerfile_path"))) if build else None
    if image is not None and service.get("entrypoint") is None:
        started = image_runs_moshi_server(image)
        if started is not None:
            return (f"its image ({image.path}) runs moshi-server", line)
    reference = str(service.get("image") or "")
    if MOSHI_SERVER in reference or "moshi_server" in reference:
        return (f"its image is {reference}", int(service.get("image_line") or line))
    return None


def _value_commands(words: Sequence[str]) -> list[tuple[str, ...]]:
    inner = _shell_script(words)
    return commands_of_text(inner) if inner is not None else [tuple(words)]


def chunks(items: Sequence[str], limit: int = 6) -> str:
    """A short comma list: the first ``limit`` items and a count of the rest."""
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def known_requirements(version: str | None) -> policy.KnownRequirements:
    """moshi-server's Python requirements for the version the image installs (or current)."""
    return policy.load().known_requirements(version)


def iter_scripts(files: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every script the probe read."""
    yield from (s for s in files.get("scripts") or [] if isinstance(s, Mapping))


__all__ = [
    "MOSHI_SERVER",
    "MOSHI_SERVER_DEFAULT_PORT",
    "BaseImage",
    "Command",
    "DockerPolicy",
    "Image",
    "PipInstall",
    "Wanted",
    "base_image",
    "chunks",
    "commands_of_text",
    "docker_policy",
    "files_facts",
    "image_installs_moshi_server",
    "image_python",
    "image_runs_moshi_server",
    "images",
    "index_flavour",
    "installs_cuda_toolkit",
    "installs_moshi_server",
    "instruction_commands",
    "is_moshi_server_image",
    "iter_scripts",
    "known_requirements",
    "moshi_server_install_version",
    "nothing_found",
    "parse_exec_form",
    "parsed",
    "pip_install",
    "program",
    "python_installs",
    "runs_moshi_server",
    "service_runs_moshi_server",
    "version_of",
    "wanted",
    "where",
]
