"""Validation through the executor: an agent asks a validator to check its work (request_validation),
the validator scores it (answer_validation), and a validator other than the named one signs nothing
that the registry accepts."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pytest
from eth_utils import keccak

from runtime.chain.anvil import AnvilNode
from tests.support.executor import CountingSigner, Market, make_rig

pytestmark = pytest.mark.chain

AGENT_POLICY = """
version: 1
rules:
  - kind: allow_skills
    skills: [register_agent, request_validation]
  - kind: contracts
    allow: {AgentRegistry: [register], ValidationRegistry: [validationRequest]}
"""
VALIDATOR_POLICY = """
version: 1
rules:
  - kind: allow_skills
    skills: [answer_validation]
  - kind: contracts
    allow: {ValidationRegistry: [validationResponse]}
"""


@pytest.fixture
def market_anvil(module_anvil: AnvilNode) -> AnvilNode:
    """This module's tests share one anvil, each deploying its own contracts."""
    return module_anvil


async def test_an_agent_asks_and_its_validator_answers(market: Market, tmp_path: Path) -> None:
    common = {"contracts": market.contracts, "chain": market.client, "tokens": (market.token,)}
    with ExitStack() as stack:
        agent = stack.enter_context(make_rig(tmp_path, AGENT_POLICY, name="agent", **common))
        validator = stack.enter_context(make_rig(tmp_path, VALIDATOR_POLICY, name="validator", **common))
        stranger = stack.enter_context(
            make_rig(tmp_path, VALIDATOR_POLICY, name="stranger", signer=CountingSigner(), **common)
        )
        for rig in (agent, validator, stranger):
            await market.fund(rig.signer.address, usd=0)
        registered = await agent.executor.execute(
            "register_agent", {"endpoint": "http://127.0.0.1:1"}, "operator"
        )
        assert registered.status == "done", registered.reasons
        assert registered.result is not None
        request = "0x" + keccak(b"the output of deal 1").hex()
        asked = await agent.executor.execute(
            "request_validation",
            {"validator": validator.signer.address, "agent_id": registered.result["agent_id"],
             "request_uri": "ipfs://deal-1", "request_hash": request},
            "operator",
        )  # fmt: skip
        assert asked.status == "done", asked.reasons
        forged = await stranger.executor.execute(
            "answer_validation", {"request_hash": request, "response": 0}, "llm"
        )
        assert forged.status == "failed"
        assert "NotTheValidator" in forged.message()
        answered = await validator.executor.execute(
            "answer_validation", {"request_hash": request, "response": 100, "tag": "rerun"}, "operator"
        )
        assert answered.status == "done", answered.reasons
        validation = market.contracts["ValidationRegistry"]
        count, average = await validation.call("getSummary", registered.result["agent_id"], [], "")
        assert (count, average) == (1, 100)
