"""Two agents negotiate over real HTTP: uvicorn servers on free loopback ports, real ledgers on disk."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from a2a.client import A2ACardResolver, ClientConfig, ClientFactory
from a2a.types import a2a_pb2 as a2a

from identity import IdentityKey, sign_envelope
from runtime.a2a.card import ENVELOPE_KEY, NEGOTIATION_EXTENSION, InvalidCard, fetch_card
from runtime.a2a.handler import Reply, ScriptedHandler
from runtime.a2a.protocol import ProtocolError
from runtime.ledger.verify import verify_ledger
from tests.support.a2a import Agent, make_agent, messenger, serving


def seller_counter(envelope: Any, thread: Any) -> Reply:
    price = envelope.body["price"]
    return Reply("counter", {"price": "11"}) if price == "9" else Reply("accept", {"price": price})


SELLER_SCRIPT = {
    "cfp": Reply("propose", {"price": "12"}),
    "counter": seller_counter,
    "funded": Reply("deliver", {"artifact_hash": "0x" + "11" * 32}),
}


@pytest.fixture
def agents(tmp_path: Path) -> Any:
    buyer = make_agent(tmp_path, "buyer", ScriptedHandler(), real_ledger=True)
    seller = make_agent(tmp_path, "seller", ScriptedHandler(SELLER_SCRIPT), real_ledger=True)
    yield buyer, seller
    buyer.close()
    seller.close()


def send_message(jws: str, method: str = "SendMessage") -> dict[str, Any]:
    """A JSON-RPC request (A2A 1.0) carrying one envelope."""
    return {
        "jsonrpc": "2.0", "id": 1, "method": method,
        "params": {"message": {"messageId": uuid.uuid4().hex, "role": "ROLE_USER",
                               "parts": [{"data": {ENVELOPE_KEY: jws}}],
                               "extensions": [NEGOTIATION_EXTENSION]}},
    }  # fmt: skip


def error_reason(answer: dict[str, Any]) -> str:
    """The sova_reason of a JSON-RPC error answer."""
    for item in answer["error"]["data"]:
        if "sova_reason" in item.get("metadata", {}):
            return str(item["metadata"]["sova_reason"])
    raise AssertionError(f"no sova_reason in {answer}")


async def test_the_card_is_served_signed_and_names_the_agent(agents: tuple[Agent, Agent]) -> None:
    _, seller = agents
    async with serving(seller, agent_id="42", tokens=("TUSD",), service_tags=("translation",)) as server:
        card = await fetch_card(server.url)
        assert (card.did, card.agent_id, card.tokens, card.service_tags) == (
            seller.did, "42", ("TUSD",), ("translation",),
        )  # fmt: skip
        assert card.endpoint == server.url + "/"
        async with httpx.AsyncClient() as http:
            resolved = await A2ACardResolver(http, server.url).get_agent_card()
        assert resolved.signatures
        assert resolved.name == "seller"


async def test_fetching_a_card_from_nowhere_says_so(agents: tuple[Agent, Agent]) -> None:
    _, seller = agents
    async with serving(seller) as server:
        url = server.url
    with pytest.raises(InvalidCard) as err:
        await fetch_card(url, timeout=2)
    assert err.value.reason == "unreachable"


async def test_a_whole_deal_over_http_leaves_both_sides_agreeing(agents: tuple[Agent, Agent]) -> None:
    buyer, seller = agents
    async with (
        serving(seller) as seller_server,
        serving(buyer) as buyer_server,
        messenger(buyer) as to_seller,
        messenger(seller) as to_buyer,
    ):
        assert (await to_seller.connect(seller_server.url)).did == seller.did
        assert (await to_buyer.connect(buyer_server.url)).did == buyer.did
        offer = await to_seller.send(seller.did, "cfp", "deal-1", {"item": "translation", "words": "1000"})
        assert [r["type"] for r in offer["replies"]] == ["propose"]
        assert offer["state"] == "offered"
        low = await to_seller.send(seller.did, "counter", "deal-1", {"price": "9"})
        assert low["replies"][0]["body"] == {"price": "11"}
        agreed = await to_seller.send(seller.did, "counter", "deal-1", {"price": "10"})
        assert agreed["replies"][0]["type"] == "accept"
        assert agreed["state"] == "accepted"
        # Each side sends its own deal signature to the other's server.
        assert (await to_buyer.send(buyer.did, "deal_signature", "deal-1", {"sig": "0x5e"}))[
            "state"
        ] == "accepted"
        assert (await to_seller.send(seller.did, "deal_signature", "deal-1", {"sig": "0xb0"}))[
            "state"
        ] == "signed"
        funded = await to_seller.send(seller.did, "funded", "deal-1", {"tx": "0x01"})
        assert funded["replies"][0]["type"] == "deliver"
        assert funded["state"] == "delivered"
        assert (await to_seller.send(seller.did, "released", "deal-1", {"tx": "0x02"}))["state"] == "released"
        with pytest.raises(ProtocolError) as err:
            await to_seller.send(seller.did, "counter", "deal-1", {"price": "1"})
        assert err.value.reason == "out_of_order"  # refused here, before anything was signed or sent
    mine, theirs = (
        buyer.negotiator.thread(seller.did, "deal-1"),
        seller.negotiator.thread(buyer.did, "deal-1"),
    )
    assert mine is not None
    assert theirs is not None
    assert (mine.role, theirs.role) == ("buyer", "seller")
    assert (mine.state, mine.signed, mine.messages) == (theirs.state, theirs.signed, theirs.messages)
    for agent in (buyer, seller):
        kinds = agent.ledger_kinds()
        assert kinds.count("message_in") + kinds.count("message_out") == mine.messages == 11
        assert "rejected" not in kinds
        assert "message_failed" not in kinds
        assert agent.real_ledger is not None
        assert verify_ledger(agent.real_ledger.path).ok


async def test_a_message_the_peer_refuses_is_logged_as_failed_and_moves_nothing(
    agents: tuple[Agent, Agent], tmp_path: Path
) -> None:
    buyer, seller = agents
    async with serving(seller) as server, messenger(buyer) as m:
        await m.connect(server.url)
        await m.send(seller.did, "cfp", "deal-3", {"item": "x"})
    # The seller comes back with the same key but empty stores (a lost disk): the thread is unknown there.
    amnesiac = make_agent(tmp_path / "elsewhere", "seller", ScriptedHandler(SELLER_SCRIPT), key=seller.key)
    try:
        async with serving(amnesiac) as server, messenger(buyer) as m:
            await m.connect(server.url)
            with pytest.raises(ProtocolError) as err:
                await m.send(seller.did, "accept", "deal-3", {})
    finally:
        amnesiac.close()
    assert (err.value.reason, err.value.peer_reason) == ("peer_rejected", "out_of_order")
    assert buyer.ledger_kinds()[-2:] == ["message_out", "message_failed"]
    state = buyer.negotiator.thread(seller.did, "deal-3")
    assert state is not None
    assert state.state == "offered"
    assert amnesiac.ledger.kinds() == ["rejected"]


async def test_a_restarted_agent_knows_its_threads_and_its_nonces(tmp_path: Path) -> None:
    key = IdentityKey.generate()
    buyer = make_agent(tmp_path, "buyer", real_ledger=True)
    seller = make_agent(tmp_path, "seller", ScriptedHandler(SELLER_SCRIPT), key=key, real_ledger=True)
    try:
        async with serving(seller) as server, messenger(buyer) as m:
            await m.connect(server.url)
            await m.send(key.did, "cfp", "deal-2", {"item": "x"})
        seller.close()
        seller = make_agent(tmp_path, "seller", ScriptedHandler(SELLER_SCRIPT), key=key, real_ledger=True)
        async with serving(seller) as server, messenger(buyer) as m:
            await m.connect(server.url)
            answer = await m.send(key.did, "counter", "deal-2", {"price": "10"})
            assert answer["replies"][0]["type"] == "accept"
            assert seller.real_ledger is not None
            first_in = next(e for e in seller.real_ledger.entries() if e.kind == "message_in")
            old = first_in.data["jws"]
            response = await m.http.post(
                server.url + "/", json=send_message(old), headers={"A2A-Version": "1.0"}
            )
            assert error_reason(response.json()) == "replayed"
    finally:
        buyer.close()
        seller.close()


async def test_a2a_sdks_python_client_carries_an_envelope_and_gets_the_signed_reply(
    agents: tuple[Agent, Agent],
) -> None:
    buyer, seller = agents
    async with serving(seller) as server, httpx.AsyncClient() as http:
        card = await A2ACardResolver(http, server.url).get_agent_card()
        client = ClientFactory(ClientConfig(streaming=False, httpx_client=http)).create(card)
        jws = sign_envelope(buyer.key, type="cfp", thid="sdk-1", to=seller.did, body={"item": "x"})
        message = a2a.Message(
            message_id=uuid.uuid4().hex, role=a2a.ROLE_USER, extensions=[NEGOTIATION_EXTENSION]
        )
        message.parts.add().data.struct_value.fields[ENVELOPE_KEY].string_value = jws
        events = [e async for e in client.send_message(a2a.SendMessageRequest(message=message))]
        parts = events[-1].message.parts
        assert parts[0].data.struct_value.fields["sova_status"].string_value == "accepted"
        assert len(parts) == 2
        assert parts[1].data.struct_value.fields[ENVELOPE_KEY].string_value.count(".") == 2
        text = a2a.Message(message_id=uuid.uuid4().hex, role=a2a.ROLE_USER)
        text.parts.add().text = "hello"
        events = [e async for e in client.send_message(a2a.SendMessageRequest(message=text))]
        assert NEGOTIATION_EXTENSION in events[-1].message.parts[0].text
    state = seller.negotiator.thread(buyer.did, "sdk-1")
    assert state is not None
    assert state.state == "offered"
    assert seller.ledger_kinds()[1:] == ["message_in", "message_out"]  # the text message wrote nothing


async def test_the_v0_3_message_send_method_carries_envelopes_too(agents: tuple[Agent, Agent]) -> None:
    buyer, seller = agents
    jws = sign_envelope(buyer.key, type="cfp", thid="v03", to=seller.did, body={"item": "x"})
    request = {
        "jsonrpc": "2.0", "id": "a", "method": "message/send",
        "params": {"message": {"kind": "message", "messageId": uuid.uuid4().hex, "role": "user",
                               "parts": [{"kind": "data", "data": {ENVELOPE_KEY: jws}}]}},
    }  # fmt: skip
    async with serving(seller) as server, httpx.AsyncClient() as http:
        answer = (await http.post(server.url + "/", json=request)).json()
    data = [p["data"] for p in answer["result"]["parts"] if p["kind"] == "data"]
    assert data[0] == {"sova_status": "accepted"}
    assert ENVELOPE_KEY in data[1]


async def test_task_methods_answer_json_rpc_errors_not_500(agents: tuple[Agent, Agent]) -> None:
    _, seller = agents
    calls = [("GetTask", {"id": "nope"}), ("CancelTask", {"id": "nope"}), ("GetExtendedAgentCard", {}),
             ("SendStreamingMessage", send_message("x")["params"]),
             ("SubscribeToTask", {"id": "nope"})]  # fmt: skip
    async with serving(seller) as server, httpx.AsyncClient(headers={"A2A-Version": "1.0"}) as http:
        for method, params in calls:
            response = await http.post(server.url + "/", json={"jsonrpc": "2.0", "id": 7, "method": method,
                                                                "params": params})  # fmt: skip
            assert response.status_code == 200, method
            assert response.json()["error"]["code"] in (-32001, -32004, -32007), (method, response.text)
        listed = await http.post(
            server.url + "/", json={"jsonrpc": "2.0", "id": 8, "method": "ListTasks", "params": {}}
        )
        assert "error" not in listed.json()
        assert not listed.json()["result"].get("tasks")
