"""Keeping secrets out of every output: API keys in URLs and headers are never shown."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SECRET_QUERY_KEYS = frozenset({"auth_id", "api_key", "token", "key"})


def mask(secret: str | None) -> str:
    """``***`` and the length: what may be shown of a secret."""
    if not secret:
        return "(none)"
    return f"*** ({len(secret)} characters)"


def redact_url(url: str) -> str:
    """``url`` with secret query values (``auth_id=...``) and any password replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    query = urlencode(
        [
            (k, "***" if k.lower() in SECRET_QUERY_KEYS else v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe="*",
    )
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
