"""Reading a presentation in either form, and the bindings checked in Python before any proof.

A presentation is an LD-proof VP (a JSON object with one Ed25519Signature2020 `proof`) or a JWT VP (a
compact JWS: header `kid` = the signing key, payload `iss` = the holder, `nonce` = the challenge, `aud` =
the domain, `vp` = the presentation, optional `nbf`/`exp`). `read_presentation` parses either without
checking anything cryptographic; `check_binding` and `check_dates` are the checks that do not need
didkit.

What didkit 0.3.3 does and does not check on a JWT VP (tests/unit/identity/test_identity_presentations.py):
it verifies the signature with the header's `kid`, requires that key to be an authentication key of
`iss`, and refuses a `nonce` / single `aud` other than the options' challenge / domain, and a token
outside [nbf, exp) (no clock skew). It accepts a token with no `iss`, a `vp.holder` other than `iss`, and
an `aud` list that merely contains the domain; it ignores `iat`. So we demand `iss`, a `vp.holder` (if
any) equal to it, `aud` exactly the domain and the `kid`'s DID equal to `iss`, all here, before didkit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from identity.credential import iso
from identity.dids import parse_did, split_did_url
from identity.errors import DidError, InvalidPresentation
from identity.keys import b64url_decode
from identity.untrusted_json import loads_untrusted

_MISSING: Any = object()


@dataclass(frozen=True)
class ReadPresentation:
    """A presentation as received, parsed but not verified."""

    format: Literal["ldp", "jwt"]
    text: str
    """What didkit verifies: the JSON text or the compact JWT."""
    holder: str
    signer: str
    """The DID of the key that signed it ('' when unreadable)."""
    purpose: Any
    challenge: Any
    domain: Any
    credentials: tuple[str | dict[str, Any], ...]
    not_before: datetime | None = None
    expires: datetime | None = None

    @property
    def where(self) -> tuple[str, str, str]:
        """Where the challenge, the domain and the signing key are written (for error messages)."""
        if self.format == "jwt":
            return "JWT nonce", "JWT aud", "JWT header kid"
        return "proof.challenge", "proof.domain", "proof.verificationMethod"


def read_presentation(vp: str | Mapping[str, Any]) -> ReadPresentation:
    """Parse an LD-proof VP (JSON text or object) or a JWT VP; InvalidPresentation(malformed) if neither."""
    if isinstance(vp, str):
        text = vp.strip()
        if text.startswith("ey") and text.count(".") == 2:
            return _read_jwt(text)
    try:
        doc = loads_untrusted(vp) if isinstance(vp, str) else dict(vp)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise _malformed("not a VerifiablePresentation JSON object or JWT")
    _check_vp(doc, None)
    holder, proof = _holder(doc.get("holder"), "`holder`"), doc.get("proof")
    if not isinstance(proof, dict):
        raise _malformed("it needs exactly one `proof` object", holder)
    text = vp if isinstance(vp, str) else json.dumps(doc)
    return ReadPresentation(
        "ldp",
        text,
        holder,
        _did_of(proof.get("verificationMethod")),
        proof.get("proofPurpose"),
        proof.get("challenge", _MISSING),
        proof.get("domain", _MISSING),
        _credentials(doc, holder),
    )


def _read_jwt(token: str) -> ReadPresentation:
    try:
        header, payload = (loads_untrusted(b64url_decode(part)) for part in token.split(".")[:2])
    except ValueError:
        raise _malformed("the JWT header or payload is not base64url JSON") from None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise _malformed("the JWT header and payload must be JSON objects")
    holder = _holder(payload.get("iss"), "JWT `iss`")
    vp = payload.get("vp")
    if not isinstance(vp, dict):
        raise _malformed("the JWT has no `vp` claim: it is not a JWT VP", holder)
    _check_vp(vp, holder)
    if "holder" in vp and vp["holder"] != holder:
        raise InvalidPresentation(
            f"presentation by {holder} names another holder inside (vp.holder): it was not made by"
            " the holder",
            reason="wrong_holder",
        )
    return ReadPresentation(
        "jwt",
        token,
        holder,
        _did_of(header.get("kid")),
        "authentication",  # a JWT VP has no purpose field: didkit is asked for authentication
        payload.get("nonce", _MISSING),
        payload.get("aud", _MISSING),
        _credentials(vp, holder),
        _epoch(payload.get("nbf", payload.get("iat")), holder, "nbf"),
        _epoch(payload.get("exp"), holder, "exp"),
    )


def check_binding(read: ReadPresentation, challenge: str, domain: str) -> None:
    """InvalidPresentation unless it answers `challenge`, is for `domain`, for authentication, and is
    signed by the holder's own key."""
    who = f"presentation by {read.holder}"
    at_challenge, at_domain, at_key = read.where
    if read.challenge is _MISSING:
        raise InvalidPresentation(
            f"{who} has no challenge ({at_challenge}): present again with the challenge the verifier gave",
            reason="no_challenge",
        )
    if read.challenge != challenge:
        raise InvalidPresentation(
            f"{who} answers another challenge ({at_challenge}): it is stale or replayed; ask for a fresh"
            " challenge and present again",
            reason="wrong_challenge",
        )
    if read.domain is _MISSING:
        raise InvalidPresentation(
            f"{who} has no domain ({at_domain}): present again for {domain}", reason="no_domain"
        )
    if read.domain != domain:
        raise InvalidPresentation(
            f"{who} is for domain {str(read.domain)[:80]!r}, not {domain} ({at_domain}): it was made for"
            " another verifier",
            reason="wrong_domain",
        )
    if read.purpose != "authentication":
        raise InvalidPresentation(f"{who}: proof.proofPurpose must be authentication", reason="bad_proof")
    if read.signer != read.holder:
        raise InvalidPresentation(
            f"{who} is signed by {read.signer or 'an unknown key'} ({at_key}), not by the holder",
            reason="wrong_holder",
        )


def check_dates(read: ReadPresentation, now: datetime, skew: timedelta) -> None:
    """InvalidPresentation(not_yet_valid | expired) unless nbf ≤ now + skew and now - skew < exp (a JWT VP's
    own validity window; an LD VP has none)."""
    who = f"presentation by {read.holder}"
    if read.not_before is not None and read.not_before > now + skew:
        raise InvalidPresentation(
            f"{who} is not valid yet: nbf {iso(read.not_before)} is in the future (now {iso(now)}, skew"
            f" {skew.total_seconds():.0f}s): check the clocks",
            reason="not_yet_valid",
        )
    if read.expires is not None and read.expires <= now - skew:
        raise InvalidPresentation(
            f"{who} expired at {iso(read.expires)} (exp): ask for a fresh challenge and present again",
            reason="expired",
        )


def _check_vp(doc: Mapping[str, Any], holder: str | None) -> None:
    types = doc.get("type")
    types = [types] if isinstance(types, str) else types
    if not isinstance(types, list) or "VerifiablePresentation" not in types:
        raise _malformed("not a VerifiablePresentation", holder)


def _credentials(doc: Mapping[str, Any], holder: str) -> tuple[str | dict[str, Any], ...]:
    raw = doc.get("verifiableCredential", [])
    items = raw if isinstance(raw, list) else [raw]
    if not all(isinstance(c, str | dict) for c in items):
        raise _malformed("bad verifiableCredential", holder)
    return tuple(items)


def _holder(value: Any, field: str) -> str:
    # A DID or nothing: the holder is quoted in every error message, which must stay one clean line.
    try:
        parse_did(value)
    except DidError:
        raise _malformed(f"no holder DID ({field})") from None
    holder: str = value
    return holder


def _did_of(url: Any) -> str:
    try:
        did, _ = split_did_url(str(url or ""))
    except DidError:
        return ""
    return did


def _epoch(value: Any, holder: str, claim: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _malformed(f"JWT claim `{claim}` must be a number of seconds since 1970", holder)
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise _malformed(f"JWT claim `{claim}` {value!r} is out of range", holder) from None


def _malformed(what: str, holder: str | None = None) -> InvalidPresentation:
    where = f"presentation by {holder}" if holder else "presentation"
    return InvalidPresentation(f"{where} is malformed: {what}", reason="malformed")
