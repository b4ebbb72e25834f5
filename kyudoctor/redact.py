"""Keeping secrets out of every output: API keys in URLs and headers are never shown.

:func:`mask` and :func:`redact_url` are what reports use. :class:`Redactor` is the engine of
support bundles: it walks a JSON tree twice, first to learn what it must hide (secrets in known
places, host names, IP addresses), then to replace every occurrence, anywhere in any string or
mapping key, consistently (the same host gets the same placeholder everywhere, so the rules
reach the same verdicts on the redacted facts):

- secrets: known values (the API key, tokens, ``authorized_ids`` values, values of secret
  header names and environment variables, ``auth_id=`` and userinfo of URLs) become
  ``*** (N characters, #k)``; secret URL query values become ``***`` as :func:`redact_url` shows;
- the home directory becomes ``~`` and the user name, as a path component, ``<user>``;
- host names other than loopback become ``host-1``, ``host-2``...; IP addresses other than
  loopback and unspecified become ``203.0.113.x`` (IPv4) and ``2001:db8::x`` (IPv6).

Loopback (``127.0.0.0/8``, ``::1``, ``localhost``) is kept: checks tell a local server from a
remote one by it. The documented sample key ``public_token`` is kept: it is public, and the
config lint looks for it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit, urlunsplit

__all__ = [
    "PUBLIC_VALUES",
    "SECRET_QUERY_KEYS",
    "Redactor",
    "is_secret_env_name",
    "mask",
    "redact_url",
]

SECRET_QUERY_KEYS = frozenset({"auth_id", "api_key", "token", "key"})

SECRET_FIELDS = frozenset(
    {
        "authorized_ids",
        "auth_id",
        "api_key",
        "api-key",
        "apikey",
        "kyutai-api-key",
        "x-api-key",
        "token",
        "access_token",
        "hf_token",
        "password",
        "passwd",
        "secret",
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
    }
)
"""Mapping keys (facts, headers, config) whose string values are secrets."""

PUBLIC_VALUES = frozenset({"public_token"})
"""Values that look like secrets but are documented, public samples: never replaced."""

MIN_SEARCHED_SECRET = 6
"""Shorter secrets are masked where their place is known, but not searched for in free text:
replacing every ``abc`` of a bundle would garble it without hiding anything."""

PUBLIC_HOSTS = frozenset(
    {
        "download.pytorch.org",
        "pypi.org",
        "files.pythonhosted.org",
        "huggingface.co",
        "hf.co",
        "github.com",
        "raw.githubusercontent.com",
        "crates.io",
        "index.crates.io",
        "static.crates.io",
        "static.rust-lang.org",
        "sh.rustup.rs",
        "developer.download.nvidia.com",
        "docs.nvidia.com",
        "kyutai.org",
    }
)
"""Public hosts kyudoctor itself names in fixes: kept (they identify nobody)."""

LOOPBACK_NAMES = frozenset(
    {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback", "localhost6"}
)

STANDARD_DIRS = frozenset(
    {
        "bin",
        "lib",
        "lib64",
        "usr",
        "local",
        "opt",
        "etc",
        "var",
        "tmp",
        "home",
        "share",
        "include",
        "src",
        "cuda",
        "python",
        "nvidia",
        "dev",
        "proc",
        "sys",
        "run",
        "srv",
        "mnt",
        "media",
        "snap",
        "app",
        "data",
        "workspace",
    }
)
"""A user name equal to one of these is not replaced as a path component: it would hide the
structure of every path, not the user."""

_SECRET_ENV_END = re.compile(r"(?:_TOKEN|_KEY)$", re.IGNORECASE)
_VERSION_KEY = re.compile(
    r"(?:^|_)(?:version|versions|version_full|version_info|release|banner|requires|"
    r"requires_python|dependencies|optional|sha256|uuid|git_hash|git_describe)$",
    re.IGNORECASE,
)
_URL = re.compile(r"(?i)\b([a-z][a-z0-9+.-]{1,15})://([^\s/?#'\"<>`]*)")
NETWORK_SCHEMES = frozenset(
    {"ws", "wss", "http", "https", "ftp", "ftps", "ssh", "git", "tcp", "udp", "grpc", "grpcs"}
    | {"redis", "rediss", "postgres", "postgresql", "mysql", "amqp", "amqps", "mqtt", "mqtts"}
    | {"socks4", "socks5", "socks5h", "smtp", "smtps", "ldap", "ldaps", "nats"}
)
"""Schemes whose URL names a host (``hf://kyutai/...`` names a Hugging Face organisation)."""
_ASSIGNED_SECRET = re.compile(
    r"(?i)\b([a-z0-9_]*(?:(?:_token|_key)\b|(?:secret|password|passwd)[a-z0-9_]*))"
    r"(\s*[=:]\s*)([\"']?)([^\s\"',;&)}\]]+)"
)
"""``NAME=value`` / ``NAME: value`` for a secret-looking name (a Dockerfile ``ENV``, a compose
``environment:`` entry, a shell line in a log): the value is a secret even when unknown."""
_NOT_A_VALUE = frozenset({"none", "null", "true", "false", "set", "unset", "yes", "no", "empty"})
_HF_TOKEN = re.compile(r"\bhf_[A-Za-z0-9]{20,}\b")
"""The shape of a Hugging Face access token: hidden wherever it shows, known or not."""
_QUERY_SECRET = re.compile(
    r"(?i)([?&;](?:auth_id|api_key|apikey|token|access_token|key|password)=)([^&#\s'\"<>`]*)"
)
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]{1,15}://)([^\s/?#@'\"<>`]+)@")
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"(?<![\w.=<>~!^-]){_OCTET}(?:\.{_OCTET}){{3}}(?![\w-]|\.\d)")
_IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|"
    + _OCTET
    + r"(?:\."
    + _OCTET
    + r"){3})?(?:%[\w.-]+)?(?![\w:])"
)
_DNS_NAME = re.compile(r"^DNS:(?:\*\.)?(.+)$", re.IGNORECASE)
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", re.IGNORECASE)

_V4_POOLS = ("203.0.113.", "198.51.100.", "192.0.2.")
HOST_FIELDS = frozenset({"host", "hostname", "server_name", "sni", "fqdn"})
"""Mapping keys whose string value is a host name (possibly with ``:port``): a one-word host
name learnt from a URL is replaced there, as in URLs, but not in free text."""


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


def is_secret_env_name(name: str) -> bool:
    """Whether an environment variable's value is a secret (``*_TOKEN``, ``*_KEY``,
    ``*SECRET*``, ``*PASSWORD*``)."""
    upper = name.upper()
    return bool(_SECRET_ENV_END.search(upper)) or "SECRET" in upper or "PASSW" in upper


def _is_secret_field(key: str) -> bool:
    lowered = key.lower()
    return (
        lowered in SECRET_FIELDS
        or bool(_SECRET_ENV_END.search(key))
        or ("secret" in lowered or "password" in lowered)
    )


def _kept_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return (
        address.is_loopback
        or address.is_unspecified
        or address.is_multicast
        or (address.version == 4 and address.is_reserved)
    )


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def _host_of_netloc(netloc: str) -> str:
    """The host of ``user:pw@host:port`` / ``[v6]:port`` (lowercased, no brackets)."""
    host = netloc.rsplit("@", 1)[-1]
    if host.startswith("["):
        return host[1:].split("]", 1)[0].lower()
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.lower()


@dataclass
class _Class:
    """Counts of one class of replaced values (never the values)."""

    how: str
    count: int = 0
    originals: set[str] = field(default_factory=set)

    def hit(self, original: str) -> None:
        self.count += 1
        self.originals.add(original)


class Redactor:
    """Two passes over JSON trees: :meth:`learn`, then :meth:`redact` (see the module doc).

    ``pseudonymise`` false (``--no-redact``) keeps paths, the user name, host names and
    addresses, and still masks every secret: secrets never leave the machine.
    """

    def __init__(
        self,
        *,
        secrets: Iterable[str | None] = (),
        homes: Iterable[str | None] = (),
        users: Iterable[str | None] = (),
        hosts: Iterable[str | None] = (),
        pseudonymise: bool = True,
    ) -> None:
        self.pseudonymise = pseudonymise
        self._secrets: dict[str, str] = {}
        self._hosts: dict[str, str] = {}
        self._addresses: dict[str, str] = {}
        self._seen_addresses: set[str] = set()
        self._classes = {
            "secrets": _Class(
                "replaced by *** (N characters, #k): the API key (--api-key, KYUTAI_API_KEY), "
                "tokens (HF_TOKEN and the Hugging Face token file, environment variables named "
                "*_TOKEN, *_KEY, *SECRET*, *PASSWORD*), authorized_ids values, secret header "
                "values (kyutai-api-key, authorization, cookie); in URLs auth_id=, token= and "
                "user:password@ become ***"
            ),
            "home": _Class("the home directory replaced by ~"),
            "user": _Class("the user name, as a path component, replaced by <user>"),
            "hosts": _Class(
                "host names other than localhost replaced by host-1, host-2, ... (the same "
                "host, the same name everywhere)"
            ),
            "addresses": _Class(
                "IP addresses other than loopback and unspecified replaced by 203.0.113.x "
                "(IPv4) and 2001:db8::x (IPv6), the same address the same way everywhere"
            ),
        }
        for secret in secrets:
            self.add_secret(secret)
        self._homes = sorted(
            {h.rstrip("/") for h in homes if h and h.startswith("/") and h.rstrip("/")},
            key=len,
            reverse=True,
        )
        self._users = sorted(
            {u for u in users if u and "/" not in u and u.lower() not in STANDARD_DIRS},
            key=len,
            reverse=True,
        )
        for host in hosts:
            if host:
                self._learn_host(host)
        self._compiled: tuple[Any, ...] | None = None
        self._secret_lookup: dict[str, str] = {}

    # -- pass 1 --------------------------------------------------------------------------

    def add_secret(self, secret: str | None) -> None:
        """A value to hide wherever it appears."""
        if not secret or secret in PUBLIC_VALUES or secret.startswith("***"):
            return
        if secret not in self._secrets:
            self._secrets[secret] = f"*** ({len(secret)} characters, #{len(self._secrets) + 1})"
            self._compiled = None

    def learn(self, value: Any, key: str | None = None) -> None:
        """Collect the secrets, host names and addresses of ``value`` (any JSON tree)."""
        if isinstance(value, Mapping):
            for k, item in value.items():
                name = str(k)
                self._learn_string(name, None)
                self.learn(item, name)
        elif isinstance(value, (list, tuple)):
            for item in value:
                self.learn(item, key)
        elif isinstance(value, str):
            if key is not None and _is_secret_field(key):
                if _assigned_value(value) or value.lower() in _NOT_A_VALUE:
                    self.add_secret(value)
                return
            self._learn_string(value, key)

    def _learn_string(self, text: str, key: str | None) -> None:
        for match in _URL.finditer(text):
            netloc = match.group(2)
            if "@" in netloc:
                userinfo = netloc.rsplit("@", 1)[0]
                self.add_secret(unquote(userinfo.split(":", 1)[-1]))
            if _network_scheme(match.group(1)):
                self._learn_host(_host_of_netloc(netloc))
        for match in _QUERY_SECRET.finditer(text):
            value = unquote(_query_secret_value(match.group(2))[0])
            if not value.startswith("***"):
                self.add_secret(value)
        dns = _DNS_NAME.match(text)
        if dns:
            self._learn_host(dns.group(1))
        for token in _HF_TOKEN.findall(text):
            self.add_secret(token)
        if key is not None and _VERSION_KEY.search(key):
            return
        for match in _ASSIGNED_SECRET.finditer(text):
            value = match.group(4)
            if _assigned_value(value):
                self.add_secret(value)
        for regex in (_IPV4, _IPV6):
            for match in regex.finditer(text):
                address = _parse_ip(match.group(0))
                if address is not None:
                    self._seen_addresses.add(str(address))

    def _learn_host(self, host: str) -> None:
        host = host.strip().strip("[]").rstrip(".").lower()
        if not host or host in LOOPBACK_NAMES or host in PUBLIC_HOSTS or host == "***":
            return
        if _parse_ip(host) is not None:
            self._seen_addresses.add(str(_parse_ip(host)))
            return
        labels = host.split(".")
        if not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
            return
        if host not in self._hosts:
            self._hosts[host] = f"host-{len(self._hosts) + 1}"
            self._compiled = None

    # -- pass 2 --------------------------------------------------------------------------

    def redact(self, value: Any, key: str | None = None) -> Any:
        """``value`` with everything learnt replaced; mapping keys too."""
        if isinstance(value, Mapping):
            out: dict[str, Any] = {}
            for k, item in value.items():
                name = self.text(str(k))
                while name in out:  # two keys that redact alike stay apart
                    name += "'"
                out[name] = self.redact(item, str(k))
            return out
        if isinstance(value, (list, tuple)):
            return [self.redact(item, key) for item in value]
        if isinstance(value, str):
            if key is not None and _is_secret_field(key):
                return self._whole_secret(value)
            return self.text(value, key)
        return value

    def _whole_secret(self, value: str) -> str:
        if not _assigned_value(value) and value.lower() not in _NOT_A_VALUE:
            return value  # empty, masked already, public, or a $VARIABLE reference
        self.add_secret(value)
        self._classes["secrets"].hit(value)
        return self._secrets[value]

    def text(self, text: str, key: str | None = None) -> str:
        """One string with everything learnt replaced."""
        secrets, homes, users, everywhere, in_context = self._patterns()
        out = _QUERY_SECRET.sub(self._query_value, text)
        out = _USERINFO.sub(self._userinfo, out)
        if secrets is not None:
            out = secrets.sub(self._secret, out)
        if not (key is not None and _VERSION_KEY.search(key)):
            out = _ASSIGNED_SECRET.sub(self._assigned, out)
        if not self.pseudonymise:
            return out
        if homes is not None:
            out = homes.sub(self._home, out)
        if users is not None:
            out = users.sub(self._user, out)
        versionish = key is not None and bool(_VERSION_KEY.search(key))
        if not versionish:
            out = _IPV4.sub(self._address, out)
            out = _IPV6.sub(self._address, out)
            if everywhere is not None:
                out = everywhere.sub(self._host, out)
        if in_context is not None:
            out = in_context.sub(self._host_in_context, out)
            if key is not None and key.lower() in HOST_FIELDS:
                out = self._host_field(out)
        return out

    def summary(self) -> dict[str, Any]:
        """The redaction header of a bundle: what was replaced, how, and how often."""
        classes: dict[str, Any] = {}
        for name, record in self._classes.items():
            entry: dict[str, Any] = {"how": record.how, "count": record.count}
            if name in ("secrets", "hosts", "addresses"):
                entry["distinct"] = len(record.originals)
            if not self.pseudonymise and name != "secrets":
                entry["how"] = "not redacted (--no-redact)"
            classes[name] = entry
        return {
            "enabled": self.pseudonymise,
            "classes": classes,
            "kept": (
                "loopback addresses and names (127.0.0.0/8, ::1, localhost), 0.0.0.0 and ::, "
                "the documented sample key public_token, public hosts kyudoctor names in its "
                f"fixes ({', '.join(sorted(PUBLIC_HOSTS))}); secrets shorter than "
                f"{MIN_SEARCHED_SECRET} characters are masked where their place is known "
                "(URL query, header, authorized_ids, secret variables) but not searched for "
                "in free text"
            ),
        }

    # -- replacements --------------------------------------------------------------------

    def _patterns(self) -> tuple[Any, ...]:
        if self._compiled is None:
            searched = [s for s in self._secrets if len(s) >= MIN_SEARCHED_SECRET]
            encoded = {form: s for s in searched for form in _encoded_forms(s)}
            encoded.update((s, s) for s in searched)
            secrets = _alternation(sorted(encoded, key=len, reverse=True))
            homes = (
                re.compile(
                    "(?:" + "|".join(re.escape(h) for h in self._homes) + r")(?=/|$|[^\w.-])"
                )
                if self._homes
                else None
            )
            users = (
                re.compile(
                    r"(?<=/)(?:" + "|".join(re.escape(u) for u in self._users) + r")(?=/|$|[^\w.-])"
                )
                if self._users
                else None
            )
            dotted = [h for h in self._hosts if not h.isalpha()]
            bare = [h for h in self._hosts if h.isalpha()]
            everywhere = (
                re.compile(
                    r"(?i)(?<![\w-])(?:"
                    + "|".join(re.escape(h) for h in sorted(dotted, key=len, reverse=True))
                    + r")(?![\w-]|\.[\w-])"
                )
                if dotted
                else None
            )
            in_context = (
                re.compile(
                    r"(?i)((?:\b[a-z][a-z0-9+.-]*)?://(?:\*\*\*@)?|^DNS:(?:\*\.)?)("
                    + "|".join(re.escape(h) for h in sorted(bare, key=len, reverse=True))
                    + r")(?=[:/?#\]\s'\"]|$)"
                )
                if bare
                else None
            )
            self._compiled = (secrets, homes, users, everywhere, in_context)
            self._secret_lookup = encoded
        return self._compiled

    def _secret(self, match: re.Match[str]) -> str:
        original = self._secret_lookup[match.group(0)]
        self._classes["secrets"].hit(original)
        return self._secrets[original]

    def _query_value(self, match: re.Match[str]) -> str:
        value, tail = _query_secret_value(match.group(2))
        if not value or value.startswith("***") or value in PUBLIC_VALUES:
            return match.group(0)
        self._classes["secrets"].hit(unquote(value))
        return match.group(1) + "***" + tail

    def _assigned(self, match: re.Match[str]) -> str:
        value = match.group(4)
        if not _assigned_value(value):
            return match.group(0)
        self.add_secret(value)
        self._classes["secrets"].hit(value)
        return match.group(1) + match.group(2) + match.group(3) + self._secrets[value]

    def _userinfo(self, match: re.Match[str]) -> str:
        if match.group(2) == "***":
            return match.group(0)
        self._classes["secrets"].hit(match.group(2))
        return match.group(1) + "***@"

    def _home(self, match: re.Match[str]) -> str:
        self._classes["home"].hit(match.group(0))
        return "~"

    def _user(self, match: re.Match[str]) -> str:
        self._classes["user"].hit(match.group(0))
        return "<user>"

    def _host(self, match: re.Match[str]) -> str:
        original = match.group(0).lower()
        self._classes["hosts"].hit(original)
        return self._hosts[original]

    def _host_in_context(self, match: re.Match[str]) -> str:
        scheme = match.group(1).split("://", 1)[0]
        if "://" in match.group(1) and not _network_scheme(scheme):
            return match.group(0)
        original = match.group(2).lower()
        self._classes["hosts"].hit(original)
        return match.group(1) + self._hosts[original]

    def _host_field(self, text: str) -> str:
        host = _host_of_netloc(text)
        if host in self._hosts and host.isalpha():
            self._classes["hosts"].hit(host)
            return re.sub(re.escape(host), self._hosts[host], text, count=1, flags=re.IGNORECASE)
        return text

    def _address(self, match: re.Match[str]) -> str:
        text = match.group(0)
        address = _parse_ip(text)
        if address is None or _kept_address(address):
            return text
        original = str(address)
        pseudonym = self._addresses.get(original)
        if pseudonym is None:
            pseudonym = self._next_address(address.version)
            self._addresses[original] = pseudonym
        self._classes["addresses"].hit(original)
        return pseudonym

    def _next_address(self, version: int) -> str:
        taken = set(self._addresses.values()) | self._seen_addresses
        n = 0
        while True:
            n += 1
            if version == 6:
                candidate = f"2001:db8::{n:x}"
            else:
                pool, index = divmod(n - 1, 254)
                candidate = f"{_V4_POOLS[pool]}{index + 1}" if pool < len(_V4_POOLS) else f"ip-{n}"
            if candidate not in taken:
                return candidate


def _network_scheme(scheme: str) -> bool:
    lowered = scheme.lower()
    return lowered in NETWORK_SCHEMES or lowered.rsplit("+", 1)[-1] in NETWORK_SCHEMES


def _assigned_value(value: str) -> bool:
    """Whether the value of ``SECRET_NAME=value`` is one to hide (not a placeholder)."""
    return bool(value) and not (
        value.startswith(("***", "$", "<", "%"))
        or value in PUBLIC_VALUES
        or value.lower() in _NOT_A_VALUE
    )


def _query_secret_value(text: str) -> tuple[str, str]:
    """A query value found in free text, and the punctuation after it that ends a sentence or
    introduces a message (``...?auth_id=***: refused``), which is not part of it."""
    value = text.rstrip(":.,;)")
    return value, text[len(value) :]


def _encoded_forms(secret: str) -> set[str]:
    """The secret as URLs and forms carry it: percent-encoded (upper- and lower-case hex),
    with ``+`` for spaces."""
    forms = {quote(secret, safe=""), quote_plus(secret, safe="")}
    forms |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), f) for f in forms}
    return forms


def _alternation(values: list[str]) -> re.Pattern[str] | None:
    """One pattern for all ``values``, longest first (a secret inside another is never cut)."""
    if not values:
        return None
    return re.compile("|".join(re.escape(v) for v in values))
