"""Presentations and DID-auth: bound to the verifier's challenge and domain, every credential checked.

Both forms: a JWT VP (Sova's default) and an LD-proof VP. The JWT tests also sign tokens by hand with the
holder's key, to show each binding is enforced whatever didkit does or does not check itself.
"""

from __future__ import annotations

import base64
import json
import time
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

VP_FORMATS = ["jwt", "ldp"]
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


def claims(token: str) -> dict[str, Any]:
    """The (unverified) payload of a compact JWT."""
    part = token.split(".")[1]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return data


def b64(data: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def hand_signed(signer: IdentityKey, payload: dict[str, Any], kid: str | None = None) -> str:
    """A JWT VP signed EdDSA by `signer`, with exactly the claims given."""
    signing_input = f"{b64({'alg': 'EdDSA', 'kid': kid or signer.verification_method})}.{b64(payload)}"
    signature = base64.urlsafe_b64encode(signer.sign(signing_input.encode())).rstrip(b"=").decode()
    return f"{signing_input}.{signature}"


def vp_claims(holder: IdentityKey, challenge: str, **extra: Any) -> dict[str, Any]:
    vp = {"@context": ["https://www.w3.org/2018/credentials/v1"], "type": ["VerifiablePresentation"]}
    return {"iss": holder.did, "aud": DOMAIN, "nonce": challenge, "vp": vp, **extra}


async def verify(vp: Any, challenge: str, issuer: IdentityKey, domain: str = DOMAIN, **kw: Any) -> Any:
    return await verify_presentation(vp, challenge, domain, {issuer.did}, kw.pop("revocation", None), **kw)


async def test_challenges_are_fresh_and_unguessable() -> None:
    challenges = {new_challenge() for _ in range(100)}
    assert len(challenges) == 100
    assert all(len(c) >= 43 for c in challenges)


@pytest.mark.parametrize("vp_fmt", VP_FORMATS)
@pytest.mark.parametrize("fmt", ["ldp", "jwt"])
async def test_presentation_verifies_for_the_expected_challenge_and_domain(
    issuer: IdentityKey, holder: IdentityKey, fmt: str, vp_fmt: Any
) -> None:
    vc = await supplier(issuer, holder, fmt)
    challenge = new_challenge()
    vp = await present(holder, [vc], challenge, DOMAIN, format=vp_fmt)
    if vp_fmt == "ldp":
        assert vp["proof"]["challenge"] == challenge
        assert vp["proof"]["domain"] == DOMAIN
        sent = json.dumps(vp)
    else:
        assert isinstance(vp, str)
        assert {k: v for k, v in claims(vp).items() if k != "vp"} == {
            "iss": holder.did,
            "aud": DOMAIN,
            "nonce": challenge,
        }
        sent = vp
    result = await verify(sent, challenge, issuer, revocation=lambda i, c: False)
    assert result.holder_did == holder.did
    assert [c.id for c in result.credentials] == [vc.id]
    assert [c.id for c in result.of_type("VerifiedSupplier")] == [vc.id]


async def test_did_auth_presentations_are_jwt_by_default(holder: IdentityKey) -> None:
    vp = await present(holder, [], "c", DOMAIN)
    assert isinstance(vp, str)
    assert vp.count(".") == 2
    assert claims(vp)["nonce"] == "c"


@pytest.mark.parametrize("vp_fmt", VP_FORMATS)
async def test_presentation_without_credentials_is_plain_did_auth(
    issuer: IdentityKey, holder: IdentityKey, vp_fmt: Any
) -> None:
    challenge = new_challenge()
    result = await verify(await present(holder, [], challenge, DOMAIN, format=vp_fmt), challenge, issuer)
    assert result.holder_did == holder.did
    assert result.credentials == ()


@pytest.mark.parametrize("vp_fmt", VP_FORMATS)
async def test_wrong_challenge_is_refused(issuer: IdentityKey, holder: IdentityKey, vp_fmt: Any) -> None:
    vp = await present(holder, [await supplier(issuer, holder)], new_challenge(), DOMAIN, format=vp_fmt)
    with pytest.raises(InvalidPresentation) as info:
        await verify(vp, new_challenge(), issuer)
    assert info.value.reason == "wrong_challenge"
    assert "ask for a fresh challenge" in str(info.value)


@pytest.mark.parametrize("vp_fmt", VP_FORMATS)
async def test_wrong_domain_is_refused(issuer: IdentityKey, holder: IdentityKey, vp_fmt: Any) -> None:
    challenge = new_challenge()
    vp = await present(holder, [], challenge, "did:key:z6MkSomeoneElse", format=vp_fmt)
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
    jwt = await didkit.issue_presentation(
        json.dumps(vp), json.dumps({**options, "proofFormat": "jwt"}), holder._private_jwk()
    )
    assert "nonce" not in claims(jwt)
    with pytest.raises(InvalidPresentation) as info:
        await verify(jwt, new_challenge(), issuer)
    assert info.value.reason == "no_challenge"
    assert "(JWT nonce)" in str(info.value)


async def test_verifier_must_give_challenge_and_domain(issuer: IdentityKey, holder: IdentityKey) -> None:
    vp = await present(holder, [], "c", DOMAIN)
    with pytest.raises(ValueError, match="expected challenge and domain"):
        await verify(vp, "", issuer)


@pytest.mark.parametrize("vp_fmt", VP_FORMATS)
async def test_tampered_credential_inside_a_freshly_signed_presentation_is_refused(
    issuer: IdentityKey, holder: IdentityKey, vp_fmt: Any
) -> None:
    doc = json.loads((await supplier(issuer, holder)).text)
    doc["credentialSubject"]["service"] = "everything"
    challenge = new_challenge()
    vp = await present(holder, [doc], challenge, DOMAIN, format=vp_fmt)  # the holder's own proof is valid
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
    vp = await present(holder, [await supplier(issuer, holder)], challenge, DOMAIN, format="ldp")
    vp["verifiableCredential"] = []
    with pytest.raises(InvalidPresentation) as info:
        await verify(vp, challenge, issuer)
    assert info.value.reason == "bad_proof"


async def test_jwt_presentation_with_a_tampered_payload_is_refused(
    issuer: IdentityKey, holder: IdentityKey
) -> None:
    challenge = new_challenge()
    token = await present(holder, [await supplier(issuer, holder)], challenge, DOMAIN)
    header, payload, signature = token.split(".")
    edited = claims(token)
    edited["vp"]["verifiableCredential"] = []
    with pytest.raises(InvalidPresentation) as info:
        await verify(f"{header}.{b64(edited)}.{signature}", challenge, issuer)
    assert info.value.reason == "bad_proof"
    assert "altered or not signed by the holder" in str(info.value)
    with pytest.raises(InvalidPresentation) as info:
        await verify(f"{header}.{payload}.", challenge, issuer)  # signature stripped
    assert info.value.reason == "bad_proof"


async def test_hand_signed_jwt_presentation_with_the_right_claims_verifies(holder: IdentityKey) -> None:
    # The baseline of the hand-signed refusals below: each differs from this token in one claim.
    challenge = new_challenge()
    result = await verify(hand_signed(holder, vp_claims(holder, challenge)), challenge, holder)
    assert result.holder_did == holder.did


async def test_jwt_presentation_signed_by_another_key_is_refused(
    issuer: IdentityKey, holder: IdentityKey
) -> None:
    challenge = new_challenge()
    other = IdentityKey.generate()
    # Another key claims to be the holder's key: the signature does not match.
    forged = hand_signed(other, vp_claims(holder, challenge), kid=holder.verification_method)
    with pytest.raises(InvalidPresentation) as info:
        await verify(forged, challenge, issuer)
    assert info.value.reason == "bad_proof"
    # Another key, honestly named, presenting as the holder.
    with pytest.raises(InvalidPresentation) as info:
        await verify(hand_signed(other, vp_claims(holder, challenge)), challenge, issuer)
    assert info.value.reason == "wrong_holder"
    assert "(JWT header kid)" in str(info.value)


async def test_jwt_presentation_whose_iss_is_not_its_signer_is_refused(
    issuer: IdentityKey, holder: IdentityKey
) -> None:
    challenge = new_challenge()
    token = hand_signed(holder, vp_claims(holder, challenge, iss=issuer.did))
    with pytest.raises(InvalidPresentation) as info:
        await verify(token, challenge, issuer)
    assert info.value.reason == "wrong_holder"


async def test_jwt_presentation_naming_another_holder_inside_is_refused(
    issuer: IdentityKey, holder: IdentityKey
) -> None:
    # didkit accepts this token (its vp.holder differs from iss): the check is ours.
    challenge = new_challenge()
    payload = vp_claims(holder, challenge)
    payload["vp"]["holder"] = issuer.did
    with pytest.raises(InvalidPresentation) as info:
        await verify(hand_signed(holder, payload), challenge, issuer)
    assert info.value.reason == "wrong_holder"


async def test_jwt_presentation_without_iss_is_refused(issuer: IdentityKey, holder: IdentityKey) -> None:
    # didkit accepts a token with no iss: the check is ours.
    challenge = new_challenge()
    payload = vp_claims(holder, challenge)
    del payload["iss"]
    with pytest.raises(InvalidPresentation) as info:
        await verify(hand_signed(holder, payload), challenge, issuer)
    assert info.value.reason == "malformed"


async def test_jwt_presentation_for_several_audiences_is_refused(
    issuer: IdentityKey, holder: IdentityKey
) -> None:
    # didkit accepts an aud list that contains the domain: we want this verifier alone.
    challenge = new_challenge()
    token = hand_signed(holder, vp_claims(holder, challenge, aud=[DOMAIN, "did:key:z6MkSomeoneElse"]))
    with pytest.raises(InvalidPresentation) as info:
        await verify(token, challenge, issuer)
    assert info.value.reason == "wrong_domain"


@pytest.mark.parametrize(
    ("field", "offset", "reason"), [("exp", -3600, "expired"), ("nbf", 3600, "not_yet_valid")]
)
async def test_jwt_presentation_outside_its_validity_is_refused(
    issuer: IdentityKey, holder: IdentityKey, field: str, offset: int, reason: str
) -> None:
    challenge = new_challenge()
    token = hand_signed(holder, vp_claims(holder, challenge, **{field: int(time.time()) + offset}))
    with pytest.raises(InvalidPresentation) as info:
        await verify(token, challenge, issuer)
    assert info.value.reason == reason
    assert f"({field})" in str(info.value) or f"{field} " in str(info.value)


async def test_jwt_presentation_just_expired_is_refused_even_within_the_skew(
    issuer: IdentityKey, holder: IdentityKey
) -> None:
    # didkit refuses any exp in the past; we say why instead of "bad proof".
    challenge = new_challenge()
    token = hand_signed(holder, vp_claims(holder, challenge, exp=int(time.time()) - 5))
    with pytest.raises(InvalidPresentation) as info:
        await verify(token, challenge, issuer)
    assert info.value.reason == "expired"
    live = hand_signed(holder, vp_claims(holder, challenge, exp=int(time.time()) + 60))
    assert (await verify(live, challenge, issuer)).holder_did == holder.did


@pytest.mark.parametrize("vp_fmt", VP_FORMATS)
async def test_expired_credential_inside_is_refused(
    issuer: IdentityKey, holder: IdentityKey, vp_fmt: Any
) -> None:
    now = datetime.now(UTC)
    vc = await supplier(issuer, holder, issued=now - timedelta(days=3), expires=now - timedelta(days=1))
    challenge = new_challenge()
    with pytest.raises(InvalidPresentation) as info:
        await verify(await present(holder, [vc], challenge, DOMAIN, format=vp_fmt), challenge, issuer)
    assert info.value.credential_error is not None
    assert info.value.credential_error.reason == "expired"


@pytest.mark.parametrize("vp_fmt", VP_FORMATS)
async def test_untrusted_and_revoked_credentials_inside_are_refused(
    issuer: IdentityKey, holder: IdentityKey, vp_fmt: Any
) -> None:
    challenge = new_challenge()
    stranger_vc = await supplier(IdentityKey.generate(), holder)
    with pytest.raises(InvalidPresentation) as info:
        await verify(
            await present(holder, [stranger_vc], challenge, DOMAIN, format=vp_fmt), challenge, issuer
        )
    assert info.value.credential_error is not None
    assert info.value.credential_error.reason == "untrusted_issuer"
    vc = await supplier(issuer, holder)
    with pytest.raises(InvalidPresentation) as info:
        await verify(
            await present(holder, [vc], challenge, DOMAIN, format=vp_fmt),
            challenge,
            issuer,
            revocation=lambda i, c: True,
        )
    assert info.value.credential_error is not None
    assert info.value.credential_error.reason == "revoked"


@pytest.mark.parametrize("vp_fmt", VP_FORMATS)
async def test_credential_about_someone_else_is_refused(
    issuer: IdentityKey, holder: IdentityKey, vp_fmt: Any
) -> None:
    other = IdentityKey.generate()
    vc = await supplier(issuer, other)
    challenge = new_challenge()
    with pytest.raises(InvalidPresentation) as info:
        await verify(await present(holder, [vc], challenge, DOMAIN, format=vp_fmt), challenge, issuer)
    assert info.value.reason == "subject_not_holder"


async def test_presentation_signed_by_another_key_than_the_holder_is_refused(
    issuer: IdentityKey, holder: IdentityKey
) -> None:
    challenge = new_challenge()
    vp = await present(holder, [], challenge, DOMAIN, format="ldp")
    vp["holder"] = issuer.did
    with pytest.raises(InvalidPresentation) as info:
        await verify(vp, challenge, issuer)
    assert info.value.reason == "wrong_holder"


@pytest.mark.parametrize(
    "vp",
    [
        "not json",
        "{}",
        '{"type": ["VerifiablePresentation"], "holder": "did:x:y"}',
        '{"type": ["VerifiablePresentation"], "holder": "did:x:y\\nforged log line", "proof": {}}',
        "eyJub3Q.eyJqc29u.c2ln",
        f"{b64({'alg': 'EdDSA'})}.{b64({'iss': 'did:x:y', 'vp': {'type': ['VerifiableCredential']}})}.c2ln",
    ],
)
async def test_malformed_presentation_is_refused_in_one_line(issuer: IdentityKey, vp: str) -> None:
    with pytest.raises(InvalidPresentation) as info:
        await verify(vp, "c", issuer)
    assert info.value.reason == "malformed"
    assert "\n" not in str(info.value)
