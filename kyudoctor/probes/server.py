"""The live server: for each ``--url``, reach it, look at it over HTTP, and run one TTS session.

Per URL, concurrently: DNS and TCP connect (refused / timeout / DNS told apart; when a loopback
address is refused, the other loopback family is tried: NET004 / NET007); on this machine, the
listening sockets of the port and the moshi-server processes (psutil: NET005, and NET006 when a
moshi-server process is alive, its port closed and its log at a loading step); for ``wss://``
the TLS facts of :mod:`kyudoctor.probes.tls`; then ``/api/build_info``, ``/api/modules_info``
(slots, before and after the session), ``/metrics`` scraped before and during the session
(WS007), a plain ``GET`` on the TTS path (400: the route exists; 404: WS001); and the session of
:func:`kyudoctor.session.run_session`. ``--wait`` polls the connection while the server is still
starting. Nothing here judges: the ``checks/net_*``, ``http_*``, ``ws_*`` and ``tls_*`` modules do.

Options (``ctx.options``): ``urls`` (list), ``urls_explicit`` (bool), ``api_key`` (else
``KYUTAI_API_KEY``, else ``public_token``; never written to facts), ``api_key_source``,
``text``, ``voice``, ``ttfa_max``, ``rtf_max``, ``cacert``, ``insecure``, ``wait`` (seconds),
``config`` (``{file, port, path, batch_size, log_dir, instance_name}`` from a moshi-server
config, optional), ``listen`` (seconds of audio listened to after the first Audio, default
1.0; 0 waits for the server to end the stream), and for tests ``first_audio_timeout``,
``metrics_interval``, ``wait_poll``.

Facts::

    urls: [str]  (redacted)        urls_explicit: bool        insecure: bool    cacert: str|None
    no_server: bool                no_server_reason: str|None
    api_key: {source, length}      text_words: int            voice: str|None
    thresholds: {ttfa_max_s, rtf_max}      first_audio_window_s: float      listen_s: float
    processes: [{pid, name, port, addr, config, log_dir, log_file, last_log_line, loading_step}]
    wait: {requested_s, waited_s, polls, still_starting}
    servers: [{
      url, scheme, host, port, path, local: bool,
      connect: {outcome, host, port, addresses, attempts: [{address, outcome}], connected,
                error, elapsed_ms},
      alternate: <connect facts> | None      # the other loopback family
      listeners: [{address, port, pid, process}] | None   # None: not local or not visible
      starting: {pid, process, log_file, last_log_line, loading_step, loading} | None
      tls: <kyudoctor.probes.tls facts> | None
      blocked: str | None                   # why HTTP and the session were not attempted
      http: {build_info, modules_info, metrics: {first, second, interval_s}, route,
             modules_after} | None
      session: <SessionResult.to_facts()> | None
    }]
"""

from __future__ import annotations

import asyncio
import importlib
import ipaddress
import os
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kyudoctor._toml import tomllib
from kyudoctor.errors import UnusableInput
from kyudoctor.probes import ProbeContext

if TYPE_CHECKING:  # pragma: no cover
    from kyudoctor.session import HttpResponse


__all__ = [
    "DEFAULT_URL",
    "LOADING_STEP",
    "NO_SERVER",
    "compact",
    "parse_metrics",
    "parse_modules",
    "probe",
]

DEFAULT_URL = "ws://127.0.0.1:8080/api/tts_streaming"
DEFAULT_API_KEY = "public_token"
LISTEN_S = 0.6
"""How long the session listens after the first audio before ending it (Eos sent, close)."""
NO_SERVER = "no server to check: pass --url, or start moshi-server"

LOADING_STEP = re.compile(
    r"retrieving checkpoint|loading voices|filling cross attention cache|warming up|"
    r"ready to roll|starting worker|compil\w*|download\w*|fetching|build[_ ]info",
    re.IGNORECASE,
)
"""A log line of moshi-server's start-up, before the port opens (moshi-server.md §4)."""

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_LOG_TAIL_BYTES = 64 * 1024
_CONFIG_MAX_BYTES = 1 << 20
_METRIC_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")
_METRIC_PREFIXES = ("py_", "asr_")
_MAX_METRICS = 200
_MOSHI_BUILD_KEYS = ("build_timestamp", "git_hash", "git_describe", "rustc_version")
_LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


# -- options --------------------------------------------------------------------------------


def _float(options: Mapping[str, Any], key: str, default: float) -> float:
    value = options.get(key)
    if value is None:
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        raise UnusableInput(f"--{key.replace('_', '-')} {value!r}: not a number") from None


class _Options:
    def __init__(self, ctx: ProbeContext) -> None:
        from kyudoctor.session import DEFAULT_TEXT, parse_target

        options = ctx.options
        urls = list(options.get("urls") or [DEFAULT_URL])
        self.explicit = bool(options.get("urls_explicit"))
        self.targets = []
        for url in dict.fromkeys(urls):
            try:
                self.targets.append(parse_target(str(url)))
            except ValueError as exc:
                raise UnusableInput(f"--url: {exc}") from None
        if "api_key" in options and options["api_key"] is not None:
            self.api_key: str | None = str(options["api_key"])
            self.api_key_source = str(options.get("api_key_source") or "--api-key")
        elif ctx.env.get("KYUTAI_API_KEY"):
            self.api_key = ctx.env["KYUTAI_API_KEY"]
            self.api_key_source = "KYUTAI_API_KEY"
        else:
            self.api_key = DEFAULT_API_KEY
            self.api_key_source = "default (public_token)"
        self.text = str(options.get("text") or DEFAULT_TEXT)
        self.voice = options.get("voice") or None
        self.ttfa_max = _float(options, "ttfa_max", 1.0)
        self.rtf_max = _float(options, "rtf_max", 1.0)
        self.cacert = options.get("cacert") or None
        self.insecure = bool(options.get("insecure"))
        self.wait = max(0.0, _float(options, "wait", 0.0))
        self.wait_poll = max(0.01, _float(options, "wait_poll", 1.0))
        self.metrics_interval = max(0.0, _float(options, "metrics_interval", 0.5))
        # Seconds of listening after the first audio: enough to measure the real-time factor
        # and validate the audio, short enough for `check` to stay quick. 0: to the end.
        self.listen = max(0.0, _float(options, "listen", LISTEN_S))
        self.first_audio_window = _float(
            options, "first_audio_timeout", max(5.0, 4.0 * self.ttfa_max)
        )
        config = options.get("config")
        self.config: Mapping[str, Any] | None = config if isinstance(config, Mapping) else None
        self.env = ctx.env


# -- local view: processes and listening sockets (psutil) -----------------------------------


def _is_moshi(name: str, cmdline: Sequence[str]) -> bool:
    if name == "moshi-server":
        return True
    return bool(cmdline) and os.path.basename(cmdline[0]) == "moshi-server"


def _arg(cmdline: Sequence[str], *names: str) -> str | None:
    for index, word in enumerate(cmdline):
        for name in names:
            if word == name and index + 1 < len(cmdline):
                return cmdline[index + 1]
            if word.startswith(name + "="):
                return word.split("=", 1)[1]
    return None


def _read_config(path: Path) -> dict[str, Any] | None:
    try:
        if not path.is_file() or path.stat().st_size > _CONFIG_MAX_BYTES:
            return None
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8", errors="replace"))
        return data
    except (OSError, tomllib.TOMLDecodeError):
        return None


def _last_log_line(log_dir: str, instance: str | None) -> tuple[str | None, str | None]:
    """The newest ``log.<instance>.*`` file in ``log_dir`` and its last non-empty line."""
    try:
        prefix = f"log.{instance}" if instance else "log."
        files = [p for p in Path(log_dir).iterdir() if p.name.startswith(prefix) and p.is_file()]
    except OSError:
        return None, None
    if not files:
        return None, None
    newest = max(files, key=lambda p: p.stat().st_mtime)
    try:
        with newest.open("rb") as handle:
            size = newest.stat().st_size
            handle.seek(max(0, size - _LOG_TAIL_BYTES))
            tail = handle.read(_LOG_TAIL_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return str(newest), None
    for line in reversed(tail.splitlines()):
        clean = _ANSI.sub("", line).strip()
        if clean:
            return str(newest), clean[:300]
    return str(newest), None


def _moshi_process(proc: Any, env: Mapping[str, str], config: Mapping[str, Any] | None) -> Any:
    """Facts of one moshi-server process: port, config, log and its last line."""
    info = proc.info
    cmdline = list(info.get("cmdline") or [])
    # The options of the `worker` subcommand (moshi-server.md §1).
    if "worker" in cmdline:
        cmdline = cmdline[cmdline.index("worker") + 1 :]
    port_text = _arg(cmdline, "-p", "--port")
    config_arg = _arg(cmdline, "--config")
    out: dict[str, Any] = {
        "pid": info.get("pid"),
        "name": info.get("name"),
        "port": int(port_text) if port_text and port_text.isdigit() else 8080,
        "addr": _arg(cmdline, "-a", "--addr") or "0.0.0.0",
        "config": None,
        "log_dir": None,
        "log_file": None,
        "last_log_line": None,
        "loading_step": None,
    }
    instance = None
    if config_arg:
        cwd = info.get("cwd")
        path = Path(config_arg)
        if not path.is_absolute() and cwd:
            path = Path(cwd) / path
        out["config"] = str(path)
        parsed = _read_config(path)
        if parsed is not None:
            log_dir = parsed.get("log_dir")
            instance = parsed.get("instance_name")
            if isinstance(log_dir, str):
                try:
                    proc_env = proc.environ()
                except Exception:  # noqa: BLE001 - psutil.AccessDenied and the like
                    proc_env = env
                out["log_dir"] = _expand(log_dir, proc_env)
    if out["log_dir"] is None and config is not None and config.get("log_dir"):
        out["log_dir"] = str(config["log_dir"])
        instance = instance or config.get("instance_name")
    if out["log_dir"]:
        log_file, line = _last_log_line(
            out["log_dir"], instance if isinstance(instance, str) else None
        )
        out["log_file"] = log_file
        out["last_log_line"] = line
        if line:
            match = LOADING_STEP.search(line)
            out["loading_step"] = match.group(0) if match else None
    return out


def _expand(value: str, env: Mapping[str, str]) -> str:
    """``$NAME`` expanded as moshi-server does: an unset variable becomes the empty string."""
    return re.sub(r"\$(\w+)|\$\{(\w+)\}", lambda m: env.get(m.group(1) or m.group(2), ""), value)


class _LocalView:
    """What psutil shows on this machine: moshi-server processes and listening TCP sockets."""

    def __init__(self, env: Mapping[str, str], config: Mapping[str, Any] | None) -> None:
        self.env = env
        self.config = config
        self.processes: list[dict[str, Any]] = []
        self.listeners: list[dict[str, Any]] | None = None
        self.addresses: set[str] = set()
        self.refresh()

    def refresh(self) -> None:
        """Look again (``--wait`` polls: the process may have moved on or exited)."""
        env, config = self.env, self.config
        self.processes = []
        self.listeners = None
        self.addresses = set()
        try:
            # Untyped (no stubs installed); imported here, not at start-up.
            psutil: Any = importlib.import_module("psutil")
        except ImportError:  # pragma: no cover - psutil is a dependency
            return
        names: dict[int, str | None] = {}
        try:
            for proc in psutil.process_iter(["pid", "name", "cmdline", "cwd"]):
                info = proc.info
                names[info["pid"]] = info.get("name")
                if _is_moshi(info.get("name") or "", info.get("cmdline") or []):
                    self.processes.append(_moshi_process(proc, env, config))
        except Exception:  # noqa: BLE001 - a partial view is still a view
            pass
        try:
            listeners = []
            for conn in psutil.net_connections(kind="tcp"):
                if conn.status != psutil.CONN_LISTEN or not conn.laddr:
                    continue
                pid = conn.pid
                listeners.append(
                    {
                        "address": conn.laddr.ip,
                        "port": conn.laddr.port,
                        "pid": pid,
                        "process": names.get(pid) if pid is not None else None,
                    }
                )
            self.listeners = listeners
        except Exception:  # noqa: BLE001 - psutil.AccessDenied on some systems
            self.listeners = None
        try:
            for addrs in psutil.net_if_addrs().values():
                for addr in addrs:
                    self.addresses.add(addr.address.split("%", 1)[0])
        except Exception:  # noqa: BLE001
            pass

    def listening_on(self, port: int) -> list[dict[str, Any]] | None:
        if self.listeners is None:
            return None
        return [entry for entry in self.listeners if entry["port"] == port]

    def moshi_for(self, port: int) -> dict[str, Any] | None:
        for proc in self.processes:
            if proc["port"] == port:
                return proc
        return None


def _is_local(host: str, resolved: Sequence[str], view: _LocalView) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    candidates = [host, *resolved]
    for candidate in candidates:
        try:
            address = ipaddress.ip_address(candidate.strip("[]"))
        except ValueError:
            continue
        if address.is_loopback or address.is_unspecified or str(address) in view.addresses:
            return True
    return False


def _address_only(hostport: str) -> str:
    """``[::1]:8080`` -> ``::1``; ``127.0.0.1:8080`` -> ``127.0.0.1``."""
    if hostport.startswith("["):
        return hostport[1 : hostport.index("]")]
    return hostport.rsplit(":", 1)[0]


# -- HTTP facts -----------------------------------------------------------------------------


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text -> ``{name: value}`` for the ``py_*`` and ``asr_*`` series, summed over
    label sets (histogram buckets are skipped; ``_sum`` and ``_count`` kept)."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _METRIC_LINE.match(line)
        if match is None:
            continue
        name = match.group(1)
        if not name.startswith(_METRIC_PREFIXES) or name.endswith("_bucket"):
            continue
        try:
            value = float(match.group(3))
        except ValueError:
            continue
        if name not in values and len(values) >= _MAX_METRICS:
            continue
        values[name] = values.get(name, 0.0) + value
    return values


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def parse_modules(payload: Any) -> list[dict[str, Any]] | None:
    """``/api/modules_info`` JSON -> ``[{type, path, used_slots, total_slots}]`` (ints), or
    None when it is not the list of maps moshi-server sends."""
    if not isinstance(payload, list):
        return None
    modules = []
    for item in payload[:32]:
        if not isinstance(item, dict):
            continue
        modules.append(
            {
                "type": str(item.get("type"))[:40] if item.get("type") is not None else None,
                "path": str(item.get("path"))[:200] if item.get("path") is not None else None,
                "used_slots": _int(item.get("used_slots")),
                "total_slots": _int(item.get("total_slots")),
            }
        )
    return modules


def _json(response: HttpResponse) -> Any:
    import json

    if response.status != 200 or not response.body or response.truncated:
        return None
    try:
        return json.loads(response.text())
    except ValueError:
        return None


async def _get(url: str, timeout: float, ssl: Any, connect_to: str | None) -> HttpResponse:
    from kyudoctor.session import fetch

    return await fetch(url, timeout=timeout, ssl=ssl, connect_to=connect_to)


def _build_info_facts(response: HttpResponse) -> dict[str, Any]:
    out = response.summary()
    payload = _json(response)
    if isinstance(payload, dict):
        out.pop("body_excerpt", None)
        out["json"] = {str(k)[:40]: str(v)[:200] for k, v in list(payload.items())[:20]}
        out["moshi_like"] = any(key in payload for key in _MOSHI_BUILD_KEYS)
    else:
        out["json"] = None
        out["moshi_like"] = False
    return out


def _modules_facts(response: HttpResponse) -> dict[str, Any]:
    out = response.summary()
    modules = parse_modules(_json(response))
    out["modules"] = modules
    if modules is not None:
        out.pop("body_excerpt", None)
    return out


def _metrics_facts(response: HttpResponse) -> dict[str, Any]:
    out = response.summary()
    out.pop("body_excerpt", None)
    out["values"] = (
        parse_metrics(response.text()) if response.status == 200 and response.body else None
    )
    return out


# -- one URL --------------------------------------------------------------------------------


class _Url:
    """The probe of one URL: a connect phase (repeatable while waiting), then the rest."""

    def __init__(self, target: Any, opts: _Options, view: _LocalView | None) -> None:
        self.target = target
        self.opts = opts
        self.view = view
        self.facts: dict[str, Any] = {
            "url": target.redacted,
            "scheme": target.scheme,
            "host": target.host,
            "port": target.port,
            "path": target.path,
            "local": False,
            "connect": None,
            "alternate": None,
            "listeners": None,
            "starting": None,
            "tls": None,
            "blocked": None,
            "http": None,
            "session": None,
        }

    # -- connect --

    async def connect(self, timeout: float) -> None:
        from kyudoctor.session import tcp_connect

        target = self.target
        tcp = await tcp_connect(target.host, target.port, timeout=timeout)
        facts = self.facts
        facts["connect"] = tcp.to_facts()
        view = self.view
        local = view is not None and _is_local(
            target.host, [_address_only(a) for a in tcp.addresses], view
        )
        facts["local"] = local
        facts["alternate"] = None
        if local:
            alternate = self._alternate_host(tcp)
            if alternate is not None:
                alt = await tcp_connect(alternate, target.port, timeout=min(1.0, timeout))
                facts["alternate"] = alt.to_facts()
        if local and view is not None:
            facts["listeners"] = view.listening_on(target.port)
            facts["starting"] = self._starting(tcp.outcome)
        else:
            facts["listeners"] = None
            facts["starting"] = None

    def _alternate_host(self, tcp: Any) -> str | None:
        """The other loopback family, when it tells NET004 / NET007 apart."""
        tried = {_address_only(a) for a, _ in tcp.attempts}
        v6 = any(":" in a for a in tried)
        v4 = any(":" not in a for a in tried)
        if tcp.outcome == "refused":
            if v4 and not v6:
                return "::1"
            if v6 and not v4:
                return "127.0.0.1"
            return None
        if tcp.outcome == "ok" and tcp.connected and tcp.connected.startswith("[") and not v4:
            return "127.0.0.1"
        return None

    def _starting(self, outcome: str) -> dict[str, Any] | None:
        """NET006's evidence: a moshi-server process for this port is alive, the port closed."""
        if outcome == "ok" or self.view is None:
            return None
        proc = self.view.moshi_for(self.target.port)
        if proc is None:
            return None
        line = proc.get("last_log_line")
        return {
            "pid": proc["pid"],
            "process": proc.get("name"),
            "log_file": proc.get("log_file"),
            "last_log_line": line,
            "loading_step": proc.get("loading_step"),
            # Unknown log: the process alone counts (NET006 says "when its log is found").
            "loading": proc.get("loading_step") is not None if line else True,
        }

    @property
    def still_starting(self) -> bool:
        starting = self.facts.get("starting")
        connect = self.facts.get("connect")
        if not starting or not connect:
            return False
        return connect["outcome"] == "refused" and bool(starting.get("loading"))

    # -- TLS, HTTP, session --

    async def rest(self, deadline: float) -> None:
        from kyudoctor.probes import tls
        from kyudoctor.session import run_session

        facts = self.facts
        opts = self.opts
        target = self.target
        connect = facts["connect"]
        if connect["outcome"] != "ok":
            facts["blocked"] = f"TCP connect: {connect['outcome']}"
            return
        connect_to = _address_only(connect["connected"])
        context = None
        if target.secure:
            facts["tls"] = await tls.inspect(
                target.host,
                target.port,
                cacert=opts.cacert,
                timeout=min(3.0, _left(deadline) / 3),
                connect_to=connect_to,
            )
            handshake = facts["tls"]["handshake"]
            if not handshake["ok"]:
                certificate_problem = handshake["verify_code"] is not None
                if not (opts.insecure and certificate_problem):
                    facts["blocked"] = f"TLS handshake: {handshake['reason']}"
                    return
            context = tls.client_context(cacert=opts.cacert, insecure=opts.insecure)

        http_timeout = min(2.5, max(0.2, _left(deadline) / 4))
        first_at = time.monotonic()
        build, modules, metrics, route = await asyncio.gather(
            _get(target.http_url("/api/build_info"), http_timeout, context, connect_to),
            _get(target.http_url("/api/modules_info"), http_timeout, context, connect_to),
            _get(target.http_url("/metrics"), http_timeout, context, connect_to),
            _get(target.http_url(), http_timeout, context, connect_to),
        )
        http: dict[str, Any] = {
            "build_info": _build_info_facts(build),
            "modules_info": _modules_facts(modules),
            "metrics": {"first": _metrics_facts(metrics), "second": None, "interval_s": None},
            "route": route.summary(),
            "modules_after": None,
        }
        facts["http"] = http
        answered = [r for r in (build, modules, metrics, route) if r.status is not None]
        if not answered and all(r.outcome == "timeout" for r in (build, modules, metrics, route)):
            facts["blocked"] = f"no HTTP answer within {http_timeout:.1f} s"
            return

        session_timeout = max(0.5, _left(deadline) - 1.0)
        window = min(opts.first_audio_window, session_timeout)
        second_scrape = asyncio.ensure_future(
            self._scrape_later(opts.metrics_interval, http_timeout, context, connect_to)
        )
        result = await run_session(
            target.url,
            api_key=opts.api_key,
            text=opts.text,
            voice=opts.voice,
            timeout=session_timeout,
            ssl=context,
            first_audio_timeout=window,
            listen_s=opts.listen or None,
        )
        facts["session"] = result.to_facts()
        second = await second_scrape
        if second is not None:
            second_at, http["metrics"]["second"] = second
            http["metrics"]["interval_s"] = round(second_at - first_at, 3)
        http["modules_after"] = await self._modules_after(
            http["modules_info"], result.ready, deadline, context, connect_to
        )

    async def _scrape_later(
        self, delay: float, timeout: float, context: Any, connect_to: str
    ) -> tuple[float, dict[str, Any]] | None:
        """The second ``/metrics`` scrape, while the session holds its slot."""
        await asyncio.sleep(delay)
        at = time.monotonic()
        response = await _get(self.target.http_url("/metrics"), timeout, context, connect_to)
        if response.status is None:
            return None
        return at, _metrics_facts(response)

    async def _modules_after(
        self,
        before: Mapping[str, Any],
        took_slot: bool,
        deadline: float,
        context: Any,
        connect_to: str,
    ) -> dict[str, Any] | None:
        """``/api/modules_info`` after the session, polled briefly until its slot is back."""
        used_before = _module_used(before.get("modules"), self.target.path)
        if used_before is None:
            return None
        polls = 0
        until = min(deadline, time.monotonic() + (1.0 if took_slot else 0.2))
        while True:
            polls += 1
            response = await _get(
                self.target.http_url("/api/modules_info"),
                max(0.1, min(1.0, until - time.monotonic())),
                context,
                connect_to,
            )
            used = _module_used(parse_modules(_json(response)), self.target.path)
            if used is None or used <= used_before or time.monotonic() >= until:
                return {"used_slots": used, "polls": polls, "status": response.status}
            await asyncio.sleep(0.1)


def _module_used(modules: Any, path: str) -> int | None:
    if not isinstance(modules, list):
        return None
    for module in modules:
        if module.get("path") == path:
            used = module.get("used_slots")
            return used if isinstance(used, int) else None
    return None


def _left(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


# -- the probe ------------------------------------------------------------------------------


async def _run(opts: _Options, view: _LocalView | None, deadline: float) -> dict[str, Any]:
    urls = [_Url(target, opts, view) for target in opts.targets]
    connect_timeout = min(3.0, max(0.2, _left(deadline) / 3))
    await asyncio.gather(*(u.connect(connect_timeout) for u in urls))

    waited = 0.0
    polls = 0
    if opts.wait > 0:
        started = time.monotonic()
        # Leave the rest of the probe some time once the port opens.
        wait_until = min(started + opts.wait, deadline - min(3.0, _left(deadline) / 2))
        while any(u.still_starting for u in urls) and time.monotonic() < wait_until:
            await asyncio.sleep(min(opts.wait_poll, max(0.0, wait_until - time.monotonic())))
            polls += 1
            pending = [u for u in urls if u.still_starting]
            if view is not None:
                view.refresh()
            await asyncio.gather(*(u.connect(connect_timeout) for u in pending))
        waited = time.monotonic() - started

    await asyncio.gather(*(u.rest(deadline) for u in urls))
    servers = [u.facts for u in urls]
    no_server = not opts.explicit and all(_nothing_there(s, view) for s in servers)
    return {
        "servers": servers,
        "no_server": no_server,
        "no_server_reason": NO_SERVER if no_server else None,
        "wait": {
            "requested_s": opts.wait,
            "waited_s": round(waited, 3),
            "polls": polls,
            "still_starting": any(u.still_starting for u in urls),
        },
    }


def _nothing_there(server: Mapping[str, Any], view: _LocalView | None) -> bool:
    """The default URL refused, nothing else answering on loopback, no moshi-server process."""
    if server["connect"]["outcome"] != "refused":
        return False
    alternate = server.get("alternate")
    if alternate is not None and alternate["outcome"] == "ok":
        return False
    if server.get("listeners"):
        return False
    return view is None or not view.processes


def _config_facts(config: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The few values of ``--config`` the server checks use (the TTS path, port, slots)."""
    if config is None:
        return None
    keys = ("file", "port", "path", "batch_size", "log_dir", "instance_name")
    return {
        key: config.get(key)
        for key in keys
        if isinstance(config.get(key), (str, int, float)) and not isinstance(config.get(key), bool)
    }


def probe(ctx: ProbeContext) -> dict[str, Any]:
    """Probe every URL of ``ctx.options["urls"]`` concurrently; see the module docstring."""
    opts = _Options(ctx)
    if opts.cacert:
        from kyudoctor.probes.tls import verify_context

        verify_context(opts.cacert)  # an unusable --cacert stops the run (exit 2)
    started = time.monotonic()
    deadline = started + max(0.5, ctx.remaining() - 0.3)
    view = _LocalView(opts.env, opts.config)
    facts = asyncio.run(_run(opts, view, deadline))
    config = opts.config
    return {
        "urls": [t.redacted for t in opts.targets],
        "urls_explicit": opts.explicit,
        "insecure": opts.insecure,
        "cacert": opts.cacert,
        "api_key": {
            "source": opts.api_key_source,
            "length": len(opts.api_key) if opts.api_key is not None else None,
        },
        "text_words": len(opts.text.split()),
        "voice": opts.voice,
        "thresholds": {"ttfa_max_s": opts.ttfa_max, "rtf_max": opts.rtf_max},
        "first_audio_window_s": opts.first_audio_window,
        "listen_s": opts.listen,
        "config": _config_facts(config),
        "processes": view.processes,
        **facts,
        "duration_ms": round((time.monotonic() - started) * 1000.0, 1),
    }


def compact(facts: Mapping[str, Any]) -> dict[str, Any]:
    """The few server facts a report shows under each check (``kyudoctor.facts.VIEWS``)."""
    servers = []
    for record in facts.get("servers") or []:
        connect = record.get("connect") or {}
        http = record.get("http") or {}
        session = record.get("session") or {}
        tls = record.get("tls") or {}
        entry: dict[str, Any] = {
            "url": record.get("url"),
            "connect": connect.get("outcome"),
            "connected": connect.get("connected"),
        }
        if record.get("blocked"):
            entry["blocked"] = record["blocked"]
        if tls:
            handshake = tls.get("handshake") or {}
            certificate = tls.get("certificate") or {}
            entry["tls"] = {
                "ok": handshake.get("ok"),
                "reason": handshake.get("reason"),
                "verify_message": handshake.get("verify_message"),
                "not_after": certificate.get("not_after"),
            }
        if http:
            entry["http"] = {
                name: (http.get(name) or {}).get("status")
                for name in ("build_info", "modules_info", "route")
            }
            modules = (http.get("modules_info") or {}).get("modules")
            if modules:
                entry["modules"] = modules
        if session:
            entry["session"] = {
                key: session.get(key)
                for key in (
                    "outcome",
                    "ttfa_s",
                    "rtf",
                    "audio_seconds",
                    "n_audio",
                    "close_code",
                    "complete",
                    "detail",
                )
                if session.get(key) is not None
            }
        servers.append(entry)
    out: dict[str, Any] = {"servers": servers}
    for key in ("no_server", "insecure", "thresholds", "wait"):
        if facts.get(key):
            out[key] = facts[key]
    return out
