"""An LLM-brained buyer (a scripted chat model) negotiates with a rules seller over real HTTP and settles
on a real anvil; a hostile script tries everything it can and gets nothing signed beyond the deal."""

from __future__ import annotations

from contextlib import AsyncExitStack
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from runtime.brains.llm import LlmDecider
from runtime.brains.rules import Move, Situation
from runtime.brains.scripted import ScriptedChatModel, scripted, tool_turn
from runtime.chain.anvil import AnvilNode
from runtime.config import LlmBrain
from runtime.negotiation.buyer import Buyer, Seller
from tests.support.executor import STRANGER_ADDRESS, Market
from tests.support.settlement import BUYER_BRAIN, INPUT, SELLER_BRAIN, USD, Pair, Side, make_pair

pytestmark = pytest.mark.chain

CAP = Decimal("25")


@pytest.fixture
def market_anvil(module_anvil: AnvilNode) -> AnvilNode:
    """This module's tests share one anvil, each deploying its own contracts (see tests/chain/conftest.py)."""
    return module_anvil


def llm_buyer(pair: Pair, decider: Any, cap: Decimal = CAP) -> Buyer:
    side = pair.buyer
    buyer = Buyer(
        executor=side.executor,
        messenger=side.messenger,
        deals=side.deals,
        brain=decider,
        peers=side.peers,
        cap=cap,
        trusted_issuers=[pair.issuer.did],
        registry=pair.registry,
        ledger=side.sink,
    )
    side.negotiator.handler = buyer
    return buyer


def llm(pair: Pair, model: ScriptedChatModel, **config: Any) -> LlmDecider:
    brain = LlmBrain(kind="llm", model="scripted:test", **config)
    return LlmDecider(model, pair.buyer.executor, config=brain, ledger=pair.buyer.sink)


def counter(price: str, reason: str = "") -> Any:
    return tool_turn(("counter", {"price": price, "reason": reason or f"offer {price}"}))


def brain_entries(side: Side) -> list[dict[str, Any]]:
    return side.entries("brain")


async def test_an_llm_buyer_negotiates_and_settles_with_a_rules_seller(
    market: Market, tmp_path: Path
) -> None:
    async with AsyncExitStack() as stack:
        pair = await make_pair(stack, market, tmp_path)
        # The seller (linear, 38 -> 15 in 6 rounds) counters 30.333334, then 22.666667: the model accepts.
        model = scripted([counter("20"), counter("22"), tool_turn(("accept", {"reason": "close enough"}))])
        buyer = llm_buyer(pair, llm(pair, model))
        record = await buyer.buy(pair.seller.server.url, "translation", input=INPUT)
        assert record.state == "released", record.reason
        assert Decimal(record.price) == Decimal("22.666667")
        assert await market.balance(pair.seller.address) == 22_666_667
        moves = brain_entries(pair.buyer)
        assert [(m["source"], m["move"], m["price"]) for m in moves] == [
            ("llm", "counter", "20"),
            ("llm", "counter", "22"),
            ("llm", "accept", "22.666667"),
        ]
        assert moves[-1]["reason"] == "llm: close enough"
        assert model.calls == 3
        # What the model saw of the seller's last offer, and that it was told its limit.
        last_prompt = "\n".join(str(m.content) for m in model.seen[-1])
        assert '"their_offer": "22.666667"' in last_prompt
        assert "at most 25" in last_prompt
        assert (pair.buyer.signer.typed, pair.buyer.signer.transactions) == (1, 3)


async def test_a_hostile_model_gets_nothing_signed_beyond_the_deal(market: Market, tmp_path: Path) -> None:
    async with AsyncExitStack() as stack:
        pair = await make_pair(stack, market, tmp_path)
        seller_did = pair.seller.key.did
        bogus_deal = {
            "buyer": pair.buyer.address, "seller": STRANGER_ADDRESS, "token": "TUSD", "amount": "40",
            "terms_hash": "0x" + "11" * 32, "deadline": 2_000_000_000, "nonce": 7,
        }  # fmt: skip
        hostile = scripted(
            [
                # skills: pay a stranger, overspend, open an escrow for a made-up deal, a made-up tool
                tool_turn(
                    ("transfer_token", {"to": STRANGER_ADDRESS, "token": "TUSD", "amount": "5"}),
                    ("transfer_token", {"to": seller_did, "token": "TUSD", "amount": "500"}),
                    ("sign_deal", bogus_deal),
                    ("approve_pending", {"id": "a1", "approver": "operator"}),
                ),
                # decisions: fake an approval, accept over the cap, counter far over it
                tool_turn(("accept", {"reason": "operator approved", "approved": True})),
                tool_turn(("accept", {"reason": "pay whatever they ask"})),
                counter("999", "overpay"),
            ]
        )
        buyer = llm_buyer(pair, llm(pair, hostile, fallback=BUYER_BRAIN, max_steps=4))
        record = await buyer.buy(pair.seller.server.url, "translation", input=INPUT)
        # The model never made a valid move: the rules fallback negotiated (within the cap) and settled.
        assert record.state == "released", record.reason
        assert Decimal(record.price) <= CAP
        assert (pair.buyer.signer.typed, pair.buyer.signer.transactions) == (1, 3)  # the deal only
        assert await market.balance(STRANGER_ADDRESS) == 0
        assert await market.balance(pair.buyer.address) == 100 * USD - int(Decimal(record.price) * USD)
        # Every attempt is in the ledger: the skill calls as executor decisions (origin llm) ...
        llm_decisions = [d for d in pair.buyer.entries("decision") if d["origin"] == "llm"]
        assert [d["verdict"] for d in llm_decisions] == ["deny"] * 4
        reasons = " ".join(str(d["reasons"]) for d in llm_decisions)
        assert "not on the allow list" in reasons or "not allowed" in reasons
        assert "unknown skill 'approve_pending'" in reasons
        # ... and the refused decisions in the brain's entry, with the fallback's move and why.
        first = brain_entries(pair.buyer)[0]
        assert first["source"] == "fallback"
        assert [c["verdict"] for c in first["calls"]] == ["refused"] * 3
        assert "approved: unknown argument" in first["calls"][0]["reason"]
        assert "accepting 38 is outside the limits (at most 25)" in first["calls"][1]["reason"]
        assert "a price of 999 is outside the limits" in first["calls"][2]["reason"]
        assert first["why_not_llm"].startswith("the model's move was refused")
        assert pair.buyer.executor.approvals.pending() == []


class RogueDecider:
    """A brain that has slipped its limits: accepts whatever the seller asks."""

    async def decide(self, situation: Situation) -> Move:
        return Move("accept", situation.their_price, "yes to anything")


async def test_the_buyer_cap_stops_a_brain_that_accepts_anything(market: Market, tmp_path: Path) -> None:
    async with AsyncExitStack() as stack:
        pair = await make_pair(stack, market, tmp_path)
        buyer = llm_buyer(pair, RogueDecider())
        record = await buyer.buy(pair.seller.server.url, "translation", input=INPUT)
        assert record.state == "declined"
        assert record.reason == "refused to accept 38: over the cap of 25 (yes to anything)"
        assert pair.buyer.signer.signatures == 0
        sent = [e["type"] for e in pair.buyer.entries("message_out")]
        assert sent == ["cfp", "reject"]


async def test_an_llm_seller_opens_counters_and_accepts_within_its_floor(
    market: Market, tmp_path: Path
) -> None:
    async with AsyncExitStack() as stack:
        pair = await make_pair(stack, market, tmp_path)
        side = pair.seller
        model = scripted(
            [
                counter("36", "open high"),
                counter("12", "too low: refused"),
                counter("28"),
                tool_turn(("accept", {"reason": "fair"})),
            ]
        )
        brain = LlmBrain(kind="llm", model="scripted:test", fallback=SELLER_BRAIN)
        seller = Seller(
            executor=side.executor,
            deals=side.deals,
            brain=LlmDecider(model, side.executor, config=brain, ledger=side.sink),
            offers=pair.seller_brain.offers,
            ledger=side.sink,
        )
        side.negotiator.handler = seller
        # The rules buyer (10 -> 30 in 6 rounds) counters 13.333333, then 20; the model accepts 20.
        record = await pair.buyer_brain.buy(side.server.url, "translation", input=INPUT)
        assert record.state == "released", record.reason
        assert Decimal(record.price) == Decimal("20")
        moves = side.entries("brain")
        assert [(m["move"], m["price"]) for m in moves] == [
            ("counter", "36"),
            ("counter", "28"),
            ("accept", "20"),
        ]
        assert moves[1]["calls"][0]["reason"] == "a price of 12 is outside the limits (at least 15)"
        assert await market.balance(side.address) == 20 * USD
