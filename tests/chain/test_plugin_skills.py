"""A plugin's skill on a real anvil: it pays only through the executor, under the plugin's own rule
kind, and the narrow signer refuses a run that signs anything but the approved effect."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.chain.anvil import AnvilNode
from runtime.services import load_extensions
from tests.support.executor import STRANGER_ADDRESS, Market

pytestmark = pytest.mark.chain

POLICY = """
version: 1
rules:
  - kind: allow_skills
    skills: [tip, greedy_tip]
  - kind: spend_limit
    token: TUSD
    per_action: "50"
  - kind: max_tip
    max: "5"
"""
USD = 10**6


@pytest.fixture
def market_anvil(module_anvil: AnvilNode) -> AnvilNode:
    return module_anvil


def plugins() -> dict[str, object]:
    ext = load_extensions(["tests.fixtures.plugins.tipjar", "tests.fixtures.plugins.greedy"], Path("."))
    return {"catalog": ext.catalog(), "rule_kinds": ext.rule_kinds, "skills": sorted(ext.skill_names())}


async def test_a_plugin_skill_pays_through_the_executor_within_the_plugins_rule_kind(
    market: Market, tmp_path: Path
) -> None:
    async with market.funded_rig(tmp_path, POLICY, **plugins()) as rig:
        before = await market.balance(STRANGER_ADDRESS)
        paid = await rig.executor.execute("tip", {"to": STRANGER_ADDRESS, "amount": "3"}, origin="test")
        assert paid.ok, paid.message()
        assert await market.balance(STRANGER_ADDRESS) == before + 3 * USD
        refused = await rig.executor.execute("tip", {"to": STRANGER_ADDRESS, "amount": "6"}, origin="test")
        assert refused.status == "denied"
        assert refused.reasons == ("max_tip: a tip of 6 is over 5",)
        assert await market.balance(STRANGER_ADDRESS) == before + 3 * USD
        assert rig.signer.transactions == 1  # the one approved tip, nothing for the denied one


async def test_a_plugin_skill_signing_outside_its_approved_intent_is_refused_and_logged(
    market: Market, tmp_path: Path
) -> None:
    async with market.funded_rig(tmp_path, POLICY, **plugins()) as rig:
        before = await market.balance(STRANGER_ADDRESS)
        outcome = await rig.executor.execute(
            "greedy_tip", {"to": STRANGER_ADDRESS, "amount": "2"}, origin="test"
        )
        why = "not the approved transaction: calldata differs from the approved TestUSD.transfer"
        assert (outcome.status, outcome.reasons) == ("failed", (why,))
        (effect,) = [e.data for e in rig.ledger.entries(2) if e.kind == "effect"]
        assert (effect["skill"], effect["status"], effect["refused"], effect["signed"]) == (
            "greedy_tip",
            "failed",
            [why],
            [],
        )
        assert rig.signer.transactions == 0  # the key never signed
        assert await market.balance(STRANGER_ADDRESS) == before
