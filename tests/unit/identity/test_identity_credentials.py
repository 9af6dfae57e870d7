"""Credentials: issue and verify in both formats, and every bad input a verifier must refuse."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from Crypto.Hash import keccak

from identity import (
    CREDENTIAL_TYPES,
    IdentityKey,
    InvalidCredential,
    VerifiedCredential,
    credential_id_hash,
    issue_credential,
    parse_credential,
)
from identity.vocab import ED25519_2020_V1
from tests.support.identity import FORMATS, check, reissue_jwt_payload, supplier

NOW = datetime.now(UTC)


@pytest.fixture(autouse=True)
def _fresh_now() -> None:
    """Tests compare NOW-relative dates with the wall clock: keep NOW fresh however slow the suite is."""
    global NOW
    NOW = datetime.now(UTC)


@pytest.mark.parametrize("fmt", FORMATS)
async def test_issued_credential_verifies_with_its_claims(
    issuer: IdentityKey, subject: IdentityKey, fmt: str
) -> None:
    vc = await supplier(issuer, subject, fmt, expires=NOW + timedelta(days=1))
    assert vc.id.startswith("urn:uuid:")
    verified = await check(vc.text, issuer, revocation=lambda i, c: False)
    assert isinstance(verified, VerifiedCredential)
    assert (verified.id, verified.format, verified.type) == (vc.id, fmt, "VerifiedSupplier")
    assert (verified.issuer, verified.subject) == (issuer.did, subject.did)
    assert dict(verified.claims) == {"service": "widgets"}
    assert verified.summary()["expires_at"] == vc.summary()["expires_at"]


async def test_a_jwt_credential_writes_its_times_as_integers_and_still_verifies(
    issuer: IdentityKey, subject: IdentityKey
) -> None:
    vc = await supplier(issuer, subject, "jwt", expires=NOW + timedelta(days=1))
    part = vc.text.split(".")[1]
    text = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode()
    payload = json.loads(text)
    assert type(payload["nbf"]) is int, text[:80]  # didkit alone writes 1796642195.0
    assert type(payload["exp"]) is int
    assert payload["nbf"] == int(vc.issued_at.timestamp())
    verified = await check(vc.text, issuer, revocation=lambda i, c: False)
    assert verified.id == vc.id


async def test_ld_credential_uses_the_2020_suite_and_inline_claims(
    issuer: IdentityKey, subject: IdentityKey
) -> None:
    vc = await supplier(issuer, subject, "ldp")
    assert isinstance(vc.document, dict)
    assert vc.document["proof"]["type"] == "Ed25519Signature2020"
    ctx = vc.document["@context"]
    assert ctx[:2] == ["https://www.w3.org/2018/credentials/v1", ED25519_2020_V1]
    assert set(ctx[2]) == {"VerifiedSupplier", "service", "name"}


async def test_operator_credential_carries_an_agent_did(issuer: IdentityKey, subject: IdentityKey) -> None:
    vc = await issue_credential(issuer, subject.did, "Operator", {"agent": issuer.did, "role": "owner"})
    verified = await check(vc, issuer)
    assert verified.claims["agent"] == issuer.did
    assert set(CREDENTIAL_TYPES) >= {"VerifiedSupplier", "Operator"}


@pytest.mark.parametrize("fmt", FORMATS)
async def test_tampered_credential_is_refused(issuer: IdentityKey, subject: IdentityKey, fmt: str) -> None:
    vc = await supplier(issuer, subject, fmt)
    if fmt == "ldp":
        doc = json.loads(vc.text)
        doc["credentialSubject"]["service"] = "gold bars"
        tampered: str = json.dumps(doc)
    else:
        tampered = reissue_jwt_payload(
            vc.text, lambda d: d["vc"]["credentialSubject"].update(service="gold bars")
        )
    with pytest.raises(InvalidCredential) as info:
        await check(tampered, issuer)
    assert info.value.reason == "bad_proof"
    assert info.value.credential_id == vc.id
    assert f"credential {vc.id} does not verify" in str(info.value)
    assert "\n" not in str(info.value)


async def test_credential_claiming_another_issuer_is_refused(
    issuer: IdentityKey, subject: IdentityKey
) -> None:
    doc = json.loads((await supplier(issuer, subject, "ldp")).text)
    doc["issuer"] = subject.did
    with pytest.raises(InvalidCredential) as info:
        await check(doc, issuer, trusted_issuers={issuer.did, subject.did})
    assert info.value.reason == "bad_proof"


@pytest.mark.parametrize("fmt", FORMATS)
async def test_expired_credential_is_refused(issuer: IdentityKey, subject: IdentityKey, fmt: str) -> None:
    vc = await supplier(
        issuer, subject, fmt, issued=NOW - timedelta(days=10), expires=NOW - timedelta(days=1)
    )
    with pytest.raises(InvalidCredential) as info:
        await check(vc.text, issuer)
    assert info.value.reason == "expired"
    assert f"credential {vc.id} expired at" in str(info.value)
    assert "ask the issuer" in str(info.value)


@pytest.mark.parametrize("fmt", FORMATS)
async def test_not_yet_valid_credential_is_refused(
    issuer: IdentityKey, subject: IdentityKey, fmt: str
) -> None:
    vc = await supplier(issuer, subject, fmt, issued=NOW + timedelta(hours=1))
    with pytest.raises(InvalidCredential) as info:
        await check(vc.text, issuer)
    assert info.value.reason == "not_yet_valid"
    assert "is in the future" in str(info.value)


async def test_clock_skew_is_configurable(issuer: IdentityKey, subject: IdentityKey) -> None:
    vc = await supplier(issuer, subject, "ldp", issued=NOW + timedelta(seconds=30))
    assert (await check(vc, issuer)).id == vc.id  # default skew 60 s
    with pytest.raises(InvalidCredential, match="not valid yet"):
        await check(vc, issuer, max_clock_skew=timedelta(seconds=5))


async def test_expiry_is_checked_against_the_given_time(issuer: IdentityKey, subject: IdentityKey) -> None:
    vc = await supplier(issuer, subject, "ldp", expires=NOW + timedelta(days=1))
    with pytest.raises(InvalidCredential, match="expired"):
        await check(vc, issuer, now=NOW + timedelta(days=2))


@pytest.mark.parametrize("fmt", FORMATS)
async def test_untrusted_issuer_is_refused(issuer: IdentityKey, subject: IdentityKey, fmt: str) -> None:
    stranger = IdentityKey.generate()
    vc = await supplier(stranger, subject, fmt)
    with pytest.raises(InvalidCredential) as info:
        await check(vc.text, issuer)
    assert info.value.reason == "untrusted_issuer"
    assert f"untrusted issuer {stranger.did}" in str(info.value)


async def test_trust_check_can_be_skipped_explicitly(issuer: IdentityKey, subject: IdentityKey) -> None:
    vc = await supplier(IdentityKey.generate(), subject, "jwt")
    assert (await check(vc.text, issuer, trusted_issuers=None)).id == vc.id


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_revoked_credential_is_refused(
    issuer: IdentityKey, subject: IdentityKey, asynchronous: bool
) -> None:
    vc = await supplier(issuer, subject, "ldp")
    asked: list[tuple[str, str]] = []

    def revoked(issuer_did: str, credential_id: str) -> bool:
        asked.append((issuer_did, credential_id))
        return credential_id == vc.id

    async def revoked_async(issuer_did: str, credential_id: str) -> bool:
        return revoked(issuer_did, credential_id)

    with pytest.raises(InvalidCredential) as info:
        await check(vc, issuer, revocation=revoked_async if asynchronous else revoked)
    assert info.value.reason == "revoked"
    assert asked == [(issuer.did, vc.id)]
    assert f"credential {vc.id} was revoked by its issuer" in str(info.value)


async def test_unreadable_revocation_status_fails_closed(issuer: IdentityKey, subject: IdentityKey) -> None:
    vc = await supplier(issuer, subject, "jwt")

    async def chain_down(issuer_did: str, credential_id: str) -> bool:
        raise ConnectionError("RPC unreachable")

    with pytest.raises(InvalidCredential) as info:
        await check(vc, issuer, revocation=chain_down)
    assert info.value.reason == "revocation_unavailable"
    assert "RPC unreachable" in str(info.value)


@pytest.mark.parametrize("text", ["", "hello", "[1, 2]", "eyJ.eyJ.x", '{"type": ["VerifiableCredential"]}'])
async def test_malformed_input_is_refused_in_one_line(issuer: IdentityKey, text: str) -> None:
    with pytest.raises(InvalidCredential) as info:
        await check(text, issuer)
    assert info.value.reason == "malformed"
    assert "\n" not in str(info.value)


async def test_credential_without_id_is_refused(issuer: IdentityKey, subject: IdentityKey) -> None:
    doc = json.loads((await supplier(issuer, subject, "ldp")).text)
    del doc["id"]
    with pytest.raises(InvalidCredential, match="has no `id`"):
        await check(doc, issuer)


async def test_parse_reads_both_formats_without_verifying(issuer: IdentityKey, subject: IdentityKey) -> None:
    for fmt in FORMATS:
        vc = await supplier(issuer, subject, fmt)
        parsed = parse_credential(vc.text)
        assert (parsed.id, parsed.format, parsed.issuer, parsed.subject) == (
            vc.id,
            fmt,
            issuer.did,
            subject.did,
        )
        assert not isinstance(parsed, VerifiedCredential)


def test_credential_id_hash_is_keccak256_of_the_id() -> None:
    cid = "urn:uuid:6a7f0944-013f-4160-9f97-f681d0bf3dd1"
    reference = keccak.new(digest_bits=256, data=cid.encode()).digest()  # pycryptodome, not eth_hash
    assert credential_id_hash(cid) == reference
    assert credential_id_hash("").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"


async def test_jwt_just_past_exp_is_reported_expired_even_within_the_skew(
    issuer: IdentityKey, subject: IdentityKey
) -> None:
    # didkit itself refuses JWT VCs past `exp` with no skew; Sova names the reason instead of "bad proof".
    vc = await supplier(
        issuer, subject, "jwt", issued=NOW - timedelta(hours=1), expires=NOW - timedelta(seconds=10)
    )
    with pytest.raises(InvalidCredential) as info:
        await check(vc.text, issuer, now=datetime.now(UTC))
    assert info.value.reason == "expired"
    ld = await supplier(
        issuer, subject, "ldp", issued=NOW - timedelta(hours=1), expires=NOW - timedelta(seconds=10)
    )
    assert (await check(ld, issuer, now=datetime.now(UTC))).id == ld.id  # LD proofs get the full skew


def sign_jwt(key: IdentityKey, payload: dict[str, Any]) -> str:
    """An EdDSA JWT signed by `key` over any payload (to test what didkit and Sova make of it)."""
    from identity.keys import b64url

    header = {"alg": "EdDSA", "kid": key.verification_method}
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    return f"{signing_input}.{b64url(key.sign(signing_input.encode()))}"


async def test_jwt_naming_another_issuer_than_its_signer_is_refused(
    issuer: IdentityKey, subject: IdentityKey
) -> None:
    vc = await supplier(issuer, subject, "jwt")
    payload = json.loads(base64.urlsafe_b64decode(vc.text.split(".")[1] + "=="))
    victim = IdentityKey.generate()
    payload["iss"] = payload["vc"]["issuer"] = victim.did
    with pytest.raises(InvalidCredential) as info:
        await check(sign_jwt(issuer, payload), issuer, trusted_issuers={victim.did})
    assert info.value.reason == "bad_proof"


async def test_jwt_whose_claims_disagree_with_its_vc_is_malformed(
    issuer: IdentityKey, subject: IdentityKey
) -> None:
    vc = await supplier(issuer, subject, "jwt")
    payload = json.loads(base64.urlsafe_b64decode(vc.text.split(".")[1] + "=="))
    payload["vc"]["credentialSubject"]["id"] = IdentityKey.generate().did
    with pytest.raises(InvalidCredential, match="`sub` differs") as info:
        await check(sign_jwt(issuer, payload), issuer)
    assert info.value.reason == "malformed"
