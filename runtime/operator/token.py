"""The fleet's operator token: one random bearer token in `<sova home>/operator.token` (mode 0600).

Every operator route (each agent's operator API, the console's API) asks for it in the
`Authorization: Bearer <token>` header, never in a cookie or the URL: a foreign web page can make the
browser send cookies, but cannot add a header to a cross-origin request without a CORS preflight,
which these servers never grant. The token is created on first need (`sova up`, `sova agent run`),
is never logged, and a file that group or others may read is refused: anyone who reads it is the
operator.
"""

from __future__ import annotations

import hmac
import secrets
import stat
from pathlib import Path

from runtime.errors import SovaError
from runtime.home import Home
from runtime.secrets import create_private

TOKEN_FILE = "operator.token"
MIN_LENGTH = 43  # secrets.token_urlsafe(32): 32 random bytes


class TokenError(SovaError):
    """The operator token file is unsafe or unreadable."""


def token_path(home: Home) -> Path:
    """Where the fleet's operator token lives."""
    return home.root / TOKEN_FILE


def ensure_token(home: Home) -> str:
    """The operator token, created (0600, atomically) when there is none yet. TokenError when the file
    is readable by group or others, or is not a token."""
    existing = read_token(home)
    if existing is not None:
        return existing
    home.ensure()
    path = token_path(home)
    # created once: two processes creating it at once must agree on one token
    create_private(path, secrets.token_urlsafe(32) + "\n")
    found = read_token(home)
    if found is None:  # pragma: no cover - removed between the link and the read
        raise TokenError(f"the operator token {path} vanished while it was created: try again")
    return found


def read_token(home: Home) -> str | None:
    """The operator token, or None when the file does not exist. TokenError when it is unsafe."""
    path = token_path(home)
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise TokenError(
            f"the operator token {path} is readable or writable by group or others "
            f"(mode {stat.S_IMODE(info.st_mode):03o}): run `chmod 600 {path}`"
        )
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise TokenError(f"cannot read the operator token {path}: {exc.strerror}") from None
    if len(token) < MIN_LENGTH or not token.isascii() or not token.isprintable() or " " in token:
        raise TokenError(
            f"the operator token {path} is not a token (43+ printable characters): delete the file and "
            "run `sova up` again to make a new one"
        )
    return token


def token_matches(expected: str, header_value: str | None) -> bool:
    """Whether an `Authorization` header value is `Bearer <expected>` (compared in constant time)."""
    if not expected or not header_value:
        return False
    scheme, _, given = header_value.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode("utf-8", "replace"), expected.encode("utf-8"))
