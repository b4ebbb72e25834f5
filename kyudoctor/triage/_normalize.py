"""One log line as the user saw it: colours, prefixes and timestamps off, secrets masked.

Pasted logs carry noise around the message a signature looks for: ANSI colour codes (or what
is left of them once the escape character is lost: ``[31m``), docker-compose prefixes
(``tts-1  | ``), leading timestamps and log levels, BuildKit step prefixes (``#12 3.456``),
CRLF line ends and ``\\r`` progress-bar updates. :func:`normalize` removes the noise at the
start of a line and the colours everywhere; it keeps carriage returns inside the line (a
signature may look for ``bash\\r``), and :func:`visible` picks the segment a terminal shows.
"""

from __future__ import annotations

import re

__all__ = ["COMPOSE_PREFIX", "light", "normalize", "redact", "visible"]

_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: titles, hyperlinks
    r"|\x1b[@-Z\\-_]"  # other two-byte escapes
    r"|(?:\^\[|␛)?\[(?:\d{1,3}(?:;\d{1,3})*)?m"  # what a paste leaves of a colour code
)

COMPOSE_PREFIX = re.compile(r"^[A-Za-z0-9][\w.-]{0,62}\s+\| ?")
"""``tts-1  | ``, ``moshi_server_1 | ``: the service name docker compose puts before each line."""

_PREFIX = re.compile(
    r"^(?:"
    r"[A-Za-z0-9][\w.-]{0,62}\s+\| ?"  # docker compose
    r"|#\d+ \d+(?:\.\d+)? "  # BuildKit: "#12 3.456 "
    r"|##\[\w+\]"  # GitHub Actions annotations
    r"|\[?\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d)?(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?\]?,?\s*"
    r"|\[?\d\d:\d\d:\d\d(?:[.,]\d+)?\]?\s+"
    r"|[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d (?:[\w.-]+ [\w./-]+(?:\[\d+\])?: )?"  # syslog
    r"|\[\s*\d+\.\d+\]\s*"  # dmesg
    r"|\[?(?:TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|CRITICAL|FATAL|PANIC)\]?:?\s+"
    r"|[EWI] {2,}"  # pytest's "E   " and glog-style single letters
    r")"
)
_MAX_PREFIXES = 6


def light(text: str) -> str:
    """Colours off and the line end's carriage returns dropped; nothing else changed."""
    text = text.rstrip("\r\n")
    if "\x1b" in text or "[" in text:
        text = _ANSI.sub("", text)
    return text


def normalize(text: str) -> str:
    """The line as the matchers see it: :func:`light`, then the leading noise removed."""
    text = light(text).lstrip()
    for _ in range(_MAX_PREFIXES):
        match = _PREFIX.match(text)
        if match is None or not match.group(0):
            break
        text = text[match.end() :].lstrip()
    return text


def visible(text: str, position: int = -1) -> tuple[str, int]:
    """The carriage-return segment holding ``position`` (the last one by default), and the
    offset of that segment in ``text``: what a terminal showed of a progress-bar line."""
    if "\r" not in text:
        return text, 0
    if position < 0:
        position = len(text)
    start = text.rfind("\r", 0, position) + 1
    end = text.find("\r", position)
    return text[start : end if end >= 0 else len(text)], start


_SECRETS = (
    (re.compile(r"\bhf_[A-Za-z0-9]{8,}"), "hf_***"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), "sk-***"),
    (re.compile(r"(?i)\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{6,}"), r"\1 ***"),
    (re.compile(r"(?i)(://)[^/\s:@]+(?::[^/\s@]*)?@"), r"\1***@"),
    (re.compile(r"(?i)(authorized_ids\s*=\s*)\[[^\]]*\]?"), r"\1[***]"),
    (
        re.compile(
            r"(?i)\b(kyutai-api-key|x-api-key|api[_-]?key|auth_id|access[_-]?token|hf_token|"
            r"token|password|passwd|secret|authorization)"
            r"([\"']?\s*[:=]\s*[\"']?)(?!\*\*\*)([^\s\"'&,;)]{3,})"
        ),
        r"\1\2***",
    ),
)


def redact(text: str) -> str:
    """``text`` with API keys, tokens, passwords and URL credentials shown as ``***``."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text
