"""Presentations and DID-auth: a holder proves control of its DID to one verifier, for one challenge.

The verifier makes a fresh challenge (`new_challenge`), the holder answers with `present(...)`, a VP
signed with Ed25519Signature2020 for proof purpose `authentication` and bound to that challenge and the
verifier's domain (Sova uses the verifier's DID), and the verifier calls `verify_presentation`, which
always demands the expected challenge and domain and verifies every credential inside (didkit does
neither by itself). Each credential must be about the holder.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from identity import didkit_bridge
from identity.credential import Credential, VerifiedCredential, parse_credential
from identity.dids import split_did_url
from identity.errors import DidError, InvalidCredential, InvalidPresentation
from identity.keys import IdentityKey
from identity.untrusted_json import loads_untrusted
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


async def present(
    holder: IdentityKey,
    credentials: Sequence[Credential | str | Mapping[str, Any]],
    challenge: str,
    domain: str,
) -> dict[str, Any]:
    """A VP by `holder` with `credentials`, bound to the verifier's `challenge` and `domain`."""
    if not challenge or not domain:
        raise InvalidPresentation(
            "a presentation needs the verifier's challenge and domain: ask the verifier for them",
            reason="no_challenge" if not challenge else "no_domain",
        )
    embedded = [parse_credential(c).document for c in credentials]
    vp: dict[str, Any] = {
        "@context": list(BASE_CONTEXTS),
        "type": ["VerifiablePresentation"],
        "holder": holder.did,
        "verifiableCredential": embedded,
    }
    options = {
        "proofPurpose": "authentication",
        "verificationMethod": holder.verification_method,
        "challenge": challenge,
        "domain": domain,
        "type": "Ed25519Signature2020",
    }
    jwk = holder._private_jwk()
    signed = await didkit_bridge.issue_presentation(json.dumps(vp), json.dumps(options), jwk)
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
    """Verify a VP for this verifier's challenge and domain, and every credential in it.

    Raises InvalidPresentation with a `reason` code; for a bad credential inside, reason is
    invalid_credential and `credential_error` holds the credential's InvalidCredential.
    """
    if not expected_challenge or not expected_domain:
        raise ValueError("verify_presentation needs the expected challenge and domain (never empty)")
    doc = _parse(vp)
    holder, proof = doc["holder"], doc["proof"]
    _check_binding(proof, holder, expected_challenge, expected_domain)
    options = {"proofPurpose": "authentication", "challenge": expected_challenge, "domain": expected_domain}
    text = vp if isinstance(vp, str) else json.dumps(doc)
    # The presentation's proof and each credential are checked concurrently (didkit has its own threads).
    check = didkit_bridge.ProofCheck(text, json.dumps(options), presentation=True)
    raw = doc.get("verifiableCredential", [])
    items = raw if isinstance(raw, list) else [raw]
    moment = now or datetime.now(UTC)
    credentials = asyncio.gather(
        *(
            verify_credential(
                c if isinstance(c, str) else dict(c),
                trusted_issuers=trusted_issuers,
                revocation=revocation,
                now=moment,
                max_clock_skew=max_clock_skew,
            )
            for c in items
        ),
        return_exceptions=True,
    )
    errors = await check.errors()
    results = await credentials
    if errors:
        raise InvalidPresentation(
            f"presentation by {holder} does not verify: {'; '.join(errors)[:200]}: it was altered or not"
            " signed by the holder",
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


def _parse(vp: str | Mapping[str, Any]) -> dict[str, Any]:
    try:
        doc = loads_untrusted(vp) if isinstance(vp, str) else dict(vp)
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or "VerifiablePresentation" not in (doc.get("type") or []):
        raise InvalidPresentation(
            "presentation is malformed: not a VerifiablePresentation JSON object", reason="malformed"
        )
    if not isinstance(doc.get("holder"), str):
        raise InvalidPresentation("presentation is malformed: no `holder` DID", reason="malformed")
    if not isinstance(doc.get("proof"), dict):
        raise InvalidPresentation(
            f"presentation by {doc['holder']} is malformed: it needs exactly one `proof` object",
            reason="malformed",
        )
    raw = doc.get("verifiableCredential", [])
    if not all(isinstance(c, str | dict) for c in raw if isinstance(raw, list)):
        raise InvalidPresentation(
            f"presentation by {doc['holder']} is malformed: bad verifiableCredential", reason="malformed"
        )
    return doc


def _check_binding(proof: Mapping[str, Any], holder: str, challenge: str, domain: str) -> None:
    who = f"presentation by {holder}"
    if "challenge" not in proof:
        raise InvalidPresentation(
            f"{who} has no challenge (proof.challenge): present again with the challenge the verifier gave",
            reason="no_challenge",
        )
    if proof["challenge"] != challenge:
        raise InvalidPresentation(
            f"{who} answers another challenge (proof.challenge): it is stale or replayed; ask for a fresh"
            " challenge and present again",
            reason="wrong_challenge",
        )
    if "domain" not in proof:
        raise InvalidPresentation(
            f"{who} has no domain (proof.domain): present again for {domain}", reason="no_domain"
        )
    if proof["domain"] != domain:
        raise InvalidPresentation(
            f"{who} is for domain {str(proof['domain'])[:80]!r}, not {domain} (proof.domain): it was made for"
            " another verifier",
            reason="wrong_domain",
        )
    if proof.get("proofPurpose") != "authentication":
        raise InvalidPresentation(f"{who}: proof.proofPurpose must be authentication", reason="bad_proof")
    try:
        vm_did, _ = split_did_url(str(proof.get("verificationMethod", "")))
    except DidError:
        vm_did = ""
    if vm_did != holder:
        raise InvalidPresentation(
            f"{who} is signed by {vm_did or 'an unknown key'} (proof.verificationMethod), not by the holder",
            reason="wrong_holder",
        )
