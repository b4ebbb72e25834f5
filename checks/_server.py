"""Pure helpers shared by the server checks (net.*, tls.*, http.*, ws.*): facts in, verdicts out.

The ``server`` probe's facts hold one record per URL (``servers``). Each check judges every URL
on its own and reports per URL: a finding's message starts with the URL (redacted by the
probe), and the check's summary joins the per-URL summaries. Root cause first: a URL that was
not reached, or whose TLS or HTTP layer failed, is skipped by the checks of the layers above,
naming the code that explains it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kyudoctor.model import Facts, Finding, Outcome
from kyudoctor.policy import load

from ._util import probe_facts

Server = Mapping[str, Any]


@dataclass
class Verdict:
    """What one check says about one URL."""

    summary: str
    findings: list[Finding] = field(default_factory=list)
    skipped: bool = False


def skip(reason: str) -> Verdict:
    """A URL this check cannot judge, and why."""
    return Verdict(reason, skipped=True)


def server_probe(facts: Facts) -> tuple[Mapping[str, Any] | None, str | None]:
    """The server probe's facts, or the reason every server check is skipped."""
    server = probe_facts(facts, "server")
    if server is None:
        return None, "the server probe gave no facts"
    if server.get("no_server"):
        return None, str(server.get("no_server_reason") or "no server to check")
    return server, None


def per_url(facts: Facts, judge: Callable[[Server, Mapping[str, Any]], Verdict]) -> Outcome:
    """Judge every URL and combine: summaries joined (prefixed by the URL when several)."""
    probe, reason = server_probe(facts)
    if probe is None:
        return Outcome.skip(reason or "no server facts")
    servers: Sequence[Server] = probe.get("servers") or []
    if not servers:
        return Outcome.skip("no URL to check")
    verdicts = [(s, judge(s, probe)) for s in servers]
    several = len(verdicts) > 1
    summaries = [f"{s.get('url')}: {v.summary}" if several else v.summary for s, v in verdicts]
    summary = "; ".join(summaries)
    findings = [f for _, v in verdicts for f in v.findings]
    if all(v.skipped for _, v in verdicts):
        return Outcome.skip(summary)
    return Outcome.found(summary, *findings)


def url_of(server: Server) -> str:
    """The URL as the probe recorded it (``auth_id`` already shown as ``***``)."""
    return str(server.get("url"))


def hostport(server: Server) -> str:
    """``host:port`` of the URL."""
    host = str(server.get("host"))
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{server.get('port')}"


def loopback_family(address: str | None) -> str | None:
    """``"v6"`` for ``[::1]:port``, ``"v4"`` for ``127.x``, else None."""
    if not address:
        return None
    if address.startswith("[::1]"):
        return "v6"
    if address.startswith("127."):
        return "v4"
    return None


# -- root causes, layer by layer -----------------------------------------------------------


def connect_cause(server: Server) -> str | None:
    """Why the URL was not reached over TCP, naming the net.connect code; None when reached."""
    connect = server.get("connect") or {}
    outcome = connect.get("outcome")
    if outcome == "ok":
        return None
    alternate = server.get("alternate") or {}
    if outcome == "refused" and alternate.get("outcome") == "ok":
        code = "NET004" if loopback_family(alternate.get("connected")) == "v6" else "NET007"
        return f"not reached: connection refused, the other loopback address answers ({code})"
    if outcome == "refused":
        starting = server.get("starting") or {}
        if starting.get("loading"):
            return "not reached: moshi-server is still starting (NET006)"
        return "not reached: connection refused (NET001)"
    if outcome == "dns":
        return "not reached: the host name does not resolve (NET003)"
    return f"not reached: TCP connect {outcome} (NET002)"


def tls_cause(server: Server) -> str | None:
    """Why HTTP and the session were not tried over TLS, naming the TLS code; None otherwise."""
    blocked = str(server.get("blocked") or "")
    if not blocked.startswith("TLS"):
        return None
    codes = [f.code for f in tls_findings(server, insecure=False)]
    return f"not reached: the TLS handshake failed ({', '.join(codes) or 'TLS'})"


def http_cause(server: Server) -> str | None:
    """Why the session cannot be judged because of the HTTP layer (WS001 / NET008), or None."""
    verdicts = http_findings(server)
    if verdicts:
        codes = sorted({f.code for f in verdicts})
        return f"the upgrade did not reach the TTS session ({', '.join(codes)}, http.routes)"
    return None


def reach_cause(server: Server) -> str | None:
    """The first failing layer below HTTP: TCP, then TLS."""
    return connect_cause(server) or tls_cause(server)


# -- HTTP: WS001 and NET008 ----------------------------------------------------------------


def proxy_signs(headers: Mapping[str, Any] | None, body: str | None) -> list[str]:
    """What shows that an answer came from a proxy, not moshi-server (which sends no Server
    header and empty 401 bodies)."""
    signs = []
    headers = headers or {}
    if headers.get("server"):
        signs.append(f"Server: {headers['server']}")
    if headers.get("via"):
        signs.append(f"Via: {headers['via']}")
    if headers.get("proxy-authenticate"):
        signs.append("Proxy-Authenticate")
    if body:
        kind = "an HTML body" if "<" in body and ">" in body else "a non-empty body"
        signs.append(kind)
    return signs


def module_paths(server: Server) -> list[str]:
    """The TTS (``py``) module paths ``/api/modules_info`` lists."""
    http = server.get("http") or {}
    modules = (http.get("modules_info") or {}).get("modules") or []
    return [str(m.get("path")) for m in modules if m.get("path") and m.get("type") in ("py", None)]


def right_path(server: Server, probe: Mapping[str, Any] | None = None) -> str | None:
    """The path to use: the one ``/api/modules_info`` lists, else the config's."""
    paths = [p for p in module_paths(server) if p != server.get("path")]
    if paths:
        return paths[0]
    config = (probe or {}).get("config") or {}
    path = config.get("path")
    return str(path) if path and path != server.get("path") else None


def _excerpt(text: str | None) -> str:
    return f": {text[:120]!r}" if text else ""


def http_findings(server: Server, probe: Mapping[str, Any] | None = None) -> list[Finding]:
    """WS001 and NET008 for one URL, from the plain GETs and the session's upgrade answer."""
    url = url_of(server)
    http = server.get("http") or {}
    session = server.get("session") or {}
    blocked = str(server.get("blocked") or "")
    findings: dict[str, Finding] = {}
    plain_works = any(
        (http.get(name) or {}).get("status") is not None
        for name in ("build_info", "modules_info", "route")
    ) or bool(((http.get("metrics") or {}).get("first") or {}).get("status"))

    if blocked.startswith("no HTTP answer"):
        findings["NET008"] = Finding(
            "NET008",
            f"{url}: TCP connects to {hostport(server)}, but nothing answers HTTP ({blocked}): "
            "a firewall or proxy holds the connection, or this port is not an HTTP service",
            evidence={"blocked": blocked},
        )
        return list(findings.values())

    def ws001(seen: str) -> None:
        path = right_path(server, probe)
        listed = module_paths(server)
        where = f"; /api/modules_info lists {', '.join(listed)}" if listed else ""
        findings.setdefault(
            "WS001",
            Finding(
                "WS001",
                f"{url}: {seen} on {server.get('path')}{where}",
                evidence={"path": server.get("path"), "modules_paths": listed},
                params={"path": path} if path else {},
            ),
        )

    def net008(message: str, evidence: Mapping[str, Any]) -> None:
        findings.setdefault("NET008", Finding("NET008", f"{url}: {message}", evidence=evidence))

    status = session.get("http_status")
    if session.get("outcome") == "http" and status is not None:
        headers = session.get("http_headers") or {}
        body = session.get("http_body_excerpt")
        signs = proxy_signs(headers, body)
        evidence = {"status": status, "headers": dict(headers), "body_excerpt": body}
        if status == 404:
            ws001("the upgrade was answered HTTP 404")
        elif status == 401 and not signs:
            pass  # moshi-server's own answer: WS002 (ws.session)
        elif status == 400:
            net008(
                f"the upgrade was answered HTTP 400{_excerpt(body)}"
                f"{' (' + ', '.join(signs) + ')' if signs else ''}: something between client "
                "and server stripped the Upgrade/Connection headers (moshi-server answers 400 "
                "only to a GET without them)",
                evidence,
            )
        else:
            why = f" ({', '.join(signs)})" if signs else ""
            net008(
                f"the upgrade was answered HTTP {status}{why}{_excerpt(body)}; moshi-server "
                "answers 101, or 401 with an empty body",
                evidence,
            )
    elif session.get("phase") == "upgrade" and session.get("outcome") in (
        "timeout",
        "closed-early",
        "protocol",
    ):
        if plain_works:
            net008(
                f"no WebSocket upgrade ({session.get('detail')}) while plain HTTP requests to "
                "the same server are answered",
                {"session": session.get("detail")},
            )
        else:
            net008(
                f"no WebSocket upgrade and no plain HTTP answer ({session.get('detail')})",
                {"session": session.get("detail")},
            )

    route = http.get("route") or {}
    route_status = route.get("status")
    if route_status == 404 and session.get("outcome") != "ok":
        ws001("a plain GET is answered 404 (the TTS route answers 400)")
    elif route_status in (401, 403, 407):
        signs = proxy_signs(route.get("headers"), route.get("body_excerpt"))
        if signs or route_status != 401:
            net008(
                f"a plain GET on {server.get('path')} is answered HTTP {route_status} "
                f"({', '.join(signs) or 'not a status moshi-server sends there'})",
                {"status": route_status, "headers": route.get("headers")},
            )
    paths = module_paths(server)
    if (
        paths
        and server.get("path") not in paths
        and "WS001" not in findings
        and session.get("outcome") not in ("ok", "no-free-channels", "no-audio")
        and route_status != 400
    ):
        ws001("no TTS module is served")
    return list(findings.values())


# -- TLS: TLS001 to TLS005 ------------------------------------------------------------------

# OpenSSL's X509_V_ERR_* verify codes (ssl.SSLCertVerificationError.verify_code), not versions.
# DEPTH_ZERO_SELF_SIGNED_CERT, SELF_SIGNED_CERT_IN_CHAIN
_SELF_SIGNED = (18, 19)  # allow-version-literal: OpenSSL verify codes
# CERT_NOT_YET_VALID, CERT_HAS_EXPIRED
_EXPIRED = (9, 10)  # allow-version-literal: OpenSSL verify codes
# HOSTNAME_MISMATCH, IP_ADDRESS_MISMATCH
_HOSTNAME = (62, 64)  # allow-version-literal: OpenSSL verify codes


def tls_findings(server: Server, *, insecure: bool) -> list[Finding]:
    """TLS001-TLS005 for one ``wss://`` URL, the verifier's verdict first, then what the
    certificate itself shows (expired, wrong names) when the verifier stopped earlier."""
    tls = server.get("tls") or {}
    handshake = tls.get("handshake") or {}
    cert = tls.get("certificate") or {}
    url = url_of(server)
    found: dict[str, Finding] = {}
    verify = "the --cacert bundle" if tls.get("verify") == "cacert" else "the system trust store"
    evidence = {
        "verify": tls.get("verify"),
        "verify_code": handshake.get("verify_code"),
        "verify_message": handshake.get("verify_message"),
        "reason": handshake.get("reason"),
        "subject": cert.get("subject"),
        "issuer": cert.get("issuer"),
        "not_after": cert.get("not_after"),
        "names": cert.get("names"),
    }
    evidence = {k: v for k, v in evidence.items() if v is not None}

    def add(code: str, message: str, severity: Any = None) -> None:
        if insecure:
            message += " (--insecure: not verified by this run; a verifying client fails here)"
        found.setdefault(
            code, Finding(code, f"{url}: {message}", evidence=evidence, severity=severity)
        )

    code = handshake.get("verify_code")
    message = handshake.get("verify_message") or handshake.get("error") or ""
    if not handshake.get("ok") and code is None:
        reason = str(handshake.get("reason") or "")
        plain = tls.get("plain_http")
        if plain or handshake.get("plain_server_reason"):
            answered = (
                f"; the same port answers plain HTTP ({plain.get('status')})" if plain else ""
            )
            add(
                "TLS005",
                f"the TLS handshake with {hostport(server)} failed ({reason}){answered}: it "
                "speaks plain HTTP, and moshi-server has no TLS",
            )
        return list(found.values())
    if code in _SELF_SIGNED or (code is not None and cert.get("self_signed")):
        add(
            "TLS001",
            f"the certificate is self-signed ({cert.get('subject') or message}); {verify} "
            f"does not trust it: {message}",
        )
    elif code in _EXPIRED:
        add("TLS002", f"{message} (not after {cert.get('not_after') or 'unknown'})")
    elif code in _HOSTNAME:
        add(
            "TLS003",
            f"{message} (the certificate names {', '.join(cert.get('names') or []) or 'none'})",
        )
    elif code is not None:
        issuer = cert.get("issuer")
        detail = f"{message}; the certificate's issuer {issuer!r} is not in {verify}"
        if cert.get("issuer_in_cacert") is False:
            detail += (
                " and is not the CA of --cacert itself: the server does not send the "
                "intermediate certificate(s)"
            )
        elif cert.get("chain_length") == 1:
            detail += "; the server sent the leaf alone, without intermediates"
        add("TLS004", detail)
    if cert:
        days = cert.get("days_left")
        if cert.get("expired"):
            add("TLS002", f"the certificate expired on {cert.get('not_after')}")
        elif isinstance(days, (int, float)) and days < load().tls_expiry_warning_days:
            from kyudoctor.model import Severity

            add(
                "TLS002",
                f"the certificate expires on {cert.get('not_after')}, in {days:.1f} days",
                severity=Severity.WARNING,
            )
        if cert.get("covers_host") is False and "TLS003" not in found:
            add(
                "TLS003",
                f"the certificate does not cover {server.get('host')} (it names "
                f"{', '.join(cert.get('names') or []) or 'no alternative name'})",
            )
    if insecure:
        from kyudoctor.model import Severity

        return [
            Finding(f.code, f.message, f.evidence, f.params, Severity.WARNING, f.commands)
            for f in found.values()
        ]
    return list(found.values())


def websockets_major(python: Mapping[str, Any] | None) -> tuple[str | None, int | None]:
    """The target environment's websockets version and its major number."""
    dists = (python or {}).get("distributions") or {}
    record = dists.get("websockets") if isinstance(dists, Mapping) else None
    version = record.get("version") if isinstance(record, Mapping) else None
    if not isinstance(version, str):
        return None, None
    head = version.split(".", 1)[0]
    return version, int(head) if head.isdigit() else None
