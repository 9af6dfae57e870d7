"""Presentations and DID-auth: bound to the verifier's challenge and domain, every credential checked."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import didkit
import pytest

from identity import (
    Credential,
    IdentityKey,
    InvalidPresentation,
    issue_credential,
    new_challenge,
    present,
    verify_presentation,
)

DOMAIN = "did:key:z6MkverifierVerifierVerifierVerifierVerifier"


@pytest.fixture(scope="module")
def issuer() -> IdentityKey:
    return IdentityKey.generate()


@pytest.fixture(scope="module")
def holder() -> IdentityKey:
    return IdentityKey.generate()


async def supplier(issuer: IdentityKey, holder: IdentityKey, fmt: Any = "ldp", **kw: Any) -> Credential:
    return await issue_credential(
        issuer, holder.did, "VerifiedSupplier", {"service": "widgets"}, format=fmt, **kw
    )


async def verify(vp: Any, challenge: str, issuer: IdentityKey, domain: str = DOMAIN, **kw: Any) -> Any:
    return await verify_presentation(vp, challenge, domain, {issuer.did}, kw.pop("revocation", None), **kw)


async def test_challenges_are_fresh_and_unguessable() -> None:
    challenges = {new_challenge() for _ in range(100)}
    assert len(challenges) == 100
    assert all(len(c) >= 43 for c in challenges)


@pytest.mark.parametrize("fmt", ["ldp", "jwt"])
async def test_presentation_verifies_for_the_expected_challenge_and_domain(
    issuer: IdentityKey, holder: IdentityKey, fmt: str
) -> None:
    vc = await supplier(issuer, holder, fmt)
    challenge = new_challenge()
    vp = await present(holder, [vc], challenge, DOMAIN)
    assert vp["proof"]["challenge"] == challenge
    assert vp["proof"]["domain"] == DOMAIN
    result = await verify(json.dumps(vp), challenge, issuer, revocation=lambda i, c: False)
    assert result.holder_did == holder.did
    assert [c.id for c in result.credentials] == [vc.id]
    assert [c.id for c in result.of_type("VerifiedSupplier")] == [vc.id]


async def test_presentation_without_credentials_is_plain_did_auth(
    issuer: IdentityKey, holder: IdentityKey
) -> None:
    challenge = new_challenge()
    result = await verify(await present(holder, [], challenge, DOMAIN), challenge, issuer)
    assert result.holder_did == holder.did
    assert result.credentials == ()


async def test_wrong_challenge_is_refused(issuer: IdentityKey, holder: IdentityKey) -> None:
    vp = await present(holder, [await supplier(issuer, holder)], new_challenge(), DOMAIN)
    with pytest.raises(InvalidPresentation) as info:
        await verify(vp, new_challenge(), issuer)
    assert info.value.reason == "wrong_challenge"
    assert "ask for a fresh challenge" in str(info.value)


async def test_wrong_domain_is_refused(issuer: IdentityKey, holder: IdentityKey) -> None:
    challenge = new_challenge()
    vp = await present(holder, [], challenge, "did:key:z6MkSomeoneElse")
    with pytest.raises(InvalidPresentation) as info:
        await verify(vp, challenge, issuer)
    assert info.value.reason == "wrong_domain"
    assert "made for another verifier" in str(info.value)


async def test_presentation_without_a_challenge_is_refused(issuer: IdentityKey, holder: IdentityKey) -> None:
    # Built with didkit directly: Sova's present() never makes one without a challenge.
    vp = {
        "@context": ["https://www.w3.org/2018/credentials/v1"],
        "type": ["VerifiablePresentation"],
        "holder": holder.did,
    }
    options = {
        "proofPurpose": "authentication",
        "verificationMethod": holder.verification_method,
        "domain": DOMAIN,
    }
    signed = await didkit.issue_presentation(json.dumps(vp), json.dumps(options), holder._private_jwk())
    with pytest.raises(InvalidPresentation) as info:
        await verify(signed, new_challenge(), issuer)
    assert info.value.reason == "no_challenge"


async def test_verifier_must_give_challenge_and_domain(issuer: IdentityKey, holder: IdentityKey) -> None:
    vp = await present(holder, [], "c", DOMAIN)
    with pytest.raises(ValueError, match="expected challenge and domain"):
        await verify(vp, "", issuer)


async def test_tampered_credential_inside_a_freshly_signed_presentation_is_refused(
    issuer: IdentityKey, holder: IdentityKey
) -> None:
    doc = json.loads((await supplier(issuer, holder)).text)
    doc["credentialSubject"]["service"] = "everything"
    challenge = new_challenge()
    vp = await present(holder, [doc], challenge, DOMAIN)  # the holder's own proof is valid
    with pytest.raises(InvalidPresentation) as info:
        await verify(vp, challenge, issuer)
    assert info.value.reason == "invalid_credential"
    assert info.value.credential_error is not None
    assert info.value.credential_error.reason == "bad_proof"
    assert str(info.value).startswith(f"presentation by {holder.did} holds an invalid credential: credential")


async def test_presentation_altered_after_signing_is_refused(
    issuer: IdentityKey, holder: IdentityKey
) -> None:
    challenge = new_challenge()
    vp = await present(holder, [await supplier(issuer, holder)], challenge, DOMAIN)
    vp["verifiableCredential"] = []
    with pytest.raises(InvalidPresentation) as info:
        await verify(vp, challenge, issuer)
    assert info.value.reason == "bad_proof"


async def test_expired_credential_inside_is_refused(issuer: IdentityKey, holder: IdentityKey) -> None:
    now = datetime.now(UTC)
    vc = await supplier(issuer, holder, issued=now - timedelta(days=3), expires=now - timedelta(days=1))
    challenge = new_challenge()
    with pytest.raises(InvalidPresentation) as info:
        await verify(await present(holder, [vc], challenge, DOMAIN), challenge, issuer)
    assert info.value.credential_error is not None
    assert info.value.credential_error.reason == "expired"


async def test_untrusted_and_revoked_credentials_inside_are_refused(
    issuer: IdentityKey, holder: IdentityKey
) -> None:
    challenge = new_challenge()
    stranger_vc = await supplier(IdentityKey.generate(), holder)
    with pytest.raises(InvalidPresentation) as info:
        await verify(await present(holder, [stranger_vc], challenge, DOMAIN), challenge, issuer)
    assert info.value.credential_error is not None
    assert info.value.credential_error.reason == "untrusted_issuer"
    vc = await supplier(issuer, holder)
    with pytest.raises(InvalidPresentation) as info:
        await verify(
            await present(holder, [vc], challenge, DOMAIN), challenge, issuer, revocation=lambda i, c: True
        )
    assert info.value.credential_error is not None
    assert info.value.credential_error.reason == "revoked"


async def test_credential_about_someone_else_is_refused(issuer: IdentityKey, holder: IdentityKey) -> None:
    other = IdentityKey.generate()
    vc = await supplier(issuer, other)
    challenge = new_challenge()
    with pytest.raises(InvalidPresentation) as info:
        await verify(await present(holder, [vc], challenge, DOMAIN), challenge, issuer)
    assert info.value.reason == "subject_not_holder"


async def test_presentation_signed_by_another_key_than_the_holder_is_refused(
    issuer: IdentityKey, holder: IdentityKey
) -> None:
    challenge = new_challenge()
    vp = await present(holder, [], challenge, DOMAIN)
    vp["holder"] = issuer.did
    with pytest.raises(InvalidPresentation) as info:
        await verify(vp, challenge, issuer)
    assert info.value.reason == "wrong_holder"


@pytest.mark.parametrize(
    "vp", ["not json", "{}", '{"type": ["VerifiablePresentation"], "holder": "did:x:y"}']
)
async def test_malformed_presentation_is_refused(issuer: IdentityKey, vp: str) -> None:
    with pytest.raises(InvalidPresentation) as info:
        await verify(vp, "c", issuer)
    assert info.value.reason == "malformed"
