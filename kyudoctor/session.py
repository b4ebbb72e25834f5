"""One TTS session against a moshi-server, measured, bounded, and always ended properly.

Used by the live probe (``kyudoctor check``) and by ``kyudoctor load``. :func:`run_session` dials
the URL itself (DNS, then TCP, then TLS and the WebSocket upgrade), so every failure maps to the
most specific outcome, in the manner of httpx's ``map_exceptions``:

==================== =====================================================================
outcome              seen
==================== =====================================================================
``ok``               Ready, audio, and the server closed the session (1005 is the normal end)
``dns``              the host name does not resolve
``refused``          every address of the host refused the TCP connection
``timeout``          no TCP connection, no HTTP answer to the upgrade, no Ready, or no close,
                     within the time limit (``phase`` says which)
``tls``              the TLS handshake failed (``tls_reason``: ``CERTIFICATE_VERIFY_FAILED``
                     with the verifier's message, or ``WRONG_VERSION_NUMBER`` and the like
                     for a plain-HTTP server dialled with ``wss://``)
``http``             the upgrade was answered with another HTTP status (401, 403, 404, 407,
                     400, 200...), with a body excerpt and the headers that name a proxy
``no-free-channels`` ``Error "no free channels"`` instead of Ready
``protocol``         a frame that is not a message of the protocol: not MessagePack (raw Ogg or
                     PCM: ``first_frame_kind``), invalid MessagePack, a frame over
                     :data:`kyudoctor.protocol.MAX_FRAME_BYTES`, a message before Ready
``no-audio``         Ready, the text and Eos sent, but no Audio within the window
``closed-early``     the connection ended before an HTTP answer, before Ready, or before audio
``error``            anything else (an Error message other than "no free channels", a bug)
==================== =====================================================================

Guarantees: a result, never an exception and never a hang (everything runs under one deadline;
frames are limited to ``MAX_FRAME_BYTES``; a server that drips bytes is cut at the deadline);
the API key is sent only in the ``kyutai-api-key`` header and never appears in a result (every
string is scrubbed, URLs show ``auth_id=***``); and a session that got a slot is ended with Eos
and a close, so the probe never leaks a server slot.

Timings are ``time.perf_counter`` differences in seconds: ``ttfa_s`` from the first Text sent to
the first Audio received, ``ttfa_from_eos_s`` from Eos to the first Audio (``None`` when audio
started before Eos, as it does once the server has lookahead words), ``processing_s`` from the
first Text to the last Audio, and ``rtf`` the steady-state real-time factor: the time between
the first and the last Audio over the audio those messages after the first carry (``None``
with fewer than two Audio messages). The first-audio delay is kept out of ``rtf`` because it is
``ttfa_s``'s to measure.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
import socket
import ssl as ssl_module
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

import msgpack

from kyudoctor import protocol
from kyudoctor.redact import redact_url

__all__ = [
    "CLOSE_AFTER",
    "DEFAULT_TEXT",
    "OUTCOMES",
    "HttpResponse",
    "SessionResult",
    "TcpResult",
    "Target",
    "fetch",
    "parse_target",
    "redact_url",
    "run_session",
    "scrub",
    "tcp_connect",
]

DEFAULT_TEXT = (
    "Hello, this is kyudoctor checking that the Kyutai text to speech server streams audio."
)
"""The text spoken by default: 14 words, more than the lookahead of Kyutai's checkpoints."""

OUTCOMES: tuple[str, ...] = (
    "ok",
    "refused",
    "timeout",
    "dns",
    "tls",
    "http",
    "no-free-channels",
    "protocol",
    "no-audio",
    "closed-early",
    "error",
)

CLOSE_AFTER: tuple[str, ...] = ("server", "ready", "first-audio")
"""When the client ends the session: when the server closes it after Eos (the normal end), right
after Ready (Eos then close, for slot tests), or after the first Audio (Eos then close)."""

SILENCE_PEAK = 1e-3
"""A stream whose loudest sample stays below this (-60 dBFS) is silent (WS010)."""

BODY_EXCERPT_CHARS = 300
HEADERS_KEPT = (
    "server",
    "via",
    "content-type",
    "content-length",
    "location",
    "www-authenticate",
    "proxy-authenticate",
    "x-cache",
    "x-squid-error",
)
"""Response headers kept in results: those that tell a proxy or a redirect from moshi-server
(which sends no ``Server`` header). Never cookies or anything a client would send back."""

_CLOSE_TIMEOUT_S = 0.5
"""How long a close waits for the server's answer before the connection is aborted."""
_MAX_PROBLEMS = 5


# -- results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionResult:
    """How one TTS session went; see the module docstring for outcomes and timings."""

    url: str
    outcome: str
    http_status: int | None = None
    http_body_excerpt: str | None = None
    http_headers: dict[str, str] = field(default_factory=dict)
    ready: bool = False
    error_message: str | None = None
    first_frame_kind: str | None = None
    ttfa_s: float | None = None
    ttfa_from_eos_s: float | None = None
    audio_seconds: float = 0.0
    processing_s: float = 0.0
    rtf: float | None = None
    n_audio: int = 0
    n_words: int = 0
    audio_problems: tuple[str, ...] = ()
    silent: bool = False
    close_code: int | None = None
    close_reason: str | None = None
    detail: str | None = None
    # Beyond the names the load engineer codes against: where it stopped, and what was seen.
    phase: str = "done"
    """``url``, ``dns``, ``connect``, ``upgrade`` (TLS and HTTP), ``ready``, ``audio``, ``close``,
    or ``done``: the step the session was at when it ended."""
    peer: str | None = None
    """The address the TCP connection reached (``127.0.0.1:8080``, ``[::1]:8080``)."""
    tls_reason: str | None = None
    """OpenSSL's reason for a TLS failure (``CERTIFICATE_VERIFY_FAILED``, ...)."""
    tls_verify_code: int | None = None
    connect_s: float | None = None
    """From the start to the completed upgrade (DNS, TCP, TLS, HTTP)."""
    ready_s: float | None = None
    """From the completed upgrade to Ready."""
    words_sent: int = 0
    eos_sent: bool = False
    peak: float | None = None
    """The loudest sample of the stream (absolute value)."""
    complete: bool = False
    """The server ended the stream itself (its close after the audio); False when the client
    stopped listening first (``listen_s``, ``close_after``) or the session failed."""

    def to_facts(self) -> dict[str, Any]:
        """This result as plain JSON types (for probe facts and JSON reports)."""
        out = dataclasses.asdict(self)
        out["audio_problems"] = list(self.audio_problems)
        return out


@dataclass(frozen=True)
class Target:
    """A parsed TTS URL: what to dial and what to show."""

    url: str
    """The URL as given (may hold ``auth_id``): never show it, show :attr:`redacted`."""
    scheme: str
    host: str
    port: int
    path: str
    query: tuple[tuple[str, str], ...]
    redacted: str

    @property
    def secure(self) -> bool:
        """Whether the URL asks for TLS (``wss://``)."""
        return self.scheme == "wss"

    @property
    def hostport(self) -> str:
        """``host:port`` as written in a URL (IPv6 literals bracketed)."""
        return _hostport(self.host, self.port)

    @property
    def auth_id(self) -> str | None:
        """The ``auth_id`` query value, a secret like the API key."""
        for name, value in self.query:
            if name == "auth_id":
                return value
        return None

    def session_url(self, *, voice: str | None, fmt: str = protocol.MESSAGEPACK_FORMAT) -> str:
        """The URL of the session: the query of the given URL, ``format`` and ``voice`` set."""
        query = [(k, v) for k, v in self.query if k not in ("format", "voice")]
        query.append(("format", fmt))
        if voice:
            query.append(("voice", voice))
        return urlunsplit((self.scheme, self.hostport, self.path, urlencode(query), ""))

    def http_url(self, path: str | None = None) -> str:
        """The ``http(s)://`` URL of a route on the same server (no query)."""
        scheme = "https" if self.secure else "http"
        return urlunsplit((scheme, self.hostport, path or self.path, "", ""))


@dataclass(frozen=True)
class TcpResult:
    """A TCP connection attempt to every address of a host, in resolver order."""

    outcome: str
    """``ok``, ``refused``, ``timeout``, ``dns`` or ``error``."""
    host: str
    port: int
    addresses: tuple[str, ...] = ()
    attempts: tuple[tuple[str, str], ...] = ()
    """``(address, outcome)`` per address tried."""
    connected: str | None = None
    error: str | None = None
    elapsed_s: float = 0.0

    def to_facts(self) -> dict[str, Any]:
        """Plain JSON types."""
        return {
            "outcome": self.outcome,
            "host": self.host,
            "port": self.port,
            "addresses": list(self.addresses),
            "attempts": [{"address": a, "outcome": o} for a, o in self.attempts],
            "connected": self.connected,
            "error": self.error,
            "elapsed_ms": round(self.elapsed_s * 1000.0, 2),
        }


@dataclass(frozen=True)
class HttpResponse:
    """A bounded plain HTTP/1.1 GET: the status, kept headers, and the body (capped)."""

    url: str
    outcome: str
    """``ok`` (any status), ``dns``, ``refused``, ``timeout``, ``tls``, ``closed-early``,
    ``protocol`` (not an HTTP response) or ``error``."""
    status: int | None = None
    reason: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    truncated: bool = False
    error: str | None = None
    elapsed_s: float = 0.0

    def text(self, limit: int | None = None) -> str:
        """The body decoded as UTF-8 (invalid bytes replaced), cut at ``limit`` characters."""
        body = self.body if limit is None else self.body[: limit * 4]
        text = body.decode("utf-8", errors="replace")
        return text if limit is None else text[:limit]

    def summary(self) -> dict[str, Any]:
        """Plain JSON types without the body (an excerpt instead)."""
        return {
            "url": self.url,
            "outcome": self.outcome,
            "status": self.status,
            "reason": self.reason,
            "headers": dict(self.headers),
            "body_excerpt": _excerpt(self.body) if self.body else None,
            "body_bytes": len(self.body),
            "truncated": self.truncated,
            "error": self.error,
            "elapsed_ms": round(self.elapsed_s * 1000.0, 2),
        }


# -- URLs and secrets -----------------------------------------------------------------------


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_target(url: str) -> Target:
    """Parse a ``ws://``/``wss://`` URL (``http``/``https`` are taken as their WebSocket twins).

    Raises :class:`ValueError` with a message that never holds the URL's secrets.
    """
    try:
        parts: SplitResult = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"invalid URL {redact_url(url)}: {exc}") from None
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme.lower(), parts.scheme.lower())
    if scheme not in ("ws", "wss"):
        raise ValueError(
            f"invalid URL {redact_url(url)}: the scheme must be ws:// or wss:// "
            f"(got {parts.scheme or 'none'!r})"
        )
    host = parts.hostname
    if not host:
        raise ValueError(f"invalid URL {redact_url(url)}: no host")
    if port is None:
        port = 443 if scheme == "wss" else 80
    query = tuple(parse_qsl(parts.query, keep_blank_values=True))
    target = Target(
        url=url,
        scheme=scheme,
        host=host,
        port=port,
        path=parts.path or "/",
        query=query,
        redacted="",
    )
    shown = urlunsplit((scheme, target.hostport, target.path, parts.query, ""))
    return dataclasses.replace(target, redacted=redact_url(shown))


def scrub(text: str | None, secrets: Iterable[str | None]) -> str | None:
    """``text`` with every occurrence of each secret replaced by ``***``."""
    if text is None:
        return None
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _scrub_result(result: SessionResult, secrets: tuple[str | None, ...]) -> SessionResult:
    if not any(secrets):
        return result
    changes: dict[str, Any] = {}
    for item in dataclasses.fields(result):
        value = getattr(result, item.name)
        if isinstance(value, str):
            changes[item.name] = scrub(value, secrets)
        elif isinstance(value, dict):
            changes[item.name] = {k: scrub(v, secrets) for k, v in value.items()}
        elif isinstance(value, tuple):
            changes[item.name] = tuple(
                scrub(v, secrets) if isinstance(v, str) else v for v in value
            )
    return dataclasses.replace(result, **changes)


def _excerpt(body: bytes | bytearray) -> str:
    text = bytes(body[: BODY_EXCERPT_CHARS * 4]).decode("utf-8", errors="replace")
    text = " ".join(text.split())
    return text[:BODY_EXCERPT_CHARS] + ("..." if len(text) > BODY_EXCERPT_CHARS else "")


def _kept_headers(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        if key in HEADERS_KEPT and key not in out:
            out[key] = value[:200]
    return out


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# -- DNS and TCP ----------------------------------------------------------------------------


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.perf_counter() + max(0.0, seconds)

    def left(self) -> float:
        return max(0.0, self.end - time.perf_counter())


def _format_addr(sockaddr: tuple[Any, ...]) -> str:
    host = str(sockaddr[0])
    return f"[{host}]:{sockaddr[1]}" if ":" in host else f"{host}:{sockaddr[1]}"


async def _resolve(host: str, port: int, deadline: _Deadline) -> list[tuple[int, tuple[Any, ...]]]:
    loop = asyncio.get_running_loop()
    infos = await asyncio.wait_for(
        loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), deadline.left()
    )
    seen: set[tuple[Any, ...]] = set()
    out: list[tuple[int, tuple[Any, ...]]] = []
    for family, _type, _proto, _name, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6) or sockaddr in seen:
            continue
        seen.add(sockaddr)
        out.append((family, sockaddr))
    return out


async def _open_tcp(
    host: str, port: int, deadline: _Deadline
) -> tuple[socket.socket | None, TcpResult]:
    """Resolve and connect (addresses in resolver order); the socket is the caller's."""
    started = time.perf_counter()

    def result(outcome: str, **kw: Any) -> TcpResult:
        return TcpResult(outcome, host, port, elapsed_s=time.perf_counter() - started, **kw)

    try:
        addresses = await _resolve(host, port, deadline)
    except (asyncio.TimeoutError, TimeoutError):
        return None, result("timeout", error=f"name resolution of {host} timed out")
    except socket.gaierror as exc:
        return None, result("dns", error=f"{host}: {exc.strerror or exc}")
    except (OSError, UnicodeError) as exc:
        return None, result("dns", error=f"{host}: {_describe(exc)}")
    shown = tuple(_format_addr(a) for _, a in addresses)
    if not addresses:
        return None, result("dns", error=f"{host}: no IPv4 or IPv6 address")
    loop = asyncio.get_running_loop()
    attempts: list[tuple[str, str]] = []
    errors: list[str] = []
    for index, (family, sockaddr) in enumerate(addresses):
        left = deadline.left()
        if left <= 0:
            break
        # Leave time for the addresses after this one: a filtered first address must not eat
        # the whole budget when a second one would answer.
        budget = left / (len(addresses) - index)
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        # Small frames (one word each) must leave at once: Nagle would hold them for the ACK.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            await asyncio.wait_for(loop.sock_connect(sock, sockaddr), budget)
        except (asyncio.TimeoutError, TimeoutError):
            sock.close()
            attempts.append((_format_addr(sockaddr), "timeout"))
            errors.append(f"{_format_addr(sockaddr)}: no answer within {budget:.1f} s")
            continue
        except ConnectionRefusedError:
            sock.close()
            attempts.append((_format_addr(sockaddr), "refused"))
            errors.append(f"{_format_addr(sockaddr)}: connection refused")
            continue
        except OSError as exc:
            sock.close()
            attempts.append((_format_addr(sockaddr), "error"))
            errors.append(f"{_format_addr(sockaddr)}: {exc.strerror or _describe(exc)}")
            continue
        except BaseException:
            sock.close()
            raise
        attempts.append((_format_addr(sockaddr), "ok"))
        return sock, result(
            "ok", addresses=shown, attempts=tuple(attempts), connected=_format_addr(sockaddr)
        )
    outcomes = {o for _, o in attempts}
    if outcomes == {"refused"}:
        outcome = "refused"
    elif "timeout" in outcomes or not attempts:
        outcome = "timeout"
    elif "refused" in outcomes and outcomes <= {"refused", "error"}:
        outcome = "refused"
    else:
        outcome = "error"
    error = "; ".join(errors) or f"no time left to connect to {host}:{port}"
    return None, result(outcome, addresses=shown, attempts=tuple(attempts), error=error)


async def tcp_connect(host: str, port: int, *, timeout: float) -> TcpResult:
    """Resolve ``host`` and open (then close) a TCP connection; never raises."""
    try:
        sock, result = await _open_tcp(host, port, _Deadline(timeout))
    except Exception as exc:  # noqa: BLE001 - a result, never an exception
        return TcpResult("error", host, port, error=_describe(exc))
    if sock is not None:
        sock.close()
    return result


# -- plain HTTP -----------------------------------------------------------------------------


def _tls_reason(exc: ssl_module.SSLError) -> str:
    return str(exc.reason or exc.__class__.__name__)


async def fetch(
    url: str,
    *,
    timeout: float,
    ssl: ssl_module.SSLContext | None = None,
    max_bytes: int = 1 << 20,
    connect_to: str | None = None,
) -> HttpResponse:
    """``GET url`` over HTTP/1.1 (``Connection: close``), bounded in time and size; never raises.

    ``https`` URLs use ``ssl`` (system trust when ``None``). ``connect_to`` is an IP address to
    dial instead of resolving the host (the Host header and TLS name stay the URL's).
    """
    started = time.perf_counter()
    deadline = _Deadline(timeout)
    shown = redact_url(url)

    def done(outcome: str, **kw: Any) -> HttpResponse:
        return HttpResponse(shown, outcome, elapsed_s=time.perf_counter() - started, **kw)

    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        secure = parts.scheme in ("https", "wss")
        port = parts.port or (443 if secure else 80)
    except ValueError as exc:
        return done("error", error=f"invalid URL: {exc}")
    target = connect_to or host
    context: ssl_module.SSLContext | None = None
    if secure:
        context = ssl if ssl is not None else ssl_module.create_default_context()
    writer: asyncio.StreamWriter | None = None
    raw = bytearray()
    truncated = False
    try:
        sock, tcp = await _open_tcp(target, port, deadline)
        if sock is None:
            return done(tcp.outcome, error=tcp.error)
        try:
            reader, stream = await asyncio.wait_for(
                asyncio.open_connection(
                    sock=sock,
                    ssl=context,
                    server_hostname=host if context is not None else None,
                    ssl_handshake_timeout=max(0.1, deadline.left()) if context else None,
                ),
                deadline.left(),
            )
        except BaseException:
            sock.close()
            raise
        writer = stream
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        host_header = _hostport(host, port) if parts.port else _hostport(host, 0)[: -len(":0")]
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host_header}\r\n"
            "User-Agent: kyudoctor\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        )
        stream.write(request.encode("ascii", errors="replace"))
        while True:
            left = deadline.left()
            if left <= 0:
                raise asyncio.TimeoutError
            chunk = await asyncio.wait_for(reader.read(65536), left)
            if not chunk:
                break
            raw += chunk
            if len(raw) >= 5 and not raw.startswith(b"HTTP/"):
                break  # not HTTP at all (an SSH banner, TLS alert...): no need to wait
            if len(raw) > max_bytes + 65536:
                truncated = True
                break
            if _complete(raw):
                break
    except (asyncio.TimeoutError, TimeoutError):
        return done("timeout", error=f"no complete answer within {timeout:g} s ({len(raw)} bytes)")
    except ssl_module.SSLError as exc:
        return done("tls", error=f"{_tls_reason(exc)}: {exc}")
    except (ConnectionResetError, BrokenPipeError, asyncio.IncompleteReadError) as exc:
        return done("closed-early", error=_describe(exc))
    except OSError as exc:
        return done("error", error=_describe(exc))
    except Exception as exc:  # noqa: BLE001 - a result, never an exception
        return done("error", error=_describe(exc))
    finally:
        if writer is not None:
            writer.transport.abort()
            writer.close()
    return _parse_http(raw, truncated, max_bytes, done)


def _split_head(raw: bytes | bytearray) -> tuple[bytes, bytes] | None:
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        return None
    return bytes(raw[:end]), bytes(raw[end + 4 :])


def _header_map(head: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in head.split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        if sep:
            key = name.strip().decode("latin-1").lower()
            headers.setdefault(key, value.strip().decode("latin-1"))
    return headers


def _complete(raw: bytearray) -> bool:
    """Whether a Content-Length response is complete (so a keep-alive server is not waited on)."""
    split = _split_head(raw)
    if split is None:
        return False
    head, body = split
    headers = _header_map(head)
    length = headers.get("content-length")
    if (
        length is not None
        and length.isdigit()
        and "chunked" not in headers.get("transfer-encoding", "")
    ):
        return len(body) >= int(length)
    if "chunked" in headers.get("transfer-encoding", ""):
        return body.endswith(b"0\r\n\r\n")
    return False


def _dechunk(body: bytes) -> bytes:
    out = bytearray()
    rest = body
    while rest:
        line, sep, rest = rest.partition(b"\r\n")
        if not sep:
            break
        try:
            size = int(line.split(b";")[0].strip() or b"0", 16)
        except ValueError:
            break
        if size == 0:
            break
        out += rest[:size]
        rest = rest[size + 2 :]
    return bytes(out)


def _parse_http(
    raw: bytearray, truncated: bool, max_bytes: int, done: Callable[..., HttpResponse]
) -> HttpResponse:
    if not raw:
        return done("closed-early", error="the server closed the connection without an answer")
    split = _split_head(raw)
    if split is None:
        head, body = bytes(raw), b""
    else:
        head, body = split
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1", errors="replace")
    words = status_line.split(" ", 2)
    if len(words) < 2 or not words[0].startswith("HTTP/") or not words[1].isdigit():
        return done("protocol", error=f"not an HTTP response: {_excerpt(raw[:120])!r}")
    headers = _header_map(head)
    if "chunked" in headers.get("transfer-encoding", ""):
        body = _dechunk(body)
    if len(body) > max_bytes:
        body, truncated = body[:max_bytes], True
    return done(
        "ok",
        status=int(words[1]),
        reason=words[2] if len(words) > 2 else "",
        headers={k: v[:200] for k, v in list(headers.items())[:64]},
        body=body,
        truncated=truncated,
    )


# -- the session ----------------------------------------------------------------------------


class _Stats:
    """Running measurements of one session; no audio is kept."""

    def __init__(self) -> None:
        self.t_first_text: float | None = None
        self.t_eos: float | None = None
        self.t_first_audio: float | None = None
        self.t_last_audio: float | None = None
        self.n_audio = 0
        self.n_words = 0
        self.samples = 0
        self.peak = 0.0
        self.problems: dict[str, int] = {}

    def audio(self, now: float, n_samples: int, peak: float, problems: list[str]) -> None:
        if self.t_first_audio is None:
            self.t_first_audio = now
        self.t_last_audio = now
        self.n_audio += 1
        self.samples += n_samples
        if peak > self.peak:
            self.peak = peak
        for problem in problems:
            if problem in self.problems or len(self.problems) < _MAX_PROBLEMS:
                self.problems[problem] = self.problems.get(problem, 0) + 1


def _audio_fast(payload: Any) -> tuple[int, float] | None:
    """``(samples, peak)`` of a well-formed Audio map, else None (the slow path names why).

    Summing and min/max run in C: a 1920-sample message costs microseconds, which matters for
    ``kyudoctor load`` at hundreds of sessions. A non-finite sum means NaN or inf samples.
    """
    if not isinstance(payload, dict) or payload.get("type") != "Audio":
        return None
    pcm = payload.get("pcm")
    if not isinstance(pcm, list) or len(pcm) != protocol.FRAME_SAMPLES:
        return None
    try:
        total = sum(pcm)
        peak = max(max(pcm), -min(pcm))
    except (TypeError, ValueError):
        return None
    if not math.isfinite(total) or not isinstance(peak, float) or peak > 1.0:
        return None
    return len(pcm), peak


def _decode(data: bytes) -> tuple[protocol.ServerMessage | None, tuple[int, float] | None]:
    """A server frame: ``(None, (samples, peak))`` for a good Audio, else the decoded message."""
    if len(data) <= protocol.MAX_FRAME_BYTES and data[:4] != b"OggS":
        try:
            payload = msgpack.unpackb(
                data,
                raw=False,
                strict_map_key=True,
                max_array_len=protocol.MAX_ARRAY_LEN,
                max_map_len=protocol.MAX_MAP_LEN,
                max_str_len=protocol.MAX_STR_LEN,
                max_bin_len=protocol.MAX_BIN_LEN,
                max_ext_len=0,
            )
        except Exception:  # noqa: BLE001 - the strict decoder below names the problem
            payload = None
        fast = _audio_fast(payload)
        if fast is not None:
            return None, fast
    return protocol.decode_server(data), None


class _End(Exception):
    """Ends the session loop with an outcome."""

    def __init__(self, outcome: str, phase: str, detail: str | None = None, **extra: Any):
        super().__init__(detail or outcome)
        self.outcome = outcome
        self.phase = phase
        self.detail = detail
        self.extra = extra


def _peek(data: bytes) -> str:
    """``N bytes: 81a3706...``: the size and first bytes of a frame, for messages."""
    head = data[:8].hex()
    return f"{len(data)} bytes: {head}{'...' if len(data) > 8 else ''}"


def _frame_kind(exc: protocol.ProtocolError) -> str:
    if isinstance(exc, protocol.NotMessagePack):
        return exc.kind
    return "unknown"


async def run_session(
    url: str,
    *,
    api_key: str | None,
    text: str,
    voice: str | None = None,
    timeout: float = 10.0,
    ssl: ssl_module.SSLContext | None = None,
    send_eos: bool = True,
    first_audio_timeout: float | None = None,
    close_after: str = "server",
    listen_s: float | None = None,
) -> SessionResult:
    """Run one TTS session on ``url`` and measure it; never raises, never outlives ``timeout``.

    ``api_key`` goes in the ``kyutai-api-key`` header (``None``: no header, so an ``auth_id``
    in the URL is what the server checks). ``text`` is sent one Text per word after Ready, then
    Eos (unless ``send_eos`` is false: then Eos is sent only once the first-audio window has
    passed, to end the session — WS004 experiments). ``first_audio_timeout`` bounds the wait
    for the first Audio after the first Text (default: until ``timeout``). ``ssl`` is the TLS
    context for ``wss://`` (system trust when ``None``). See :data:`CLOSE_AFTER`. ``listen_s``
    bounds the measurement: that long after the first Audio the client stops listening and
    ends the session itself (Eos was sent; it closes), instead of waiting for the server's
    close at the end of the stream (``complete`` tells which happened).
    """
    if close_after not in CLOSE_AFTER:
        raise ValueError(f"close_after must be one of {CLOSE_AFTER}, not {close_after!r}")
    try:
        target = parse_target(url)
    except ValueError as exc:
        return SessionResult(redact_url(url), "error", phase="url", detail=str(exc))
    secrets = (api_key, target.auth_id)
    session = _Session(
        target,
        api_key=api_key,
        words=text.split(),
        voice=voice,
        timeout=timeout,
        ssl=ssl,
        send_eos=send_eos,
        first_audio_timeout=first_audio_timeout,
        close_after=close_after,
        listen_s=listen_s,
    )
    try:
        result = await session.run()
    except Exception as exc:  # noqa: BLE001 - a result, never an exception
        result = SessionResult(target.redacted, "error", phase=session.phase, detail=_describe(exc))
    return _scrub_result(result, secrets)


class _Session:
    def __init__(
        self,
        target: Target,
        *,
        api_key: str | None,
        words: list[str],
        voice: str | None,
        timeout: float,
        ssl: ssl_module.SSLContext | None,
        send_eos: bool,
        first_audio_timeout: float | None,
        close_after: str,
        listen_s: float | None = None,
    ) -> None:
        self.target = target
        self.listen_s = listen_s
        self.complete = False
        self.api_key = api_key
        self.words = words
        self.voice = voice
        self.timeout = timeout
        self.deadline = _Deadline(timeout)
        self.ssl = ssl
        self.send_eos = send_eos
        self.first_audio_timeout = first_audio_timeout
        self.close_after = close_after
        self.phase = "dns"
        self.stats = _Stats()
        self.started = time.perf_counter()
        self.peer: str | None = None
        self.connect_s: float | None = None
        self.ready_s: float | None = None
        self.ready = False
        self.first_frame_kind: str | None = None
        self.words_sent = 0
        self.eos_sent = False
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self.sender: asyncio.Future[None] | None = None

    # -- the whole session --

    async def run(self) -> SessionResult:
        from websockets.asyncio.client import ClientConnection

        ws: ClientConnection | None = None
        end: _End | None = None
        try:
            ws = await self._connect()
            await self._converse(ws)
        except _End as exc:
            end = exc
        finally:
            # Ended before the result is built, so the result has the close code.
            if ws is not None:
                await self._finish(ws)
        if end is None:
            return self._result("ok", "done")
        return self._result(end.outcome, end.phase, end.detail, **end.extra)

    def _result(
        self, outcome: str, phase: str, detail: str | None = None, **extra: Any
    ) -> SessionResult:
        stats = self.stats
        audio_seconds = stats.samples / protocol.SAMPLE_RATE
        ttfa = ttfa_eos = None
        processing = 0.0
        rtf = None
        if stats.t_first_audio is not None and stats.t_first_text is not None:
            ttfa = stats.t_first_audio - stats.t_first_text
            if stats.t_eos is not None and stats.t_first_audio >= stats.t_eos:
                ttfa_eos = stats.t_first_audio - stats.t_eos
        if stats.t_last_audio is not None and stats.t_first_text is not None:
            processing = stats.t_last_audio - stats.t_first_text
        if stats.n_audio >= 2 and stats.t_first_audio is not None and stats.t_last_audio:
            later_audio = (stats.samples * (stats.n_audio - 1) / stats.n_audio) / (
                protocol.SAMPLE_RATE
            )
            if later_audio > 0:
                rtf = (stats.t_last_audio - stats.t_first_audio) / later_audio
        problems = tuple(
            f"{problem} ({count} of {stats.n_audio} Audio messages)"
            for problem, count in stats.problems.items()
        )
        silent = stats.n_audio > 0 and stats.peak < SILENCE_PEAK
        return SessionResult(
            url=self.target.redacted,
            outcome=outcome,
            ready=self.ready,
            first_frame_kind=self.first_frame_kind,
            ttfa_s=_round(ttfa),
            ttfa_from_eos_s=_round(ttfa_eos),
            audio_seconds=round(audio_seconds, 4),
            processing_s=round(processing, 4),
            rtf=_round(rtf),
            n_audio=stats.n_audio,
            n_words=stats.n_words,
            audio_problems=problems,
            silent=silent,
            close_code=self.close_code,
            close_reason=self.close_reason or None,
            detail=detail,
            phase=phase,
            peer=self.peer,
            connect_s=_round(self.connect_s),
            ready_s=_round(self.ready_s),
            words_sent=self.words_sent,
            eos_sent=self.eos_sent,
            peak=round(stats.peak, 6) if stats.n_audio else None,
            complete=self.complete,
            **extra,
        )

    # -- DNS, TCP, TLS, upgrade --

    async def _connect(self) -> Any:
        from websockets.exceptions import (
            InvalidHandshake,
            InvalidMessage,
            InvalidStatus,
            InvalidUpgrade,
        )

        target = self.target
        self.phase = "dns"
        sock, tcp = await _open_tcp(target.host, target.port, self.deadline)
        if sock is None:
            phase = "dns" if tcp.outcome == "dns" or not tcp.attempts else "connect"
            raise _End(tcp.outcome, phase, tcp.error)
        self.peer = tcp.connected
        self.phase = "upgrade"
        context: ssl_module.SSLContext | None = None
        if target.secure:
            context = self.ssl if self.ssl is not None else ssl_module.create_default_context()
        headers = {protocol.API_KEY_HEADER: self.api_key} if self.api_key is not None else None
        opener = _NoRedirect(
            target.session_url(voice=self.voice),
            sock=sock,
            ssl=context,
            server_hostname=target.host if context is not None else None,
            additional_headers=headers,
            user_agent_header="kyudoctor",
            compression=None,
            open_timeout=max(0.05, self.deadline.left()),
            ping_interval=None,
            close_timeout=_CLOSE_TIMEOUT_S,
            max_size=protocol.MAX_FRAME_BYTES,
            max_queue=64,
        )

        async def open_connection() -> Any:
            return await opener

        try:
            ws = await asyncio.wait_for(open_connection(), self.deadline.left() + 0.05)
        except BaseException as exc:
            sock.close()
            if not isinstance(exc, Exception):
                raise
            if isinstance(exc, InvalidStatus):
                response = exc.response
                raise _End(
                    "http",
                    "upgrade",
                    f"the upgrade was answered HTTP {response.status_code} "
                    f"{response.reason_phrase}".strip(),
                    http_status=response.status_code,
                    http_body_excerpt=_excerpt(response.body) if response.body else None,
                    http_headers=_kept_headers(response.headers.raw_items()),
                ) from None
            if isinstance(exc, ssl_module.SSLCertVerificationError):
                raise _End(
                    "tls",
                    "upgrade",
                    f"certificate verification failed: {exc.verify_message or exc}",
                    tls_reason="CERTIFICATE_VERIFY_FAILED",
                    tls_verify_code=exc.verify_code,
                ) from None
            if isinstance(exc, ssl_module.SSLError):
                raise _End(
                    "tls", "upgrade", f"TLS handshake failed: {exc}", tls_reason=_tls_reason(exc)
                ) from None
            if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
                what = "TLS handshake or HTTP answer" if context else "HTTP answer"
                raise _End(
                    "timeout", "upgrade", f"no {what} to the upgrade within {self.timeout:g} s"
                ) from None
            if isinstance(exc, InvalidMessage):
                cause = exc.__cause__
                if isinstance(cause, EOFError) or isinstance(cause, ConnectionError):
                    raise _End(
                        "closed-early",
                        "upgrade",
                        "the server closed the connection without answering the upgrade",
                    ) from None
                raise _End(
                    "protocol", "upgrade", f"not an HTTP answer to the upgrade: {cause or exc}"
                ) from None
            if isinstance(exc, InvalidUpgrade):
                raise _End("protocol", "upgrade", f"invalid upgrade answer: {exc}") from None
            if isinstance(exc, InvalidHandshake):
                raise _End("protocol", "upgrade", f"invalid handshake: {exc}") from None
            if isinstance(exc, (ConnectionError, EOFError)):
                raise _End(
                    "closed-early",
                    "upgrade",
                    f"the connection ended during the upgrade: {_describe(exc)}",
                ) from None
            if isinstance(exc, OSError):
                raise _End("error", "upgrade", _describe(exc)) from None
            raise
        self.connect_s = time.perf_counter() - self.started
        return ws

    # -- Ready, text, audio, close --

    async def _recv(self, ws: Any, until: float) -> bytes | str:
        left = until - time.perf_counter()
        if left <= 0:
            raise asyncio.TimeoutError
        message: bytes | str = await asyncio.wait_for(ws.recv(), left)
        return message

    def _closed(self, ws: Any, exc: BaseException) -> None:
        from websockets.frames import CloseCode

        rcvd = getattr(exc, "rcvd", None)
        sent = getattr(exc, "sent", None)
        code = ws.close_code
        self.close_code = int(code) if code is not None else None
        self.close_reason = rcvd.reason if rcvd is not None else None
        if rcvd is None and sent is not None and sent.code == CloseCode.MESSAGE_TOO_BIG:
            raise _End(
                "protocol",
                self.phase,
                f"a frame larger than {protocol.MAX_FRAME_BYTES} bytes ({sent.reason})",
            )

    async def _converse(self, ws: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        # Ready first.
        self.phase = "ready"
        upgraded = time.perf_counter()
        try:
            data = await self._recv(ws, self.deadline.end)
        except (asyncio.TimeoutError, TimeoutError):
            raise _End(
                "timeout", "ready", f"no Ready within {self.timeout:g} s after the upgrade"
            ) from None
        except ConnectionClosed as exc:
            self._closed(ws, exc)
            raise _End(
                "closed-early",
                "ready",
                f"the server closed the session (code {self.close_code}) before Ready",
            ) from None
        message = self._first(data)
        if isinstance(message, protocol.Error):
            if message.message == protocol.NO_FREE_CHANNELS:
                await self._await_close(ws, 1.0)
                raise _End(
                    "no-free-channels",
                    "ready",
                    'the server answered Error "no free channels" instead of Ready',
                    error_message=message.message,
                )
            raise _End(
                "error",
                "ready",
                f"the server answered Error {message.message!r} instead of Ready",
                error_message=message.message,
            )
        if not isinstance(message, protocol.Ready):
            raise _End(
                "protocol",
                "ready",
                f"the first message was {type(message).__name__}, not Ready",
            )
        self.ready = True
        self.ready_s = time.perf_counter() - upgraded
        if self.close_after == "ready":
            return

        # Text, then Eos; receive Word and Audio until the server closes.
        self.phase = "audio"
        self.sender = asyncio.ensure_future(self._send_text(ws))
        try:
            await self._receive(ws)
        finally:
            if not self.sender.done():
                self.sender.cancel()
            with contextlib.suppress(BaseException):
                await self.sender

    def _first(self, data: bytes | str) -> protocol.ServerMessage:
        if isinstance(data, str):
            self.first_frame_kind = "unknown"
            raise _End(
                "protocol",
                "ready",
                f"the first frame is a WebSocket text frame ({_excerpt(data.encode())!r}), "
                "not a MessagePack binary frame",
            )
        try:
            message, fast = _decode(data)
        except protocol.ProtocolError as exc:
            self.first_frame_kind = _frame_kind(exc)
            raise _End("protocol", "ready", f"the first frame ({_peek(data)}): {exc}") from None
        self.first_frame_kind = "msgpack"
        if message is None:
            raise _End("protocol", "ready", "the first message was Audio, not Ready")
        return message

    async def _send_text(self, ws: Any) -> None:
        stats = self.stats
        for word in self.words:
            if stats.t_first_text is None:
                stats.t_first_text = time.perf_counter()
            await ws.send(protocol.encode(protocol.Text(word)))
            self.words_sent += 1
        if stats.t_first_text is None:
            stats.t_first_text = time.perf_counter()
        if self.send_eos:
            stats.t_eos = time.perf_counter()
            await ws.send(protocol.encode(protocol.Eos()))
            self.eos_sent = True

    async def _receive(self, ws: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        stats = self.stats
        window = self.first_audio_timeout
        while True:
            now = time.perf_counter()
            listening_until = None
            if stats.t_first_audio is None and window is not None:
                start = stats.t_first_text or now
                until = min(self.deadline.end, start + window)
            elif stats.t_first_audio is not None and self.listen_s is not None:
                listening_until = stats.t_first_audio + self.listen_s
                until = min(self.deadline.end, listening_until)
            else:
                until = self.deadline.end
            try:
                data = await self._recv(ws, until)
            except (asyncio.TimeoutError, TimeoutError):
                if listening_until is not None and time.perf_counter() >= listening_until:
                    return  # measured enough: the client ends the session (Eos sent, close)
                if stats.t_first_audio is None:
                    waited = time.perf_counter() - (stats.t_first_text or self.started)
                    raise _End(
                        "no-audio",
                        "audio",
                        f"Ready, {self.words_sent} words and "
                        f"{'Eos' if self.eos_sent else 'no Eos'} sent, no Audio within "
                        f"{waited:.1f} s",
                    ) from None
                raise _End(
                    "timeout",
                    "close",
                    f"the server did not close the session within {self.timeout:g} s "
                    f"({stats.n_audio} Audio messages received)",
                ) from None
            except ConnectionClosed as exc:
                self._closed(ws, exc)
                if stats.n_audio == 0:
                    raise _End(
                        "closed-early",
                        "audio",
                        f"the server closed the session (code {self.close_code}) after Ready "
                        "without any Audio",
                    ) from None
                if not self.eos_sent and self.send_eos:
                    raise _End(
                        "closed-early",
                        "audio",
                        f"the server closed the session (code {self.close_code}) before Eos "
                        f"was sent ({stats.n_audio} Audio messages)",
                    ) from None
                self.complete = True
                return
            received = time.perf_counter()
            if isinstance(data, str):
                raise _End(
                    "protocol",
                    "audio",
                    f"a WebSocket text frame from the server ({_excerpt(data.encode())!r})",
                )
            try:
                message, fast = _decode(data)
            except protocol.ProtocolError as exc:
                raise _End(
                    "protocol", "audio", f"a frame after Ready ({_peek(data)}): {exc}"
                ) from None
            if fast is not None:
                stats.audio(received, fast[0], fast[1], [])
            elif isinstance(message, protocol.Audio):
                pcm = message.pcm
                finite = [abs(v) for v in pcm if math.isfinite(v)]
                stats.audio(
                    received, len(pcm), max(finite, default=0.0), protocol.audio_problems(pcm)
                )
            elif isinstance(message, protocol.Word):
                stats.n_words += 1
                continue
            elif isinstance(message, protocol.Error):
                raise _End(
                    "no-free-channels" if message.message == protocol.NO_FREE_CHANNELS else "error",
                    "audio",
                    f"the server sent Error {message.message!r} during the session",
                    error_message=message.message,
                )
            else:  # a second Ready: harmless
                continue
            if self.close_after == "first-audio":
                return
            if not self.send_eos and not self.eos_sent:
                # Audio came without Eos: the experiment is over; end the session properly.
                await self._late_eos(ws)

    async def _late_eos(self, ws: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        if self.sender is not None:
            with contextlib.suppress(Exception):
                await self.sender  # one writer at a time
        self.stats.t_eos = time.perf_counter()
        with contextlib.suppress(ConnectionClosed):
            await ws.send(protocol.encode(protocol.Eos()))
            self.eos_sent = True

    async def _await_close(self, ws: Any, seconds: float) -> None:
        from websockets.exceptions import ConnectionClosed

        until = min(self.deadline.end, time.perf_counter() + seconds)
        try:
            while True:
                await self._recv(ws, until)
        except ConnectionClosed as exc:
            with contextlib.suppress(_End):
                self._closed(ws, exc)
        except (asyncio.TimeoutError, TimeoutError):
            pass

    async def _finish(self, ws: Any) -> None:
        """Eos (when a slot was held and none was sent) and close; bounded, never raises."""
        from websockets.protocol import State

        try:
            if ws.protocol.state is State.OPEN:
                if self.ready and not self.eos_sent:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(
                            ws.send(protocol.encode(protocol.Eos())), _CLOSE_TIMEOUT_S
                        )
                        self.eos_sent = True
                await asyncio.wait_for(ws.close(), _CLOSE_TIMEOUT_S * 2)
            else:
                await asyncio.wait_for(ws.wait_closed(), _CLOSE_TIMEOUT_S * 2)
        except BaseException:  # noqa: BLE001 - ending must not raise; abort instead
            ws.transport.abort()
        if self.close_code is None and ws.close_code is not None:
            self.close_code = int(ws.close_code)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _make_no_redirect() -> type:
    from websockets.asyncio.client import connect

    class NoRedirect(connect):
        """``connect`` that never follows a redirect: the API key header would go with it."""

        def process_redirect(self, exc: Exception) -> Exception | str:
            return exc

    return NoRedirect


class _LazyNoRedirect:
    """Builds the non-redirecting ``connect`` on first use (websockets imported lazily)."""

    _cls: type | None = None

    def __call__(self, uri: str, **kwargs: Any) -> Any:
        if self._cls is None:
            type(self)._cls = _make_no_redirect()
        assert self._cls is not None
        return self._cls(uri, **kwargs)


_NoRedirect = _LazyNoRedirect()
