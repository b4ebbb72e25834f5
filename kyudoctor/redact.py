"""Keeping secrets out of every output: API keys in URLs and headers are never shown."""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

SECRET_QUERY_KEYS = frozenset({"auth_id", "api_key", "token", "key"})


def mask(secret: str | None) -> str:
    """``***`` and the length: what may be shown of a secret."""
    if not secret:
        return "(none)"
    return f"*** ({len(secret)} characters)"


def redact_url(url: str) -> str:
    """``url`` with secret query values (``auth_id=...``) and any userinfo shown as ``***``.

    Other values stay readable (a voice path keeps its slashes).
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = "&".join(
        f"{quote(k, safe='')}=" + ("***" if k.lower() in SECRET_QUERY_KEYS else quote(v, safe="/."))
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
