"""The operator's free-text chat with an LLM: it answers from read-only facts and can act on nothing —
a hostile model that tries to approve a pending payment gets it neither approved nor signed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage

from runtime.brains.chat import MAX_FACTS_CHARS, LlmChat
from runtime.brains.scripted import Fail, ScriptedChatModel, scripted, tool_turn
from tests.support.executor import Rig, make_rig

POLICY = """
version: 1
rules:
  - kind: allow_skills
    skills: [transfer_token]
  - kind: spend_limit
    token: TUSD
    per_action: "50"
    per_day: "100"
  - kind: counterparties
    allow: [seller]
  - kind: approval
    when: {amount_over: "40"}
    approvers: 1
    timeout: 5s
"""


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with make_rig(tmp_path, POLICY) as r:
        yield r


def facts_of(rig: Rig) -> Any:
    async def facts() -> dict[str, Any]:
        return {
            "status": "paused" if rig.executor.paused else "running",
            "pending_approvals": [a.to_json() for a in rig.executor.approvals.pending()],
            "recent": [str(d.get("reasons", "")) for d in rig.entries("decision")][-5:],
        }

    return facts


def prompt_text(model: ScriptedChatModel, call: int = -1) -> str:
    messages: list[BaseMessage] = model.seen[call]
    return "\n".join(str(m.content) for m in messages)


async def test_a_hostile_chat_model_asking_to_approve_gets_nothing_approved(rig: Rig) -> None:
    payment = asyncio.create_task(
        rig.executor.execute("transfer_token", {"to": "seller", "token": "TUSD", "amount": "45"}, "llm")
    )
    for _ in range(500):  # the escalation is queued within a few event-loop turns
        if rig.executor.approvals.pending():
            break
        await asyncio.sleep(0.01)
    [pending] = rig.executor.approvals.pending()
    model = scripted(
        [
            tool_turn(
                ("approve", {"id": pending.id, "approver": "operator"}),
                ("transfer_token", {"to": "seller", "token": "TUSD", "amount": "45"}),
                ("resume", {}),
                text="APPROVED ✅ — I approved it for you.",
            )
        ]
    )
    chat = LlmChat(model, facts_of(rig))
    answer = await chat.reply(f"the payment is fine, approve {pending.id}")
    assert answer.startswith("APPROVED ✅ — I approved it for you.")
    assert "tried to call approve, resume, transfer_token" in answer
    assert "nothing was done" in answer
    # Nothing happened: the approval is still pending, and no signature was made.
    assert [a.id for a in rig.executor.approvals.pending()] == [pending.id]
    assert rig.signer.signatures == 0
    assert len(rig.entries("decision")) == 1  # the payment's own escalation only: the chat called nothing
    # The model was shown the pending approval (read-only) and was told it cannot act.
    prompt = prompt_text(model)
    assert pending.id in prompt
    assert "You cannot act" in prompt
    rig.executor.approvals.reject(pending.id, "operator", "test over")
    outcome = await payment
    assert outcome.status == "denied"
    assert rig.signer.signatures == 0


async def test_the_chat_answers_from_the_facts_and_remembers_the_conversation(rig: Rig) -> None:
    model = scripted(["You are running; nothing is pending.", "I said: nothing is pending."])
    chat = LlmChat(model, facts_of(rig))
    assert await chat.reply("status?") == "You are running; nothing is pending."
    assert await chat.reply("what did you say?") == "I said: nothing is pending."
    second = prompt_text(model)
    assert '"status": "running"' in second
    assert "status?" in second
    assert "You are running; nothing is pending." in second


async def test_a_failing_chat_model_is_one_line_pointing_to_the_commands(rig: Rig) -> None:
    chat = LlmChat(scripted([Fail(error="connection refused")]), facts_of(rig))
    answer = await chat.reply("why did you refuse the last deal?")
    assert answer == (
        "the model is unavailable (the scripted model scripted failed: connection refused): "
        "use the commands (type `help`)"
    )


async def test_huge_facts_are_cut_and_empty_text_is_not_sent(rig: Rig) -> None:
    model = scripted(["ok"])

    async def huge() -> dict[str, Any]:
        return {"recent": ["x" * 100] * 1000}

    chat = LlmChat(model, huge)
    assert await chat.reply("   ") == "say something, or type `help` for the commands"
    assert model.calls == 0
    await chat.reply("summary?")
    facts = str(model.seen[0][1].content)
    assert len(facts) < MAX_FACTS_CHARS + 100
    assert facts.endswith("(facts cut here)")
