"""The command chat over `POST /v1/chat`: each command and plain phrasing answered from the agent's own
state; `approve N` explains the signature; free text goes to the LLM only with an LLM brain, which
reads facts and cannot decide anything."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from runtime.a2a.threads import ThreadState, ThreadStore
from runtime.config import LlmBrain
from runtime.errors import SovaError
from runtime.negotiation.deals import DealRecord, DealStore
from runtime.operator.chat import HELP, OperatorChat, llm_factory
from runtime.operator.facts import OperatorBackend
from tests.support.executor import SELLER_KEY, deal, make_rig
from tests.support.operator import POLICY, Served, next_pending, serve

PEER = SELLER_KEY.did


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Served]:
    deals, threads = DealStore(tmp_path / "deals.sqlite"), ThreadStore(tmp_path / "threads.sqlite")
    try:
        with make_rig(tmp_path, POLICY) as rig:
            async with serve(rig, deals=deals, threads=threads) as served:
                yield served
    finally:
        deals.close()
        threads.close()


async def say(api: Served, text: str) -> str:
    response = await api.client.post("/v1/chat", json={"text": text})
    assert response.status_code == 200, response.text
    reply: str = response.json()["reply"]
    return reply


async def test_help_lists_the_commands(api: Served) -> None:
    for text in ("help", "HELP", "what commands do you know?"):
        assert await say(api, text) == HELP
    for word in ("status", "budget", "deals", "negotiations", "approvals", "ledger", "pause", "approve N"):
        assert word in HELP


async def test_status_says_who_and_whether_paused(api: Served) -> None:
    reply = await say(api, "status")
    assert "buyer (buyer), running" in reply
    assert api.rig.key.did in reply
    assert api.rig.signer.address in reply
    assert "running" in await say(api, "how are you doing?")


async def test_budget_in_commands_and_plain_words(api: Served) -> None:
    reply = await say(api, "budget")
    assert "TUSD per_day: limit 100, spent 0, left 100" in reply
    assert "TUSD per_action: limit 50, left 50" in reply
    assert await say(api, "How much budget is left?") == reply


async def test_deals_and_negotiations(api: Served) -> None:
    deals = api.backend.deals_store
    threads = api.backend.threads
    assert deals is not None
    assert threads is not None
    assert await say(api, "deals") == "no deals yet"
    assert await say(api, "negotiations") == "no open negotiations"
    deals.put(DealRecord(peer=PEER, thid="t1", role="buyer", state="released", item="compute", price="11"))
    deals.put(DealRecord(peer=PEER, thid="t2", role="buyer", state="negotiating", item="compute", price="9"))
    threads.put(ThreadState(peer=PEER, thid="t2", role="buyer", state="proposed", updated=time.time()))
    threads.put(ThreadState(peer=PEER, thid="t1", role="buyer", state="released", updated=time.time()))
    listed = await say(api, "deals")
    assert "buyer compute at 11 TUSD" in listed
    assert ": released" in listed
    assert ": negotiating" in listed
    open_ = await say(api, "show me the negotiations")
    assert "proposed, last offer 9" in open_
    assert open_.count("\n") == 0  # the released thread is not open


async def test_approvals_and_approve_n_explains_the_signature(api: Served) -> None:
    rig = api.rig
    assert await say(api, "approvals") == "no approvals asked for"
    task = asyncio.create_task(rig.executor.execute("sign_deal", deal(rig, "45"), "llm"))
    [pending] = await next_pending(rig.executor.approvals)
    listed = await say(api, "any pending approvals?")
    assert "#1 pending sign_deal 45" in listed
    assert "0/1 approvals" in listed
    hint = await say(api, "approve 1 looks fine")
    assert "needs an operator key's signature" in hint
    assert "console" in hint
    assert f"/v1/approvals/{pending.id}/approve" in hint
    assert "no approval '7'" in await say(api, "reject 7")
    assert rig.executor.approvals.get(pending.id).state == "pending"  # type: ignore[union-attr]
    assert (await api.decide(1, "approve")).status_code == 200
    await task
    assert await say(api, "approve 1") == "approval #1 is approved already"


async def test_why_did_you_refuse_names_the_last_declined_deal_and_denied_action(api: Served) -> None:
    rig = api.rig
    assert "refused nothing yet" in await say(api, "why did you refuse the last deal?")
    await rig.ledger.append_async(
        "deal",
        {"thid": "t9", "peer": PEER, "role": "buyer", "event": "declined", "reason": "price 15 over cap 12"},
    )
    too_big = await rig.executor.execute("sign_deal", deal(rig, "60"), "llm")
    assert too_big.status == "denied"
    for question in ("why did you refuse the last deal?", "Why was it declined?", "why did you reject that"):
        reply = await say(api, question)
        assert "the last deal I declined" in reply
        assert "price 15 over cap 12" in reply
        assert "the last action refused was sign_deal" in reply
        assert "per-action limit" in reply


async def test_pause_and_resume_from_the_chat(api: Served) -> None:
    reply = await say(api, "pause suspicious seller")
    assert reply.startswith("paused")
    assert api.rig.executor.paused
    assert api.rig.executor.pause_reason == "suspicious seller"
    assert "PAUSED (suspicious seller)" in await say(api, "status")
    assert (await api.rig.executor.execute("sign_deal", deal(api.rig), "llm")).status == "denied"
    assert (await say(api, "resume")).startswith("resumed")
    assert not api.rig.executor.paused
    assert (await api.rig.executor.execute("sign_deal", deal(api.rig, nonce=2), "llm")).status == "done"


async def test_ledger_n_lists_the_last_entries(api: Served) -> None:
    for i in range(5):
        await api.rig.ledger.append_async("note", {"reason": f"r{i}"})
    lines = (await say(api, "ledger 3")).splitlines()
    assert [line.split()[0] for line in lines] == ["#4", "#5", "#6"]
    assert "note: reason=r4" in lines[-1]
    assert len((await say(api, "ledger")).splitlines()) == 6  # all of them: fewer than 10


async def test_unknown_text_without_an_llm_says_what_is_understood(api: Served) -> None:
    reply = await say(api, "sing me a song")
    assert reply.startswith("I did not understand 'sing me a song'")
    assert HELP in reply


async def test_empty_or_huge_chat_messages_are_refused(api: Served) -> None:
    for body in ({}, {"text": "  "}, {"text": 5}, {"text": "x" * 2001}):
        response = await api.client.post("/v1/chat", json=body)
        assert response.status_code == 400
        assert "\n" not in response.json()["error"]


HOSTILE_SCRIPT = """
replies:
  - tool_calls: [{name: approve, args: {id: 1}}]
  - text: "I hold one approval; I would approve it, but only you can"
  - error: model endpoint down
"""


async def test_free_text_goes_to_the_llm_which_reads_facts_and_decides_nothing(tmp_path: Path) -> None:
    (tmp_path / "brains").mkdir()
    (tmp_path / "brains" / "chat.yaml").write_text(HOSTILE_SCRIPT)
    brain = LlmBrain(kind="llm", model="scripted:brains/chat.yaml")
    with make_rig(tmp_path, POLICY) as rig:

        def chat(backend: OperatorBackend) -> OperatorChat:
            return OperatorChat(backend, llm_factory(brain, tmp_path))

        async with serve(rig, chat=chat) as api:
            task = asyncio.create_task(rig.executor.execute("sign_deal", deal(rig, "45"), "llm"))
            [pending] = await next_pending(rig.executor.approvals)
            reply = await say(api, "please approve everything you have")
            assert "the model tried to call approve" in reply
            assert "nothing was done" in reply
            assert rig.executor.approvals.get(pending.id).state == "pending"  # type: ignore[union-attr]
            assert "only you can" in await say(api, "and now?")
            assert rig.executor.approvals.get(pending.id).state == "pending"  # type: ignore[union-attr]
            assert rig.signer.signatures == 0
            assert "model endpoint down" in await say(api, "explode")
            assert "buyer (buyer)" in await say(api, "status")  # commands never reach the LLM
            task.cancel()


def test_a_missing_script_is_a_chat_answer_not_a_failed_start(tmp_path: Path) -> None:
    factory = llm_factory(LlmBrain(kind="llm", model="scripted:nowhere.yaml"), tmp_path)
    with pytest.raises(SovaError, match=r"nowhere\.yaml not found"):
        factory({"approvals": []})
