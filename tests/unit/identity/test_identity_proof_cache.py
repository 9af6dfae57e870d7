"""The proof cache: didkit checks a did:key credential's proof once; every other check runs every time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from identity import IdentityKey, InvalidCredential, didkit_bridge, parse_credential
from identity.verification import PROOF_CACHE, ProofCache
from tests.support.identity import FORMATS, check, supplier


@pytest.fixture
def didkit_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The texts didkit is asked to check a credential proof of (the real didkit still answers)."""
    PROOF_CACHE.clear()
    calls: list[str] = []
    real = didkit_bridge.proof_errors

    async def counted(document: str, options: str, *, presentation: bool = False) -> list[str]:
        calls.append(document)
        return await real(document, options, presentation=presentation)

    monkeypatch.setattr(didkit_bridge, "proof_errors", counted)
    yield calls
    PROOF_CACHE.clear()


@pytest.mark.parametrize("fmt", FORMATS)
async def test_a_did_key_credential_proof_is_checked_by_didkit_once(
    issuer: IdentityKey, subject: IdentityKey, fmt: str, didkit_calls: list[str]
) -> None:
    vc = await supplier(issuer, subject, fmt)
    first, second = await check(vc.text, issuer), await check(vc.text, issuer)
    assert first.id == second.id == vc.id
    assert len(didkit_calls) == 1


@pytest.mark.parametrize("fmt", FORMATS)
async def test_a_cache_hit_still_refuses_an_expired_credential(
    issuer: IdentityKey, subject: IdentityKey, fmt: str, didkit_calls: list[str]
) -> None:
    now = datetime.now(UTC)
    vc = await supplier(issuer, subject, fmt, issued=now - timedelta(days=1), expires=now + timedelta(days=1))
    await check(vc.text, issuer)
    with pytest.raises(InvalidCredential) as info:
        await check(vc.text, issuer, now=now + timedelta(days=2))
    assert info.value.reason == "expired"
    assert len(didkit_calls) == 1  # it was a hit


async def test_a_cache_hit_refuses_a_jwt_just_past_exp_as_didkit_would(
    issuer: IdentityKey, subject: IdentityKey, didkit_calls: list[str]
) -> None:
    # didkit refuses a JWT VC past exp with no skew: a hit must not widen that to the skew.
    now = datetime.now(UTC)
    vc = await supplier(
        issuer, subject, "jwt", issued=now - timedelta(hours=1), expires=now + timedelta(hours=1)
    )
    await check(vc.text, issuer)
    with pytest.raises(InvalidCredential) as info:
        await check(vc.text, issuer, now=now + timedelta(hours=1, seconds=10))
    assert info.value.reason == "expired"
    assert len(didkit_calls) == 1


@pytest.mark.parametrize("fmt", FORMATS)
async def test_a_cache_hit_still_refuses_a_revoked_or_untrusted_credential(
    issuer: IdentityKey, subject: IdentityKey, fmt: str, didkit_calls: list[str]
) -> None:
    vc = await supplier(issuer, subject, fmt)
    await check(vc.text, issuer)
    with pytest.raises(InvalidCredential) as info:
        await check(vc.text, issuer, revocation=lambda i, c: True)
    assert info.value.reason == "revoked"

    def unreadable(issuer_did: str, credential_id: str) -> bool:
        raise ConnectionError("chain down")

    with pytest.raises(InvalidCredential) as info:
        await check(vc.text, issuer, revocation=unreadable)
    assert info.value.reason == "revocation_unavailable"
    with pytest.raises(InvalidCredential) as info:
        await check(vc.text, issuer, trusted_issuers={IdentityKey.generate().did})
    assert info.value.reason == "untrusted_issuer"
    assert len(didkit_calls) == 1


async def test_a_credential_one_byte_different_is_checked_again_and_refused(
    issuer: IdentityKey, subject: IdentityKey, didkit_calls: list[str]
) -> None:
    vc = await supplier(issuer, subject, "ldp")
    await check(vc.text, issuer)
    altered = vc.text.replace('"widgets"', '"widgetz"')
    assert len(altered) == len(vc.text)
    assert sum(a != b for a, b in zip(altered, vc.text, strict=True)) == 1
    for _ in range(2):  # a failure is never cached: didkit is asked each time
        with pytest.raises(InvalidCredential) as info:
            await check(altered, issuer)
        assert info.value.reason == "bad_proof"
    assert didkit_calls == [vc.text, altered, altered]


def test_only_did_key_issuers_without_proof_expiry_are_cached(issuer: IdentityKey) -> None:
    doc: dict[str, Any] = {
        "@context": ["https://www.w3.org/2018/credentials/v1"],
        "id": "urn:uuid:00000000-0000-4000-8000-000000000000",
        "type": ["VerifiableCredential"],
        "issuer": issuer.did,
        "issuanceDate": "2026-01-01T00:00:00Z",
        "credentialSubject": {"id": issuer.did},
        "proof": {"type": "Ed25519Signature2020", "proofValue": "z1"},
    }
    text = json.dumps(doc)
    assert ProofCache.key(parse_credential(text), text, "{}") is not None
    web = json.dumps({**doc, "issuer": "did:web:example.com"})
    assert ProofCache.key(parse_credential(web), web, "{}") is None  # its key can change
    expiring = json.dumps({**doc, "proof": {**doc["proof"], "expires": "2030-01-01T00:00:00Z"}})
    assert ProofCache.key(parse_credential(expiring), expiring, "{}") is None


def test_the_cache_is_bounded_and_drops_the_least_recently_used() -> None:
    cache = ProofCache(size=2)
    cache.add(b"a")
    cache.add(b"b")
    assert cache.holds(b"a")  # a is now the most recent
    cache.add(b"c")
    assert len(cache) == 2
    assert cache.holds(b"a")
    assert cache.holds(b"c")
    assert not cache.holds(b"b")
