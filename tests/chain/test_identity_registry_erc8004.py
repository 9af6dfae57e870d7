"""AgentRegistry as an ERC-8004 Identity Registry: the reference's selectors and events, ERC-721 and
ERC-165, metadata, the EIP-712-proved `agentWallet` (wrong signer, expired or far deadline, cleared on
transfer), and Sova's indexes kept from the reserved metadata entries."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from runtime.chain.anvil import AnvilNode
from tests.support.contracts import CHAIN_ID, Contracts, deploy_all, dev_account, now, reverts_with, send
from wallet.metadata import registration_uri, sova_metadata
from wallet.typed_data import agent_wallet_typed_data

pytestmark = pytest.mark.chain

ZERO = "0x0000000000000000000000000000000000000000"

# The reference IdentityRegistry 2.0.0 (erc-8004/erc-8004-contracts), minus its upgrade machinery.
ERC8004_FUNCTIONS = (
    "register()",
    "register(string)",
    "register(string,(string,bytes)[])",
    "setAgentURI(uint256,string)",
    "getMetadata(uint256,string)",
    "setMetadata(uint256,string,bytes)",
    "getAgentWallet(uint256)",
    "setAgentWallet(uint256,address,uint256,bytes)",
    "unsetAgentWallet(uint256)",
    "isAuthorizedOrOwner(address,uint256)",
    "getVersion()",
    "tokenURI(uint256)",
    "ownerOf(uint256)",
    "balanceOf(address)",
    "transferFrom(address,address,uint256)",
    "safeTransferFrom(address,address,uint256)",
    "approve(address,uint256)",
    "setApprovalForAll(address,bool)",
    "supportsInterface(bytes4)",
    "name()",
    "symbol()",
)
ERC8004_EVENTS = {
    "Registered(uint256,string,address)": [True, False, True],
    "MetadataSet(uint256,string,string,bytes)": [True, True, False, False],
    "URIUpdated(uint256,string,address)": [True, False, True],
}


@pytest.fixture
def c(module_anvil: AnvilNode) -> Contracts:
    return deploy_all(module_anvil.url)


def _signature(entry: dict[str, Any]) -> str:
    def kind(i: dict[str, Any]) -> str:
        if i["type"].startswith("tuple"):
            return "(" + ",".join(kind(x) for x in i["components"]) + ")" + i["type"][5:]
        return str(i["type"])

    return f"{entry['name']}({','.join(kind(i) for i in entry.get('inputs', []))})"


def register(c: Contracts, account: LocalAccount, did: str, tags: list[str]) -> int:
    endpoint = f"http://{did[-6:]}.example"
    entries = sova_metadata(did, endpoint, tags, b"\x01" * 64)
    receipt = send(c.registry.functions.register(registration_uri(endpoint), entries), account.address)
    (event,) = c.registry.events.Registered().process_receipt(receipt)
    return int(event.args.agentId)


def wallet_proof(
    c: Contracts, agent_id: int, wallet: str, owner: str, deadline: int, key: LocalAccount
) -> bytes:
    data = agent_wallet_typed_data(c.registry.address, CHAIN_ID, agent_id, wallet, owner, deadline)
    return bytes(key.sign_typed_data(full_message=data).signature)


def test_the_abi_has_every_erc8004_function_and_event_of_the_reference(c: Contracts) -> None:
    ours = {_signature(e): e for e in c.registry.abi if e["type"] in ("function", "event")}
    assert [f for f in ERC8004_FUNCTIONS if f not in ours] == []
    for event, indexed in ERC8004_EVENTS.items():
        assert [i["indexed"] for i in ours[event]["inputs"]] == indexed, event
    assert c.registry.functions.getVersion().call() == "2.0.0"
    assert (c.registry.functions.name().call(), c.registry.functions.symbol().call()) == (
        "AgentIdentity",
        "AGENT",
    )


def test_it_answers_erc165_for_erc721_its_metadata_and_erc4906(c: Contracts) -> None:
    supports = c.registry.functions.supportsInterface
    for interface in ("0x01ffc9a7", "0x80ac58cd", "0x5b5e139f", "0x49064906"):
        assert supports(bytes.fromhex(interface[2:])).call(), interface
    assert not supports(b"\xde\xad\xbe\xef").call()


def test_register_mints_the_agent_with_uri_wallet_and_indexed_metadata(c: Contracts) -> None:
    alice = dev_account(1)
    endpoint = "http://alice.example"
    entries = sova_metadata("did:key:z6MkAlice", endpoint, ["translate", "summarize"], b"\xaa" * 64)
    receipt = send(c.registry.functions.register(registration_uri(endpoint), entries), alice.address)
    (registered,) = c.registry.events.Registered().process_receipt(receipt)
    assert (registered.args.agentId, registered.args.owner) == (1, alice.address)
    assert registered.args.agentURI == "http://alice.example/.well-known/agent-registration.json"
    keys = [e.args.metadataKey for e in c.registry.events.MetadataSet().process_receipt(receipt)]
    assert keys == ["agentWallet", "did", "endpoint", "serviceTags", "didProof"]
    assert c.registry.functions.ownerOf(1).call() == alice.address
    assert c.registry.functions.tokenURI(1).call() == registered.args.agentURI
    assert c.registry.functions.getAgentWallet(1).call() == alice.address
    assert c.registry.functions.getMetadata(1, "did").call() == b"did:key:z6MkAlice"
    wallet, did, got_endpoint, tags, proof, _ = c.registry.functions.getAgent(1).call()
    assert (wallet, did, got_endpoint, tags, proof) == (
        alice.address,
        "did:key:z6MkAlice",
        endpoint,
        ["translate", "summarize"],
        b"\xaa" * 64,
    )
    assert c.registry.functions.agentIdOf(alice.address).call() == 1
    assert c.registry.functions.agentIdOfDid("did:key:z6MkAlice").call() == 1
    assert c.registry.functions.agentsWithTag("summarize").call() == [1]


def test_the_agent_wallet_key_is_refused_in_register_and_set_metadata(c: Contracts) -> None:
    alice = dev_account(1).address
    with reverts_with(c.registry, "ReservedKey", "agentWallet"):
        c.registry.functions.register("ipfs://x", [("agentWallet", b"\x00" * 20)]).transact({"from": alice})
    send(c.registry.functions.register("ipfs://x"), alice)
    with reverts_with(c.registry, "ReservedKey", "agentWallet"):
        c.registry.functions.setMetadata(1, "agentWallet", b"\x00" * 20).transact({"from": alice})


def test_a_stranger_cannot_set_metadata_or_the_uri_but_an_approved_operator_can(c: Contracts) -> None:
    alice, mallory, operator = dev_account(1).address, dev_account(2).address, dev_account(3).address
    agent_id = register(c, dev_account(1), "did:key:z6MkAlice", ["compute"])
    with reverts_with(c.registry, "NotAuthorized", mallory, agent_id):
        c.registry.functions.setMetadata(agent_id, "serviceTags", b"steal").transact({"from": mallory})
    with reverts_with(c.registry, "NotAuthorized", mallory, agent_id):
        c.registry.functions.setAgentURI(agent_id, "https://evil.example").transact({"from": mallory})
    assert c.registry.functions.agentsWithTag("steal").call() == []
    send(c.registry.functions.approve(operator, agent_id), alice)
    receipt = send(c.registry.functions.setAgentURI(agent_id, "ipfs://new"), operator)
    (updated,) = c.registry.events.URIUpdated().process_receipt(receipt)
    assert (updated.args.newURI, updated.args.updatedBy) == ("ipfs://new", operator)
    send(c.registry.functions.setMetadata(agent_id, "serviceTags", b"code,compute,code"), operator)
    assert c.registry.functions.getAgent(agent_id).call()[3] == ["code", "compute"]
    assert c.registry.functions.agentsWithTag("code").call() == [agent_id]


def test_a_did_held_by_another_agent_cannot_be_set_as_metadata(c: Contracts) -> None:
    register(c, dev_account(1), "did:key:z6MkAlice", [])
    bob = register(c, dev_account(2), "did:key:z6MkBobbb", [])
    with reverts_with(c.registry, "DidTaken", "did:key:z6MkAlice"):
        c.registry.functions.setMetadata(bob, "did", b"did:key:z6MkAlice").transact(
            {"from": dev_account(2).address}
        )
    with reverts_with(c.registry, "EmptyDid"):
        c.registry.functions.setMetadata(bob, "did", b"").transact({"from": dev_account(2).address})


def test_a_wallet_owns_one_agent(c: Contracts) -> None:
    alice = dev_account(1).address
    register(c, dev_account(1), "did:key:z6MkAlice", [])
    with reverts_with(c.registry, "AlreadyRegistered", alice):
        c.registry.functions.register().transact({"from": alice})


def test_set_agent_wallet_with_the_new_wallets_proof_moves_the_wallet(c: Contracts) -> None:
    alice, fresh = dev_account(1), dev_account(4)
    agent_id = register(c, alice, "did:key:z6MkAlice", [])
    deadline = now(c.w3) + 240
    proof = wallet_proof(c, agent_id, fresh.address, alice.address, deadline, fresh)
    send(c.registry.functions.setAgentWallet(agent_id, fresh.address, deadline, proof), alice.address)
    assert c.registry.functions.getAgentWallet(agent_id).call() == fresh.address
    assert c.registry.functions.agentIdOf(fresh.address).call() == agent_id
    assert c.registry.functions.agentIdOf(alice.address).call() == 0


def test_set_agent_wallet_signed_by_another_key_is_refused(c: Contracts) -> None:
    alice, fresh, mallory = dev_account(1), dev_account(4), dev_account(2)
    agent_id = register(c, alice, "did:key:z6MkAlice", [])
    deadline = now(c.w3) + 240
    forged = wallet_proof(c, agent_id, fresh.address, alice.address, deadline, mallory)
    with reverts_with(c.registry, "InvalidWalletSignature", fresh.address):
        c.registry.functions.setAgentWallet(agent_id, fresh.address, deadline, forged).transact(
            {"from": alice.address}
        )
    other_owner = wallet_proof(
        c, agent_id, fresh.address, mallory.address, deadline, fresh
    )  # for another owner
    with reverts_with(c.registry, "InvalidWalletSignature", fresh.address):
        c.registry.functions.setAgentWallet(agent_id, fresh.address, deadline, other_owner).transact(
            {"from": alice.address}
        )
    assert c.registry.functions.getAgentWallet(agent_id).call() == alice.address


def test_set_agent_wallet_with_an_expired_or_far_deadline_is_refused(c: Contracts) -> None:
    alice, fresh = dev_account(1), dev_account(4)
    agent_id = register(c, alice, "did:key:z6MkAlice", [])
    past = now(c.w3) - 1
    with reverts_with(c.registry, "DeadlineExpired", past):
        c.registry.functions.setAgentWallet(
            agent_id,
            fresh.address,
            past,
            wallet_proof(c, agent_id, fresh.address, alice.address, past, fresh),
        ).transact({"from": alice.address})
    far = now(c.w3) + 3600
    with reverts_with(c.registry, "DeadlineTooFar", far):
        c.registry.functions.setAgentWallet(
            agent_id, fresh.address, far, wallet_proof(c, agent_id, fresh.address, alice.address, far, fresh)
        ).transact({"from": alice.address})


def test_set_agent_wallet_by_a_stranger_is_refused(c: Contracts) -> None:
    alice, mallory = dev_account(1), dev_account(2)
    agent_id = register(c, alice, "did:key:z6MkAlice", [])
    deadline = now(c.w3) + 60
    proof = wallet_proof(c, agent_id, mallory.address, alice.address, deadline, mallory)
    with reverts_with(c.registry, "NotAuthorized", mallory.address, agent_id):
        c.registry.functions.setAgentWallet(agent_id, mallory.address, deadline, proof).transact(
            {"from": mallory.address}
        )


def test_a_transfer_clears_the_agent_wallet_and_its_lookup(c: Contracts) -> None:
    alice, buyer = dev_account(1), dev_account(5)
    agent_id = register(c, alice, "did:key:z6MkAlice", ["compute"])
    receipt = send(c.registry.functions.transferFrom(alice.address, buyer.address, agent_id), alice.address)
    cleared = [e.args for e in c.registry.events.MetadataSet().process_receipt(receipt)]
    assert [(e.metadataKey, e.metadataValue) for e in cleared] == [("agentWallet", b"")]
    assert c.registry.functions.ownerOf(agent_id).call() == buyer.address
    assert c.registry.functions.getAgentWallet(agent_id).call() == ZERO
    assert c.registry.functions.agentIdOf(alice.address).call() == 0
    assert c.registry.functions.getAgent(agent_id).call()[0] == ZERO
    # the new owner proves its own wallet again
    deadline = now(c.w3) + 60
    proof = wallet_proof(c, agent_id, buyer.address, buyer.address, deadline, buyer)
    send(c.registry.functions.setAgentWallet(agent_id, buyer.address, deadline, proof), buyer.address)
    assert c.registry.functions.agentIdOf(buyer.address).call() == agent_id


def test_the_metadata_event_is_indexed_by_the_key_hash(c: Contracts) -> None:
    receipt = send(
        c.registry.functions.register("ipfs://x", [("did", b"did:key:z6Mk1")]), dev_account(1).address
    )
    metadata_set = keccak(text="MetadataSet(uint256,string,string,bytes)")
    keys = [log["topics"][2] for log in receipt.logs if log["topics"][0] == metadata_set]
    assert keys == [keccak(text="agentWallet"), keccak(text="did")]
