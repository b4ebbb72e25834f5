"""The server probe and the server checks, for real: the simulator, hostile servers, TLS with real
certificates, a fake moshi-server process, over loopback sockets."""

from __future__ import annotations

import datetime as dt
import json
import os
import site
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect

from kyudoctor import protocol, rules
from kyudoctor.checks import (
    http_routes,
    net_connect,
    net_port,
    tls_certificate,
    ws_session,
    ws_slots,
)
from kyudoctor.errors import UnusableInput
from kyudoctor.model import Check, Report
from kyudoctor.probes.server import NO_SERVER, probe
from kyudoctor.report.json import to_dict
from kyudoctor.runner import run_checks, run_probes
from kyudoctor.session import redact_url
from kyudoctor.simulate import SimConfig, Simulator, running
from tests import hostile
from tests.conftest import MakeCtx
from tests.reportschema import validate_report

KEY = "kd-PROBE-SECRET-0b94e7"
FAST = {"rtf": 0.05, "first_audio_delay_s": 0.05}
CHECKS: tuple[Check, ...] = tuple(
    m.CHECK for m in (net_connect, net_port, tls_certificate, http_routes, ws_session, ws_slots)
)
TEST_OPTIONS = {"metrics_interval": 0.15, "first_audio_timeout": 0.6}


@contextmanager
def sim(**config: Any) -> Iterator[Simulator]:
    config.setdefault("port", 0)
    config.setdefault("authorized_ids", (KEY,))
    for key, value in FAST.items():
        config.setdefault(key, value)
    with running(SimConfig(**config)) as server:
        yield server


def options(*urls: str, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"urls": list(urls), "urls_explicit": True, "api_key": KEY}
    out.update(TEST_OPTIONS)
    out.update(extra)
    return out


def report(
    opts: Mapping[str, Any], timeout: float = 6.0, env: Mapping[str, str] | None = None
) -> Report:
    """Run the server probe and the server checks through the runner and the rules."""
    outcomes = run_probes(
        ["server"],
        env=dict(env or {"PATH": os.defpath}),
        options=opts,
        timeout=timeout,
        load=lambda name: probe,
    )
    executed = run_checks(CHECKS, outcomes)
    return rules.build_report(
        executed,
        outcomes,
        kyudoctor_version="test",
        targets={
            "urls": [redact_url(u) for u in opts.get("urls") or []],
            "python": None,
            "config": None,
        },
        duration_ms=0.0,
        insecure=bool(opts.get("insecure")),
    )


def codes(result: Report) -> list[str]:
    return sorted(f.code for f in result.findings)


def statuses(result: Report) -> dict[str, str]:
    return {c.id: c.status.value for c in result.checks}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# -- healthy -------------------------------------------------------------------------------


def test_healthy_simulator(make_ctx: MakeCtx) -> None:
    """A healthy simulator: reached, route 400, session ok, metrics moving, slot given back."""
    with sim() as server:
        facts = probe(make_ctx(options=options(server.url), timeout=5))
    json.dumps(facts)  # JSON types only
    (record,) = facts["servers"]
    assert record["connect"]["outcome"] == "ok" and record["local"]
    assert record["http"]["route"]["status"] == 400
    assert record["http"]["build_info"]["moshi_like"]
    assert record["http"]["modules_info"]["modules"][0]["total_slots"] == 8
    assert record["session"]["outcome"] == "ok" and record["session"]["close_code"] == 1005
    second = record["http"]["metrics"]["second"]["values"]
    assert second["py_total_steps"] > record["http"]["metrics"]["first"]["values"]["py_total_steps"]
    assert record["http"]["modules_after"]["used_slots"] == 0
    assert facts["no_server"] is False


def test_healthy_report_is_clean() -> None:
    """Every server check is ok on a healthy simulator (its wall time: bench/server.py)."""
    with sim() as server:
        result = report(options(server.url, metrics_interval=0.5))
    assert set(statuses(result).values()) == {"ok", "skipped"}
    assert statuses(result)["tls.certificate"] == "skipped"
    assert codes(result) == ["WS006"]  # info: 1005 is the normal end
    assert result.exit_code == 0


def test_key_never_in_facts_findings_or_report() -> None:
    """The API key (option, env or auth_id) never appears in facts, findings or the JSON report."""
    with sim() as server:
        wrong = report(options(f"{server.url}?auth_id={KEY}", api_key=KEY + "-wrong"))
        right = report(
            {**options(server.url), "api_key": None},
            env={"PATH": os.defpath, "KYUTAI_API_KEY": KEY},
        )
    for result in (wrong, right):
        data = to_dict(result)
        validate_report(data)
        text = json.dumps(data) + json.dumps(result.facts, default=str)
        assert KEY not in text
    assert "WS002" in codes(wrong)
    assert right.facts["server"]["api_key"] == {"source": "KYUTAI_API_KEY", "length": len(KEY)}
    assert wrong.facts["server"]["urls"] == [f"{server.url}?auth_id=***"]


def test_several_urls_concurrently() -> None:
    """Two servers are probed concurrently; each check reports per URL."""
    with sim(rtf=0.2) as first, sim(rtf=0.2) as second:
        started = time.perf_counter()
        result = report(options(first.url, second.url))
        elapsed = time.perf_counter() - started
    session = next(c for c in result.checks if c.id == "ws.session")
    assert session.summary.startswith(first.url) and f"; {second.url}: " in session.summary
    sessions = [s["session"]["processing_s"] for s in result.facts["server"]["servers"]]
    assert all(s["session"]["outcome"] == "ok" for s in result.facts["server"]["servers"])
    assert elapsed < sum(sessions)  # one after the other would take longer than both sessions


# -- not reached ---------------------------------------------------------------------------


def test_no_server_without_url_skips(make_ctx: MakeCtx) -> None:
    """No --url and nothing listening, no moshi-server: the server checks are skipped."""
    url = f"ws://127.0.0.1:{free_port()}/api/tts_streaming"
    result = report({**options(url), "urls_explicit": False})
    assert set(statuses(result).values()) == {"skipped"}
    assert all(c.summary == NO_SERVER for c in result.checks)
    assert result.exit_code == 0


def test_refused_explicit_url_is_net001() -> None:
    """An explicit URL that is refused is NET001; the layers above are skipped naming it."""
    result = report(options(f"ws://127.0.0.1:{free_port()}/api/tts_streaming"))
    assert codes(result) == ["NET001"]
    skipped = [c for c in result.checks if c.id in ("http.routes", "ws.session", "ws.slots")]
    assert all(c.status.value == "skipped" and "NET001" in c.summary for c in skipped)


def test_ipv6_only_server_is_net004() -> None:
    """A server bound to ::1 only, dialled at 127.0.0.1: NET004."""
    with sim(host="::1") as server:
        result = report(options(f"ws://127.0.0.1:{server.port}/api/tts_streaming"))
    assert codes(result) == ["NET004"]


def test_client_dialling_ipv6_is_net007() -> None:
    """A server on 127.0.0.1 only, dialled at [::1]: NET007."""
    with sim() as server:
        result = report(options(f"ws://[::1]:{server.port}/api/tts_streaming"))
    assert codes(result) == ["NET007"]


def test_unresolvable_host_is_net003() -> None:
    """A host name that does not resolve: NET003."""
    result = report(options("ws://kyudoctor-test.invalid:8080/api/tts_streaming"))
    assert codes(result) == ["NET003"]


def test_port_held_by_another_program_is_net005() -> None:
    """A local port held by something that is not moshi-server: NET005 names it (WS001 too)."""
    with hostile.Served(hostile.NOT_FOUND) as server:
        result = report(options(server.url()))
    assert codes(result) == ["NET005", "WS001"]
    (net005,) = [f for f in result.findings if f.code == "NET005"]
    assert f"(pid {os.getpid()})" in net005.message


def test_bad_url_and_cacert_are_unusable_input(make_ctx: MakeCtx, tmp_path: Path) -> None:
    """A URL that is not ws(s):// and an unreadable --cacert stop the run (exit status 2)."""
    with pytest.raises(UnusableInput, match="ws:// or wss://"):
        probe(make_ctx(options=options("ftp://host/x")))
    with pytest.raises(UnusableInput, match="--cacert"):
        probe(make_ctx(options=options("wss://host/x", cacert=str(tmp_path / "none.pem"))))


# -- hostile servers -----------------------------------------------------------------------

HOSTILE = [
    ("never-answer", hostile.never_answer, ["NET008"]),
    ("drip", hostile.drip(b"HTTP/1.1 200 OK\r\n", 0.3), ["NET008"]),
    ("proxy-407", hostile.PROXY_407, ["NET008"]),
    ("nginx-403", hostile.FORBIDDEN_HTML, ["NET008"]),
    ("immediate-close", hostile.immediate_close, ["NET008"]),
    ("100MB-frame", hostile.huge_frame, ["WS003"]),
    ("array-2^32", hostile.huge_array, ["WS003"]),
    ("invalid-msgpack", hostile.invalid_msgpack, ["WS003"]),
    ("ogg", hostile.ogg_first, ["WS003"]),
    ("ready-no-audio", hostile.ready_only, ["WS007"]),
]


@pytest.mark.parametrize(
    ("handler", "expected"), [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE]
)
def test_hostile_server_is_a_finding(handler: Any, expected: list[str]) -> None:
    """Each hostile server ends as findings within the probe's limit: no crash, no hang."""
    with hostile.Served(handler) as server:
        started = time.perf_counter()
        result = report(options(server.url()), timeout=2.5)
        elapsed = time.perf_counter() - started
    assert elapsed < 3.0
    found = [c for c in codes(result) if c != "NET005"]  # the port is pytest's own
    assert found == expected
    assert not any(c.status.value in ("crashed", "timeout") for c in result.checks)


# -- server faults -------------------------------------------------------------------------


def test_model_loop_dead_is_one_ws007() -> None:
    """Ready but no audio, py_total_steps frozen with a channel open: one WS007 with both."""
    with sim(faults=frozenset({"model-loop-dead"})) as server:
        result = report(options(server.url))
    assert codes(result) == ["WS007"]
    (finding,) = result.findings
    assert "no Audio within" in finding.message and "py_total_steps stayed at 0" in finding.message


def test_leaked_slot_is_ws011() -> None:
    """A server that does not free the probe's slot after Eos and close: WS011."""
    with sim(faults=frozenset({"leak-slots"})) as server:
        result = report(options(server.url))
    assert codes(result) == ["WS006", "WS011"]


def test_client_without_eos_is_ws004() -> None:
    """Another client sent its text but no Eos and holds its slot: WS004 from /metrics, a warning."""
    with sim(batch_size=2) as server:
        headers = {protocol.API_KEY_HEADER: KEY}
        with connect(f"{server.url}?format=PcmMessagePack", additional_headers=headers) as ws:
            ws.recv()  # Ready: the slot is held
            ws.send(protocol.encode(protocol.Text("Bonjour")))  # one word, never Eos
            result = report(options(server.url))
    assert codes(result) == ["WS004", "WS006"]
    finding = next(f for f in result.findings if f.code == "WS004")
    assert finding.severity.value == "warning" and "py_missing_words_steps grew" in finding.message


def test_full_server_is_ws005() -> None:
    """The only slot held by another client: WS005 (no free channels)."""
    with sim(batch_size=1) as server:
        headers = {protocol.API_KEY_HEADER: KEY}
        with connect(f"{server.url}?format=PcmMessagePack", additional_headers=headers) as ws:
            ws.recv()  # Ready: the slot is held
            result = report(options(server.url))
    assert codes(result) == ["WS005"]
    (finding,) = result.findings
    assert "1 of 1 slots" in finding.message


def test_slow_server_is_ws008_ws009() -> None:
    """First audio later than --ttfa-max and an RTF above --rtf-max: WS008 and WS009."""
    with sim(rtf=0.6, first_audio_delay_s=0.3) as server:
        result = report(
            options(server.url, ttfa_max=0.1, rtf_max=0.5, text="one two three", listen=0)
        )
    assert codes(result) == ["WS006", "WS008", "WS009"]


def test_malformed_audio_is_ws010() -> None:
    """Malformed Audio messages: WS010."""
    with sim(faults=frozenset({"malformed-audio"})) as server:
        result = report(options(server.url))
    assert "WS010" in codes(result)


# -- TLS -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "trust_ca", "expected"),
    [
        ("valid", True, ["WS006"]),
        ("valid", False, ["TLS004"]),
        ("self-signed", False, ["TLS001"]),
        ("expired", True, ["TLS002"]),
        ("expiring", True, ["TLS002", "WS006"]),
        ("wrong-host", True, ["TLS003"]),
        ("missing-intermediate", True, ["TLS004"]),
    ],
)
def test_tls_modes(mode: str, trust_ca: bool, expected: list[str]) -> None:
    """Each certificate problem of the simulator's TLS modes gets its code."""
    with sim(tls=mode) as server:
        cacert = server.ca_pem if trust_ca else None
        result = report(options(server.url, cacert=cacert))
    assert codes(result) == expected


def test_wss_to_plain_server_is_tls005() -> None:
    """wss:// dialled to the plain simulator: TLS005, the session skipped naming it."""
    with sim() as server:
        result = report(options(server.url.replace("ws://", "wss://")))
    assert codes(result) == ["TLS005"]
    session = next(c for c in result.checks if c.id == "ws.session")
    assert session.status.value == "skipped" and "TLS005" in session.summary


def test_insecure_runs_the_session_and_warns() -> None:
    """--insecure: the session runs over unverified TLS; the certificate problem is a warning."""
    with sim(tls="self-signed") as server:
        result = report(options(server.url, insecure=True))
    assert codes(result) == ["TLS001", "WS006"]
    (tls001,) = [f for f in result.findings if f.code == "TLS001"]
    assert tls001.severity.value == "warning" and result.insecure
    assert result.facts["server"]["servers"][0]["session"]["outcome"] == "ok"


# -- a moshi-server process that is still starting ------------------------------------------

FAKE_MOSHI = textwrap.dedent(
    """
    import os, sys, time
    port = int(sys.argv[sys.argv.index("-p") + 1])
    delay = float(os.environ["FAKE_START_DELAY"])
    log = os.path.join(os.environ["FAKE_LOG_DIR"], "log.tts." + time.strftime("%Y-%m-%d"))
    with open(log, "a") as out:
        out.write("2025-07-01T10:00:00Z  INFO tts: retrieving checkpoint\\n")
        out.write("\\x1b[32m2025-07-01T10:00:03Z  INFO tts: warming up.\\x1b[0m\\n")
    time.sleep(delay)
    from kyudoctor.simulate import SimConfig, running
    with running(SimConfig(port=port, rtf=0.05, first_audio_delay_s=0.05,
                           authorized_ids=(os.environ["FAKE_KEY"],))):
        with open(log, "a") as out:
            out.write("2025-07-01T10:00:09Z  INFO moshi_server: listening on http://0.0.0.0\\n")
        time.sleep(30)
    """
)


@contextmanager
def fake_moshi(tmp_path: Path, delay: float) -> Iterator[int]:
    """A process named moshi-server (a symlink to Python) that logs loading steps, then serves."""
    port = free_port()
    logs = tmp_path / "logs"
    logs.mkdir()
    config = tmp_path / "config-tts.toml"
    config.write_text(f'log_dir = "{logs}"\ninstance_name = "tts"\n')
    binary = tmp_path / "bin" / "moshi-server"
    binary.parent.mkdir()
    binary.symlink_to(os.path.realpath(sys.executable))
    env = {
        **os.environ,
        "FAKE_START_DELAY": str(delay),
        "FAKE_LOG_DIR": str(logs),
        "FAKE_KEY": KEY,
        # The symlink runs the base interpreter, outside this venv: give it the venv's packages.
        "PYTHONPATH": os.pathsep.join(
            [str(Path(__file__).resolve().parents[2]), *site.getsitepackages()]
        ),
    }
    argv = [str(binary), "-c", FAKE_MOSHI, "worker", "--config", str(config), "-p", str(port)]
    proc = subprocess.Popen(argv, env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 10
        while not any(logs.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(5)


def test_still_starting_is_net006(tmp_path: Path) -> None:
    """A live moshi-server whose port is closed and whose log ends on 'warming up.': NET006,
    and NET001 as info (exit status 0)."""
    with fake_moshi(tmp_path, delay=30) as port:
        result = report(options(f"ws://127.0.0.1:{port}/api/tts_streaming"))
    assert codes(result) == ["NET001", "NET006"]
    assert {f.severity.value for f in result.findings} == {"info"}
    (net006,) = [f for f in result.findings if f.code == "NET006"]
    assert "warming up." in net006.message and "\x1b" not in net006.message
    assert result.exit_code == 0


def test_wait_polls_until_the_server_answers(tmp_path: Path) -> None:
    """--wait polls while the server is still starting, then checks it normally."""
    with fake_moshi(tmp_path, delay=1.0) as port:
        result = report(
            options(f"ws://127.0.0.1:{port}/api/tts_streaming", wait=8, wait_poll=0.2),
            timeout=10,
        )
    wait = result.facts["server"]["wait"]
    assert wait["polls"] >= 1 and not wait["still_starting"]
    assert result.facts["server"]["servers"][0]["session"]["outcome"] == "ok"
    assert codes(result) == ["WS006"]


def test_process_facts(tmp_path: Path, make_ctx: MakeCtx) -> None:
    """The moshi-server process is found with its port, config, log file and last line."""
    with fake_moshi(tmp_path, delay=30) as port:
        facts = probe(make_ctx(options=options(f"ws://127.0.0.1:{port}/x"), timeout=3))
    (proc,) = [p for p in facts["processes"] if p["port"] == port]
    assert proc["name"] == "moshi-server"
    assert proc["log_dir"] == str(tmp_path / "logs")
    assert proc["log_file"].endswith(f"log.tts.{dt.date.today():%Y-%m-%d}")
    assert proc["loading_step"] == "warming up"


# -- helpers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "names", "common_name", "covered"),
    [
        ("tts.example.com", ["DNS:tts.example.com"], None, True),
        ("TTS.example.com.", ["DNS:tts.example.com"], None, True),
        ("tts.example.com", ["DNS:*.example.com"], None, True),
        ("a.tts.example.com", ["DNS:*.example.com"], None, False),
        ("example.com", ["DNS:*.example.com"], None, False),
        ("127.0.0.1", ["DNS:localhost", "IP:127.0.0.1"], None, True),
        ("::1", ["IP:0:0:0:0:0:0:0:1"], None, True),
        ("127.0.0.1", ["DNS:127.0.0.1"], None, False),
        ("legacy.example.com", [], "legacy.example.com", True),
        ("legacy.example.com", ["DNS:other.example.com"], "legacy.example.com", False),
    ],
)
def test_hostname_matches(
    host: str, names: list[str], common_name: str | None, covered: bool
) -> None:
    """Names are matched as a verifying client does: one wildcard label, IPs against IP SANs,
    the common name only without DNS SANs."""
    from kyudoctor.probes.tls import hostname_matches

    assert hostname_matches(host, names, common_name) is covered


def test_describe_certificate() -> None:
    """A trustme certificate is described: issuer, names, validity, not self-signed."""
    import trustme
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    from kyudoctor.probes.tls import describe_certificate

    ca = trustme.CA()
    not_after = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=2)
    leaf = ca.issue_cert("tts.example.com", not_after=not_after)
    der = x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes()).public_bytes(Encoding.DER)
    facts = describe_certificate(der, "tts.example.com")
    assert facts["names"] == ["DNS:tts.example.com"] and facts["covers_host"]
    assert facts["expired"] and -3 < facts["days_left"] < -1
    assert not facts["self_signed"]
    ca_der = x509.load_pem_x509_certificate(ca.cert_pem.bytes()).public_bytes(Encoding.DER)
    assert describe_certificate(ca_der, "x")["self_signed"]


def test_parse_metrics_and_modules() -> None:
    """Prometheus text sums py_* series over labels and skips buckets; modules_info becomes ints."""
    from kyudoctor.probes.server import parse_metrics, parse_modules

    text = (
        "# HELP py_total_steps x\n# TYPE py_total_steps counter\n"
        'py_total_steps{handler="a"} 10\npy_total_steps{handler="b"} 5\n'
        'py_model_step_duration_bucket{le="0.01"} 3\npy_model_step_duration_count 3\n'
        "process_cpu_seconds_total 1.5\nnot a metric line\n"
    )
    assert parse_metrics(text) == {"py_total_steps": 15.0, "py_model_step_duration_count": 3.0}
    modules = parse_modules(
        [{"type": "py", "path": "/api/tts", "used_slots": "2", "total_slots": "x"}]
    )
    assert modules == [{"type": "py", "path": "/api/tts", "used_slots": 2, "total_slots": None}]
    assert parse_modules({"error": 1}) is None


def test_compact_view(make_ctx: MakeCtx) -> None:
    """The compact view keeps the outcome of each layer and the session's measurements."""
    from kyudoctor.probes.server import compact

    with sim() as server:
        facts = probe(make_ctx(options=options(server.url), timeout=5))
    (entry,) = compact(facts)["servers"]
    assert entry["connect"] == "ok" and entry["http"]["route"] == 400
    assert entry["session"]["outcome"] == "ok" and "ttfa_s" in entry["session"]
