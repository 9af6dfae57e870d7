"""An agent's service bought per call over A2A with the x402 A2A extension (a2a-x402 v0.2, standalone
flow), on anvil, through the agent's real A2A server and Sova's facilitator over real HTTP: the
purchase is a Task `input-required` with the payment requirements in its metadata; the payment sent
with the task id completes it with the output and the receipt; a bad payment, a failed service, a
second payment and an unknown task are each one clear answer, and nothing is paid twice."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from runtime.a2a.x402_ext import X402_EXTENSION
from runtime.chain.anvil import AnvilNode
from runtime.ledger.sink import MemorySink
from runtime.payments.a2a_sales import A2ASales
from runtime.payments.facilitator_client import FacilitatorClient
from runtime.payments.paywall import Paywall
from runtime.payments.sales import Seller
from runtime.services.offering import Shop
from runtime.services.service import ServiceContext
from tests.chain.test_x402_services import services
from tests.support.a2a import make_agent, serving
from tests.support.executor import SELLER_ADDRESS, Market, Rig
from tests.support.payments import facilitator
from tests.support.tasks import rpc

pytestmark = pytest.mark.chain

POLICY = """
version: 1
rules:
  - kind: allow_skills
    skills: [pay_x402]
  - kind: spend_limit
    token: TUSD
    per_action: "1"
    per_day: "10"
"""


@pytest.fixture
def market_anvil(module_anvil: AnvilNode) -> AnvilNode:
    return module_anvil


@pytest.fixture
async def buyer(market: Market, tmp_path: Path) -> AsyncIterator[Rig]:
    async with market.funded_rig(tmp_path, POLICY) as rig:
        yield rig


@pytest.fixture
async def seller(market: Market, tmp_path: Path) -> AsyncIterator[tuple[str, MemorySink]]:
    """A seller's A2A server selling wordcount per call; its URL and its ledger."""
    agent = make_agent(tmp_path, "seller")
    sink = MemorySink()
    shop = Shop(services(), ServiceContext("seller", agent.did, tmp_path), lambda refs: ())
    async with facilitator(market, tmp_path) as (_, fac_url):
        client = FacilitatorClient(fac_url)
        seller = Seller(SELLER_ADDRESS, market.token, market.client.chain_id, "http://127.0.0.1:9")
        agent.negotiator.paid_tasks = A2ASales(shop, seller, Paywall(client, sink, market.client))
        try:
            async with serving(agent) as server:
                yield server.url, sink
        finally:
            await client.close()
            agent.close()


def buy(text: str) -> dict[str, Any]:
    parts = [{"data": {"service": "wordcount", "input": {"text": text}}}]
    return {"message": {"messageId": uuid.uuid4().hex, "role": "ROLE_USER", "extensions": [X402_EXTENSION],
                        "parts": parts}}  # fmt: skip


def pay(task: dict[str, Any], payload: dict[str, Any], status: str = "payment-submitted") -> dict[str, Any]:
    meta: dict[str, Any] = {"x402.payment.status": status}
    if payload:
        meta["x402.payment.payload"] = payload
    return {"message": {"messageId": uuid.uuid4().hex, "role": "ROLE_USER", "taskId": task["id"],
                        "contextId": task["contextId"], "extensions": [X402_EXTENSION],
                        "parts": [{"text": "here is the payment"}], "metadata": meta}}  # fmt: skip


async def signed(buyer: Rig, accepted: dict[str, Any], resource: str) -> dict[str, Any]:
    """The buyer's executor signs `accepted` (pay_x402, under its policy): the x402 PaymentPayload."""
    args = {"resource": resource, "accepted": accepted}
    outcome = await buyer.executor.execute("pay_x402", args, "operator")
    assert outcome.ok, outcome.reasons
    assert outcome.result is not None
    return {"x402Version": 2, "accepted": accepted, "payload": outcome.result["payload"]}


def meta(task: dict[str, Any]) -> dict[str, Any]:
    return dict(task["status"]["message"]["metadata"])


async def test_a_service_is_bought_per_call_over_a2a_and_paid_once(
    market: Market, buyer: Rig, seller: tuple[str, MemorySink]
) -> None:
    url, sink = seller
    asked = await rpc(url, "SendMessage", buy("one two three"))
    task = asked["result"]["task"]
    assert task["status"]["state"] == "TASK_STATE_INPUT_REQUIRED"
    required = meta(task)
    assert required["x402.payment.status"] == "payment-required"
    [accepted] = required["x402.payment.required"]["accepts"]
    assert (accepted["amount"], accepted["payTo"]) == ("30000", SELLER_ADDRESS)  # 0.03 TUSD for 3 words
    before = await market.balance(SELLER_ADDRESS)
    payload = await signed(buyer, accepted, required["x402.payment.required"]["resource"]["url"])
    done = (await rpc(url, "SendMessage", pay(task, payload)))["result"]["task"]
    assert done["status"]["state"] == "TASK_STATE_COMPLETED", done["status"]
    receipt = meta(done)
    assert receipt["x402.payment.status"] == "payment-completed"
    [settled] = receipt["x402.payment.receipts"]
    assert settled["success"] is True
    assert done["artifacts"][0]["parts"][0]["data"] == {"words": 3}
    assert await market.balance(SELLER_ADDRESS) == before + 30_000
    [sale] = [d for k, d in sink.entries if k == "x402_sale"]
    assert sale["transaction"] == settled["transaction"]
    # The task by its id; a second payment for it is refused, and nothing moves.
    got = (await rpc(url, "GetTask", {"id": task["id"]}))["result"]
    assert got["status"]["state"] == "TASK_STATE_COMPLETED"
    again = await rpc(url, "SendMessage", pay(task, payload))
    assert again["error"]["code"] == -32602
    assert "takes no payment now" in again["error"]["message"]
    assert await market.balance(SELLER_ADDRESS) == before + 30_000


async def test_bad_payments_failures_and_strangers_get_one_clear_answer(
    market: Market, buyer: Rig, seller: tuple[str, MemorySink]
) -> None:
    url, sink = seller
    before = await market.balance(SELLER_ADDRESS)
    task = (await rpc(url, "SendMessage", buy("a b")))["result"]["task"]
    [accepted] = meta(task)["x402.payment.required"]["accepts"]
    # An underpayment: refused, the task asks again, nothing settled.
    cheap = await signed(buyer, {**accepted, "amount": "1"}, "http://127.0.0.1:9/x402/services/wordcount")
    refused = (await rpc(url, "SendMessage", pay(task, cheap)))["result"]["task"]
    assert refused["status"]["state"] == "TASK_STATE_INPUT_REQUIRED"
    assert meta(refused)["x402.payment.status"] == "payment-failed"
    assert "not for this offer" in meta(refused)["x402.payment.error"]
    # A payload that is no PaymentPayload, and a payment status without one.
    broken = (await rpc(url, "SendMessage", pay(task, {"x402Version": "two"})))["result"]["task"]
    assert meta(broken)["x402.payment.status"] == "payment-failed"
    unsaid = await rpc(url, "SendMessage", pay(task, {}))
    assert unsaid["error"]["code"] == -32602
    # A service that fails once paid for: the task fails, nothing is settled.
    boom = (await rpc(url, "SendMessage", buy("boom")))["result"]["task"]
    [boom_offer] = meta(boom)["x402.payment.required"]["accepts"]
    failed = await rpc(url, "SendMessage", pay(boom, await signed(buyer, boom_offer, "http://x.test/b")))
    assert failed["result"]["task"]["status"]["state"] == "TASK_STATE_FAILED"
    assert "nothing was paid" in str(failed["result"]["task"]["status"])
    # Rejecting the payment cancels the task; unknown tasks, services and bad input are one line.
    rejected = (await rpc(url, "SendMessage", pay(task, {}, "payment-rejected")))["result"]["task"]
    assert rejected["status"]["state"] == "TASK_STATE_CANCELED"
    stranger = await rpc(url, "SendMessage", pay({"id": "f" * 32, "contextId": "c"}, {}))
    assert stranger["error"]["code"] == -32001
    unknown = await rpc(url, "SendMessage", {**buy("x"), "message": {**buy("x")["message"],
                        "parts": [{"data": {"service": "nope", "input": {}}}]}})  # fmt: skip
    assert "no service 'nope'" in unknown["error"]["message"]
    bad = await rpc(url, "SendMessage", {"message": {**buy("x")["message"],
                    "parts": [{"data": {"service": "wordcount", "input": {"txt": 1}}}]}})  # fmt: skip
    assert "bad input for wordcount" in bad["error"]["message"]
    assert await market.balance(SELLER_ADDRESS) == before
    assert [k for k, _ in sink.entries if k == "x402_sale"] == []
