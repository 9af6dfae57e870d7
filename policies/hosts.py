"""Host names for the `domains` rule: the patterns a policy lists and the host of a resource URL.

A pattern is a host name ("api.example.com"), "*.example.com" (any subdomain of example.com, not
example.com itself), or an IP address (v4, or v6 without brackets). Hosts are compared lower-cased,
without a trailing dot; IDNs are compared in their ASCII (punycode) form, so a look-alike Unicode host
never matches an ASCII pattern. The URL's scheme, port, user info, path and query play no part.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

__all__ = ["host_matches", "host_of", "host_pattern"]

_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOST = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")


def _ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def host_pattern(value: str) -> str:
    """A policy's host pattern, normalized; ValueError with the fix when it is not one."""
    text = value.strip().lower().rstrip(".")
    ip = _ip(text.strip("[]"))
    if ip is not None:
        return ip
    name = text[2:] if text.startswith("*.") else text
    if not _HOST.match(name) or len(name) > 253:
        raise ValueError(
            f"{value[:60]!r} is not a host pattern: write a host name (api.example.com), "
            "*.example.com for its subdomains, or an IP address; no scheme, port or path"
        )
    return text


def host_of(url: str) -> str | None:
    """The normalized host of an http(s) URL, or None when it has none (or is not http/https)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not host:
        return None
    host = host.rstrip(".")
    ip = _ip(host)
    if ip is not None:
        return ip
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    return host if _HOST.match(host) else None


def host_matches(host: str, pattern: str) -> bool:
    """Whether the normalized `host` matches the normalized `pattern`."""
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return host == pattern
