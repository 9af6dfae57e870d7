"""Interop: a plain A2A client sees its own purchase Tasks on a Sova seller, with both official SDKs —
a2a-sdk (Python) and @a2a-js/sdk (in tools/interop) — unchanged but for one HTTP header: a caller token
signed by the client's did:key (runtime/a2a/caller.py), added through each SDK's own HTTP hook. A stranger
with a valid token of its own gets "task not found". The JS part is skipped only when node is missing."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from a2a.client import ClientConfig, ClientFactory
from a2a.client.errors import A2AClientError
from a2a.types import a2a_pb2 as a2a
from a2a.utils.errors import TaskNotFoundError
from google.protobuf.json_format import ParseDict

from identity import IdentityKey
from runtime.a2a.caller import caller_header
from runtime.negotiation.deals import DealStore
from tests.interop.test_a2a_js import INTEROP, node
from tests.support.a2a import Agent, make_agent, serving
from tests.support.tasks import TaskShop, cfp_message, rpc

NODE = shutil.which("node")


@pytest.fixture
async def seller(tmp_path: Path) -> AsyncIterator[tuple[Agent, str]]:
    deals = DealStore(tmp_path / "deals.sqlite")
    agent = make_agent(tmp_path, "seller", TaskShop(deals))
    try:
        async with serving(agent) as server:
            yield agent, server.url
    finally:
        agent.close()
        deals.close()


def signing_http(key: IdentityKey, agent_did: str) -> httpx.AsyncClient:
    """An httpx client that adds a fresh caller token to every POST (the SDK's transport uses it)."""

    async def sign(request: httpx.Request) -> None:
        if request.method == "POST":
            request.headers.update(caller_header(key, agent_did))

    return httpx.AsyncClient(event_hooks={"request": [sign]})


async def test_the_python_sdk_buys_and_sees_gets_lists_and_cancels_its_own_task(
    seller: tuple[Agent, str],
) -> None:
    agent, url = seller
    buyer, stranger = IdentityKey.generate(), IdentityKey.generate()
    async with signing_http(buyer, agent.did) as http, signing_http(stranger, agent.did) as other:
        client = await ClientFactory(ClientConfig(httpx_client=http, streaming=False)).create_from_url(url)
        request = ParseDict(cfp_message(buyer, agent.did, "py-1"), a2a.SendMessageRequest())
        answers = [answer async for answer in client.send_message(request)]
        task = answers[-1].task
        assert task.context_id == "py-1"
        assert task.status.state == a2a.TASK_STATE_INPUT_REQUIRED

        got = await client.get_task(a2a.GetTaskRequest(id=task.id))
        assert got.id == task.id
        assert got.status.state == a2a.TASK_STATE_INPUT_REQUIRED
        listed = await client.list_tasks(a2a.ListTasksRequest())
        assert [t.id for t in listed.tasks] == [task.id]
        canceled = await client.cancel_task(a2a.CancelTaskRequest(id=task.id))
        assert canceled.status.state == a2a.TASK_STATE_CANCELED

        strangers = await ClientFactory(ClientConfig(httpx_client=other, streaming=False)).create_from_url(
            url
        )
        with pytest.raises((TaskNotFoundError, A2AClientError)):
            await strangers.get_task(a2a.GetTaskRequest(id=task.id))
        assert list((await strangers.list_tasks(a2a.ListTasksRequest())).tasks) == []


@pytest.mark.skipif(NODE is None, reason="node is not installed")
async def test_the_js_sdk_sees_gets_lists_and_cancels_its_own_task(seller: tuple[Agent, str]) -> None:
    if not (INTEROP / "node_modules" / "@a2a-js" / "sdk").is_dir():
        pytest.fail(f"npm packages missing: run `npm ci` in {INTEROP} (make setup does)")
    agent, url = seller
    buyer, stranger = IdentityKey.generate(), IdentityKey.generate()
    thid = uuid.uuid4().hex
    task = (await rpc(url + "/", "SendMessage", cfp_message(buyer, agent.did, thid)))["result"]["task"]

    def tokens(key: IdentityKey) -> list[str]:
        return [caller_header(key, agent.did)["Authorization"].removeprefix("Bearer ") for _ in range(3)]

    code, out = await node("--tasks", url, task["id"], *tokens(buyer))
    assert code == 0, out
    assert out["get"]["id"] == task["id"]
    assert out["get"]["contextId"] == thid
    assert [t["id"] for t in out["list"]["tasks"]] == [task["id"]]
    assert out["cancel"]["status"]["state"] in ("TASK_STATE_CANCELED", 5)

    code, out = await node("--tasks", url, task["id"], *tokens(stranger))
    assert code == 1, out
    assert "task not found" in json.dumps(out), out
