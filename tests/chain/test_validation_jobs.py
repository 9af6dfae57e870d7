"""Validation end to end through the agents' scheduled jobs: the seller asks its validator to check
each delivered deal (its document served over HTTP, bound by its hash), the validator's job reads the
request event, re-runs the service and answers 100 — and 0 for a delivery whose output was tampered
with —; the same work delivered twice is asked once; `sova registry show`'s view reports both
answers; a document altered after the request is refused without a transaction."""

from __future__ import annotations

import json
from contextlib import AsyncExitStack, ExitStack
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette

from runtime.a2a.server import listen, serve_started
from runtime.a2a.work_documents import document_routes
from runtime.agent.validation_jobs import DOCUMENTS, AnswerValidations, AskForValidation
from runtime.chain.agent_view import agent_view
from runtime.chain.anvil import AnvilNode
from runtime.services import ServiceContext
from tests.support.executor import Market, make_rig
from tests.support.settlement import INPUT, make_pair, translation

pytestmark = pytest.mark.chain

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
    return module_anvil


async def serve_documents(stack: AsyncExitStack, folder: Path) -> str:
    """The seller's document route on its own loopback server (the agent serves it on its A2A one)."""
    sock, url = listen()
    stack.callback(sock.close)
    server = uvicorn.Server(uvicorn.Config(Starlette(routes=document_routes(folder)), log_level="warning"))
    task = await serve_started(server, sock, "documents")

    async def stop() -> None:
        server.should_exit = True
        await task

    stack.push_async_callback(stop)
    return url


async def test_the_validator_job_answers_the_sellers_requests_100_and_0_for_a_tampered_output(
    market: Market, tmp_path: Path
) -> None:
    lines: list[str] = []
    async with AsyncExitStack() as stack:
        pair = await make_pair(stack, market, tmp_path)
        seller, seller_folder = pair.seller, tmp_path / "seller-agent"
        url = await serve_documents(stack, seller_folder / DOCUMENTS)
        with ExitStack() as rigs:
            validator = rigs.enter_context(
                make_rig(tmp_path, VALIDATOR_POLICY, name="validator", contracts=market.contracts,
                         chain=market.client, tokens=(market.token,))
            )  # fmt: skip
            await market.fund(validator.signer.address, usd=0)
            agent_id = await pair.registry.contract.agent_id_of(seller.address)
            ask = AskForValidation(
                seller.executor, seller.deals, seller_folder, {"translation": validator.signer.address}, url,
                lambda: agent_id, lines.append,
            )  # fmt: skip
            context = ServiceContext("validator", validator.key.did, tmp_path / "scratch")
            answer = AnswerValidations(
                validator.executor, market.contracts["ValidationRegistry"], translation(), context,
                tmp_path / "validator-agent", lines.append,
            )  # fmt: skip

            faithful = await pair.buyer_brain.buy(seller.server.url, "translation", input=INPUT)
            assert faithful.state == "released", faithful.reason
            await ask()
            await answer()
            registry = market.contracts["ValidationRegistry"]
            assert await registry.call("getSummary", agent_id, [], "rerun") == (1, 100)
            again = await pair.buyer_brain.buy(seller.server.url, "translation", input=INPUT)
            assert again.state == "released", again.reason
            sent = seller.signer.transactions
            await ask()  # the same work delivered again: validated once, no second request
            assert seller.signer.transactions == sent

            other = await pair.buyer_brain.buy(seller.server.url, "translation", input={"text": "a b c"})
            assert other.state == "released", other.reason
            kept = seller.deals.in_states("seller", ("released",))
            record = next(r for r in kept if r.deal_id == other.deal_id)
            forged = json.dumps({"text": "bonjour le monde (a b c)", "words": 4}, separators=(",", ":"))
            seller.deals.update(record.peer, record.thid, output=forged)  # the seller's record, tampered
            sent = seller.signer.transactions
            await ask()
            await ask()  # nothing new: one request per deal
            assert seller.signer.transactions == sent + 1
            await answer()
            assert await registry.call("getSummary", agent_id, [], "rerun") == (2, 50)

            view = await agent_view(market.contracts, agent_id)
            assert view["validations"]["answered"] == 2
            assert sorted(r["response"] for r in view["validations"]["latest"]) == [0, 100]
            state = json.loads((tmp_path / "validator-agent" / "validations.json").read_text())
            assert sorted(item["score"] for item in state["answered"].values()) == [0, 100]

            # A document changed on the seller's side after its request: refused, nothing signed.
            third = await pair.buyer_brain.buy(seller.server.url, "translation", input={"text": "x y"})
            assert third.state == "released", third.reason
            await ask()
            signed = validator.signer.transactions
            for path in (seller_folder / DOCUMENTS).glob("*.json"):
                document = json.loads(path.read_text())
                if document["input"] == {"text": "x y"}:
                    path.write_text(json.dumps({**document, "output": {"text": "?", "words": 2}}))
            await answer()
            assert validator.signer.transactions == signed
            assert any("it is not the work asked about" in line for line in lines), lines
