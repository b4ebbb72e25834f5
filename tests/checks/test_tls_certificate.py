"""tls.certificate: TLS001-TLS005 from the verifier's verdict and the certificate itself."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kyudoctor.checks import tls_certificate
from kyudoctor.model import Outcome, Severity
from kyudoctor.rules import severity_of
from tests.healthy import facts
from tests.healthy.server import server

WSS = "wss://tts.example.com/api/tts_streaming"
CERT: dict[str, Any] = {
    "subject": "CN=tts.example.com",
    "issuer": "CN=R11,O=Let's Encrypt,C=US",
    "self_signed": False,
    "not_before": "2025-06-01T00:00:00Z",
    "not_after": "2025-08-30T00:00:00Z",
    "days_left": 60.0,
    "expired": False,
    "not_yet_valid": False,
    "names": ["DNS:tts.example.com"],
    "covers_host": True,
    "chain_length": None,
    "issuer_in_cacert": None,
    "sha256": "00" * 32,
}
OK_HANDSHAKE = {
    "ok": True,
    "version": "TLSv1.3",
    "verify_code": None,
    "verify_message": None,
    "reason": None,
    "error": None,
    "plain_server_reason": False,
}


def tls(handshake: dict[str, Any] | None = None, **cert: Any) -> dict[str, Any]:
    return {
        "url": WSS,
        "scheme": "wss",
        "host": "tts.example.com",
        "port": 443,
        "tls": {
            "verify": "system",
            "cacert": None,
            "handshake": {**OK_HANDSHAKE, **(handshake or {})},
            "plain_http": None,
            "certificate": {**CERT, **cert},
            "certificate_error": None,
        },
    }


def failed(code: int, message: str, **cert: Any) -> dict[str, Any]:
    handshake = {
        "ok": False,
        "version": None,
        "verify_code": code,
        "verify_message": message,
        "reason": "CERTIFICATE_VERIFY_FAILED",
        "error": f"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {message}",
    }
    record = tls(handshake, **cert)
    record["blocked"] = "TLS handshake: CERTIFICATE_VERIFY_FAILED"
    record["http"] = None
    record["session"] = None
    return record


SELF_SIGNED = failed(18, "self-signed certificate", self_signed=True, issuer="CN=tts.example.com")
EXPIRED = failed(10, "certificate has expired", expired=True, days_left=-3.0)
EXPIRING = tls(days_left=6.5)
WRONG_HOST = failed(
    62,
    "Hostname mismatch, certificate is not valid for 'tts.example.com'.",
    covers_host=False,
    names=["DNS:other.example.com"],
)
UNTRUSTED = failed(20, "unable to get local issuer certificate", issuer_in_cacert=False)
UNTRUSTED_EXPIRED = failed(
    20, "unable to get local issuer certificate", expired=True, days_left=-1.0
)
PLAIN = {
    **tls({"ok": False, "reason": "WRONG_VERSION_NUMBER", "error": "[SSL] wrong version number"}),
    "blocked": "TLS handshake: WRONG_VERSION_NUMBER",
    "http": None,
    "session": None,
}
PLAIN["tls"]["certificate"] = None
PLAIN["tls"]["plain_http"] = {"status": 200, "reason": "OK"}


def run(changes: dict[str, Any], **top: Any) -> Outcome:
    return tls_certificate.CHECK.run(facts(server=server(changes, **top)))


@pytest.mark.parametrize(
    ("changes", "codes"),
    [
        (tls(), []),
        (SELF_SIGNED, [("TLS001", "error")]),
        (EXPIRED, [("TLS002", "error")]),
        (EXPIRING, [("TLS002", "warning")]),
        (WRONG_HOST, [("TLS003", "error")]),
        (UNTRUSTED, [("TLS004", "error")]),
        (UNTRUSTED_EXPIRED, [("TLS004", "error"), ("TLS002", "error")]),
        (PLAIN, [("TLS005", "error")]),
    ],
    ids=[
        "verified",
        "self-signed",
        "expired",
        "expiring",
        "wrong-host",
        "untrusted-chain",
        "untrusted-and-expired",
        "plain-server",
    ],
)
def test_codes(changes: dict[str, Any], codes: list[tuple[str, str]]) -> None:
    """The verifier's error picks the code; the certificate adds what the verifier hid."""
    outcome = run(changes)
    assert [(f.code, severity_of(f).value) for f in outcome.findings] == codes


def test_insecure_downgrades_to_warning() -> None:
    """With --insecure the problems stay visible, as warnings that say verification was off."""
    (finding,) = run(SELF_SIGNED, insecure=True).findings
    assert finding.severity is Severity.WARNING
    assert "--insecure" in finding.message


def test_missing_intermediate_message() -> None:
    """TLS004 says the server does not send intermediates when the issuer is not the CA given."""
    (finding,) = run(UNTRUSTED).findings
    assert "does not send the intermediate" in finding.message


def test_plain_server_message() -> None:
    """TLS005 says the port answers plain HTTP."""
    (finding,) = run(PLAIN).findings
    assert "answers plain HTTP (200)" in finding.message


@pytest.mark.parametrize(("plain_server_reason", "codes"), [(True, ["TLS005"]), (False, [])])
def test_plain_server_from_the_probes_reading_of_the_failure(
    plain_server_reason: bool, codes: list[str]
) -> None:
    """Without a plain-HTTP answer, TLS005 follows the probe's reading of the OpenSSL failure;
    a failure no code describes is skipped, not ok."""
    changes = copy.deepcopy(PLAIN)
    changes["tls"]["plain_http"] = None
    changes["tls"]["handshake"]["plain_server_reason"] = plain_server_reason
    outcome = run(changes)
    assert [f.code for f in outcome.findings] == codes
    assert outcome.skipped == (not codes)  # no code for the failure: skipped, never ok


def test_ws_url_skipped() -> None:
    """A ws:// URL has no TLS to check."""
    outcome = run({})
    assert outcome.skipped and outcome.summary == "ws:// URL: no TLS"


def test_verified_summary() -> None:
    """A verified endpoint shows the TLS version and the validity."""
    assert run(tls()).summary == (
        "verified against system trust (TLSv1.3), valid until 2025-08-30T00:00:00Z (60 days)"
    )
