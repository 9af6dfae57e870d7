"""Running the off-chain skills through the executor: messages, presentations, credentials."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from identity import CredentialStore, IdentityKey, issue_credential, verify_credential, verify_presentation
from tests.support.executor import SELLER_KEY, Rig, make_rig

POLICY = """
version: 1
rules:
  - kind: allow_skills
    skills: [send_message, present_credential, issue_credential]
"""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CredentialStore]:
    with CredentialStore(tmp_path / "credentials.sqlite") as s:
        yield s


@pytest.fixture
def rig(tmp_path: Path, store: CredentialStore) -> Iterator[Rig]:
    with make_rig(tmp_path, POLICY, credentials=store) as r:
        yield r


async def test_send_message_hands_exactly_the_approved_message_to_the_messenger(rig: Rig) -> None:
    args = {"to": "seller", "type": "cfp", "thid": "t-7", "body": {"service": "compute", "max_price": "12"}}
    outcome = await rig.executor.execute("send_message", args, "rules-brain")
    assert outcome.status == "done", outcome.reasons
    assert rig.messenger.sent == [(SELLER_KEY.did, "cfp", "t-7", {"service": "compute", "max_price": "12"})]
    assert outcome.result == {"to": SELLER_KEY.did, "thid": "t-7", "reply": {"ok": True}}
    assert rig.entries("effect")[0]["signed"][0]["op"] == "send_message"


async def test_send_message_without_a_messenger_fails_cleanly(rig: Rig) -> None:
    object.__setattr__(rig.context, "messenger", None)
    outcome = await rig.executor.execute("send_message", {"to": "seller", "type": "cfp"}, "rules-brain")
    assert outcome.status == "failed"
    assert "no messenger" in outcome.reasons[0]


async def test_present_credential_gives_a_presentation_the_verifier_accepts(
    rig: Rig, store: CredentialStore
) -> None:
    issuer = IdentityKey.generate()
    store.add(await issue_credential(issuer, rig.key.did, "VerifiedSupplier", {"service": "compute"}))
    args = {"types": ["VerifiedSupplier"], "challenge": "fresh-challenge", "domain": SELLER_KEY.did}
    outcome = await rig.executor.execute("present_credential", args, "peer:" + SELLER_KEY.did)
    assert outcome.status == "done", outcome.reasons
    assert outcome.result is not None
    assert isinstance(outcome.result["presentation"], str)  # DID-auth presentations are JWT VPs
    verified = await verify_presentation(
        outcome.result["presentation"], "fresh-challenge", SELLER_KEY.did, [issuer.did], None
    )
    assert verified.holder_did == rig.key.did
    assert [c.type for c in verified.credentials] == ["VerifiedSupplier"]


async def test_issue_credential_signs_with_the_agents_identity_key(rig: Rig) -> None:
    args = {
        "subject": "seller",
        "type": "VerifiedSupplier",
        "claims": {"service": "compute"},
        "valid_for": "30d",
    }
    outcome = await rig.executor.execute("issue_credential", args, "rules-brain")
    assert outcome.status == "done", outcome.reasons
    assert outcome.result is not None
    vc = await verify_credential(outcome.result["credential"], trusted_issuers=[rig.key.did], revocation=None)
    assert (vc.subject, vc.claims["service"]) == (SELLER_KEY.did, "compute")
    assert vc.expires_at is not None
    assert rig.entries("effect")[0]["result"]["id"] == vc.id
