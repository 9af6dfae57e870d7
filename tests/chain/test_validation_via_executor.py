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


async def test_a_validator_reruns_the_service_and_scores_a_faithful_and_a_forged_delivery(
    market: Market, tmp_path: Path
) -> None:
    from runtime.services import ServiceContext
    from runtime.services.validator import ValidationRefused, request_document, validate_delivery
    from tests.support.settlement import INPUT, translation

    common = {"contracts": market.contracts, "chain": market.client, "tokens": (market.token,)}
    services = translation()  # the validator runs the seller's service itself
    with ExitStack() as stack:
        agent = stack.enter_context(make_rig(tmp_path, AGENT_POLICY, name="agent", **common))
        validator = stack.enter_context(make_rig(tmp_path, VALIDATOR_POLICY, name="validator", **common))
        for rig in (agent, validator):
            await market.fund(rig.signer.address, usd=0)
        registered = await agent.executor.execute(
            "register_agent", {"endpoint": "http://127.0.0.1:1"}, "operator"
        )
        assert registered.result is not None, registered.reasons
        agent_id = registered.result["agent_id"]
        context = ServiceContext("validator", validator.key.did, tmp_path / "scratch")
        delivered = {"text": "bonjour le monde (hello world)", "words": 2}
        scores = []
        for output in (delivered, {**delivered, "words": 3}):
            document, request = request_document("translation", INPUT, output)
            asked = await agent.executor.execute(
                "request_validation",
                {"validator": validator.signer.address, "agent_id": agent_id,
                 "request_uri": "data:application/json,deal", "request_hash": request},
                "operator",
            )  # fmt: skip
            assert asked.status == "done", asked.reasons
            verdict, answered = await validate_delivery(
                validator.executor, services, context, document, request
            )
            assert answered.status == "done", answered.reasons
            scores.append(verdict.score)
        assert scores == [100, 0]
        count, average = await market.contracts["ValidationRegistry"].call(
            "getSummary", agent_id, [], "rerun"
        )
        assert (count, average) == (2, 50)
        signed = validator.signer.transactions
        other, _ = request_document("translation", {"text": "other"}, delivered)
        with pytest.raises(ValidationRefused, match="it is not the work asked about"):
            await validate_delivery(validator.executor, services, context, other, request)
        unknown, unknown_hash = request_document("summary", INPUT, delivered)
        with pytest.raises(ValidationRefused, match="does not run 'summary'"):
            await validate_delivery(validator.executor, services, context, unknown, unknown_hash)
        assert validator.signer.transactions == signed
