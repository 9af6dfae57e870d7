"""Helpers shared by the identity tests: issue a VerifiedSupplier, verify it, edit a JWT."""

from __future__ import annotations

import base64
import json
from typing import Any

from identity import Credential, IdentityKey, VerifiedCredential, issue_credential, verify_credential

FORMATS = ["ldp", "jwt"]


async def supplier(issuer: IdentityKey, subject: IdentityKey, fmt: Any, **kw: Any) -> Credential:
    return await issue_credential(
        issuer, subject.did, "VerifiedSupplier", {"service": "widgets"}, format=fmt, **kw
    )


async def check(vc: Any, issuer: IdentityKey, **kw: Any) -> VerifiedCredential:
    kw.setdefault("trusted_issuers", {issuer.did})
    kw.setdefault("revocation", None)
    return await verify_credential(vc, **kw)


def reissue_jwt_payload(token: str, edit: Any) -> str:
    """The JWT with its payload edited (and so its signature broken)."""
    header, payload, signature = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    edit(data)
    encoded = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{header}.{encoded}.{signature}"
