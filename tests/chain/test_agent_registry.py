"""AgentRegistry: registration, discovery by tag, DID binding digest, kill switch, revocation."""

from __future__ import annotations

import pytest

from runtime.chain.anvil import AnvilNode
from tests.support.contracts import (
    CHAIN_ID,
    Contracts,
    deploy_all,
    dev_account,
    random_hash,
    reverts_with,
    send,
)
from wallet.typed_data import binding_digest

pytestmark = pytest.mark.chain


@pytest.fixture
def c(module_anvil: AnvilNode) -> Contracts:
    return deploy_all(module_anvil.url)


def register(c: Contracts, index: int, did: str, tags: list[str], proof: bytes = b"\x01" * 64) -> int:
    wallet = dev_account(index).address
    endpoint = f"https://agent{index}.example/a2a"
    receipt = send(c.registry.functions.register(did, endpoint, tags, proof), wallet)
    (event,) = c.registry.events.AgentRegistered().process_receipt(receipt)
    assert (event.args.wallet, event.args.did) == (wallet, did)
    return int(event.args.agentId)


def test_register_assigns_ids_from_one_and_stores_the_record(c: Contracts) -> None:
    alice = dev_account(1).address
    assert c.registry.functions.totalAgents().call() == 0
    first = register(c, 1, "did:key:z6MkAlice", ["translate", "summarize"], b"\xaa" * 64)
    first_block_time = c.w3.eth.get_block("latest")["timestamp"]
    second = register(c, 2, "did:key:z6MkBob", [])
    assert (first, second) == (1, 2)
    assert c.registry.functions.totalAgents().call() == 2
    assert c.registry.functions.agentIdOf(alice).call() == 1
    assert c.registry.functions.agentIdOf(dev_account(7).address).call() == 0
    assert c.registry.functions.agentIdOfDid("did:key:z6MkBob").call() == 2
    assert c.registry.functions.agentIdOfDid("did:key:unknown").call() == 0
    wallet, did, endpoint, tags, proof, registered_at = c.registry.functions.getAgent(1).call()
    assert (wallet, did, endpoint) == (alice, "did:key:z6MkAlice", "https://agent1.example/a2a")
    assert tags == ["translate", "summarize"]
    assert proof == b"\xaa" * 64
    assert registered_at == first_block_time


def test_get_agent_of_unknown_id_reverts(c: Contracts) -> None:
    with reverts_with(c.registry, "UnknownAgent", 0):
        c.registry.functions.getAgent(0).call()
    with reverts_with(c.registry, "UnknownAgent", 1):
        c.registry.functions.getAgent(1).call()


def test_second_registration_of_a_wallet_is_rejected(c: Contracts) -> None:
    register(c, 1, "did:key:first", [])
    alice = dev_account(1).address
    with reverts_with(c.registry, "AlreadyRegistered", alice):
        c.registry.functions.register("did:key:second", "x", [], b"").transact({"from": alice})


def test_registration_of_a_taken_did_is_rejected(c: Contracts) -> None:
    register(c, 1, "did:key:shared", [])
    bob = dev_account(2).address
    with reverts_with(c.registry, "DidTaken", "did:key:shared"):
        c.registry.functions.register("did:key:shared", "x", [], b"").transact({"from": bob})


def test_registration_with_an_empty_did_is_rejected(c: Contracts) -> None:
    with reverts_with(c.registry, "EmptyDid"):
        c.registry.functions.register("", "x", [], b"").transact({"from": dev_account(1).address})


def test_agents_with_tag_lists_every_agent_carrying_it(c: Contracts) -> None:
    register(c, 1, "did:key:a", ["translate", "summarize"])
    register(c, 2, "did:key:b", ["summarize", "summarize"])  # a duplicate tag counts once
    register(c, 3, "did:key:c", ["code"])
    assert sorted(c.registry.functions.agentsWithTag("summarize").call()) == [1, 2]
    assert c.registry.functions.agentsWithTag("translate").call() == [1]
    assert c.registry.functions.agentsWithTag("nothing").call() == []
    assert c.registry.functions.getAgent(2).call()[3] == ["summarize"]


def test_update_replaces_endpoint_tags_and_proof(c: Contracts) -> None:
    register(c, 1, "did:key:a", ["translate", "summarize"])
    register(c, 2, "did:key:b", ["summarize"])
    alice = dev_account(1).address
    receipt = send(c.registry.functions.update("https://new.example", ["code", "summarize"], b"\xbb"), alice)
    (event,) = c.registry.events.AgentUpdated().process_receipt(receipt)
    assert (event.args.agentId, event.args.wallet) == (1, alice)
    _, did, endpoint, tags, proof, _ = c.registry.functions.getAgent(1).call()
    assert (did, endpoint, proof) == ("did:key:a", "https://new.example", b"\xbb")
    assert tags == ["code", "summarize"]
    assert c.registry.functions.agentsWithTag("translate").call() == []
    assert sorted(c.registry.functions.agentsWithTag("summarize").call()) == [1, 2]
    assert c.registry.functions.agentsWithTag("code").call() == [1]


def test_update_by_an_unregistered_wallet_is_rejected(c: Contracts) -> None:
    stranger = dev_account(5).address
    with reverts_with(c.registry, "NotRegistered", stranger):
        c.registry.functions.update("x", [], b"").transact({"from": stranger})


def test_binding_digest_matches_python_and_stores_a_verifiable_ed25519_proof(c: Contracts) -> None:
    ed25519 = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.ed25519")
    alice = dev_account(1).address
    digest = binding_digest(c.registry.address, CHAIN_ID, alice)
    assert c.registry.functions.bindingDigest(alice).call() == digest
    assert c.registry.functions.bindingDigest(dev_account(2).address).call() != digest

    did_key = ed25519.Ed25519PrivateKey.generate()
    register(c, 1, "did:key:z6MkEd", [], did_key.sign(digest))
    stored_proof = c.registry.functions.getAgent(1).call()[4]
    did_key.public_key().verify(stored_proof, digest)  # raises InvalidSignature if wrong


def test_owner_pauses_and_unpauses_any_address(c: Contracts) -> None:
    register(c, 1, "did:key:a", [])
    alice, never_registered = dev_account(1).address, dev_account(8).address
    for wallet in (alice, never_registered):
        receipt = send(c.registry.functions.pause(wallet), c.operator.address)
        (event,) = c.registry.events.AgentPaused().process_receipt(receipt)
        assert (event.args.wallet, event.args.paused) == (wallet, True)
        assert c.registry.functions.isPaused(wallet).call()
    receipt = send(c.registry.functions.unpause(alice), c.operator.address)
    (event,) = c.registry.events.AgentPaused().process_receipt(receipt)
    assert (event.args.wallet, event.args.paused) == (alice, False)
    assert not c.registry.functions.isPaused(alice).call()
    assert c.registry.functions.isPaused(never_registered).call()


def test_only_the_owner_can_pause_or_unpause(c: Contracts) -> None:
    alice, mallory = dev_account(1).address, dev_account(2).address
    with reverts_with(c.registry, "OwnableUnauthorizedAccount", mallory):
        c.registry.functions.pause(alice).transact({"from": mallory})
    send(c.registry.functions.pause(alice), c.operator.address)
    with reverts_with(c.registry, "OwnableUnauthorizedAccount", alice):
        c.registry.functions.unpause(alice).transact({"from": alice})
    assert c.registry.functions.isPaused(alice).call()


def test_revoked_credential_is_recorded_with_its_time(c: Contracts) -> None:
    issuer = dev_account(1).address
    cred = random_hash()
    assert not c.registry.functions.isRevoked(issuer, cred).call()
    assert c.registry.functions.revokedAt(issuer, cred).call() == 0
    receipt = send(c.registry.functions.revokeCredential(cred), issuer)
    block_time = c.w3.eth.get_block(receipt.blockNumber)["timestamp"]
    (event,) = c.registry.events.CredentialRevoked().process_receipt(receipt)
    assert (event.args.issuer, event.args.credentialId, event.args.revokedAt) == (issuer, cred, block_time)
    assert c.registry.functions.isRevoked(issuer, cred).call()
    assert c.registry.functions.revokedAt(issuer, cred).call() == block_time


def test_revoking_a_credential_twice_is_rejected(c: Contracts) -> None:
    issuer = dev_account(1).address
    cred = random_hash()
    send(c.registry.functions.revokeCredential(cred), issuer)
    with reverts_with(c.registry, "AlreadyRevoked", issuer, cred):
        c.registry.functions.revokeCredential(cred).transact({"from": issuer})


def test_revocation_is_namespaced_by_issuer(c: Contracts) -> None:
    issuer, other = dev_account(1).address, dev_account(2).address
    cred = random_hash()
    send(c.registry.functions.revokeCredential(cred), other)  # `other` cannot revoke for `issuer`
    assert c.registry.functions.isRevoked(other, cred).call()
    assert not c.registry.functions.isRevoked(issuer, cred).call()
    assert c.registry.functions.revokedAt(issuer, cred).call() == 0
    send(c.registry.functions.revokeCredential(cred), issuer)  # the issuer's own entry is independent
    assert c.registry.functions.isRevoked(issuer, cred).call()
