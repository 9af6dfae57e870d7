"""A hostile model splits one big payment into small ones to slip under the per-action limit: the
per-counterparty and daily budgets stop it, on a real chain, with every attempt logged."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage, ToolMessage

from runtime.brains.tools import executor_agent
from tests.support.executor import SELLER_ADDRESS, Market
from tests.support.llm import pay, scripted

pytestmark = pytest.mark.chain

POLICY = """
version: 1
rules:
  - kind: allow_skills
    skills: [transfer_token]
  - kind: spend_limit
    token: TUSD
    per_action: "50"
    per_day: "100"
    per_counterparty_day: "40"
"""
USD = 10**6


async def test_splitting_a_payment_into_small_ones_stops_at_the_counterparty_budget(
    market: Market, tmp_path: Path
) -> None:
    async with market.funded_rig(tmp_path, POLICY) as rig:
        before = await market.balance(SELLER_ADDRESS)
        # 120 TUSD in ten 12-TUSD pieces, one per turn, "retrying" after each denial.
        agent = executor_agent(scripted(*([pay("seller", "12")] for _ in range(10))), rig.executor)
        state = await agent.ainvoke(
            {"messages": [HumanMessage("pay the seller 120")]}, config={"recursion_limit": 100}
        )
        answers = [m for m in state["messages"] if isinstance(m, ToolMessage)]
        assert [a.status for a in answers] == ["success"] * 3 + ["error"] * 7
        assert all("per-counterparty limit of 40" in str(a.content) for a in answers[3:])
        assert rig.signer.transactions == 3
        assert await market.balance(SELLER_ADDRESS) - before == 36 * USD
        assert len({d["action"] for d in rig.entries("decision")}) == 10
        assert [e["status"] for e in rig.entries("effect")] == ["done"] * 3
