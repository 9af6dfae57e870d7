"""Credential types and vocabulary: claims checked on issue, every term defined in @context."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from identity import (
    IdentityKey,
    InvalidCredential,
    MalformedDid,
    issue_credential,
)
from identity.vocab import Claim, CredentialType
from tests.support.identity import FORMATS, check, reissue_jwt_payload, supplier

NOW = datetime.now(UTC)


@pytest.fixture(autouse=True)
def _fresh_now() -> None:
    """Tests compare NOW-relative dates with the wall clock: keep NOW fresh however slow the suite is."""
    global NOW
    NOW = datetime.now(UTC)


@pytest.mark.parametrize("fmt", FORMATS)
async def test_term_not_in_the_context_is_refused(
    issuer: IdentityKey, subject: IdentityKey, fmt: str
) -> None:
    vc = await supplier(issuer, subject, fmt)
    if fmt == "ldp":
        doc = json.loads(vc.text)
        doc["credentialSubject"]["discount"] = "99%"
        bad: str = json.dumps(doc)
    else:
        bad = reissue_jwt_payload(vc.text, lambda d: d["vc"]["credentialSubject"].update(discount="99%"))
    with pytest.raises(InvalidCredential) as info:
        await check(bad, issuer)
    assert info.value.reason == "undefined_term"
    assert str(info.value) == (
        f"credential {vc.id}: term 'discount' (credentialSubject.discount) is not defined in its @context:"
        " define it inline in @context (Sova credential types do) or remove it"
    )


async def test_undefined_type_is_refused(issuer: IdentityKey, subject: IdentityKey) -> None:
    doc = json.loads((await supplier(issuer, subject, "ldp")).text)
    doc["type"].append("TrustedForever")
    with pytest.raises(InvalidCredential, match="type 'TrustedForever'") as info:
        await check(doc, issuer)
    assert info.value.reason == "undefined_term"


async def test_context_sova_cannot_serve_offline_is_refused(
    issuer: IdentityKey, subject: IdentityKey
) -> None:
    doc = json.loads((await supplier(issuer, subject, "ldp")).text)
    doc["@context"].append("https://example.com/contexts/v1")
    with pytest.raises(InvalidCredential) as info:
        await check(doc, issuer)
    assert info.value.reason == "unsupported_context"


async def test_issuing_an_undefined_claim_is_refused(issuer: IdentityKey, subject: IdentityKey) -> None:
    with pytest.raises(InvalidCredential) as info:
        await issue_credential(issuer, subject.did, "VerifiedSupplier", {"service": "x", "discount": "99%"})
    assert info.value.reason == "undefined_term"
    assert "claim 'discount' is not defined for VerifiedSupplier (claims: service, name)" in str(info.value)


async def test_issuing_without_a_required_claim_is_refused(issuer: IdentityKey, subject: IdentityKey) -> None:
    with pytest.raises(InvalidCredential, match="needs claim") as info:
        await issue_credential(issuer, subject.did, "Operator", {"role": "owner"})
    assert info.value.reason == "bad_claims"


async def test_issuing_a_claim_of_the_wrong_kind_is_refused(
    issuer: IdentityKey, subject: IdentityKey
) -> None:
    with pytest.raises(InvalidCredential, match="claim 'agent' must be a did") as info:
        await issue_credential(issuer, subject.did, "Operator", {"agent": "not a did"})
    assert info.value.reason == "bad_claims"


async def test_issuing_an_unknown_type_lists_the_known_ones(
    issuer: IdentityKey, subject: IdentityKey
) -> None:
    with pytest.raises(
        InvalidCredential, match="unknown credential type 'Gold': use Operator, VerifiedSupplier"
    ):
        await issue_credential(issuer, subject.did, "Gold", {})


async def test_issuing_to_a_malformed_subject_is_refused(issuer: IdentityKey) -> None:
    with pytest.raises(MalformedDid):
        await issue_credential(issuer, "bob", "VerifiedSupplier", {"service": "x"})


async def test_expiry_before_issuance_is_refused(issuer: IdentityKey, subject: IdentityKey) -> None:
    with pytest.raises(InvalidCredential, match="is not after issuanceDate"):
        await supplier(issuer, subject, "ldp", expires=NOW - timedelta(days=1))


async def test_custom_credential_type_round_trips(issuer: IdentityKey, subject: IdentityKey) -> None:
    rated = CredentialType("RatedSeller", {"stars": Claim("integer", required=True)})
    vc = await issue_credential(issuer, subject.did, rated, {"stars": 5}, format="jwt")
    verified = await check(vc, issuer)
    assert verified.type == "RatedSeller"
    assert verified.claims == {"stars": 5}
