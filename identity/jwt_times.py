"""JWT times as integers: didkit writes a JWT's `nbf` / `exp` / `iat` as JSON floats (`1796642195.0`),
which RFC 7519 allows (NumericDate) but many JWT libraries refuse or mis-read. `integer_times` re-signs
such a token with the same key, its times written as integers; nothing else in it changes."""

from __future__ import annotations

import json
from typing import Any

from identity.keys import IdentityKey, b64url, b64url_decode

__all__ = ["integer_times"]

_TIMES = ("nbf", "exp", "iat")


def integer_times(token: str, key: IdentityKey) -> str:
    """`token` (a compact EdDSA JWT signed by `key`) with whole-second float times as integers,
    re-signed by `key`; `token` itself when there is nothing to change."""
    header, payload_part, _ = token.split(".")
    payload: dict[str, Any] = json.loads(b64url_decode(payload_part))
    changed = False
    for name in _TIMES:
        value = payload.get(name)
        if isinstance(value, float) and value.is_integer():
            payload[name] = int(value)
            changed = True
    if not changed:
        return token
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    signing_input = f"{header}.{b64url(text.encode('utf-8'))}"
    return f"{signing_input}.{b64url(key.sign(signing_input.encode('ascii')))}"
