"""Docker Compose files read for linting: every schema in use, with the line of every key.

YAML is read with PyYAML's safe loader (libyaml's C loader when present), composed to nodes
and converted here, so that each value keeps its line and so that hostile input stays cheap:

- never an unsafe loader: only plain scalars, lists and mappings come out;
- aliases are followed with a budget (:data:`MAX_VALUES` values after expansion): a "billion
  laughs" document is an error, not an out-of-memory; a recursive alias is an error;
- nesting deeper than :data:`MAX_DEPTH` is refused before composing (libyaml's composer would
  recurse without bound);
- duplicate keys are an error (Docker Compose rejects them too); merge keys (``<<: *base``)
  and ``extends`` within the file are understood.

Schemas: the legacy v1 layout (services at the top level), v2.x (``runtime: nvidia``), v3.x
and the Compose Specification (``deploy.resources.reservations.devices``, ``gpus:``, CDI
``devices: [nvidia.com/gpu=all]``). ``environment`` as a list or a mapping, ``command`` and
``entrypoint`` as a string or a list, ``build`` as a string or a mapping, ``healthcheck`` with
its durations.

>>> facts = parse("services:\\n  tts:\\n    image: moshi-server\\n    gpus: all\\n")
>>> facts["services"][0]["name"], facts["services"][0]["line"], facts["services"][0]["gpus"]
('tts', 2, 'all')
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from kyudoctor.dockerfile import expand, redact

__all__ = [
    "MAX_DEPTH",
    "MAX_VALUES",
    "ComposeError",
    "Located",
    "load",
    "parse",
    "parse_duration",
]

MAX_VALUES = 100_000
"""Values allowed after alias expansion; a real compose file has a few hundred."""
MAX_DEPTH = 64
"""Nesting allowed; a real compose file nests about six levels."""

Path_ = tuple[str | int, ...]

_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"
_CONSTRUCTOR = yaml.constructor.SafeConstructor()


class ComposeError(ValueError):
    """The file is not a compose file Docker Compose would read: ``line`` and ``message``."""

    def __init__(self, line: int, message: str, column: int | None = None) -> None:
        where = f"line {line}" + (f", column {column}" if column else "")
        super().__init__(f"{where}: {message}")
        self.line = line
        self.column = column
        self.message = message


@dataclass(frozen=True)
class Located:
    """A YAML document as plain values, with the line of every key and list item."""

    value: Any
    lines: Mapping[Path_, int]

    def exact(self, *path: str | int) -> int | None:
        """The line of ``path`` when that key or item is in the document, else ``None``."""
        return self.lines.get(tuple(path))

    def line(self, *path: str | int) -> int:
        """The line of ``path``, else of its nearest ancestor that has one (1 at worst)."""
        current: Path_ = tuple(path)
        while current:
            if current in self.lines:
                return self.lines[current]
            current = current[:-1]
        return self.lines.get((), 1)


# --------------------------------------------------------------------------------------------
# YAML with lines
# --------------------------------------------------------------------------------------------


def _mark_line(mark: Any) -> int:
    return int(getattr(mark, "line", 0)) + 1


def _yaml_error(exc: yaml.YAMLError) -> ComposeError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).split("\n", 1)[0]
    context = getattr(exc, "context", None)
    message = f"{context}: {problem}" if context else str(problem)
    if "\t" in message or "cannot start any token" in message:
        message += " (YAML does not allow tabs for indentation)"
    if mark is None:
        return ComposeError(1, f"YAML error: {message}")
    return ComposeError(_mark_line(mark), f"YAML error: {message}", int(mark.column) + 1)


def _check_depth(text: str) -> None:
    depth = 0
    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise ComposeError(
                    _mark_line(event.start_mark), f"nested deeper than {MAX_DEPTH} levels"
                )
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def _scalar(node: yaml.ScalarNode) -> Any:
    tag = node.tag.rsplit(":", 1)[-1]
    try:
        if tag == "null":
            return None
        if tag == "bool":
            return bool(_CONSTRUCTOR.construct_yaml_bool(node))
        if tag == "int":
            return int(_CONSTRUCTOR.construct_yaml_int(node))
        if tag == "float":
            value = float(_CONSTRUCTOR.construct_yaml_float(node))
            return value if math.isfinite(value) else str(node.value)
    except (ValueError, TypeError, KeyError, yaml.YAMLError):
        pass
    return str(node.value)


class _Converter:
    def __init__(self) -> None:
        self.lines: dict[Path_, int] = {}
        self.budget = MAX_VALUES
        self.active: set[int] = set()

    def convert(self, node: yaml.Node, path: Path_) -> Any:
        self.budget -= 1
        line = _mark_line(node.start_mark)
        if self.budget < 0:
            raise ComposeError(
                line,
                f"more than {MAX_VALUES} values once aliases are expanded "
                "(an alias bomb?): not read",
            )
        self.lines.setdefault(path, line)
        if isinstance(node, yaml.ScalarNode):
            return _scalar(node)
        if id(node) in self.active:
            raise ComposeError(line, "an alias refers to a node that contains it (recursive)")
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
        finally:
            self.active.discard(id(node))
        return None  # pragma: no cover - the three node kinds are exhaustive

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict[str, Any]:
        explicit: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                sources = (
                    value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                )
                for source in sources:
                    if not isinstance(source, yaml.MappingNode):
                        raise ComposeError(
                            _mark_line(source.start_mark), "a merge key (<<) needs a mapping"
                        )
                    for key, value in self._mapping(source, path).items():
                        merged.setdefault(key, value)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise ComposeError(_mark_line(key_node.start_mark), "a key must be a plain value")
            key = str(key_node.value)
            if key in explicit:
                raise ComposeError(
                    _mark_line(key_node.start_mark), f"duplicate key {key!r} in the same mapping"
                )
            self.lines[path + (key,)] = _mark_line(key_node.start_mark)
            explicit[key] = self.convert(value_node, (*path, key))
        return {**merged, **explicit}


def load(text: str) -> Located:
    """The first YAML document of ``text`` with its lines; :class:`ComposeError` otherwise."""
    if "\x00" in text:
        raise ComposeError(text.count("\n", 0, text.index("\x00")) + 1, "binary content")
    text = text.removeprefix("\ufeff")
    try:
        _check_depth(text)
        node = next((n for n in yaml.compose_all(text, Loader=_LOADER) if n is not None), None)
    except yaml.YAMLError as exc:
        error = _yaml_error(exc)
        if "nesting depth" in error.message:
            # PyYAML >= 6.0.4's own limit, met before ours: one message whichever comes first.
            raise ComposeError(
                error.line, f"nested deeper than {MAX_DEPTH} levels", error.column
            ) from None
        raise error from None
    except RecursionError:  # pragma: no cover - the depth check comes first
        raise ComposeError(1, "nested too deeply") from None
    if node is None:
        raise ComposeError(1, "empty compose file")
    converter = _Converter()
    value = converter.convert(node, ())
    return Located(value, converter.lines)


# --------------------------------------------------------------------------------------------
# Durations
# --------------------------------------------------------------------------------------------

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: Any) -> float | None:
    """Seconds of a Docker/Go duration (``"10m"``, ``"1m30s"``, ``"1.5h"``, ``"500ms"``).

    A bare number is taken as seconds; junk gives ``None``.

    >>> parse_duration("1m30s"), parse_duration("10m"), parse_duration("bad")
    (90.0, 600.0, None)
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    text = str(value).strip().lower()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    total = 0.0
    i = 0
    while i < len(text):
        j = i
        while j < len(text) and (text[j].isdigit() or text[j] == "."):
            j += 1
        if j == i:
            return None
        k = j
        while k < len(text) and not (text[k].isdigit() or text[k] == "."):
            k += 1
        unit = text[j:k]
        if unit not in _UNITS:
            return None
        try:
            total += float(text[i:j]) * _UNITS[unit]
        except ValueError:
            return None
        i = k
    return total


# --------------------------------------------------------------------------------------------
# Services
# --------------------------------------------------------------------------------------------

_NON_SERVICE_KEYS = frozenset(
    {"version", "services", "networks", "volumes", "configs", "secrets", "name", "include"}
)


def _interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Compose's ``${VAR:-default}`` interpolation of one string (``$$`` is a dollar)."""
    if not isinstance(value, str) or "$" not in value:
        return value
    placeholder = "\x00"
    return expand(value.replace("$$", placeholder), env, escape="\x01").replace(placeholder, "$")


def _strings(value: Any) -> list[str] | str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return [redact(str(v)) for v in value]
    return redact(str(value))


def _environment(value: Any) -> dict[str, str | None]:
    pairs: dict[str, str | None] = {}
    if isinstance(value, Mapping):
        for name, item in value.items():
            pairs[str(name)] = None if item is None else str(item)
    elif isinstance(value, list):
        for item in value:
            name, eq, text = str(item).partition("=")
            pairs[name.strip()] = text if eq else None
    return {
        name: (None if text is None else redact(f"{name}={text}").partition("=")[2])
        for name, text in pairs.items()
    }


def _build(located: Located, path: Path_, env: Mapping[str, str]) -> dict[str, Any] | None:
    raw = located_get(located.value, path)
    if raw is None:
        return None
    line = located.line(*path)
    if isinstance(raw, str):
        raw = {"context": raw}
    if not isinstance(raw, Mapping):
        raise ComposeError(line, f"{_dotted(path)} must be a string or a mapping")
    context = _interpolate(raw.get("context", "."), env)
    context = "." if context in (None, "") else str(context)
    inline = raw.get("dockerfile_inline")
    args = raw.get("args")
    build_args: dict[str, str] = {}
    if isinstance(args, Mapping):
        build_args = {str(k): "" if v is None else str(v) for k, v in args.items()}
    elif isinstance(args, list):
        for item in args:
            name, _, text = str(item).partition("=")
            build_args[name] = text
    dockerfile = raw.get("dockerfile")
    return {
        "line": line,
        "context": context,
        "remote": "://" in context or context.startswith("git@"),
        "dockerfile": None if dockerfile is None else str(_interpolate(dockerfile, env)),
        "dockerfile_line": located.exact(*path, "dockerfile"),
        "dockerfile_inline": None if inline is None else str(inline),
        "dockerfile_inline_line": located.exact(*path, "dockerfile_inline"),
        "target": None if raw.get("target") is None else str(raw.get("target")),
        # Defaults only (``${X:-default}``): values from the environment may be secrets.
        "args": {
            k: redact(f"{k}={_interpolate(v, {})}").partition("=")[2] for k, v in build_args.items()
        },
    }


def located_get(value: Any, path: Path_) -> Any:
    """The value at ``path`` in nested mappings and lists, or ``None``."""
    for key in path:
        if isinstance(key, int):
            value = value[key] if isinstance(value, list) and key < len(value) else None
        else:
            value = value.get(key) if isinstance(value, Mapping) else None
        if value is None:
            return None
    return value


def _dotted(path: Path_) -> str:
    return ".".join(str(p) for p in path)


def _healthcheck(located: Located, path: Path_) -> dict[str, Any] | None:
    raw = located_get(located.value, path)
    if raw is None:
        return None
    line = located.line(*path)
    if not isinstance(raw, Mapping):
        raise ComposeError(line, f"{_dotted(path)} must be a mapping")
    test = raw.get("test")
    disabled = bool(raw.get("disable")) or (
        isinstance(test, list) and bool(test) and str(test[0]).upper() == "NONE"
    )
    return {
        "line": line,
        "test": _strings(test),
        "interval": raw.get("interval"),
        "timeout": raw.get("timeout"),
        "start_period": raw.get("start_period"),
        "start_period_line": located.exact(*path, "start_period"),
        "start_interval": raw.get("start_interval"),
        "retries": raw.get("retries"),
        "disable": disabled,
    }


def _deploy_devices(located: Located, path: Path_) -> list[dict[str, Any]]:
    devices_path = (*path, "deploy", "resources", "reservations", "devices")
    devices = located_get(located.value, devices_path)
    out: list[dict[str, Any]] = []
    for i, device in enumerate(devices if isinstance(devices, list) else []):
        if not isinstance(device, Mapping):
            continue
        capabilities = device.get("capabilities")
        flat: list[str] = []
        for item in capabilities if isinstance(capabilities, list) else [capabilities]:
            # The old v3 syntax allowed a list of lists ([[gpu]]).
            flat.extend(str(c) for c in (item if isinstance(item, list) else [item]) if c)
        count = device.get("count")
        device_ids = device.get("device_ids")
        out.append(
            {
                "line": located.line(*devices_path, i),
                "driver": None if device.get("driver") is None else str(device.get("driver")),
                "count": count if isinstance(count, (int, str)) else None,
                "device_ids": [str(d) for d in device_ids]
                if isinstance(device_ids, list)
                else None,
                "capabilities": flat,
            }
        )
    return out


def _volumes(located: Located, path: Path_) -> list[dict[str, Any]]:
    volumes = located_get(located.value, (*path, "volumes"))
    out: list[dict[str, Any]] = []
    for i, volume in enumerate(volumes if isinstance(volumes, list) else []):
        line = located.line(*path, "volumes", i)
        if isinstance(volume, str):
            parts = volume.split(":")
            if len(parts) >= 2 and parts[0].startswith((".", "/", "~")):
                out.append({"line": line, "source": parts[0], "target": parts[1]})
        elif isinstance(volume, Mapping) and volume.get("type") == "bind":
            source, target = volume.get("source"), volume.get("target")
            if isinstance(source, str) and isinstance(target, str):
                out.append({"line": line, "source": source, "target": target})
    return out


def _service(located: Located, path: Path_, name: str, env: Mapping[str, str]) -> dict[str, Any]:
    raw = located_get(located.value, path)
    line = located.line(*path)
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ComposeError(line, f"service {name!r} must be a mapping")
    devices = raw.get("devices")
    cdi = [str(d) for d in devices if isinstance(d, str) and "/gpu=" in d] if devices else []
    extends = raw.get("extends")
    if isinstance(extends, str):
        extends = {"service": extends}
    gpus = raw.get("gpus")
    return {
        "name": name,
        "line": line,
        "image": None if raw.get("image") is None else str(_interpolate(raw["image"], env)),
        "image_line": located.exact(*path, "image"),
        "build": _build(located, (*path, "build"), env),
        "command": _strings(raw.get("command")),
        "command_line": located.exact(*path, "command"),
        "entrypoint": _strings(raw.get("entrypoint")),
        "entrypoint_line": located.exact(*path, "entrypoint"),
        "environment": _environment(raw.get("environment")),
        "environment_line": located.exact(*path, "environment"),
        "runtime": None if raw.get("runtime") is None else str(raw.get("runtime")),
        "runtime_line": located.exact(*path, "runtime"),
        "gpus": gpus if isinstance(gpus, (str, int)) or gpus is None else _strings(gpus),
        "gpus_line": located.exact(*path, "gpus"),
        "cdi_devices": cdi,
        "devices_line": located.exact(*path, "devices"),
        "deploy_devices": _deploy_devices(located, path),
        "deploy_line": located.exact(*path, "deploy"),
        "healthcheck": _healthcheck(located, (*path, "healthcheck")),
        "volumes": _volumes(located, path),
        "working_dir": None if raw.get("working_dir") is None else str(raw.get("working_dir")),
        "extends": {
            "service": str(extends.get("service")),
            "file": None if extends.get("file") is None else str(extends.get("file")),
            "line": located.exact(*path, "extends"),
        }
        if isinstance(extends, Mapping) and extends.get("service") is not None
        else None,
    }


def parse(text: str, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Facts of a compose file: version, layout and each service (see docs/architecture.md).

    ``env`` serves ``${VAR}`` interpolation in image names and build paths only. Raises
    :class:`ComposeError` with the line for what Docker Compose would reject.
    """
    located = load(text)
    top = located.value
    if not isinstance(top, Mapping):
        raise ComposeError(1, "the top level must be a mapping (services: ...)")
    env = env or {}
    services_value = top.get("services")
    legacy = "services" not in top and "version" not in top
    if legacy:
        names = [k for k, v in top.items() if k not in _NON_SERVICE_KEYS and isinstance(v, dict)]
        prefix: Path_ = ()
    else:
        if services_value is None:
            services_value = {}
        if not isinstance(services_value, Mapping):
            raise ComposeError(located.line("services"), "services must be a mapping")
        names = list(services_value)
        prefix = ("services",)
    services = [_service(located, (*prefix, name), name, env) for name in names]
    version = top.get("version")
    return {
        "version": None if version is None else str(version),
        "version_line": located.line("version") if version is not None else None,
        "layout": "v1" if legacy else "services",
        "services_line": located.line("services") if not legacy else 1,
        "services": services,
    }
