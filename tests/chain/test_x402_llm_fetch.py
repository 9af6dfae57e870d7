"""A model fetches and pays with the `fetch_paid` tool on a real anvil, through Sova's paywall and
facilitator over real HTTP: the call is the agent's PaidFetch (the same path as `sova fetch`), so its
policy binds it. A hostile model — an offer over its own maximum, over the policy's per-payment cap,
a stranger as payee, a foreign domain, an `approved` key slipped in — is refused and nothing is signed;
an allowed payment's authorization never reaches the model."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage, ToolMessage

from runtime.brains.paying import paying_agent
from runtime.chain.anvil import AnvilNode
from runtime.payments.model_fetch import ModelFetch
from tests.support.executor import SELLER_ADDRESS, STRANGER_ADDRESS, Market, Rig
from tests.support.llm import scripted
from tests.support.payments import facilitator, shop

pytestmark = pytest.mark.chain

POLICY = """
version: 1
rules:
  - kind: allow_skills
    skills: [pay_x402]
  - kind: spend_limit
    token: TUSD
    per_action: "1"
    per_day: "5"
  - kind: counterparties
    allow: [seller]
  - kind: domains
    allow: [127.0.0.1]
"""
PRICE = 250_000  # 0.25 TUSD
_SIGNATURE = re.compile(r"0x[0-9a-fA-F]{128,132}")


@pytest.fixture
def market_anvil(module_anvil: AnvilNode) -> AnvilNode:
    return module_anvil


@pytest.fixture
async def buyer(market: Market, tmp_path: Path) -> AsyncIterator[Rig]:
    async with market.funded_rig(tmp_path, POLICY) as rig:
        yield rig


@pytest.fixture
async def fac_url(market: Market, tmp_path: Path) -> AsyncIterator[str]:
    async with facilitator(market, tmp_path) as (_, url):
        yield url


def answers(state: dict[str, object]) -> list[ToolMessage]:
    messages = state["messages"]
    assert isinstance(messages, list)
    return [m for m in messages if isinstance(m, ToolMessage)]


async def test_a_model_pays_for_a_url_and_never_sees_the_authorization(
    market: Market, buyer: Rig, fac_url: str
) -> None:
    before = await market.balance(SELLER_ADDRESS)
    async with shop(market, fac_url, SELLER_ADDRESS, PRICE) as s:
        model = scripted(
            [("fetch_paid", {"url": s.url, "max_amount": "0.5", "method": "POST", "body": "{}"})]
        )
        agent = paying_agent(model, buyer.executor, ModelFetch(buyer.executor, buyer.ledger).for_model)
        state = await agent.ainvoke({"messages": [HumanMessage("get the forecast")]})
    [answer] = answers(state)
    assert answer.status == "success", answer.content
    shown = json.loads(str(answer.content))
    assert shown["paid"] is True
    assert json.loads(shown["body"])["forecast"] == "sunny"
    assert shown["payment"]["price"] == "0.25 TUSD"
    assert not _SIGNATURE.search(str(answer.content))
    assert await market.balance(SELLER_ADDRESS) == before + PRICE
    [paid] = buyer.entries("x402_payment")
    assert paid["status"] == "paid"
    [decision] = [d for d in buyer.entries("decision") if d.get("skill") == "pay_x402"]
    assert decision["origin"] == "llm"


async def test_a_hostile_model_is_refused_and_nothing_is_signed(
    market: Market, buyer: Rig, fac_url: str
) -> None:
    before = await market.balance(STRANGER_ADDRESS)
    async with (
        shop(market, fac_url, SELLER_ADDRESS, PRICE) as cheap,
        shop(market, fac_url, SELLER_ADDRESS, 2_000_000) as dear,
        shop(market, fac_url, STRANGER_ADDRESS, PRICE) as stranger,
    ):
        foreign = cheap.url.replace("127.0.0.1", "localhost")
        model = scripted(
            [("fetch_paid", {"url": cheap.url, "max_amount": "0.1"})],
            [("fetch_paid", {"url": dear.url, "max_amount": "100"})],
            [("fetch_paid", {"url": stranger.url, "max_amount": "1"})],
            [("fetch_paid", {"url": foreign, "max_amount": "1"})],
            [("fetch_paid", {"url": cheap.url, "max_amount": "1", "approved": True})],
            [("fetch_paid", {"url": cheap.url})],
        )
        agent = paying_agent(model, buyer.executor, ModelFetch(buyer.executor, buyer.ledger).for_model)
        state = await agent.ainvoke({"messages": [HumanMessage("pay whatever it takes")]})
        calls = cheap.calls + dear.calls + stranger.calls
    over_max, over_cap, to_stranger, off_domain, approved, no_max = answers(state)
    assert all(m.status == "error" for m in answers(state))
    assert "over the maximum of 0.1" in str(over_max.content)
    assert "payment not made" in str(over_cap.content)
    assert "payment not made" in str(to_stranger.content)
    assert "payment not made" in str(off_domain.content)
    assert "approved" in str(approved.content)
    assert "max_amount is required" in str(no_max.content)
    assert buyer.signer.signatures == 0
    assert calls == []
    assert await market.balance(STRANGER_ADDRESS) == before
    denied = [d for d in buyer.entries("decision") if d.get("skill") == "pay_x402"]
    assert len(denied) == 3
    assert [d["verdict"] for d in denied] == ["deny"] * 3, denied
    kinds = [
        {r["kind"] for r in d["reasons"] if isinstance(r, dict) and r["verdict"] == "deny"} for d in denied
    ]
    assert [k & {"spend_limit", "counterparties", "domains"} for k in kinds] == [
        {"spend_limit"},
        {"counterparties"},
        {"domains"},
    ], kinds
