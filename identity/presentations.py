"""Presentations and DID-auth: a holder proves control of its DID to one verifier, for one challenge.

The verifier makes a fresh challenge (`new_challenge`), the holder answers with `present(...)`, a VP
for proof purpose `authentication` bound to that challenge and the verifier's domain (Sova uses the
verifier's DID): a JWT VP by default (nonce, aud), or an Ed25519Signature2020 LD-proof VP. The verifier
calls `verify_presentation`, which takes either form, always demands the expected challenge and domain
and verifies every credential inside (didkit does neither by itself). Each credential must be about the
holder. Reading the two forms and the checks made before didkit: identity.presentation_forms.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, overload

from identity import didkit_bridge
from identity.credential import Credential, Format, VerifiedCredential, parse_credential
from identity.errors import InvalidCredential, InvalidPresentation
from identity.jwt_times import integer_times
from identity.keys import IdentityKey
from identity.presentation_forms import check_binding, check_dates, read_presentation
from identity.verification import DEFAULT_CLOCK_SKEW, RevocationChecker, verify_credential
from identity.vocab import BASE_CONTEXTS


@dataclass(frozen=True)
class VerifiedPresentation:
    """A presentation whose proof, challenge, domain and credentials all verified."""

    holder_did: str
    credentials: tuple[VerifiedCredential, ...]
    challenge: str
    domain: str

    def of_type(self, type_name: str) -> list[VerifiedCredential]:
        """The presented credentials of one type."""
        return [c for c in self.credentials if type_name in c.types]


def new_challenge() -> str:
    """A fresh, unguessable challenge (32 random bytes, base64url) for one DID-auth exchange."""
    return secrets.token_urlsafe(32)


@overload
async def present(
    holder: IdentityKey,
    credentials: Sequence[Credential | str | Mapping[str, Any]],
    challenge: str,
    domain: str,
    *,
    format: Literal["jwt"] = "jwt",
) -> str: ...


@overload
async def present(
    holder: IdentityKey,
    credentials: Sequence[Credential | str | Mapping[str, Any]],
    challenge: str,
    domain: str,
    *,
    format: Literal["ldp"],
) -> dict[str, Any]: ...


async def present(
    holder: IdentityKey,
    credentials: Sequence[Credential | str | Mapping[str, Any]],
    challenge: str,
    domain: str,
    *,
    format: Format = "jwt",
) -> str | dict[str, Any]:
    """A VP by `holder` with `credentials`, bound to the verifier's `challenge` and `domain`.

    `format` "jwt" (the default) gives a compact JWT VP (nonce = challenge, aud = domain, signed EdDSA):
    ~0.25 ms to sign and to verify. "ldp" gives an Ed25519Signature2020 LD-proof VP (a dict), ~15x
    dearer on both sides (JSON-LD canonicalization). Credentials keep their own format inside either.
    """
    if not challenge or not domain:
        raise InvalidPresentation(
            "a presentation needs the verifier's challenge and domain: ask the verifier for them",
            reason="no_challenge" if not challenge else "no_domain",
        )
    if format not in ("jwt", "ldp"):
        raise ValueError(f"presentation format must be jwt or ldp, not {format!r}")
    embedded = [parse_credential(c).document for c in credentials]
    vp: dict[str, Any] = {
        "@context": list(BASE_CONTEXTS),
        "type": ["VerifiablePresentation"],
        "holder": holder.did,
        "verifiableCredential": embedded,
    }
    options: dict[str, str] = {
        "proofPurpose": "authentication",
        "verificationMethod": holder.verification_method,
        "challenge": challenge,
        "domain": domain,
    }
    if format == "jwt":
        options["proofFormat"] = "jwt"
    else:
        options["type"] = "Ed25519Signature2020"
    jwk = holder._private_jwk()
    signed = await didkit_bridge.issue_presentation(json.dumps(vp), json.dumps(options), jwk)
    if format == "jwt":
        return integer_times(signed, holder)
    result: dict[str, Any] = json.loads(signed)
    return result


async def verify_presentation(
    vp: str | Mapping[str, Any],
    expected_challenge: str,
    expected_domain: str,
    trusted_issuers: Collection[str] | None,
    revocation: RevocationChecker | None,
    *,
    now: datetime | None = None,
    max_clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
) -> VerifiedPresentation:
    """Verify a VP (an LD-proof VP as JSON text or dict, or a compact JWT VP) for this verifier's
    challenge and domain, and every credential in it.

    Raises InvalidPresentation with a `reason` code; for a bad credential inside, reason is
    invalid_credential and `credential_error` holds the credential's InvalidCredential.
    """
    if not expected_challenge or not expected_domain:
        raise ValueError("verify_presentation needs the expected challenge and domain (never empty)")
    read = read_presentation(vp)
    holder = read.holder
    check_binding(read, expected_challenge, expected_domain)
    moment = now or datetime.now(UTC)
    check_dates(read, moment, max_clock_skew)
    options = {"proofPurpose": "authentication", "challenge": expected_challenge, "domain": expected_domain}
    if read.format == "jwt":
        options["proofFormat"] = "jwt"
    # The presentation's proof and each credential are checked concurrently (didkit has its own threads).
    check = didkit_bridge.ProofCheck(read.text, json.dumps(options), presentation=True)
    credentials = asyncio.gather(
        *(
            verify_credential(
                c if isinstance(c, str) else dict(c),
                trusted_issuers=trusted_issuers,
                revocation=revocation,
                now=moment,
                max_clock_skew=max_clock_skew,
            )
            for c in read.credentials
        ),
        return_exceptions=True,
    )
    errors = await check.errors()
    results = await credentials
    if errors:
        if read.format == "jwt":
            # didkit refuses a JWT VP outside [nbf, exp) with no skew and a vague message: say why.
            check_dates(read, moment, timedelta(0))
        said = " ".join("; ".join(errors).split())[:200]  # didkit's words, on one line
        raise InvalidPresentation(
            f"presentation by {holder} does not verify: {said}: it was altered or not signed by the holder",
            reason="bad_proof",
        )
    verified: list[VerifiedCredential] = []
    for result in results:
        if isinstance(result, InvalidCredential):
            raise InvalidPresentation(
                f"presentation by {holder} holds an invalid credential: {result}",
                reason="invalid_credential",
                credential_error=result,
            ) from result
        if isinstance(result, BaseException):
            raise result
        verified.append(result)
    for vc in verified:
        if vc.subject != holder:
            raise InvalidPresentation(
                f"presentation by {holder} holds credential {vc.id} about {vc.subject}: a holder may present"
                " only credentials about itself",
                reason="subject_not_holder",
            )
    return VerifiedPresentation(holder, tuple(verified), expected_challenge, expected_domain)
