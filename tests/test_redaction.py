"""Redaction: distinct secrets planted everywhere they can hide are found in no output of
`check` (every format), `bundle`, or `check --from-bundle`; the engine itself, table-driven and
property-tested (consistent pseudonyms, loopback kept, versions untouched, never raises)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kyudoctor.redact import Redactor, mask, redact_url
from kyudoctor.report import FORMATS
from kyudoctor.simulate import SimConfig, running
from tests import hostile
from tests.conftest import SHARED
from tests.scenarios import KYUDOCTOR

SECRETS = {
    "env KYUTAI_API_KEY": "kd-ENV-APIKEY-3f9a1c77",
    "env HF_TOKEN": "hf_PLANTEDenvTokenAbCdEf0123456789",
    "env FOO_TOKEN": "kd-FOO/TOKEN+77aa21",
    "env DB_PASSWORD": "kd-DB-PASSWORD-0c1d2e",
    "--api-key": "kd-CLI-APIKEY+91be04",
    "auth_id= in --url": "kd/AUTH-ID=5d6e7f",
    "user:password@ in --url": "kd-USERINFO-PW-3c4d",
    "response header kyutai-api-key": "kd-HEADER-VALUE-4a4b",
    "response header set-cookie": "kd-COOKIE-8c8d9e",
    "HF token file": "hf_PLANTEDfileTokenZyXw9876543210",
    "config authorized_ids": "kd-AUTHORIZED-ID-6e5d4c",
}
"""Never in any output of any command."""

USER = "kdplanteduser"
HOST = "kd-planted-host.invalid"
ADDRESS = "192.0.2.77"
"""Planted beside the secrets: never in a bundle nor in what a replay of it prints."""


def forms(value: str) -> set[str]:
    """A value as outputs could carry it: as is, URL-encoded (both ways)."""
    return {value, quote(value, safe=""), quote_plus(value, safe="")}


@dataclass(frozen=True)
class Machine:
    """A fake HOME, a config, a pyproject and servers on loopback, with every secret planted."""

    home: Path
    cwd: Path
    env: dict[str, str]
    args: tuple[str, ...]


async def echo_with_secret_headers(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Answer every request 403 with secret-bearing headers, echoing the request in the body."""
    headers = await hostile.read_request(reader)
    body = json.dumps(headers).encode()
    writer.write(
        hostile.http_response(
            403,
            "Forbidden",
            body,
            kyutai_api_key=SECRETS["response header kyutai-api-key"],
            Set_Cookie=f"sid={SECRETS['response header set-cookie']}; HttpOnly",
            Server="echo",
        )
    )
    await writer.drain()


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[Machine]:
    """Every secret planted: environment, HF token file, config, URLs, servers' answers."""
    home = tmp_path / "home" / USER
    cwd = home / "tts"
    (cwd / "configs").mkdir(parents=True)
    token_file = home / ".cache" / "huggingface" / "token"
    token_file.parent.mkdir(parents=True)
    token_file.write_text(SECRETS["HF token file"] + "\n")
    example = (SHARED / "examples" / "dsm-config-tts.toml").read_text(encoding="utf-8")
    config = cwd / "configs" / "config-tts.toml"
    config.write_text(
        example.replace(
            'authorized_ids = ["public_token"]',
            f'authorized_ids = ["public_token", "{SECRETS["config authorized_ids"]}"]',
        ),
        encoding="utf-8",
    )
    pyproject = tmp_path / "srv" / USER / "moshi" / "pyproject.toml"
    pyproject.parent.mkdir(parents=True)
    pyproject.write_text('[project]\nname = "moshi-server"\ndependencies = ["torch>=2.2"]\n')
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(home),
        "USER": USER,
        "LOGNAME": USER,
        "LANG": "C.UTF-8",
        "NO_COLOR": "1",
        "KYUTAI_API_KEY": SECRETS["env KYUTAI_API_KEY"],
        "HF_TOKEN": SECRETS["env HF_TOKEN"],
        "FOO_TOKEN": SECRETS["env FOO_TOKEN"],
        "DB_PASSWORD": SECRETS["env DB_PASSWORD"],
    }
    sim_config = SimConfig(
        port=0, rtf=0.05, first_audio_delay_s=0.05, authorized_ids=(SECRETS["--api-key"],)
    )
    with running(sim_config) as sim, hostile.Served(echo_with_secret_headers) as echo:
        auth_id = quote(SECRETS["auth_id= in --url"], safe="")
        userinfo = f"kd-user:{SECRETS['user:password@ in --url']}"
        args = (
            "--api-key",
            SECRETS["--api-key"],
            "--url",
            f"{sim.url}?auth_id={auth_id}",
            "--url",
            f"ws://{userinfo}@127.0.0.1:{echo.port}/api/tts_streaming",
            "--url",
            f"ws://{HOST}:8080/api/tts_streaming",
            "--url",
            f"ws://{ADDRESS}:8080/api/tts_streaming",
            "--config",
            str(config),
            "--pyproject",
            str(pyproject),
            "--timeout",
            "4",
        )
        yield Machine(home=home, cwd=cwd, env=env, args=args)


def start(machine: Machine, *argv: str) -> subprocess.Popen[str]:
    """The installed command in the planted machine's directory and environment."""
    return subprocess.Popen(
        [str(KYUDOCTOR), *argv],
        cwd=machine.cwd,
        env=machine.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def outputs(procs: dict[str, subprocess.Popen[str]]) -> dict[str, str]:
    """Everything each process printed (stdout and stderr), after it ended within a minute."""
    done = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=60)
        assert proc.returncode in (0, 1, 3), f"{name}: exit {proc.returncode}\n{err}"
        assert "Traceback" not in out + err, f"{name}:\n{err}"
        done[name] = out + err
    return done


def leaks(text: str, planted: dict[str, str]) -> list[str]:
    """The planted values (any form) found in ``text``, by where they were planted."""
    return [where for where, value in planted.items() if any(f in text for f in forms(value))]


def test_no_planted_secret_in_any_output_or_bundle(machine: Machine, tmp_path: Path) -> None:
    """Distinct secrets planted in the environment, --api-key, auth_id=, userinfo, server
    headers, the HF token file and the config's authorized_ids appear in no format of `check`,
    nor in `bundle` (file, stdout, stderr), nor in any format of `check --from-bundle`; the fake
    home, the user name, the host name and the address appear neither in the bundle nor in its
    replays."""
    bundle = tmp_path / "bundle.json"
    runs = {
        f"check --format {fmt}": start(machine, "check", "-v", "--format", fmt, *machine.args)
        for fmt in FORMATS
    }
    runs["bundle"] = start(machine, "bundle", "-o", str(bundle), "--format", "json", *machine.args)
    printed = outputs(runs)
    identity = {"home": str(machine.home), "user": USER, "host": HOST, "address": ADDRESS}
    bundle_text = bundle.read_text(encoding="utf-8")
    replays = outputs(
        {
            f"check --from-bundle --format {fmt}": start(
                machine, "check", "--from-bundle", str(bundle), "-v", "--format", fmt
            )
            for fmt in FORMATS
        }
    )
    found = {name: leaks(text, SECRETS) for name, text in {**printed, **replays}.items()}
    found["bundle file"] = leaks(bundle_text, {**SECRETS, **identity})
    found.update({name: leaks(text, identity) for name, text in replays.items()})
    assert {name: where for name, where in found.items() if where} == {}
    # The run did meet every planted thing: the secrets were there to be hidden.
    data = json.loads(bundle_text)
    classes = data["redaction"]["classes"]
    assert classes["secrets"]["distinct"] >= 3 and classes["home"]["count"] > 0
    assert classes["user"]["count"] > 0
    assert classes["hosts"]["distinct"] >= 1 and classes["addresses"]["distinct"] >= 1
    assert set(data["environment"]["secrets_set"]) >= {
        "KYUTAI_API_KEY",
        "HF_TOKEN",
        "FOO_TOKEN",
        "DB_PASSWORD",
    }
    servers = data["probes"]["server"]["facts"]["servers"]
    echoed = servers[1]["http"]["build_info"]["headers"]
    assert echoed["kyutai-api-key"].startswith("***") and echoed["set-cookie"].startswith("***")
    hosts = [s["host"] for s in servers]
    assert hosts[:2] == ["127.0.0.1", "127.0.0.1"]  # loopback is kept: checks rely on it
    assert hosts[2].startswith("host-") and hosts[3].startswith("203.0.113.")
    assert "public_token" in bundle_text  # the documented sample key is no secret
    assert data["options"]["extra"]["config_path"] == "~/tts/configs/config-tts.toml"


# -- the engine ------------------------------------------------------------------------------


def redacted(value: Any, **kwargs: Any) -> Any:
    """``value`` through a Redactor's two passes."""
    redactor = Redactor(**kwargs)
    redactor.learn(value)
    return redactor.redact(value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ws://127.0.0.1:8080/api", "ws://127.0.0.1:8080/api"),
        ("[::1]:8080 refused", "[::1]:8080 refused"),
        ("ws://localhost:8080/x and 0.0.0.0 and ::", "ws://localhost:8080/x and 0.0.0.0 and ::"),
        ("127.8.9.10", "127.8.9.10"),
        ("connect 10.1.2.3:8080 failed", "connect 203.0.113.1:8080 failed"),
        ("[fe80::1%eth0]:80 and 2001:4860::8888.", "[2001:db8::1]:80 and 2001:db8::2."),
        ("ws://10.1.2.3/a ws://10.1.2.3/b", "ws://203.0.113.1/a ws://203.0.113.1/b"),
        ("10:00:03 aa:bb:cc:dd:ee:ff std::vector", "10:00:03 aa:bb:cc:dd:ee:ff std::vector"),
        ("torch==2.9.1.0 pkg-1.2.3.4.whl v1.2.3.4 01.2.3.4", None),
        ("255.255.255.0 224.0.0.1", None),
    ],
)
def test_addresses(text: str, expected: str | None) -> None:
    """Non-loopback addresses get consistent documentation addresses; loopback, unspecified,
    netmasks, multicast, versions and timestamps are kept."""
    assert redacted({"detail": text})["detail"] == (text if expected is None else expected)


def test_versions_are_never_taken_for_addresses() -> None:
    """A four-part version under a version key stays as it is."""
    tree = {"version": "9.1.0.70", "requires": ["a (>=1.2.3.4)"], "banner": "release 10.0.0.1"}
    assert redacted(tree) == tree


def test_pseudonym_never_collides_with_a_real_address() -> None:
    """When 203.0.113.1 is itself in the facts, another address gets another placeholder."""
    out = redacted(["203.0.113.1 is one", "10.0.0.9 is another"])
    assert out[0] != out[1].replace("is another", "is one")
    assert "10.0.0.9" not in out[1]


@pytest.mark.parametrize(
    ("tree", "expected"),
    [
        (
            {"url": "ws://tts.example.com:8080/x", "msg": "TTS.EXAMPLE.COM is down"},
            {"url": "ws://host-1:8080/x", "msg": "host-1 is down"},
        ),
        (
            {"url": "ws://gpubox:8080/x", "host": "gpubox", "os": "gpubox", "n": ["DNS:gpubox"]},
            {"url": "ws://host-1:8080/x", "host": "host-1", "os": "gpubox", "n": ["DNS:host-1"]},
        ),
        (
            {"names": ["DNS:*.corp.example.org"], "sub": "a.corp.example.org"},
            {"names": ["DNS:*.host-1"], "sub": "a.host-1"},
        ),
        (
            {"fix": "pip install --index-url https://download.pytorch.org/whl/cu128"},
            {"fix": "pip install --index-url https://download.pytorch.org/whl/cu128"},
        ),
        (
            {"voice": "hf://kyutai/tts-voices/a.wav", "url": "ws://kyutai:8080/x"},
            {"voice": "hf://kyutai/tts-voices/a.wav", "url": "ws://host-1:8080/x"},
        ),
    ],
)
def test_host_names(tree: dict[str, Any], expected: dict[str, Any]) -> None:
    """Host names become host-N everywhere; a one-word name only where it is a host (URL,
    DNS name, host field), so it never rewrites a word of the facts; public hosts are kept."""
    assert redacted(tree) == expected


def test_secrets_known_found_and_keyed() -> None:
    """Known secrets are replaced in text, URL-encoded and as mapping keys; values under secret
    keys are masked; distinct secrets stay distinct and the sample public_token is kept."""
    secret = "kd-S/ECRET+0001"
    tree = {
        "detail": f"sent {secret} and {quote(secret, safe='')}",
        secret: {"authorized_ids": ["public_token", "other-secret-22"]},
        "headers": {"Set-Cookie": "sid=abc", "server": "nginx"},
        "env": {"HF_TOKEN": "hf_x"},
        "u": "wss://me:pw-secret-9@h.example/x?auth_id=abc&voice=v.wav",
    }
    out = redacted(tree, secrets=[secret])
    text = json.dumps(out)
    for value in (secret, quote(secret, safe=""), "other-secret-22", "pw-secret-9", "abc", "hf_x"):
        assert value not in text, value
    assert out["detail"] == "sent *** (15 characters, #1) and *** (15 characters, #1)"
    (key,) = [k for k in out if k.startswith("***")]
    assert out[key]["authorized_ids"][0] == "public_token"
    assert out[key]["authorized_ids"][1].startswith("*** (15 characters, #")
    assert out["headers"]["server"] == "nginx"
    assert out["u"] == "wss://***@host-1/x?auth_id=***&voice=v.wav"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ENV HF_TOKEN=abc123 PORT=8080", "ENV HF_TOKEN=*** (6 characters, #1) PORT=8080"),
        ("- MY_API_KEY: 'q'", "- MY_API_KEY: '*** (1 characters, #1)'"),
        ("db_password=hunter22;x", "db_password=*** (8 characters, #1);x"),
        ("HF_TOKEN=$HF_TOKEN and HF_TOKEN: set", "HF_TOKEN=$HF_TOKEN and HF_TOKEN: set"),
        ("token hf_abcdefghijklmnopqrstuvwxyz0123 seen", "token *** (33 characters, #1) seen"),
        ("a monkey_keyboard=1 and token_file=/x", "a monkey_keyboard=1 and token_file=/x"),
    ],
)
def test_secrets_assigned_in_text(text: str, expected: str) -> None:
    """A value assigned to a secret-looking name (a Dockerfile ENV, a compose entry), and a
    Hugging Face token anywhere, are hidden though nothing announced them; $VAR and words like
    "set" are no values."""
    assert redacted({"line": text})["line"] == expected


def test_home_and_user() -> None:
    """The home directory becomes ~ (at a path boundary only); the user name, as a path
    component, <user>; a user named like a standard directory is left alone."""
    tree = {
        "PATH": "/home/ada/.cargo/bin:/srv/ada/venv/bin:/home/ada2/bin:/usr/bin",
        "home": "/home/ada",
        "text": "ada wrote /data/ada",
    }
    out = redacted(tree, homes=["/home/ada"], users=["ada", "bin"])
    assert out == {
        "PATH": "~/.cargo/bin:/srv/<user>/venv/bin:/home/ada2/bin:/usr/bin",
        "home": "~",
        "text": "ada wrote /data/<user>",
    }
    assert redacted({"p": "/x/y"}, homes=["/"]) == {"p": "/x/y"}


def test_no_redact_keeps_identity_not_secrets() -> None:
    """pseudonymise=False keeps paths, hosts and addresses, and still masks secrets."""
    tree = {"u": "ws://10.0.0.7:80/?auth_id=zz-secret-1", "p": "/home/ada/x", "k": "kd-0123456789"}
    out = redacted(tree, homes=["/home/ada"], secrets=["kd-0123456789"], pseudonymise=False)
    assert out == {"u": "ws://10.0.0.7:80/?auth_id=***", "p": "/home/ada/x", "k": out["k"]}
    assert out["k"].startswith("***")


def test_mask_and_redact_url_are_unchanged() -> None:
    """The helpers reports use keep their behaviour."""
    assert mask("abc") == "*** (3 characters)"
    assert redact_url("ws://u:p@h/x?auth_id=s&v=1") == "ws://***@h/x?auth_id=***&v=1"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(JSON)
def test_any_json_tree_is_redacted_without_raising(tree: Any) -> None:
    """Any JSON tree comes out as JSON of the same shape (same lengths, same number of keys)."""

    def shape(value: Any) -> Any:
        if isinstance(value, dict):
            return ("dict", len(value), sorted(repr(shape(v)) for v in value.values()))
        if isinstance(value, list):
            return ("list", [shape(v) for v in value])
        return type(value).__name__

    out = redacted(tree, secrets=["kd-hypothesis-1"], homes=["/home/h"], users=["h"])
    json.dumps(out)
    assert repr(shape(out)) == repr(shape(tree))


@settings(max_examples=150, deadline=None)
@given(st.text(), st.text())
def test_a_known_secret_never_survives(prefix: str, suffix: str) -> None:
    """Whatever surrounds it, a known secret is gone from the text."""
    secret = "kd-PROP/SECRET+42"
    out = redacted({"t": prefix + secret + suffix}, secrets=[secret])["t"]
    assert secret not in out


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(*(st.integers(1, 223) if i == 0 else st.integers(0, 255) for i in range(4))),
        min_size=1,
        max_size=6,
    )
)
def test_every_public_address_is_replaced_consistently(octets: list[tuple[int, ...]]) -> None:
    """Space-separated IPv4 addresses: none but loopback survives; equal ones stay equal."""
    addresses = [".".join(map(str, o)) for o in octets]
    text = " ".join(addresses)
    out = redacted({"a": text, "b": text})
    assert out["a"] == out["b"]
    import ipaddress

    for address, replaced in zip(addresses, out["a"].split(" "), strict=True):
        ip = ipaddress.ip_address(address)
        kept = ip.is_loopback or ip.is_unspecified or ip.is_multicast or ip.is_reserved
        assert (replaced == address) == kept, (address, replaced)
