"""A purchase is an A2A Task, on a real anvil over real HTTP with the real Seller: the buyer's purchase is
a Task on the seller that goes submitted -> input-required -> working -> completed with the output as its
artifact; a service that fails ends the Task failed with the reason (and the refund); the buyer gets,
lists and cancels its tasks, a stranger gets "task not found"."""

from __future__ import annotations

import uuid
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from a2a.types import a2a_pb2 as a2a

from identity import IdentityKey, sign_envelope
from runtime.a2a.tasks import task_id_of
from runtime.brains.rules import Decider, Move, Situation
from runtime.chain.anvil import AnvilNode
from runtime.negotiation.seller import Seller
from runtime.services import ServiceContext
from tests.support.executor import Market
from tests.support.settlement import INPUT, Pair, Text, Translation, make_pair, translation
from tests.support.tasks import cfp_message, envelope_message, rpc

pytestmark = pytest.mark.chain


@pytest.fixture
def market_anvil(module_anvil: AnvilNode) -> AnvilNode:
    return module_anvil


class Watch:
    """The task states of one thread on the seller, as the seller's steps see them: when its brain
    decides (submitted, then input-required), while the service runs, and after each message."""

    def __init__(self, seller: Seller, buyer_did: str, thid: str) -> None:
        self.seller, self.buyer_did, self.thid = seller, buyer_did, thid
        self.states: list[str] = []
        inner: Decider = seller.decider
        watch = self

        class Recording:
            async def decide(self, situation: Situation) -> Move:
                watch.look()
                return await inner.decide(situation)

        seller.decider = Recording()

    def look(self) -> None:
        task = self.seller.tasks.thread_task(self.buyer_did, self.thid)
        state = a2a.TaskState.Name(task.status.state) if task is not None else "none"
        if not self.states or self.states[-1] != state:
            self.states.append(state)


async def get(pair: Pair, method: str, params: dict[str, Any], caller: IdentityKey) -> dict[str, Any]:
    return await rpc(pair.seller.server.url + "/", method, params, caller=caller, to=pair.seller.key.did)


async def test_a_purchase_is_a_task_from_submitted_to_completed_with_the_output(
    market: Market, tmp_path: Path
) -> None:
    watch: list[Watch] = []

    def translate(text: Text, context: ServiceContext) -> Translation:
        watch[0].look()  # while the handler runs
        return Translation(text=f"bonjour ({text.text})", words=len(text.text.split()))

    async with AsyncExitStack() as stack:
        pair = await make_pair(stack, market, tmp_path, services=translation(translate))
        thid = uuid.uuid4().hex
        watch.append(Watch(pair.seller_brain, pair.buyer.key.did, thid))
        record = await pair.buyer_brain.buy(pair.seller.server.url, "translation", input=INPUT, thid=thid)
        assert record.state == "released", record.reason
        watch[0].look()
        assert watch[0].states == [
            "TASK_STATE_SUBMITTED", "TASK_STATE_INPUT_REQUIRED", "TASK_STATE_WORKING", "TASK_STATE_COMPLETED",
        ]  # fmt: skip

        task_id = task_id_of(pair.buyer.key.did, thid)
        task = (await get(pair, "GetTask", {"id": task_id}, pair.buyer.key))["result"]
        assert (task["contextId"], task["status"]["state"]) == (thid, "TASK_STATE_COMPLETED")
        [artifact] = task["artifacts"]
        assert artifact["parts"][0]["data"] == {"text": "bonjour (hello world)", "words": 2}
        assert artifact["metadata"]["output_hash"] == record.output_hash
        listed = (await get(pair, "ListTasks", {}, pair.buyer.key))["result"]
        assert [t["id"] for t in listed["tasks"]] == [task_id]
        over = await get(pair, "CancelTask", {"id": task_id}, pair.buyer.key)
        assert over["error"]["code"] == -32002
        assert "already over" in over["error"]["message"]

        stranger = IdentityKey.generate()
        assert (await get(pair, "GetTask", {"id": task_id}, stranger))["error"]["code"] == -32001
        assert (await get(pair, "CancelTask", {"id": task_id}, stranger))["error"]["code"] == -32001
        assert (await get(pair, "ListTasks", {}, stranger))["result"]["tasks"] == []


async def fails(text: Text, context: ServiceContext) -> Translation:
    raise RuntimeError("the model is down")


async def test_a_failed_service_ends_the_task_failed_with_the_reason_and_the_refund(
    market: Market, tmp_path: Path
) -> None:
    async with AsyncExitStack() as stack:
        pair = await make_pair(stack, market, tmp_path, services=translation(fails))
        thid = uuid.uuid4().hex
        record = await pair.buyer_brain.buy(pair.seller.server.url, "translation", input=INPUT, thid=thid)
        assert record.state == "refunded", record.reason
        task_id = task_id_of(pair.buyer.key.did, thid)
        task = (await get(pair, "GetTask", {"id": task_id}, pair.buyer.key))["result"]
        assert task["status"]["state"] == "TASK_STATE_FAILED"
        assert "the model is down" in task["status"]["message"]["parts"][0]["text"]
        assert task["metadata"]["deal_state"] == "refunded"
        assert not task.get("artifacts")


async def test_the_buyer_cancels_before_the_deal_is_signed_and_its_next_message_is_rejected(
    market: Market, tmp_path: Path
) -> None:
    async with AsyncExitStack() as stack:
        pair = await make_pair(stack, market, tmp_path)
        seller_did, buyer = pair.seller.key.did, pair.buyer.key
        url, thid = pair.seller.server.url + "/", uuid.uuid4().hex
        body = {"item": "translation", "token": "TUSD", "input": INPUT}
        task = (await rpc(url, "SendMessage", cfp_message(buyer, seller_did, thid, body)))["result"]["task"]
        assert task["status"]["state"] == "TASK_STATE_INPUT_REQUIRED"
        price = task["metadata"]["price"]
        assert (await get(pair, "CancelTask", {"id": task["id"]}, IdentityKey.generate()))["error"][
            "code"
        ] == -32001
        canceled = (await get(pair, "CancelTask", {"id": task["id"]}, buyer))["result"]
        assert canceled["status"]["state"] == "TASK_STATE_CANCELED"
        accept = sign_envelope(buyer, type="accept", thid=thid, to=seller_did, body={"price": price})
        answer = (await rpc(url, "SendMessage", envelope_message(accept, thid)))["result"]["task"]
        assert answer["status"]["state"] == "TASK_STATE_CANCELED"
        replies = [
            p["data"]["sova_envelope"]
            for p in answer["status"]["message"]["parts"]
            if "sova_envelope" in p.get("data", {})
        ]
        assert len(replies) == 1  # the seller's reject
        record = pair.seller.deals.get(buyer.did, thid)
        assert record is not None
        assert record.state == "canceled"
        assert "canceled" in [d["event"] for d in pair.seller.entries("deal")]
        thread = pair.seller.negotiator.thread(buyer.did, thid)
        assert thread is not None
        assert thread.state == "rejected"
