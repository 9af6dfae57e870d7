"""ActionLogAnchor: per-sender anchors of log Merkle roots, and on-chain verification of Python proofs."""

from __future__ import annotations

import pytest

from runtime.chain.anvil import AnvilNode
from tests.support.contracts import Contracts, deploy_all, dev_account, random_hash, reverts_with, send
from wallet.merkle import merkle_proof, merkle_root

pytestmark = pytest.mark.chain


@pytest.fixture(scope="module")
def c(module_anvil: AnvilNode) -> Contracts:
    return deploy_all(module_anvil.url)


def test_anchor_emits_the_root_and_range_for_the_sender(c: Contracts) -> None:
    agent = dev_account(1).address
    root = random_hash()
    receipt = send(c.anchor.functions.anchor(root, 1, 500), agent)
    (event,) = c.anchor.events.Anchored().process_receipt(receipt)
    assert event.args.agent == agent
    assert bytes(event.args.root) == root
    assert (event.args.fromSeq, event.args.toSeq) == (1, 500)


def test_anchor_of_a_single_entry_range_is_accepted(c: Contracts) -> None:
    send(c.anchor.functions.anchor(random_hash(), 7, 7), dev_account(1).address)


def test_anchor_with_an_inverted_range_is_rejected(c: Contracts) -> None:
    with reverts_with(c.anchor, "BadRange"):
        c.anchor.functions.anchor(random_hash(), 10, 9).transact({"from": dev_account(1).address})


def test_anchor_with_a_zero_root_is_rejected(c: Contracts) -> None:
    with reverts_with(c.anchor, "BadRange"):
        c.anchor.functions.anchor(b"\x00" * 32, 0, 9).transact({"from": dev_account(1).address})


def test_anchor_from_an_unregistered_address_is_attributed_to_that_address_only(c: Contracts) -> None:
    agent, stranger = dev_account(2), dev_account(8)
    send(c.registry.functions.register("did:key:z6MkAnchorer", "https://a.example", [], b""), agent.address)
    assert c.registry.functions.agentIdOf(stranger.address).call() == 0

    root = random_hash()
    receipt = send(c.anchor.functions.anchor(root, 1, 10), stranger.address)  # allowed, see the contract

    (event,) = c.anchor.events.Anchored().process_receipt(receipt)
    assert event.args.agent == stranger.address
    block = receipt.blockNumber
    agent_anchors = c.anchor.events.Anchored().get_logs(
        from_block=0, to_block=block, argument_filters={"agent": agent.address}
    )
    stranger_anchors = c.anchor.events.Anchored().get_logs(
        from_block=block, to_block=block, argument_filters={"agent": stranger.address}
    )
    assert agent_anchors == []  # a verifier reading the registered agent's anchors never sees it
    assert [bytes(e.args.root) for e in stranger_anchors] == [root]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, 100])
def test_python_merkle_proofs_verify_on_chain(c: Contracts, size: int) -> None:
    leaves = [random_hash() for _ in range(size)]
    root = merkle_root(leaves)
    for index in {0, size // 2, size - 1}:
        proof = merkle_proof(leaves, index)
        assert c.anchor.functions.verify(root, leaves[index], proof).call() is True


def test_verify_rejects_a_wrong_leaf_proof_or_root(c: Contracts) -> None:
    leaves = [random_hash() for _ in range(9)]
    root = merkle_root(leaves)
    proof = merkle_proof(leaves, 4)
    verify = c.anchor.functions.verify
    assert verify(root, leaves[4], proof).call() is True
    assert verify(root, leaves[5], proof).call() is False
    assert verify(root, random_hash(), proof).call() is False
    assert verify(random_hash(), leaves[4], proof).call() is False
    assert verify(root, leaves[4], merkle_proof(leaves, 3)).call() is False
    assert verify(root, leaves[4], [*proof[:-1], random_hash()]).call() is False
    assert verify(root, leaves[4], []).call() is False


def test_anchored_root_of_a_thousand_entries_proves_any_entry_on_chain(c: Contracts) -> None:
    agent = dev_account(3).address
    leaves = [random_hash() for _ in range(1000)]
    root = merkle_root(leaves)
    receipt = send(c.anchor.functions.anchor(root, 1, 1000), agent)
    (event,) = c.anchor.events.Anchored().process_receipt(receipt)
    anchored_root = bytes(event.args.root)
    for index in (0, 511, 999):
        proof = merkle_proof(leaves, index)
        assert c.anchor.functions.verify(anchored_root, leaves[index], proof).call() is True
