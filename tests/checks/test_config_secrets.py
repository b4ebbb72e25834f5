"""config.secrets: CFG006 (sample key on a public address) and CFG007 (no HF token file)."""

from __future__ import annotations

from typing import Any

import pytest

from kyudoctor.checks.config_secrets import check
from tests.healthy.config import FACTS, facts


def _ids(**change: Any) -> dict[str, Any]:
    return {**FACTS["authorized_ids"], **change}


def _bind(addr: str, source: str = "default", loopback: bool = False) -> dict[str, Any]:
    pid = 4242 if source == "process" else None
    return {"addr": addr, "port": 8080, "source": source, "pid": pid, "loopback": loopback}


def _hf(**change: Any) -> dict[str, Any]:
    return {**FACTS["hf"], **change}


def test_healthy_config_is_ok() -> None:
    """A private key and an HF token file: ok, and the summary says both."""
    outcome = check(facts())
    assert not outcome.findings and not outcome.skipped
    assert "none of them the sample key" in outcome.summary and "token file" in outcome.summary


@pytest.mark.parametrize(
    ("ids", "bind", "expect"),
    [
        (_ids(public_token=True), _bind("0.0.0.0"), "binds 0.0.0.0, every interface, by default"),
        (_ids(public_token=True), _bind("10.0.0.7", "process"), "--addr 10.0.0.7"),
        (_ids(empty=True), _bind("::", "process"), "an empty key"),
        (_ids(public_token=True), _bind("127.0.0.1", "process", loopback=True), None),
        (_ids(public_token=True), _bind("::1", "process", loopback=True), None),
    ],
)
def test_sample_key_on_a_public_address(
    ids: dict[str, Any], bind: dict[str, Any], expect: str | None
) -> None:
    """public_token (or an empty key) is CFG006 only when the server binds a non-loopback address."""
    outcome = check(facts(authorized_ids=ids, bind=bind))
    found = [f for f in outcome.findings if f.code == "CFG006"]
    if expect is None:
        assert found == [] and "loopback" in outcome.summary
        return
    (finding,) = found
    assert expect in finding.message and finding.evidence["line"] == 4
    assert finding.evidence["key"] == "authorized_ids"


@pytest.mark.parametrize(
    ("hf", "expect"),
    [
        (_hf(token_file_exists=False, token_file_empty=None), "which does not exist"),
        (_hf(token_file_exists=True, token_file_empty=True), "which is empty"),
        (
            _hf(token_file_exists=False, token_file_empty=None, hf_token_env=True),
            "HF_TOKEN is set, but moshi-server's download client does not read it",
        ),
        (_hf(token_file_exists=True, token_file_empty=False), None),
        (_hf(token_file_exists=False, downloads=[]), None),
    ],
)
def test_hf_token_file(hf: dict[str, Any], expect: str | None) -> None:
    """hf:// downloads without a token file are CFG007, HF_TOKEN or not; pointing at the first
    hf:// value and naming the token file the server reads."""
    outcome = check(facts(hf=hf))
    found = [f for f in outcome.findings if f.code == "CFG007"]
    if expect is None:
        assert found == []
        return
    (finding,) = found
    assert expect in finding.message and finding.evidence["line"] == 9
    assert "/home/kyu/.cache/huggingface/token" in finding.message


def test_messages_never_show_key_values() -> None:
    """The facts hold no key values, and no message invents one: only counts and the sample key."""
    outcome = check(facts(authorized_ids=_ids(public_token=True, count=3)))
    (finding,) = outcome.findings
    assert "(3 keys in all)" in finding.message


def test_skipped_without_config() -> None:
    """No config found: skipped."""
    assert check(facts(found=False, file=None)).skipped
