"""The protocol core without HTTP: envelopes in and out, refusals, the ledger, restarts.

Stores are real SQLite files; the ledger is a list (one test uses the real Ledger)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from identity import IdentityKey, sign_envelope, verify_envelope
from identity.replay import ReplayStore
from runtime.a2a.handler import Reply, ScriptedHandler, echo_handler
from runtime.a2a.protocol import ProtocolError
from runtime.a2a.threads import ThreadState
from runtime.ledger.ledger import Ledger
from tests.support.a2a import WALLET, Agent, make_agent


@pytest.fixture
def seller(tmp_path: Path) -> Any:
    agent = make_agent(tmp_path, "seller", echo_handler())
    yield agent
    agent.close()


BUYER = IdentityKey.generate()


def cfp(to: str, thid: str = "t1", **kw: Any) -> str:
    return sign_envelope(BUYER, type="cfp", thid=thid, to=to, body={"item": "x"}, **kw)


async def test_a_valid_cfp_is_answered_with_a_signed_proposal_and_logged(
    seller: Agent, tmp_path: Path
) -> None:
    replies = await seller.negotiator.receive(cfp(seller.did))
    assert len(replies) == 1
    with ReplayStore(tmp_path / "buyer-replay.sqlite") as replay:
        answer = verify_envelope(replies[0], recipient=BUYER.did, replay=replay)
    assert (answer.type, answer.thid, answer.sender, answer.body) == (
        "propose",
        "t1",
        seller.did,
        {"price": "10"},
    )
    assert seller.ledger.kinds() == ["message_in", "message_out"]
    message_in = seller.ledger.entries[0][1]
    assert message_in["peer"] == BUYER.did
    assert message_in["type"] == "cfp"
    assert message_in["state"] == "open"
    state = seller.negotiator.thread(BUYER.did, "t1")
    assert state is not None
    assert (state.role, state.state, state.offer_by) == ("seller", "offered", "seller")


def tampered(jws: str) -> str:
    head, payload, sig = jws.split(".")
    return f"{head}.{payload}.{'A' if sig[0] != 'A' else 'B'}{sig[1:]}"


BAD = {
    "bad_signature": lambda did: tampered(cfp(did)),
    "wrong_recipient": lambda did: cfp(IdentityKey.generate().did),
    "expired": lambda did: cfp(did, now=time.time() - 3600, ttl=60),
    "not_yet_valid": lambda did: cfp(did, now=time.time() + 600),
    "malformed": lambda did: "not.a.jws",
    "unsigned": lambda did: "",
    "out_of_order": lambda did: sign_envelope(BUYER, type="accept", thid="t1", to=did, body={}),
    "unknown_type": lambda did: sign_envelope(BUYER, type="pay_me", thid="t1", to=did, body={}),
}


@pytest.mark.parametrize("reason", sorted(BAD))
async def test_a_bad_envelope_is_refused_and_only_rejected_is_written(seller: Agent, reason: str) -> None:
    with pytest.raises(ProtocolError) as err:
        await seller.negotiator.receive(BAD[reason](seller.did))
    assert err.value.reason == reason
    assert seller.ledger.kinds() == ["rejected"]
    assert seller.ledger.entries[0][1]["reason"] == reason
    assert seller.negotiator.threads.all() == []
    assert seller.handler.received == []


async def test_a_replayed_envelope_is_refused_even_after_a_restart(tmp_path: Path) -> None:
    key = IdentityKey.generate()
    first = make_agent(tmp_path, "seller", echo_handler(), key=key)
    message = cfp(key.did)
    await first.negotiator.receive(message)
    with pytest.raises(ProtocolError) as err:
        await first.negotiator.receive(message)
    assert err.value.reason == "replayed"
    first.close()
    again = make_agent(tmp_path, "seller", echo_handler(), key=key)
    try:
        with pytest.raises(ProtocolError) as err:
            await again.negotiator.receive(message)
        assert err.value.reason == "replayed"
        state = again.negotiator.thread(BUYER.did, "t1")
        assert state is not None
        assert state.state == "offered"
        await again.negotiator.receive(sign_envelope(BUYER, type="accept", thid="t1", to=key.did, body={}))
        state = again.negotiator.thread(BUYER.did, "t1")
        assert state is not None
        assert state.state == "accepted"
    finally:
        again.close()


async def test_a_body_that_is_not_an_object_is_malformed(seller: Agent) -> None:
    with pytest.raises(ProtocolError) as err:
        await seller.negotiator.receive(sign_envelope(BUYER, type="cfp", thid="t", to=seller.did, body=[1]))
    assert err.value.reason == "malformed"


async def test_a_failing_handler_leaves_the_message_accepted_without_replies(tmp_path: Path) -> None:
    def boom(envelope: Any, thread: ThreadState) -> Reply:
        raise RuntimeError("brain crashed")

    agent = make_agent(tmp_path, "seller", ScriptedHandler({"cfp": boom}))
    try:
        assert await agent.negotiator.receive(cfp(agent.did)) == []
        assert agent.ledger.kinds() == ["message_in"]
        state = agent.negotiator.thread(BUYER.did, "t1")
        assert state is not None
        assert state.state == "open"
    finally:
        agent.close()


async def test_a_handler_reply_out_of_order_is_not_sent(tmp_path: Path) -> None:
    agent = make_agent(tmp_path, "seller", ScriptedHandler({"cfp": [Reply("funded"), Reply("propose")]}))
    try:
        replies = await agent.negotiator.receive(cfp(agent.did))
        assert len(replies) == 1  # funded refused (the seller never funds), propose sent
        assert agent.ledger.kinds() == ["message_in", "message_out"]
    finally:
        agent.close()


async def test_a_handler_cannot_send_in_its_own_thread(tmp_path: Path) -> None:
    seen: list[str] = []
    holder: dict[str, Agent] = {}

    def send_inline(envelope: Any, thread: ThreadState) -> None:
        try:
            holder["agent"].negotiator.prepare(envelope.sender, "propose", envelope.thid, {})
        except ProtocolError as exc:
            seen.append(exc.reason)

    holder["agent"] = agent = make_agent(tmp_path, "seller", ScriptedHandler({"cfp": send_inline}))
    try:
        await agent.negotiator.receive(cfp(agent.did))
        assert seen == ["busy_thread"]
    finally:
        agent.close()


async def test_sending_out_of_order_is_refused_before_anything_is_signed_or_written(seller: Agent) -> None:
    with pytest.raises(ProtocolError) as err:
        seller.negotiator.prepare(BUYER.did, "deliver", "t9", {})
    assert err.value.reason == "out_of_order"
    assert seller.ledger.kinds() == []


async def test_rejected_entries_are_rate_limited_and_the_rest_counted(seller: Agent) -> None:
    seller.negotiator.log.max_rejected_per_minute = 3
    for _ in range(5):
        with pytest.raises(ProtocolError):
            await seller.negotiator.receive("junk")
    assert seller.ledger.kinds() == ["rejected"] * 3
    later = time.monotonic() + 61
    seller.negotiator.log.clock = lambda: later
    with pytest.raises(ProtocolError):
        await seller.negotiator.receive("junk")
    assert seller.ledger.entries[-1][1]["suppressed"] == 2


async def test_rejected_entries_name_what_the_message_claimed(seller: Agent) -> None:
    with pytest.raises(ProtocolError):
        await seller.negotiator.receive(tampered(cfp(seller.did, thid="t-claimed")))
    data = seller.ledger.entries[0][1]
    assert data["claimed_thid"] == "t-claimed"
    assert data["claimed_from"] == BUYER.did
    assert data["claimed_type"] == "cfp"
    assert "jws" not in data


async def test_the_real_ledger_records_one_exchange_in_order(tmp_path: Path) -> None:
    key = IdentityKey.generate()
    ledger = Ledger.open(tmp_path / "ledger.sqlite", key, WALLET)
    try:
        await ledger.append_many_async(
            [("message_in", {"n": 1}), ("message_out", {"n": 2}), ("message_out", {"n": 3})]
        )
        assert [e.kind for e in ledger.entries()][1:] == ["message_in", "message_out", "message_out"]
    finally:
        ledger.close()


async def test_racing_messages_in_one_thread_are_taken_one_at_a_time(tmp_path: Path) -> None:
    class Slow(ScriptedHandler):
        async def on_message(self, envelope: Any, thread: ThreadState) -> list[Reply]:
            await asyncio.sleep(0.01)  # the handler yields: the other message must still wait its turn
            return [Reply("propose", {"price": "10"})] if envelope.type == "cfp" else []

    agent = make_agent(tmp_path, "seller", Slow())
    try:
        await agent.negotiator.receive(cfp(agent.did))
        accepts = [sign_envelope(BUYER, type="accept", thid="t1", to=agent.did, body={}) for _ in range(2)]
        results = await asyncio.gather(
            *[agent.negotiator.receive(j) for j in accepts], return_exceptions=True
        )
        refused = [r for r in results if isinstance(r, ProtocolError)]
        assert len(refused) == 1
        assert refused[0].reason == "out_of_order"
        state = agent.negotiator.thread(BUYER.did, "t1")
        assert state is not None
        assert (state.state, state.messages) == ("accepted", 3)
    finally:
        agent.close()
