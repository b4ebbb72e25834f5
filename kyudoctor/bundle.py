"""Support bundles: every fact of every probe plus the report, redacted, in one JSON file, and
their replay (``kyudoctor check --from-bundle``), which judges those facts without probing.

A bundle is the facts plus the report, so a replay just skips the probes: the same checks and
rules (:func:`kyudoctor.api.run_check` with ``outcomes``) run on the bundle's facts and give the
codes and statuses of the original run. Schema ``kyudoctor.bundle/1``
(``kyudoctor/data/bundle.schema.json``)::

    {
      "schema": "kyudoctor.bundle/1",
      "kyudoctor_version": "0.1.0",
      "created": "2026-11-25T03:14:55Z",
      "redacted": true,
      "redaction": {"enabled": true, "classes": {"secrets": {"how": "...", "count": 3,
                    "distinct": 2}, "home": {...}, "user": {...}, "hosts": {...},
                    "addresses": {...}}, "kept": "..."},
      "host": {"hash": "1a2b3c4d", "platform": "linux"},
      "options": {"only": ["host"], "skip": [], "select": null, "ignore": [], "fail_on": "error",
                  "timeout": 10.0, "python": "~/tts/.venv/bin/python", "pyproject": null,
                  "cwd": "~/tts", "extra": {"urls": [...], "api_key": {"source": "...",
                  "length": 12}, ...}},
      "environment": {"variables": {"CUDA_HOME": "/usr/local/cuda-12.8", ...},
                      "secrets_set": {"HF_TOKEN": "*** (37 characters)"}},
      "probes": {"gpu": {"status": "ok", "duration_ms": 41.2, "facts": {...}, "error": null,
                         "traceback": null}, ...},
      "report": {... exactly `kyudoctor check --format json`, redacted the same way ...}
    }

Redaction (:class:`kyudoctor.redact.Redactor`) is on by default; ``--no-redact`` keeps paths,
the user name, host names and addresses, and says so in the header. Secrets are masked either
way: the API key, tokens and ``authorized_ids`` values never leave the machine.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import socket
import stat
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from kyudoctor import __version__
from kyudoctor.errors import UsageError
from kyudoctor.model import Check, Report, Status
from kyudoctor.redact import Redactor, is_secret_env_name, mask
from kyudoctor.runner import ProbeOutcome

if TYPE_CHECKING:  # pragma: no cover
    from kyudoctor.api import CheckOptions

__all__ = [
    "MAX_BYTES",
    "SCHEMA",
    "Bundle",
    "create",
    "default_name",
    "describe",
    "dumps",
    "host_hash",
    "load",
    "parse",
    "replay",
]

SCHEMA = "kyudoctor.bundle/1"
SCHEMA_NAME = "kyudoctor.bundle"
SCHEMA_MAJOR = 1
MAX_BYTES = 64 * 1024 * 1024
"""A bundle larger than this is refused unread (a real one is well under 1 MB)."""

PROBE_STATUSES = ("ok", "timeout", "crashed", "unusable")
DEFAULT_API_KEY_SOURCE = "default (public_token)"
_SECRET_FILE_MAX = 4096
_CONFIG_MAX = 1 << 20


# -- making a bundle ------------------------------------------------------------------------


def host_hash(hostname: str) -> str:
    """A short hash of the host name: tells bundles of one machine apart, never names it."""
    return hashlib.sha256(hostname.encode("utf-8", "replace")).hexdigest()[:8]


def default_name(hostname: str | None = None, now: _dt.datetime | None = None) -> str:
    """``kyudoctor-bundle-<host-hash>-<date>.json`` (UTC, to the second)."""
    moment = now or _dt.datetime.now(_dt.timezone.utc)
    return (
        f"kyudoctor-bundle-{host_hash(hostname or socket.gethostname())}-"
        f"{moment.strftime('%Y%m%d-%H%M%S')}.json"
    )


def create(
    options: CheckOptions,
    outcomes: Mapping[str, ProbeOutcome],
    report: Report,
    *,
    redact: bool = True,
    env: Mapping[str, str] | None = None,
    hostname: str | None = None,
) -> dict[str, Any]:
    """The bundle of one run: its options, every probe's outcome, the report; redacted unless
    ``redact`` is false (secrets are masked either way)."""
    from kyudoctor.probes.system import allowed_env
    from kyudoctor.report.json import to_dict
    from kyudoctor.rules import now_rfc3339

    environ: Mapping[str, str] = (
        env if env is not None else (options.env if options.env is not None else os.environ)
    )
    machine = hostname if hostname is not None else socket.gethostname()
    body: dict[str, Any] = {
        "host": {"hash": host_hash(machine), "platform": sys.platform},
        "options": _options(options),
        "environment": {
            "variables": allowed_env(environ),
            "secrets_set": {
                name: mask(value)
                for name, value in sorted(environ.items())
                if is_secret_env_name(name) and value
            },
        },
        "probes": {name: _probe_record(outcome) for name, outcome in outcomes.items()},
        "report": to_dict(report),
    }
    body = _jsonable(body)
    redactor = Redactor(
        secrets=known_secrets(environ, options.extra),
        homes=_homes(environ),
        users=_users(environ),
        hosts=[machine],
        pseudonymise=redact,
    )
    redactor.learn(body)
    redacted: dict[str, Any] = redactor.redact(body)
    return {
        "schema": SCHEMA,
        "kyudoctor_version": __version__,
        "created": now_rfc3339(),
        "redacted": redact,
        "redaction": redactor.summary(),
        **redacted,
    }


def dumps(bundle: Mapping[str, Any]) -> str:
    """The bundle as the file holds it: indented JSON, UTF-8 text, header first."""
    return json.dumps(bundle, indent=1, ensure_ascii=False) + "\n"


def describe(bundle: Mapping[str, Any]) -> str:
    """One line on what was redacted (for the terminal, after "bundle written to")."""
    classes = (bundle.get("redaction") or {}).get("classes") or {}

    def count(name: str, noun: str) -> str | None:
        entry = classes.get(name) or {}
        places = int(entry.get("count") or 0)
        if not places:
            return None
        distinct = entry.get("distinct")
        if distinct is None:
            return f"the {noun} ({places} place{'s' if places != 1 else ''})"
        plural = "" if distinct == 1 else ("es" if noun.endswith("ss") else "s")
        return f"{distinct} {noun}{plural} ({places} place{'s' if places != 1 else ''})"

    secrets = count("secrets", "secret")
    if not bundle.get("redacted"):
        return (
            "NOT redacted (--no-redact): paths, the user name, host names and IP addresses are "
            "as on this machine; secrets are masked"
            + (f" ({secrets})" if secrets else "")
            + ". Review the file before sharing it."
        )
    parts = [
        count("secrets", "secret"),
        count("home", "home directory"),
        count("user", "user name"),
        count("hosts", "host name"),
        count("addresses", "IP address"),
    ]
    done = [p for p in parts if p]
    what = ", ".join(done) if done else "nothing needed it"
    return f'redacted: {what}; the file\'s "redaction" header says how'


def known_secrets(env: Mapping[str, str], extra: Mapping[str, Any]) -> list[str]:
    """Every secret value this run knows of: the API key (unless the public default), secret
    environment variables, the Hugging Face token file, ``authorized_ids`` of the config."""
    found: list[str] = []
    api_key = extra.get("api_key")
    if isinstance(api_key, str) and extra.get("api_key_source") != DEFAULT_API_KEY_SOURCE:
        found.append(api_key)
    found += [value for name, value in env.items() if is_secret_env_name(name) and value]
    for path in _hf_token_files(env):
        token = _read_small(path, _SECRET_FILE_MAX)
        if token and token.strip():
            found.append(token.strip())
    config = extra.get("config_path") or extra.get("config")
    if isinstance(config, Mapping):
        config = config.get("file")
    if isinstance(config, str):
        found += _authorized_ids(config)
    return found


def _hf_token_files(env: Mapping[str, str]) -> list[Path]:
    """Where huggingface_hub reads its token (HF_TOKEN_PATH, $HF_HOME/token, the default)."""
    home = env.get("HOME")
    paths = []
    if env.get("HF_TOKEN_PATH"):
        paths.append(Path(env["HF_TOKEN_PATH"]))
    if env.get("HF_HOME"):
        paths.append(Path(env["HF_HOME"]) / "token")
    cache = env.get("XDG_CACHE_HOME") or (f"{home}/.cache" if home else None)
    if cache:
        paths.append(Path(cache) / "huggingface" / "token")
    if home:
        paths.append(Path(home) / ".huggingface" / "token")
    return paths


def _read_small(path: Path, limit: int) -> str | None:
    try:
        if not path.is_file():
            return None
        with path.open("rb") as handle:
            return handle.read(limit).decode("utf-8", "replace")
    except OSError:
        return None


def _authorized_ids(path: str) -> list[str]:
    """``authorized_ids`` values anywhere in a moshi-server config (unreadable: none)."""
    from kyudoctor._toml import tomllib

    text = _read_small(Path(path), _CONFIG_MAX)
    if text is None:
        return []
    try:
        data = tomllib.loads(text.lstrip("\ufeff"))
    except (tomllib.TOMLDecodeError, ValueError):
        return []
    found: list[str] = []

    def walk(value: Any, key: str | None) -> None:
        if isinstance(value, dict):
            for k, item in value.items():
                walk(item, str(k))
        elif isinstance(value, list):
            for item in value:
                walk(item, key)
        elif isinstance(value, str) and key == "authorized_ids":
            found.append(value)

    walk(data, None)
    return found


def _homes(env: Mapping[str, str]) -> list[str]:
    home = env.get("HOME")
    if not home or not home.startswith("/") or home.rstrip("/") == "":
        return []
    homes = [home]
    try:
        real = os.path.realpath(home)
    except OSError:  # pragma: no cover - realpath does not raise on Linux
        real = home
    if real != home:
        homes.append(real)
    return homes


def _users(env: Mapping[str, str]) -> list[str]:
    users = [env.get(name) or "" for name in ("USER", "LOGNAME", "USERNAME")]
    home = env.get("HOME") or ""
    if os.path.basename(os.path.dirname(home.rstrip("/"))) in ("home", "Users"):
        users.append(os.path.basename(home.rstrip("/")))
    try:
        import pwd

        users.append(pwd.getpwuid(os.getuid()).pw_name)
    except (ImportError, KeyError, OSError):  # pragma: no cover - no pwd entry / not POSIX
        pass
    return [u for u in dict.fromkeys(users) if u]


def _options(options: CheckOptions) -> dict[str, Any]:
    """The options of the run; the API key only as its source and length."""
    extra = dict(options.extra)
    if "api_key" in extra:
        key = extra.pop("api_key")
        extra["api_key"] = {
            "source": extra.get("api_key_source"),
            "length": len(key) if isinstance(key, str) else None,
        }
    return {
        "python": options.python,
        "pyproject": options.pyproject,
        "only": list(options.only),
        "skip": list(options.skip),
        "select": sorted(options.select) if options.select is not None else None,
        "ignore": sorted(options.ignore),
        "fail_on": options.fail_on,
        "timeout": options.timeout,
        "cwd": str(options.cwd if options.cwd is not None else Path.cwd()),
        "extra": extra,
    }


def _probe_record(outcome: ProbeOutcome) -> dict[str, Any]:
    return {
        "status": "unusable" if outcome.unusable else outcome.status.value,
        "duration_ms": round(outcome.duration_ms, 1),
        "facts": outcome.facts,
        "error": outcome.error,
        "traceback": outcome.traceback,
    }


def _jsonable(value: Any) -> Any:
    """JSON types only: mappings to dicts, sequences and sets to lists, anything else to str."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(_jsonable(v) for v in value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


# -- reading a bundle -----------------------------------------------------------------------


@dataclass(frozen=True)
class Bundle:
    """A bundle read back: its header, options, targets and the probe outcomes to replay."""

    source: str
    schema: str
    kyudoctor_version: str
    created: str
    redacted: bool
    options: dict[str, Any]
    targets: dict[str, Any]
    outcomes: dict[str, ProbeOutcome]
    report: dict[str, Any]


def load(path: str, *, stdin: BinaryIO | None = None) -> Bundle:
    """Read and check a bundle file (``-``: standard input). Every problem is a one-line
    :class:`UsageError` naming the file: missing, not a file, too large, not JSON, truncated,
    not a bundle, a schema this kyudoctor does not read."""
    where = f"--from-bundle {path}"
    if path == "-":
        stream = stdin if stdin is not None else sys.stdin.buffer
        raw = stream.read(MAX_BYTES + 1)
    else:
        raw = _read_file(path, where)
    if len(raw) > MAX_BYTES:
        raise UsageError(f"{where}: larger than {MAX_BYTES // (1024 * 1024)} MB; not a bundle")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"{where}: not a kyudoctor bundle (not UTF-8 text)") from None
    return parse(text, source=path)


def _read_file(path: str, where: str) -> bytes:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise UsageError(f"{where}: no such file") from None
    except OSError as exc:
        raise UsageError(f"{where}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise UsageError(f"{where}: is a directory")
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"{where}: not a regular file")
    if info.st_size > MAX_BYTES:
        raise UsageError(
            f"{where}: {info.st_size / 1e6:.1f} MB, larger than the "
            f"{MAX_BYTES // (1024 * 1024)} MB a bundle may be; not read"
        )
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"{where}: {exc.strerror or exc}") from None


# What may follow the decoder's error position in a document cut short: nothing, or the
# start of one last token -- a literal (``tr``), a number (``-12.``), a string never closed.
_CUT_TOKEN = re.compile(r'(?:t(?:ru?)?|f(?:a(?:ls?)?)?|n(?:ul?)?|[-+0-9.eE]+|"(?:[^"\\]|\\.)*\\?)')


def _ends_early(text: str, pos: object) -> bool:
    """Whether a JSON error at ``pos`` is the file ending inside the document (truncated)."""
    if not isinstance(pos, int):
        return False
    rest = text[pos:].rstrip()
    if not rest:
        return True
    if _CUT_TOKEN.fullmatch(rest) is not None:
        return True
    # An escape cut short inside a string (``"x\u00``): the decoder points into the string.
    start = text.rfind('"', 0, pos + 1)
    return start >= 0 and _CUT_TOKEN.fullmatch(text[start:].rstrip()) is not None


def parse(text: str, *, source: str = "<bundle>") -> Bundle:
    """A bundle from its JSON text; see :func:`load` for the errors."""
    where = f"--from-bundle {source}"
    try:
        data = json.loads(text)
    except RecursionError:
        raise UsageError(f"{where}: not a kyudoctor bundle (JSON nested too deeply)") from None
    except ValueError as exc:
        reason = getattr(exc, "msg", str(exc))
        pos = getattr(exc, "pos", None)
        lineno, colno = getattr(exc, "lineno", None), getattr(exc, "colno", None)
        ending = " (the file ends early: truncated?)" if _ends_early(text, pos) else ""
        at = f" at line {lineno} column {colno}" if lineno is not None else ""
        raise UsageError(f"{where}: not valid JSON{at}: {reason}{ending}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{where}: not a kyudoctor bundle (a JSON {type(data).__name__})")
    schema = data.get("schema")
    version = data.get("kyudoctor_version")
    made_by = f"kyudoctor {version}" if isinstance(version, str) else "an unknown kyudoctor"
    if schema == "kyudoctor.report/1":
        raise UsageError(
            f"{where}: a kyudoctor report, not a bundle (it has no facts to replay); make one "
            "with `kyudoctor bundle`"
        )
    if not isinstance(schema, str) or not schema.startswith(SCHEMA_NAME + "/"):
        raise UsageError(
            f'{where}: not a kyudoctor bundle (no "schema": "{SCHEMA}"); make one with '
            "`kyudoctor bundle`"
        )
    major_text = schema[len(SCHEMA_NAME) + 1 :].split(".", 1)[0]
    if not major_text.isdigit():
        raise UsageError(
            f"{where}: unknown bundle schema {schema!r} (written by {made_by}); this kyudoctor "
            f"{__version__} reads {SCHEMA}"
        )
    major = int(major_text)
    if major > SCHEMA_MAJOR:
        raise UsageError(
            f"{where}: bundle schema {schema} (written by {made_by}) is newer than this "
            f"kyudoctor {__version__} reads ({SCHEMA}); upgrade kyudoctor to replay it"
        )
    if major < SCHEMA_MAJOR:
        raise UsageError(
            f"{where}: bundle schema {schema} (written by {made_by}) is older than this "
            f"kyudoctor {__version__} reads ({SCHEMA}); replay it with {made_by}"
        )
    problem = _structure_problem(data)
    if problem is not None:
        raise UsageError(f"{where}: not a valid {SCHEMA} bundle: {problem}")
    report = data["report"]
    return Bundle(
        source=source,
        schema=schema,
        kyudoctor_version=str(version),
        created=str(data.get("created") or report.get("created") or ""),
        redacted=bool(data.get("redacted")),
        options=dict(data.get("options") or {}),
        targets=dict(report["targets"]),
        outcomes={name: _outcome(name, record) for name, record in data["probes"].items()},
        report=report,
    )


def _structure_problem(data: Mapping[str, Any]) -> str | None:
    """What keeps ``data`` from being replayed, or None (the replay needs only these)."""
    if not isinstance(data.get("kyudoctor_version"), str):
        return "kyudoctor_version is missing"
    probes = data.get("probes")
    if not isinstance(probes, dict):
        return "probes is missing or not an object"
    for name, record in probes.items():
        if not isinstance(record, dict):
            return f"probes.{name} is not an object"
        status = record.get("status")
        if status not in PROBE_STATUSES:
            return f"probes.{name}.status is {status!r}, not one of {', '.join(PROBE_STATUSES)}"
        facts = record.get("facts")
        if status == "ok" and not isinstance(facts, dict):
            return f"probes.{name}.facts is missing although its status is ok"
        if facts is not None and not isinstance(facts, dict):
            return f"probes.{name}.facts is not an object"
        duration = record.get("duration_ms", 0.0)
        if isinstance(duration, bool) or not isinstance(duration, (int, float)):
            return f"probes.{name}.duration_ms is not a number"
        for key in ("error", "traceback"):
            if record.get(key) is not None and not isinstance(record.get(key), str):
                return f"probes.{name}.{key} is not a string"
    report = data.get("report")
    if not isinstance(report, dict) or not isinstance(report.get("targets"), dict):
        return "report.targets is missing"
    options = data.get("options", {})
    if not isinstance(options, dict):
        return "options is not an object"
    for key in ("only", "skip", "ignore"):
        items = options.get(key) or []
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            return f"options.{key} is not a list of strings"
    select = options.get("select")
    if select is not None and (
        not isinstance(select, list) or not all(isinstance(i, str) for i in select)
    ):
        return "options.select is not a list of codes"
    if not isinstance(options.get("extra", {}), dict):
        return "options.extra is not an object"
    return None


def _outcome(name: str, record: Mapping[str, Any]) -> ProbeOutcome:
    status = record["status"]
    error = record.get("error")
    return ProbeOutcome(
        name=name,
        status=Status.CRASHED if status == "unusable" else Status(status),
        facts=record.get("facts"),
        duration_ms=float(record.get("duration_ms") or 0.0),
        error=error,
        traceback=record.get("traceback"),
        unusable=error if status == "unusable" else None,
    )


# -- replay ---------------------------------------------------------------------------------


def replay(
    bundle: Bundle,
    *,
    only: Iterable[str] | None = None,
    skip: Iterable[str] | None = None,
    select: frozenset[str] | None = None,
    ignore: frozenset[str] | None = None,
    fail_on: str = "error",
    checks: Sequence[Check] | None = None,
) -> Report:
    """Judge the bundle's facts with this kyudoctor's checks and rules; no probe runs.

    ``only``/``skip``/``select``/``ignore`` left None take the bundle's own (the original run's
    choice), so a plain replay reproduces the original report's codes and statuses.
    """
    from kyudoctor.api import CheckOptions, run_check

    recorded = bundle.options
    chosen_select = select
    if chosen_select is None and recorded.get("select") is not None:
        chosen_select = frozenset(recorded["select"])
    options = CheckOptions(
        python=bundle.targets.get("python") or None,
        pyproject=bundle.targets.get("pyproject") or None,
        only=tuple(only if only is not None else recorded.get("only") or ()),
        skip=tuple(skip if skip is not None else recorded.get("skip") or ()),
        select=chosen_select,
        ignore=ignore if ignore is not None else frozenset(recorded.get("ignore") or ()),
        fail_on=fail_on,
        env={},
        extra=dict(recorded.get("extra") or {}),
    )
    return run_check(options, checks=checks, outcomes=bundle.outcomes, targets=bundle.targets)
