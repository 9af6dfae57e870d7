"""A buyer and a seller negotiate over real HTTP (two A2A servers on loopback) and settle on a real anvil:
each with its own identity key, wallet, executor under the preset policies, real ledger."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AsyncExitStack
from decimal import Decimal
from pathlib import Path

import pytest
from eth_account import Account

from identity.envelopes import Envelope
from runtime.a2a.handler import Reply
from runtime.a2a.threads import ThreadState
from runtime.chain.anvil import AnvilNode
from runtime.negotiation.buyer import Seller
from runtime.negotiation.settlement import watch_deadlines
from tests.support.executor import Market
from tests.support.settlement import (
    INPUT,
    USD,
    escrow_of,
    make_pair,
)
from wallet.typed_data import Deal, deal_typed_data

pytestmark = pytest.mark.chain


@pytest.fixture
def market_anvil(module_anvil: AnvilNode) -> AnvilNode:
    """This module's tests share one anvil, each deploying its own contracts (see tests/chain/conftest.py)."""
    return module_anvil


async def test_a_negotiated_deal_is_signed_funded_delivered_and_released(
    market: Market, tmp_path: Path
) -> None:
    async with AsyncExitStack() as stack:
        pair = await make_pair(stack, market, tmp_path)
        buyer, seller = pair.buyer, pair.seller
        record = await pair.buyer_brain.buy(seller.server.url, "translation", input=INPUT)
        assert record.state == "released", record.reason
        price = Decimal(record.price)
        assert Decimal("15") <= price <= Decimal("30")
        assert await market.balance(seller.address) == int(price * USD)
        assert await market.balance(buyer.address) == 100 * USD - int(price * USD)
        assert await escrow_of(market).state_of(bytes.fromhex(record.deal_id[2:])) == 2  # Released
        theirs = seller.deals.get(buyer.key.did, record.thid)
        assert theirs is not None
        assert (theirs.state, theirs.price, theirs.deal_id) == ("released", record.price, record.deal_id)
        # Both ledgers hold the messages and the effects.
        for side in (buyer, seller):
            kinds = side.kinds()
            assert "message_in" in kinds
            assert "message_out" in kinds
            assert "rejected" not in kinds
            assert [d["event"] for d in side.entries("deal")][-1] == "released"
        assert (buyer.signer.typed, buyer.signer.transactions) == (1, 3)  # sign; approve, open, release
        assert (seller.signer.typed, seller.signer.transactions) == (1, 0)  # its deal signature only
        buyer_effects = [e for e in buyer.entries("effect") if e["status"] == "done"]
        assert len(buyer_effects) >= 4 + 5  # 4 chain/typed actions and the messages it sent
        seller_effects = [e for e in seller.entries("effect") if e["status"] == "done"]
        assert len(seller_effects) == 2  # present_credential, sign_deal
        types_out = [e["type"] for e in buyer.entries("message_out")]
        assert types_out[0] == "cfp"
        assert types_out[-3:] == ["deal_signature", "funded", "released"]
        bt = buyer.negotiator.thread(seller.key.did, record.thid)
        st = seller.negotiator.thread(buyer.key.did, record.thid)
        assert bt is not None
        assert st is not None
        assert (bt.state, bt.messages) == (st.state, st.messages) == ("released", bt.messages)


async def test_a_seller_without_the_credential_is_declined_before_any_escrow(
    market: Market, tmp_path: Path
) -> None:
    async with AsyncExitStack() as stack:
        pair = await make_pair(stack, market, tmp_path, credential=False)
        buyer, seller = pair.buyer, pair.seller
        record = await pair.buyer_brain.buy(seller.server.url, "translation", input=INPUT)
        assert record.state == "declined"
        assert "VerifiedSupplier" in record.reason
        declined = [d for d in buyer.entries("deal") if d["event"] == "declined"]
        assert declined
        assert "VerifiedSupplier" in declined[0]["reason"]
        assert buyer.signer.signatures == 0  # nothing signed: no deal, no approval, no escrow
        assert await market.balance(escrow_of(market).address) == 0
        assert not [e for e in buyer.entries("decision") if e.get("intent", {}).get("skill") == "open_escrow"]
        theirs = seller.deals.get(buyer.key.did, record.thid)
        assert theirs is not None
        assert theirs.state == "canceled"  # the buyer's reject: the seller's task is canceled


async def test_the_policy_refuses_to_sign_with_a_seller_whose_credential_the_buyer_did_not_verify(
    market: Market, tmp_path: Path
) -> None:
    async with AsyncExitStack() as stack:
        pair = await make_pair(stack, market, tmp_path, credential=False)
        pair.buyer_brain.required_credential = None  # the brain skips the check: the policy still holds
        record = await pair.buyer_brain.buy(pair.seller.server.url, "translation", input=INPUT)
        assert record.state == "declined"
        assert "no VerifiedSupplier credential" in record.reason
        denied = [e for e in pair.buyer.entries("decision") if e.get("verdict") == "deny"]
        assert denied
        assert denied[0]["intent"]["skill"] == "sign_deal"
        assert pair.buyer.signer.signatures == 0


class ForgingSeller:
    """Wraps the seller's handler: its deal signature is replaced by a stranger's over the same deal."""

    def __init__(self, inner: Seller, chain_id: int, escrow: str) -> None:
        self.inner, self.chain_id, self.escrow = inner, chain_id, escrow
        self.stranger = Account.create()

    async def on_message(self, envelope: Envelope, thread: ThreadState) -> Sequence[Reply]:
        replies = list(await self.inner.on_message(envelope, thread))
        if envelope.type != "deal_signature" or not replies or replies[0].type != "deal_signature":
            return replies
        t = envelope.body["deal"]
        deal = Deal(
            buyer=t["buyer"], seller=t["seller"], token=t["token"], amount=int(Decimal(t["amount"]) * USD),
            terms_hash=bytes.fromhex(t["terms_hash"][2:]), deadline=t["deadline"], nonce=t["nonce"],
        )  # fmt: skip
        signed = Account.sign_typed_data(
            self.stranger.key, full_message=deal_typed_data(deal, self.chain_id, self.escrow)
        )
        body = {**replies[0].body, "signature": "0x" + bytes(signed.signature).hex()}
        return [Reply("deal_signature", body)]


async def test_a_seller_signature_from_another_wallet_is_never_funded(market: Market, tmp_path: Path) -> None:
    async with AsyncExitStack() as stack:
        pair = await make_pair(stack, market, tmp_path)
        escrow = escrow_of(market)
        forger = ForgingSeller(pair.seller_brain, market.client.chain_id, escrow.address)
        pair.seller.negotiator.handler = forger
        record = await pair.buyer_brain.buy(pair.seller.server.url, "translation", input=INPUT)
        assert record.state == "declined"
        assert forger.stranger.address in record.reason
        assert "registered wallet" in record.reason
        assert pair.buyer.signer.transactions == 0  # no approval, no escrow
        assert await market.balance(escrow.address) == 0
        assert await market.balance(pair.buyer.address) == 100 * USD
        theirs = pair.seller.deals.get(pair.buyer.key.did, record.thid)
        assert theirs is not None
        assert theirs.state == "canceled"  # the buyer's reject: the seller's task is canceled


async def test_a_deal_not_delivered_by_its_deadline_is_refunded(market: Market, tmp_path: Path) -> None:
    async with AsyncExitStack() as stack:
        pair = await make_pair(stack, market, tmp_path, deliver=False)
        buyer = pair.buyer
        pair.buyer_brain.settlement.deal_ttl = 600
        record = await pair.buyer_brain.buy(pair.seller.server.url, "translation", input=INPUT)
        assert record.state == "funded", record.reason
        escrow = escrow_of(market)
        price = int(Decimal(record.price) * USD)
        assert await market.balance(escrow.address) == price
        assert await watch_deadlines(buyer.executor, buyer.deals, buyer.sink) == []  # not yet
        await market.client.rpc.request("evm_increaseTime", [700])
        await market.client.rpc.request("evm_mine", [])
        refunded = await watch_deadlines(buyer.executor, buyer.deals, buyer.sink)
        assert [r.thid for r in refunded] == [record.thid]
        assert refunded[0].state == "refunded"
        assert await market.balance(buyer.address) == 100 * USD
        assert await escrow.state_of(bytes.fromhex(record.deal_id[2:])) == 3  # Refunded
        assert [d["event"] for d in buyer.entries("deal")][-1] == "refunded"
        assert await watch_deadlines(buyer.executor, buyer.deals) == []  # once only
