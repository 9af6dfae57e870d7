"""The buyer's feedback goes through its executor like any transaction: a released deal is rated once,
a second rating of it and a rating of a deal that is not released fail with the registry's reason,
and an agent whose policy does not allow the registry is denied before anything is signed."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from runtime.chain.anvil import AnvilNode
from tests.support.executor import Market
from tests.support.settlement import INPUT, make_pair

pytestmark = pytest.mark.chain


@pytest.fixture
def market_anvil(module_anvil: AnvilNode) -> AnvilNode:
    """This module's tests share one anvil, each deploying its own contracts."""
    return module_anvil


async def test_a_released_deal_is_rated_once_and_a_second_rating_fails(
    market: Market, tmp_path: Path
) -> None:
    async with AsyncExitStack() as stack:
        pair = await make_pair(stack, market, tmp_path, feedback=True)
        record = await pair.buyer_brain.buy(pair.seller.server.url, "translation", input=INPUT)
        assert record.state == "released", record.reason
        seller_id = await pair.registry.contract.agent_id_of(pair.seller.address)
        again = await pair.buyer.executor.execute(
            "give_feedback", {"deal": record.deal, "agent_id": seller_id, "value": 100}, "operator"
        )
        assert again.status == "failed"
        assert "NoSettledDeal" in again.message()
        count, _, _ = await market.contracts["ReputationRegistry"].call("getSummary", seller_id, [], "", "")
        assert count == 1


async def test_a_deal_not_released_cannot_be_rated(market: Market, tmp_path: Path) -> None:
    async with AsyncExitStack() as stack:
        pair = await make_pair(stack, market, tmp_path, feedback=True, deliver=False)
        record = await pair.buyer_brain.buy(pair.seller.server.url, "translation", input=INPUT)
        assert record.state == "funded", record.reason  # open in the escrow, never released
        seller_id = await pair.registry.contract.agent_id_of(pair.seller.address)
        rated = await pair.buyer.executor.execute(
            "give_feedback", {"deal": record.deal, "agent_id": seller_id, "value": 100}, "operator"
        )
        assert rated.status == "failed"
        assert "DealNotReleased" in rated.message()


async def test_an_agent_that_did_not_pay_or_whose_policy_lacks_the_skill_signs_nothing(
    market: Market, tmp_path: Path
) -> None:
    async with AsyncExitStack() as stack:
        pair = await make_pair(stack, market, tmp_path, feedback=True)
        record = await pair.buyer_brain.buy(pair.seller.server.url, "translation", input=INPUT)
        assert record.state == "released", record.reason
        assert record.deal is not None
        seller = pair.seller.executor
        not_paid = await seller.execute(
            "give_feedback", {"deal": record.deal, "agent_id": 1, "value": 0}, "operator"
        )
        assert (not_paid.status, not_paid.reasons) == (
            "denied",
            ("only the deal's buyer rates its seller: this agent did not pay for the deal",),
        )
        as_buyer = {
            **record.deal,
            "buyer": pair.seller.address,
        }  # the plan passes; the seller preset does not
        refused = await seller.execute(
            "give_feedback", {"deal": as_buyer, "agent_id": 1, "value": 0}, "operator"
        )
        assert refused.status == "denied"
        assert "give_feedback" in refused.message()
        assert pair.seller.signer.transactions == 0
