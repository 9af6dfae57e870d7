"""Issuing credentials: a Sova credential type, checked claims, an id, and didkit's proof.

LD proofs are Ed25519Signature2020 (`format="ldp"`); JWT VCs are EdDSA compact JWS (`format="jwt"`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from identity import didkit_bridge
from identity.credential import Credential, Format, iso, new_credential_id
from identity.dids import parse_did
from identity.errors import InvalidCredential, MalformedDid
from identity.jwt_times import integer_times
from identity.keys import IdentityKey
from identity.vocab import Claim, CredentialType, credential_type

_KINDS: dict[str, tuple[type, ...]] = {"string": (str,), "did": (str,), "integer": (int,), "boolean": (bool,)}


@lru_cache(maxsize=256)
def proof_options(verification_method: str, fmt: Format) -> str:
    """didkit's proof options (JSON) for an issuer's verification method and a format."""
    options: dict[str, str] = {"proofPurpose": "assertionMethod", "verificationMethod": verification_method}
    if fmt == "jwt":
        options["proofFormat"] = "jwt"  # didkit refuses `type` with JWTs
    else:
        options["type"] = "Ed25519Signature2020"
    return json.dumps(options)


def build_credential(
    issuer: str,
    subject: str,
    ctype: CredentialType,
    claims: Mapping[str, Any],
    *,
    credential_id: str,
    issued: datetime,
    expires: datetime | None,
) -> dict[str, Any]:
    """The unsigned VC 1.1 document of a Sova credential (claims checked against the type)."""
    parse_did(subject)
    check_claims(ctype, claims, credential_id)
    vc: dict[str, Any] = {
        "@context": ctype.contexts(),
        "id": credential_id,
        "type": ["VerifiableCredential", ctype.name],
        "issuer": issuer,
        "issuanceDate": iso(issued),
        "credentialSubject": {"id": subject, **claims},
    }
    if expires is not None:
        if expires <= issued:
            raise InvalidCredential(
                f"credential {credential_id}: expirationDate {iso(expires)} is not after issuanceDate"
                f" {iso(issued)}: give a later expiry",
                reason="bad_claims",
                credential_id=credential_id,
            )
        vc["expirationDate"] = iso(expires)
    return vc


def check_claims(ctype: CredentialType, claims: Mapping[str, Any], credential_id: str | None = None) -> None:
    """InvalidCredential unless `claims` fit the type: only defined claims, required ones, right kinds."""
    where = f"credential {credential_id}" if credential_id else f"{ctype.name} credential"
    for name, value in claims.items():
        spec: Claim | None = ctype.claims.get(name)
        if spec is None:
            known = ", ".join(ctype.claims) or "none"
            raise InvalidCredential(
                f"{where}: claim {name!r} is not defined for {ctype.name} (claims: {known}): remove it or use"
                " a type that defines it",
                reason="undefined_term",
                credential_id=credential_id,
            )
        ok = isinstance(value, _KINDS[spec.kind]) and not (spec.kind == "integer" and isinstance(value, bool))
        if ok and spec.kind == "did":
            try:
                parse_did(value)
            except MalformedDid:
                ok = False
        if not ok:
            raise InvalidCredential(
                f"{where}: claim {name!r} must be a {spec.kind}, got {str(value)[:40]!r}",
                reason="bad_claims",
                credential_id=credential_id,
            )
    missing = [n for n, spec in ctype.claims.items() if spec.required and n not in claims]
    if missing:
        raise InvalidCredential(
            f"{where}: {ctype.name} needs claim(s) {', '.join(missing)}: add them (--claims JSON)",
            reason="bad_claims",
            credential_id=credential_id,
        )


async def issue_credential(
    issuer: IdentityKey,
    subject: str,
    ctype: str | CredentialType,
    claims: Mapping[str, Any] | None = None,
    *,
    format: Format = "ldp",
    expires: datetime | None = None,
    issued: datetime | None = None,
    credential_id: str | None = None,
) -> Credential:
    """Issue a credential of type `ctype` about `subject` (a DID), signed by `issuer`.

    `format` is "ldp" (Ed25519Signature2020) or "jwt". The id is a fresh urn:uuid unless given; the
    issuance date is now (seconds precision) unless given. InvalidCredential(unknown_type |
    undefined_term | bad_claims) for input that cannot make a valid credential; MalformedDid for a bad
    subject.
    """
    if format not in ("ldp", "jwt"):
        raise ValueError(f"format must be 'ldp' or 'jwt', got {format!r}")
    ct = credential_type(ctype)
    claims = dict(claims or {})
    cid = credential_id or new_credential_id()
    issued = (issued or datetime.now(UTC)).replace(microsecond=0)
    vc = build_credential(issuer.did, subject, ct, claims, credential_id=cid, issued=issued, expires=expires)
    options = proof_options(issuer.verification_method, format)
    try:
        signed = await didkit_bridge.issue_credential(json.dumps(vc), options, issuer._private_jwk())
    except didkit_bridge.DidkitError as exc:
        raise InvalidCredential(
            f"credential {cid}: didkit could not sign it ({exc})", reason="malformed", credential_id=cid
        ) from None
    document: dict[str, Any] | str = integer_times(signed, issuer) if format == "jwt" else json.loads(signed)
    expires_at = expires.replace(microsecond=0) if expires else None
    types = ("VerifiableCredential", ct.name)
    body = vc if format == "jwt" else document
    assert isinstance(body, dict)
    return Credential(cid, format, types, issuer.did, subject, claims, issued, expires_at, document, body)
