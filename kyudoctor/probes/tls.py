"""TLS facts for a ``wss://`` URL: does the handshake verify, and if not, what is the certificate.

moshi-server has no TLS: a ``wss://`` endpoint is a reverse proxy's, and the problems are the
proxy's certificate (TLS001-TLS004) or a plain-HTTP port dialled with TLS (TLS005). The probe
verifies as a client would (system trust, or ``--cacert``), then looks at the certificate the
server sent **without trusting it** (``CERT_NONE``: nothing is sent over that connection) and
describes it with ``cryptography`` (a dependency of ``trustme``; without it the verifier's own
message is all the facts hold). When the handshake fails for another reason, a plain HTTP
request to the same port tells a plain server (TLS005) from anything else.

Facts (JSON types)::

    verify:      "system" | "cacert"
    cacert:      str | None
    handshake:   {ok, version, verify_code, verify_message, reason, error,
                  plain_server_reason: bool}   # the failure is what a plain-HTTP server causes
    plain_http:  {status, reason} | None      # only after a non-verification failure
    certificate: {subject, issuer, self_signed, not_before, not_after, days_left, expired,
                  not_yet_valid, names, covers_host, chain_length, issuer_in_cacert,
                  sha256} | None     # chain_length: Python >= 3.13 only
    certificate_error: str | None             # why the certificate could not be described
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
from typing import Any

from kyudoctor.errors import UnusableInput

__all__ = [
    "client_context",
    "describe_certificate",
    "hostname_matches",
    "inspect",
    "verify_context",
]

PLAIN_SERVER_REASONS = (
    "WRONG_VERSION_NUMBER",
    "RECORD_LAYER_FAILURE",
    "PACKET_LENGTH_TOO_LONG",
    "HTTP_REQUEST",
    "UNKNOWN_PROTOCOL",
    "record layer failure",
    "wrong version number",
)
"""OpenSSL reasons seen when a TLS ClientHello reaches a plain-HTTP server."""


def verify_context(cacert: str | None) -> ssl.SSLContext:
    """A verifying client context: ``cacert`` alone when given (like ``curl --cacert``), else
    the system trust store. An unusable ``cacert`` is :class:`UnusableInput` (exit status 2)."""
    if cacert is None:
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cafile=cacert)
    except (OSError, ssl.SSLError) as exc:
        raise UnusableInput(f"--cacert {cacert}: not a readable PEM CA bundle ({exc})") from None


def client_context(*, cacert: str | None, insecure: bool) -> ssl.SSLContext:
    """The context sessions use: verifying, or with ``insecure`` no verification at all."""
    if not insecure:
        return verify_context(cacert)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _unverified_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _reason(exc: ssl.SSLError) -> str:
    return str(exc.reason or type(exc).__name__)


def is_plain_server_reason(reason: str | None, error: str | None = None) -> bool:
    """Whether an OpenSSL failure is what a plain-HTTP server causes."""
    text = f"{reason or ''} {error or ''}"
    return any(r in text for r in PLAIN_SERVER_REASONS)


async def _handshake(
    host: str, port: int, server_hostname: str, context: ssl.SSLContext, timeout: float
) -> tuple[dict[str, Any], bytes | None, int | None]:
    """One TLS handshake: its facts, the peer's DER certificate, and the chain length."""
    facts: dict[str, Any] = {
        "ok": False,
        "version": None,
        "verify_code": None,
        "verify_message": None,
        "reason": None,
        "error": None,
    }
    writer: asyncio.StreamWriter | None = None
    try:
        _reader, stream = await asyncio.wait_for(
            asyncio.open_connection(
                host,
                port,
                ssl=context,
                server_hostname=server_hostname,
                ssl_handshake_timeout=max(0.1, timeout),
            ),
            timeout,
        )
        writer = stream
        sslobj = stream.get_extra_info("ssl_object")
        facts["ok"] = True
        facts["version"] = sslobj.version() if sslobj is not None else None
        der = sslobj.getpeercert(binary_form=True) if sslobj is not None else None
        chain = getattr(sslobj, "get_unverified_chain", None)
        length = len(chain() or []) if callable(chain) else None
        return facts, der, length
    except ssl.SSLCertVerificationError as exc:
        facts.update(
            verify_code=exc.verify_code,
            verify_message=exc.verify_message,
            reason=_reason(exc),
            error=str(exc),
        )
    except ssl.SSLError as exc:
        facts.update(reason=_reason(exc), error=str(exc))
    except (asyncio.TimeoutError, TimeoutError):
        facts.update(reason="TIMEOUT", error=f"no TLS handshake within {timeout:g} s")
    except ConnectionRefusedError as exc:
        facts.update(reason="REFUSED", error=str(exc))
    except (ConnectionError, OSError, EOFError) as exc:
        facts.update(reason=type(exc).__name__, error=str(exc) or type(exc).__name__)
    finally:
        if writer is not None:
            writer.transport.abort()
            writer.close()
    return facts, None, None


def hostname_matches(host: str, names: list[str], common_name: str | None = None) -> bool:
    """Whether a certificate naming ``names`` (its SANs) covers ``host``, as a client checks.

    IP literals match IP SANs only; a wildcard covers exactly one left-most label. Without any
    DNS SAN, the common name counts (Python's default ``hostname_checks_common_name``).
    """
    host = host.lower().rstrip(".")
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        address = None
    if address is not None:
        for name in names:
            if name.startswith("IP:"):
                try:
                    if ipaddress.ip_address(name[3:]) == address:
                        return True
                except ValueError:
                    continue
        return False
    dns = [n[4:].lower().rstrip(".") for n in names if n.startswith("DNS:")]
    if not dns and common_name:
        dns = [common_name.lower()]
    for pattern in dns:
        if pattern == host:
            return True
        if pattern.startswith("*.") and "." in host:
            first, rest = host.split(".", 1)
            if first and rest == pattern[2:]:
                return True
    return False


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def describe_certificate(
    der: bytes, host: str, *, now: dt.datetime | None = None
) -> dict[str, Any]:
    """The facts of a DER certificate for a client dialling ``host``.

    Raises :class:`ImportError` without ``cryptography``, :class:`ValueError` for garbage.
    """
    import hashlib

    from cryptography import x509
    from cryptography.x509.oid import NameOID

    cert = x509.load_der_x509_certificate(der)
    now = now or dt.datetime.now(dt.timezone.utc)
    not_before = cert.not_valid_before_utc
    not_after = cert.not_valid_after_utc
    names: list[str] = []
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names += [f"DNS:{n}" for n in san.get_values_for_type(x509.DNSName)]
        names += [f"IP:{ip}" for ip in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        pass
    common = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    common_name = str(common[0].value) if common else None
    self_signed = False
    if cert.subject == cert.issuer:
        try:
            cert.verify_directly_issued_by(cert)
            self_signed = True
        except Exception:  # noqa: BLE001 - any failure means "not signed by its own key"
            self_signed = False
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "self_signed": self_signed,
        "not_before": _iso(not_before),
        "not_after": _iso(not_after),
        "days_left": round((not_after - now).total_seconds() / 86400.0, 2),
        "expired": not_after < now,
        "not_yet_valid": not_before > now,
        "names": names[:32],
        "covers_host": hostname_matches(host, names, common_name),
        "sha256": hashlib.sha256(der).hexdigest(),
    }


async def inspect(
    host: str,
    port: int,
    *,
    cacert: str | None,
    timeout: float,
    connect_to: str | None = None,
) -> dict[str, Any]:
    """Verify the TLS endpoint ``host:port`` and describe its certificate; never raises.

    ``connect_to`` is the address to dial (the one the TCP check reached); the TLS name stays
    ``host``.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    address = connect_to or host
    facts: dict[str, Any] = {
        "verify": "cacert" if cacert else "system",
        "cacert": cacert,
        "handshake": None,
        "plain_http": None,
        "certificate": None,
        "certificate_error": None,
    }
    handshake, der, chain_length = await _handshake(
        address, port, host, verify_context(cacert), max(0.1, deadline - loop.time())
    )
    handshake["plain_server_reason"] = not handshake["ok"] and is_plain_server_reason(
        handshake.get("reason"), handshake.get("error")
    )
    facts["handshake"] = handshake
    if not handshake["ok"] and handshake["verify_code"] is None:
        if handshake["reason"] not in ("TIMEOUT", "REFUSED"):
            facts["plain_http"] = await _plain_http(
                address, port, host, max(0.1, deadline - loop.time())
            )
        return facts
    if der is None:
        _facts, der, chain_length = await _handshake(
            address, port, host, _unverified_context(), max(0.1, deadline - loop.time())
        )
    if der is None:
        facts["certificate_error"] = "the certificate could not be fetched a second time"
        return facts
    try:
        described = describe_certificate(der, host)
    except ImportError:
        facts["certificate_error"] = (
            "cryptography is not installed (`pip install cryptography`): the certificate "
            "could not be described"
        )
        return facts
    except ValueError as exc:
        facts["certificate_error"] = f"the certificate could not be parsed: {exc}"
        return facts
    described["chain_length"] = chain_length
    described["issuer_in_cacert"] = _issuer_in_bundle(der, cacert) if cacert else None
    facts["certificate"] = described
    return facts


def _issuer_in_bundle(der: bytes, cacert: str) -> bool | None:
    """Whether the leaf's issuer is one of the certificates of ``cacert`` itself: when it is
    not, the server should have sent the intermediates between them (TLS004)."""
    try:
        from cryptography import x509

        leaf = x509.load_der_x509_certificate(der)
        with open(cacert, "rb") as handle:
            bundle = x509.load_pem_x509_certificates(handle.read(1 << 22))
    except (ImportError, OSError, ValueError):
        return None
    return any(ca.subject == leaf.issuer for ca in bundle)


async def _plain_http(address: str, port: int, host: str, timeout: float) -> dict[str, Any] | None:
    """Whether the port answers a plain HTTP request (a plain server dialled with TLS)."""
    from kyudoctor.session import fetch

    shown = f"[{host}]" if ":" in host else host
    response = await fetch(
        f"http://{shown}:{port}/api/build_info", timeout=timeout, connect_to=address
    )
    if response.status is None:
        return None
    return {"status": response.status, "reason": response.reason}
