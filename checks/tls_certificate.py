"""tls.certificate: whether a ``wss://`` URL's certificate verifies, and if not, why.

What it checks
    For ``wss://`` URLs, the ``server`` probe verifies the TLS handshake as a client would (the
    system trust store, or ``--cacert``), then reads the certificate the server sent without
    trusting it. The verifier's error names the problem: a self-signed certificate (TLS001), an
    expired one (TLS002, a warning when it expires within 14 days), one that does not cover the
    host dialled (TLS003), or a chain the client cannot complete: an unknown CA or missing
    intermediates (TLS004). A handshake that fails because the port speaks plain HTTP is TLS005.
    With ``--insecure`` the same problems are warnings: this run did not verify, but every
    verifying client fails on them. ``ws://`` URLs are skipped.

Why it matters
    moshi-server has no TLS: a ``wss://`` endpoint is a reverse proxy's, and its certificate is
    what clients check. Turning verification off (``ssl=False``) hides the problem and removes
    the server's authentication.

How to fix
    Give clients the proxy's CA (``--cacert FILE``, ``SSL_CERT_FILE``) or give the proxy a real
    certificate; renew an expired one; add the dialled name to its SANs; serve the full chain;
    dial moshi-server itself with ``ws://``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kyudoctor.model import Check, Facts, Outcome

from ._server import Server, Verdict, connect_cause, per_url, skip, tls_findings


def verdict(server: Server, probe: Mapping[str, Any]) -> Verdict:
    """TLS001-TLS005 for one ``wss://`` URL."""
    if server.get("scheme") != "wss":
        return skip("ws:// URL: no TLS")
    cause = connect_cause(server)
    if cause is not None:
        return skip(cause)
    tls = server.get("tls")
    if not tls:
        return skip("the TLS handshake was not attempted")
    insecure = bool(probe.get("insecure"))
    findings = tls_findings(server, insecure=insecure)
    handshake = tls.get("handshake") or {}
    cert = tls.get("certificate") or {}
    if findings:
        return Verdict("the certificate does not verify", findings)
    if not handshake.get("ok"):
        return skip(
            f"the TLS handshake failed ({handshake.get('reason')}: {handshake.get('error')}); "
            "no TLS code describes it"
        )
    until = cert.get("not_after")
    days = cert.get("days_left")
    valid = f", valid until {until} ({days:.0f} days)" if until and days is not None else ""
    note = " (--insecure: sessions do not verify)" if insecure else ""
    return Verdict(
        f"verified against {tls.get('verify')} trust ({handshake.get('version')}){valid}{note}"
    )


def check(facts: Facts) -> Outcome:
    """TLS001-TLS005 per wss:// URL."""
    return per_url(facts, verdict)


CHECK = Check(
    id="tls.certificate",
    group="server",
    title="TLS certificate of wss:// URLs",
    codes=("TLS001", "TLS002", "TLS003", "TLS004", "TLS005"),
    probes=("server",),
    run=check,
)
