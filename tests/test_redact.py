"""Secrets in URLs are masked before anything shows them."""

from __future__ import annotations

import pytest

from kyudoctor.redact import mask, redact_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ws://h:8080/api/tts_streaming", "ws://h:8080/api/tts_streaming"),
        (
            "ws://h/p?auth_id=s3cr3t&format=PcmMessagePack",
            "ws://h/p?auth_id=***&format=PcmMessagePack",
        ),
        ("wss://user:pw@h/p", "wss://***@h/p"),
        ("ws://h/p?voice=a.wav&AUTH_ID=x", "ws://h/p?voice=a.wav&AUTH_ID=***"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    """auth_id values and userinfo are replaced; everything else is kept."""
    assert redact_url(url) == expected


def test_mask_shows_only_the_length() -> None:
    """A secret is shown as *** and its length."""
    assert mask("public_token") == "*** (12 characters)" and "public" not in mask("public_token")
