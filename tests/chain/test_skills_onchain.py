"""The on-chain skills run through the executor on a real anvil: tokens, a whole escrow deal with two
real EIP-712 signatures, a refund, a log anchor and a registration."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from eth_utils.crypto import keccak

from policies import Counterparty
from runtime.chain.anvil import AnvilNode
from runtime.chain.registry import Registry
from tests.support.executor import (
    SELLER_ADDRESS,
    SELLER_KEY,
    CountingSigner,
    Market,
    Peers,
    Rig,
    deal,
    make_rig,
    seller_party,
)
from tests.support.paths import REPO_ROOT
from wallet.contracts import AgentRegistry
from wallet.hd import derive_private_key
from wallet.signer import Signer

pytestmark = pytest.mark.chain

BUYER_POLICY = """
version: 1
rules:
  - kind: allow_skills
    skills: [transfer_token, approve_token, sign_deal, open_escrow, release_escrow, refund_escrow, anchor_log,
             register_agent]
  - kind: spend_limit
    token: TUSD
    per_action: "50"
    per_day: "200"
  - kind: require_credential
    type: VerifiedSupplier
    issuers: [issuer]
    for_skills: [sign_deal, open_escrow]
  - kind: contracts
    allow: {DealEscrow: [open, release, refund], TestUSD: [approve, transfer], ActionLogAnchor: [anchor],
            AgentRegistry: [register, update]}
"""
SELLER_POLICY = (REPO_ROOT / "policies" / "presets" / "seller.yaml").read_text()  # a seller of `sova up`
USD = 10**6
DEV_MNEMONIC = "test test test test test test test test test test test junk"  # anvil's funded accounts


@pytest.fixture
def market_anvil(module_anvil: AnvilNode) -> AnvilNode:
    """This module's tests share one anvil, each deploying its own contracts (see tests/chain/conftest.py)."""
    return module_anvil


@pytest.fixture
def agents(market: Market, tmp_path: Path) -> Iterator[tuple[Rig, Rig]]:
    """A buyer (fresh wallet) and a seller (anvil dev account 1, SELLER_KEY), each with its executor."""
    buyer_signer = CountingSigner()
    seller_signer = CountingSigner(Signer.from_private_key(derive_private_key(DEV_MNEMONIC, 1)))
    assert seller_signer.address == SELLER_ADDRESS
    buyer_party = Counterparty(address=buyer_signer.address, name="buyer")
    common: dict[str, Any] = {
        "contracts": market.contracts,
        "chain": market.client,
        "tokens": (market.token,),
    }
    with ExitStack() as stack:
        buyer = stack.enter_context(make_rig(tmp_path, BUYER_POLICY, signer=buyer_signer, **common))
        seller = stack.enter_context(
            make_rig(
                tmp_path, SELLER_POLICY, signer=seller_signer, key=SELLER_KEY, name="seller",
                peers=Peers(buyer_party), **common,
            )
        )  # fmt: skip
        yield buyer, seller


def deal_terms(buyer: Rig, amount: str = "12.5", deadline: int | None = None) -> dict[str, Any]:
    """A deal of `buyer` with the seller whose deadline (default: in an hour) the chain will check."""
    return {
        **deal(buyer, amount),
        "terms_hash": "0x" + keccak(b"one unit of compute").hex(),
        "deadline": deadline or int(time.time()) + 3600,
    }


async def test_transfer_token_pays_the_counterparty_and_commits_the_budget(
    market: Market, agents: tuple[Rig, Rig]
) -> None:
    buyer, _ = agents
    await market.fund(buyer.signer.address)
    before = await market.balance(SELLER_ADDRESS)
    outcome = await buyer.executor.execute(
        "transfer_token", {"to": "seller", "token": "TUSD", "amount": "7"}, "llm"
    )
    assert outcome.status == "done", outcome.reasons
    assert outcome.result is not None
    assert outcome.result["status"] == 1
    assert await market.balance(SELLER_ADDRESS) - before == 7 * USD
    assert buyer.signer.transactions == 1
    assert buyer.budget.spent(buyer.key.did, market.token) == 7 * USD
    assert buyer.entries("effect")[0]["signed"][0]["tx_hash"] == outcome.result["tx_hash"]


async def test_a_reverting_transfer_fails_and_gives_the_budget_back(
    market: Market, agents: tuple[Rig, Rig]
) -> None:
    buyer, _ = agents
    await market.fund(buyer.signer.address, usd=1)
    outcome = await buyer.executor.execute(
        "transfer_token", {"to": "seller", "token": "TUSD", "amount": "5"}, "llm"
    )
    assert outcome.status == "failed"
    assert "ERC20InsufficientBalance" in outcome.reasons[0]
    assert buyer.budget.spent(buyer.key.did, market.token) == 0
    assert buyer.signer.transactions == 0  # reverted in gas estimation: nothing was signed


async def test_approve_token_lets_the_escrow_pull(market: Market, agents: tuple[Rig, Rig]) -> None:
    buyer, _ = agents
    await market.fund(buyer.signer.address)
    outcome = await buyer.executor.execute("approve_token", {"token": "TUSD", "amount": "30"}, "rules-brain")
    assert outcome.status == "done", outcome.reasons
    escrow = market.contracts["DealEscrow"].address
    assert await market.contracts["TestUSD"].call("allowance", buyer.signer.address, escrow) == 30 * USD
    assert buyer.budget.spent(buyer.key.did, market.token) == 0  # an allowance moves nothing


async def open_deal(market: Market, buyer: Rig, seller: Rig, terms: dict[str, Any]) -> dict[str, Any]:
    buyer_sig = await buyer.executor.execute("sign_deal", terms, "rules-brain")
    seller_sig = await seller.executor.execute("sign_deal", terms, "peer:" + buyer.key.did)
    assert (buyer_sig.status, seller_sig.status) == ("done", "done"), (buyer_sig.reasons, seller_sig.reasons)
    assert buyer_sig.result is not None
    assert seller_sig.result is not None
    assert buyer_sig.result["deal_id"] == seller_sig.result["deal_id"]
    approve = await buyer.executor.execute(
        "approve_token", {"token": "TUSD", "amount": terms["amount"]}, "rules-brain"
    )
    assert approve.status == "done", approve.reasons
    args = {
        "deal": terms,
        "buyer_signature": buyer_sig.result["signature"],
        "seller_signature": seller_sig.result["signature"],
    }
    opened = await buyer.executor.execute("open_escrow", args, "rules-brain")
    assert opened.status == "done", opened.reasons
    assert opened.result is not None
    assert opened.result["deal_id"] == buyer_sig.result["deal_id"]
    return opened.result


async def test_a_deal_signed_by_both_opens_in_escrow_and_releases_to_the_seller(
    market: Market, agents: tuple[Rig, Rig]
) -> None:
    buyer, seller = agents
    await market.fund(buyer.signer.address)
    seller_before = await market.balance(SELLER_ADDRESS)
    terms = deal_terms(buyer)
    opened = await open_deal(market, buyer, seller, terms)
    escrow = market.contracts["DealEscrow"]
    deal_id = bytes.fromhex(opened["deal_id"][2:])
    assert await escrow.call("stateOf", deal_id) == 1  # Open
    assert await market.balance(escrow.address) == 12_500_000
    assert buyer.budget.spent(buyer.key.did, market.token) == 12_500_000  # open spent, sign_deal did not
    released = await buyer.executor.execute("release_escrow", {"deal": terms}, "rules-brain")
    assert released.status == "done", released.reasons
    assert await escrow.call("stateOf", deal_id) == 2  # Released
    assert await market.balance(SELLER_ADDRESS) - seller_before == 12_500_000
    assert (buyer.signer.typed, buyer.signer.transactions, seller.signer.signatures) == (1, 3, 1)


async def test_a_deal_with_a_seller_lacking_the_required_credential_is_not_signed(
    market: Market, agents: tuple[Rig, Rig]
) -> None:
    buyer, _ = agents
    no_credential = Peers(seller_party(credentials=False))
    object.__setattr__(buyer.context, "peers", no_credential)
    outcome = await buyer.executor.execute("sign_deal", deal_terms(buyer), "rules-brain")
    assert outcome.status == "denied"
    assert "no VerifiedSupplier credential" in outcome.reasons[0]
    assert buyer.signer.signatures == 0


async def test_refund_after_the_deadline_returns_the_tokens_to_the_buyer(
    market: Market, agents: tuple[Rig, Rig]
) -> None:
    buyer, seller = agents
    await market.fund(buyer.signer.address, usd=100)
    block = await market.client.rpc.request("eth_getBlockByNumber", ["latest", False])
    terms = deal_terms(buyer, amount="20", deadline=int(block["timestamp"], 16) + 60)
    await open_deal(market, buyer, seller, terms)
    assert await market.balance(buyer.signer.address) == 80 * USD
    early = await buyer.executor.execute("refund_escrow", {"deal": terms}, "rules-brain")
    assert early.status == "failed"
    assert "TooEarly" in early.reasons[0]
    await market.client.rpc.request("evm_increaseTime", [120])
    await market.client.rpc.request("evm_mine", [])
    refunded = await buyer.executor.execute("refund_escrow", {"deal": terms}, "scheduler")
    assert refunded.status == "done", refunded.reasons
    assert await market.balance(buyer.signer.address) == 100 * USD


async def test_a_seller_refunds_its_buyer_at_once_through_dealescrow_cancel(
    market: Market, agents: tuple[Rig, Rig]
) -> None:
    buyer, seller = agents
    await market.fund(buyer.signer.address, usd=100)
    seller_before = await market.balance(SELLER_ADDRESS)
    terms = deal_terms(buyer, amount="20")  # the deadline is an hour away
    opened = await open_deal(market, buyer, seller, terms)
    assert await market.balance(buyer.signer.address) == 80 * USD
    # what the services flow does when the seller's handler fails
    refunded = await seller.executor.execute("refund_escrow", {"deal": terms}, "services")
    assert refunded.status == "done", refunded.reasons
    assert refunded.result is not None
    assert refunded.result["deal_id"] == opened["deal_id"]
    escrow = market.contracts["DealEscrow"]
    assert await escrow.call("stateOf", bytes.fromhex(opened["deal_id"][2:])) == 3  # Refunded
    assert await market.balance(buyer.signer.address) == 100 * USD
    assert await market.balance(SELLER_ADDRESS) == seller_before
    receipt = await market.client.receipt(bytes.fromhex(refunded.result["tx_hash"][2:]))
    assert receipt is not None
    (event,) = escrow.events(receipt, "DealCancelled")
    assert (event["id"], event["by"]) == (bytes.fromhex(opened["deal_id"][2:]), SELLER_ADDRESS)
    (decision,) = [d for d in seller.entries("decision") if d["intent"]["skill"] == "refund_escrow"]
    assert (decision["intent"]["method"], decision["verdict"]) == ("cancel", "allow")
    again = await seller.executor.execute("refund_escrow", {"deal": terms}, "services")
    assert again.status == "failed"
    assert "NotOpen" in again.reasons[0]


async def test_anchor_log_puts_the_root_on_chain(market: Market, agents: tuple[Rig, Rig]) -> None:
    buyer, _ = agents
    await market.fund(buyer.signer.address, usd=0)
    from wallet.merkle import merkle_root

    last = buyer.ledger.last().seq
    root = merkle_root(buyer.ledger.hashes(1, last))  # what the ledger holds, not what a caller says
    outcome = await buyer.executor.execute("anchor_log", {}, "scheduler")
    assert outcome.status == "done", outcome.reasons
    assert outcome.result is not None
    anchor = market.contracts["ActionLogAnchor"]
    receipt = await market.client.receipt(bytes.fromhex(outcome.result["tx_hash"][2:]))
    assert receipt is not None
    (event,) = anchor.events(receipt, "Anchored")
    assert (event["agent"], event["root"], event["fromSeq"], event["toSeq"]) == (
        buyer.signer.address,
        root,
        1,
        last,
    )


async def test_register_agent_binds_the_did_both_ways(market: Market, agents: tuple[Rig, Rig]) -> None:
    buyer, _ = agents
    await market.fund(buyer.signer.address, usd=0)
    args = {"endpoint": "http://127.0.0.1:8701", "tags": ["buyer"]}
    outcome = await buyer.executor.execute("register_agent", args, "operator")
    assert outcome.status == "done", outcome.reasons
    assert outcome.result is not None
    assert outcome.result["agent_id"] >= 1
    registry = market.contracts["AgentRegistry"]
    assert isinstance(registry, AgentRegistry)
    record = await Registry(registry).verify_binding(buyer.key.did, buyer.signer.address)
    assert (record.endpoint, record.tags) == ("http://127.0.0.1:8701", ("buyer",))


async def test_register_agent_with_update_replaces_the_tags_of_a_registered_agent(
    market: Market, agents: tuple[Rig, Rig]
) -> None:
    buyer, _ = agents
    await market.fund(buyer.signer.address, usd=0)
    first = {"endpoint": "http://127.0.0.1:8701", "tags": ["wordcount"]}
    assert (await buyer.executor.execute("register_agent", first, "operator")).status == "done"
    again = {"endpoint": "http://127.0.0.1:8702", "tags": ["wordcount", "keywords"], "update": True}
    outcome = await buyer.executor.execute("register_agent", again, "operator")
    assert outcome.status == "done", outcome.reasons
    registry = market.contracts["AgentRegistry"]
    assert isinstance(registry, AgentRegistry)
    record = await Registry(registry).verify_binding(buyer.key.did, buyer.signer.address)
    assert (record.endpoint, record.tags) == ("http://127.0.0.1:8702", ("wordcount", "keywords"))
    assert outcome.result is not None
    assert outcome.result["agent_id"] == record.agent_id
    assert record.agent_id in await registry.call("agentsWithTag", "keywords")
