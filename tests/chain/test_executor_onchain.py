"""The executor under load on a real chain: parallel spends never overshoot a budget."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.support.executor import SELLER_ADDRESS, Market

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
"""
USD = 10**6


async def test_200_parallel_spends_of_7_against_a_daily_100_pay_exactly_14(
    market: Market, tmp_path: Path
) -> None:
    async with market.funded_rig(tmp_path, POLICY) as rig:
        before = await market.balance(SELLER_ADDRESS)
        args = {"to": "seller", "token": "TUSD", "amount": "7"}
        outcomes = await asyncio.gather(
            *(rig.executor.execute("transfer_token", args, "llm") for _ in range(200))
        )
        done = [o for o in outcomes if o.status == "done"]
        denied = [o for o in outcomes if o.status == "denied"]
        assert (len(done), len(denied)) == (14, 186), {o.status for o in outcomes}
        assert all("daily limit of 100" in " ".join(o.reasons) for o in denied)
        assert rig.signer.transactions == 14
        assert await market.balance(SELLER_ADDRESS) - before == 98 * USD
        assert rig.budget.spent(rig.key.did, market.token) == 98 * USD
        decisions = rig.entries("decision")
        # Each attempt's policy decision is logged; those the policy allowed but the budget then
        # refused (another spend reserved first) have a second, budget-stage denial.
        assert [d["stage"] for d in decisions].count("policy") == 200
        assert {d["stage"] for d in decisions} == {"policy", "budget"}
        assert len({d["action"] for d in decisions}) == 200
        assert [e["status"] for e in rig.entries("effect")] == ["done"] * 14
        assert len({o.action_id for o in outcomes}) == 200


async def test_a_pause_at_the_signature_does_not_hold_up_later_transactions(
    market: Market, tmp_path: Path
) -> None:
    async with market.funded_rig(tmp_path, POLICY) as rig:
        args = {"to": "seller", "token": "TUSD", "amount": "7"}
        allocate = market.client.nonces.allocate

        async def pause_then_allocate(address: str) -> int:
            # The operator pauses after the executor's own pause check, just before the signature.
            rig.executor.pause("operator: now")
            return await allocate(address)

        market.client.nonces.allocate = pause_then_allocate  # type: ignore[method-assign]
        paused = await rig.executor.execute("transfer_token", args, "llm")
        market.client.nonces.allocate = allocate  # type: ignore[method-assign]
        assert paused.status == "denied"
        assert "paused (operator: now)" in paused.reasons[0]
        rig.executor.resume()
        done = await asyncio.wait_for(rig.executor.execute("transfer_token", args, "llm"), 15)
        assert done.status == "done", done.reasons
        assert rig.signer.transactions == 1
        assert await market.client.nonce(rig.signer.address, "latest") == 1
