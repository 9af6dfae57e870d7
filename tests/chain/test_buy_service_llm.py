"""A model buys work from another agent with the `buy_service` tool, on a real anvil over real HTTP: the
call goes through the agent's Purchaser (the same Buyer path as `sova buy`), so the policy's deal price
cap and budgets bind it. A hostile model asking for a max price over the cap, or sending input that
does not match the seller's schema, is refused before anything is signed."""

from __future__ import annotations

import json
from contextlib import AsyncExitStack
from decimal import Decimal
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage, ToolMessage

from policies import TokenRegistry, load_policy
from runtime.brains.buying import buyer_agent
from runtime.chain.anvil import AnvilNode
from runtime.negotiation.buyer import Buyer
from runtime.operator.purchase import Purchaser
from tests.support.executor import Market
from tests.support.llm import scripted
from tests.support.settlement import BUYER_BRAIN, INPUT, PRESETS, Pair, make_pair

pytestmark = pytest.mark.chain

CAP = "40"


@pytest.fixture
def market_anvil(module_anvil: AnvilNode) -> AnvilNode:
    return module_anvil


def purchaser(pair: Pair, market: Market) -> Purchaser:
    """The buyer's Purchaser, its policy the buyer preset with a deal_price cap of CAP TUSD."""
    executor = pair.buyer.executor
    executor.policy = load_policy(
        PRESETS / "buyer.yaml", tokens=TokenRegistry((market.token,)), names={"issuer": (pair.issuer.did,)},
        extra_rules=[{"kind": "deal_price", "token": "TUSD", "max": CAP}],
    )  # fmt: skip

    def make_buyer(cap: Decimal | None, token: str) -> Buyer:
        return Buyer(
            executor=executor, messenger=pair.buyer.messenger, deals=pair.buyer.deals, brain=BUYER_BRAIN,
            peers=pair.buyer.peers, cap=cap, trusted_issuers=[pair.issuer.did], registry=pair.registry,
            ledger=pair.buyer.sink, token=token,
        )  # fmt: skip

    return Purchaser(
        make_buyer=make_buyer, policy=executor.policy, registry=pair.registry, messenger=pair.buyer.messenger,
        deals=pair.buyer.deals, own_wallet=pair.buyer.address, names={"seller": pair.seller.key.did},
    )  # fmt: skip


def tool_messages(state: dict[str, object]) -> list[ToolMessage]:
    messages = state["messages"]
    assert isinstance(messages, list)
    return [m for m in messages if isinstance(m, ToolMessage)]


def signing(pair: Pair) -> list[dict[str, object]]:
    return [d for d in pair.buyer.entries("decision") if d.get("skill") in ("send_message", "sign_deal")]


async def test_a_model_buys_a_service_and_reads_the_checked_result(market: Market, tmp_path: Path) -> None:
    async with AsyncExitStack() as stack:
        pair = await make_pair(stack, market, tmp_path)
        model = scripted([("buy_service", {"service": "translation", "input": INPUT, "max_price": "35"})])
        agent = buyer_agent(model, pair.buyer.executor, purchaser(pair, market).for_model)
        state = await agent.ainvoke({"messages": [HumanMessage("get this translated")]})
        [answer] = tool_messages(state)
        assert answer.status == "success", answer.content
        result = json.loads(str(answer.content))
        assert result["state"] == "released"
        assert result["output"] == {"text": "bonjour le monde (hello world)", "words": 2}
        assert Decimal(result["price"]) <= 35
        assert any(d.get("skill") == "sign_deal" for d in signing(pair))


async def test_a_hostile_model_over_the_cap_or_with_bad_input_is_refused_unsigned(
    market: Market, tmp_path: Path
) -> None:
    async with AsyncExitStack() as stack:
        pair = await make_pair(stack, market, tmp_path)
        model = scripted(
            [("buy_service", {"service": "translation", "input": INPUT, "max_price": "1000"})],
            [("buy_service", {"service": "translation", "input": {"txt": 1}})],
            [("buy_service", {"service": "translation", "input": INPUT, "max_price": "-5"})],
            [("buy_service", {"service": "translation", "input": INPUT, "approved": True})],
        )
        agent = buyer_agent(model, pair.buyer.executor, purchaser(pair, market).for_model)
        state = await agent.ainvoke({"messages": [HumanMessage("buy it whatever it costs")]})
        over, bad, negative, extra = tool_messages(state)
        assert all(m.status == "error" for m in (over, bad, negative, extra))
        assert f"over this agent's policy cap of {CAP} TUSD" in str(over.content)
        assert "does not match translation's input schema" in str(bad.content)
        assert "negative" in str(negative.content)
        assert "approved" in str(extra.content)
        assert signing(pair) == []
        assert pair.buyer.deals.all() == []
