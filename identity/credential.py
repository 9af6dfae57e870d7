"""The credential model: one type for both formats, parsed from what a file or a peer gives.

A credential is either an LD-proof VC (a JSON object with an Ed25519Signature2020 `proof`) or a JWT VC
(a compact JWS whose `vc` claim holds the credential). `parse_credential` reads either without checking
anything cryptographic; `verify_credential` (identity.verification) turns one into a VerifiedCredential.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from eth_hash.auto import keccak

from identity.errors import InvalidCredential
from identity.keys import b64url_decode
from identity.untrusted_json import loads_untrusted

Format = Literal["ldp", "jwt"]


@dataclass(frozen=True, eq=False)
class Credential:
    """A credential as issued or received; not verified (see VerifiedCredential).

    Treat `document` and `body` as read-only: parsed JWT credentials are cached and shared.
    """

    id: str
    format: Format
    types: tuple[str, ...]
    issuer: str
    subject: str
    claims: Mapping[str, Any]
    issued_at: datetime
    expires_at: datetime | None
    document: dict[str, Any] | str
    """The LD-proof VC object, or the compact JWT."""
    body: Mapping[str, Any]
    """The VC object itself: the document for LD proofs, the `vc` claim of a JWT."""

    @property
    def type(self) -> str:
        """The credential's own type: the last type other than VerifiableCredential."""
        own = [t for t in self.types if t != "VerifiableCredential"]
        return own[-1] if own else "VerifiableCredential"

    @property
    def text(self) -> str:
        """The form to store or send: compact JSON for LD proofs, the JWT itself for JWT VCs."""
        if isinstance(self.document, str):
            return self.document
        return json.dumps(self.document, separators=(",", ":"), ensure_ascii=False)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary (for `--json` output and policies' facts)."""
        return {
            "id": self.id,
            "format": self.format,
            "type": self.type,
            "types": list(self.types),
            "issuer": self.issuer,
            "subject": self.subject,
            "claims": dict(self.claims),
            "issued_at": iso(self.issued_at),
            "expires_at": iso(self.expires_at) if self.expires_at else None,
        }


@dataclass(frozen=True, eq=False)
class VerifiedCredential(Credential):
    """A credential whose proof, dates, issuer trust and revocation status were checked."""

    @classmethod
    def _of(cls, credential: Credential) -> VerifiedCredential:
        """The same fields as a VerifiedCredential (only identity.verification calls this)."""
        verified = cls.__new__(cls)
        verified.__dict__.update(credential.__dict__)
        verified.__dict__["claims"] = dict(credential.claims)  # each result owns its claims
        return verified


def new_credential_id() -> str:
    """A fresh credential id, `urn:uuid:<uuid4>`."""
    return f"urn:uuid:{uuid.uuid4()}"


def credential_id_hash(credential_id: str) -> bytes:
    """keccak256 of the credential id's UTF-8 bytes: the `bytes32` key of AgentRegistry.revokeCredential."""
    return bytes(keccak(credential_id.encode("utf-8")))


def iso(moment: datetime) -> str:
    """RFC 3339 UTC with seconds, as VC 1.1 dates are written: `2026-11-22T12:00:00Z`."""
    m = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    return f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}Z"


def parse_credential(credential: str | Mapping[str, Any] | Credential) -> Credential:
    """Read a credential (JSON text, JWT, dict or Credential); InvalidCredential(malformed) if unreadable."""
    if isinstance(credential, Credential):
        return credential
    if isinstance(credential, str):
        text = credential.strip()
        if text.startswith("ey") and text.count(".") == 2:
            return _parse_jwt(text)
        try:
            credential = loads_untrusted(text)
        except ValueError:
            what = "neither JSON nor a compact JWT: give the file `sova vc issue` wrote"
            raise _malformed(None, what) from None
    if not isinstance(credential, Mapping):
        raise _malformed(None, "not a JSON object")
    vc = dict(credential)
    return _from_vc(vc, "ldp", vc, None)


def _parse_jwt(token: str) -> Credential:
    try:
        payload = loads_untrusted(b64url_decode(token.split(".")[1]))
    except ValueError:
        raise _malformed(None, "the JWT payload is not base64url JSON") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("vc"), dict):
        raise _malformed(None, "the JWT has no `vc` claim: it is not a JWT VC")
    return _from_vc(payload["vc"], "jwt", token, payload)


def _from_vc(vc: dict[str, Any], fmt: Format, document: Any, jwt: dict[str, Any] | None) -> Credential:
    jwt = jwt or {}
    cid = jwt.get("jti", vc.get("id"))
    if not isinstance(cid, str) or ":" not in cid:
        raise _malformed(None, "it has no `id` (an absolute URI, e.g. urn:uuid:…): each needs one")
    types = vc.get("type")
    types = [types] if isinstance(types, str) else types
    if not isinstance(types, list) or "VerifiableCredential" not in types:
        raise _malformed(cid, "`type` must list VerifiableCredential")
    issuer = jwt.get("iss", vc.get("issuer"))
    if isinstance(issuer, dict):
        issuer = issuer.get("id")
    subject = vc.get("credentialSubject")
    if not isinstance(subject, dict):
        raise _malformed(cid, "`credentialSubject` must be one JSON object")
    subject_id = jwt.get("sub", subject.get("id"))
    if not isinstance(issuer, str) or not isinstance(subject_id, str):
        raise _malformed(cid, "`issuer` and `credentialSubject.id` must be DIDs")
    if jwt:
        inner_issuer = vc.get("issuer")
        inner_issuer = inner_issuer.get("id") if isinstance(inner_issuer, dict) else inner_issuer
        for claim, inner in (("jti", vc.get("id")), ("iss", inner_issuer), ("sub", subject.get("id"))):
            if inner is not None and claim in jwt and jwt[claim] != inner:
                raise _malformed(cid, f"JWT claim `{claim}` differs from the credential inside (`vc`)")
        issued = _epoch(jwt.get("nbf", jwt.get("iat")), cid, "nbf")
        expires = _epoch(jwt["exp"], cid, "exp") if "exp" in jwt else None
    else:
        issued = _date(vc.get("issuanceDate"), cid, "issuanceDate")
        expires = _date(vc["expirationDate"], cid, "expirationDate") if "expirationDate" in vc else None
    claims = {k: v for k, v in subject.items() if k != "id"}
    return Credential(cid, fmt, tuple(types), issuer, subject_id, claims, issued, expires, document, vc)


def _date(value: Any, cid: str, field: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise _malformed(cid, f"`{field}` {str(value)[:40]!r} is not an RFC 3339 date") from None
    if moment.tzinfo is None:
        raise _malformed(cid, f"`{field}` {value!r} has no time zone: write it in UTC, e.g. …T12:00:00Z")
    return moment


def _epoch(value: Any, cid: str, claim: str) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _malformed(cid, f"JWT claim `{claim}` must be a number of seconds since 1970")
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise _malformed(cid, f"JWT claim `{claim}` {value!r} is out of range") from None


def _malformed(cid: str | None, what: str) -> InvalidCredential:
    where = f"credential {cid}" if cid else "credential"
    return InvalidCredential(f"{where} is malformed: {what}", reason="malformed", credential_id=cid)
