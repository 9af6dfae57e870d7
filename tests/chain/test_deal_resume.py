"""DealResumer on a real anvil with a buyer and a seller over real HTTP: each escrow state a restarted
buyer can find, and that no transaction is ever made twice. (The process-level crash is in
tests/e2e/test_failures_crash.py.)"""

from __future__ import annotations

import secrets
from contextlib import AsyncExitStack
from dataclasses import replace
from pathlib import Path

import pytest

from runtime.chain.anvil import AnvilNode
from runtime.negotiation.deals import DealRecord
from runtime.negotiation.resume import DealResumer
from tests.support.executor import Market
from tests.support.settlement import INPUT, escrow_of, make_pair

pytestmark = pytest.mark.chain


@pytest.fixture
def market_anvil(module_anvil: AnvilNode) -> AnvilNode:
    """This module's tests share one anvil, each deploying its own contracts (see tests/chain/conftest.py)."""
    return module_anvil


async def test_a_funded_deal_whose_delivery_was_lost_is_delivered_again_and_released(
    market: Market, tmp_path: Path
) -> None:
    async with AsyncExitStack() as stack:
        pair = await make_pair(stack, market, tmp_path, deliver=False)
        record = await pair.buyer_brain.buy(pair.seller.server.url, "translation", input=INPUT)
        assert record.state == "funded", record.reason
        assert pair.buyer.signer.transactions == 2  # approve, open
        said: list[str] = []
        resumer = DealResumer(pair.buyer_brain, said.append)  # as a restarted buyer builds it
        assert resumer.orphans == {(record.peer, record.thid)}
        pair.seller_brain.settlement.deliver = True
        ended = await resumer.tick()
        assert [r.state for r in ended] == ["released"]
        assert said == [f"deal {record.thid} taken up again: released"]
        assert pair.buyer.signer.transactions == 3  # + release: the escrow was not opened again
        assert await escrow_of(market).state_of(bytes.fromhex(record.deal_id[2:])) == 2  # Released
        theirs = pair.seller.deals.get(pair.buyer.key.did, record.thid)
        assert theirs is not None
        assert theirs.state == "released"
        assert resumer.orphans == set()
        assert await resumer.tick() == []


async def test_a_deal_already_released_on_chain_is_recorded_without_a_transaction(
    market: Market, tmp_path: Path
) -> None:
    async with AsyncExitStack() as stack:
        pair = await make_pair(stack, market, tmp_path)
        record = await pair.buyer_brain.buy(pair.seller.server.url, "translation", input=INPUT)
        assert record.state == "released", record.reason
        # A crash after the release transaction, before the deal store heard of it.
        pair.buyer.deals.put(replace(record, state="delivered"))
        resumer = DealResumer(pair.buyer_brain, lambda _: None)
        ended = await resumer.tick()
        assert [r.state for r in ended] == ["released"]
        assert pair.buyer.signer.transactions == 3
        assert pair.buyer.entries("deal")[-1]["event"] == "released"


async def test_a_signed_deal_never_funded_is_declined_and_nothing_is_sent(
    market: Market, tmp_path: Path
) -> None:
    async with AsyncExitStack() as stack:
        pair = await make_pair(stack, market, tmp_path)
        orphan = DealRecord(
            peer=pair.seller.key.did, thid="t-crashed", role="buyer", state="signed", price="20",
            deal_id="0x" + secrets.token_hex(32),
        )  # fmt: skip
        pair.buyer.deals.put(orphan)
        ended = await DealResumer(pair.buyer_brain, lambda _: None).tick()
        assert [(r.thid, r.state) for r in ended] == [("t-crashed", "declined")]
        assert "never opened" in ended[0].reason
        assert pair.buyer.signer.signatures == 0
        assert pair.buyer.entries("message_out") == []
