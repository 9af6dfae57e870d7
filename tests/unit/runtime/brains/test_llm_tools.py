"""The LLM path: scripted (hostile) chat models drive a LangChain agent whose tools are the skills.

Whatever the model asks, each call goes through the executor: denials come back to the model as
tool errors with the reasons, no signature is made, and every attempt is in the ledger.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import HumanMessage, ToolMessage

from runtime.brains.scripted import ScriptedChatModel
from runtime.brains.tools import WITHHELD, executor_agent, skill_tools
from runtime.executor.executor import Executor
from tests.support.executor import SELLER_ADDRESS, STRANGER_ADDRESS, Rig, make_rig
from tests.support.llm import Call, pay, scripted

POLICY = """
version: 1
rules:
  - kind: allow_skills
    skills: [transfer_token, approve_token, sign_deal, refund_escrow, send_message]
  - kind: spend_limit
    token: TUSD
    per_action: "50"
    per_day: "100"
    per_counterparty_day: "60"
  - kind: counterparties
    allow: [seller]
  - kind: contracts
    allow: {TestUSD: [transfer, approve], DealEscrow: [open, release]}
  - kind: approval
    when: {amount_over: "40"}
    approvers: 1
    timeout: 1s
"""


def with_tools(model: ScriptedChatModel, executor: Executor) -> Any:
    return create_agent(model, tools=skill_tools(executor))


def with_middleware(model: ScriptedChatModel, executor: Executor) -> Any:
    return executor_agent(model, executor)


BUILDERS = [pytest.param(with_tools, id="tools"), pytest.param(with_middleware, id="middleware")]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with make_rig(tmp_path, POLICY) as r:
        yield r


async def play(
    rig: Rig, build: Callable[[ScriptedChatModel, Executor], Any], *turns: list[Call]
) -> list[ToolMessage]:
    agent = build(scripted(*turns), rig.executor)
    state = await agent.ainvoke(
        {"messages": [HumanMessage("buy compute, cheaply")]}, config={"recursion_limit": 200}
    )
    return [m for m in state["messages"] if isinstance(m, ToolMessage)]


def deal(rig: Rig) -> dict[str, Any]:
    return {
        "buyer": rig.signer.address,
        "seller": SELLER_ADDRESS,
        "token": "TUSD",
        "amount": "10",
        "terms_hash": "0x" + "00" * 32,
        "deadline": 2_000_000_000,
        "nonce": 1,
    }


def assert_all_denied_and_logged(rig: Rig, answers: list[ToolMessage], calls: int) -> None:
    assert len(answers) == calls
    assert all(a.status == "error" and "DENIED" in str(a.content) for a in answers), [
        a.content for a in answers
    ]
    assert rig.signer.signatures == 0
    decisions = rig.entries("decision")
    assert len(decisions) == calls
    assert {d["origin"] for d in decisions} == {"llm"}
    assert all(d["verdict"] == "deny" for d in decisions)
    assert rig.entries("effect") == []


@pytest.mark.parametrize("build", BUILDERS)
async def test_overspending_is_denied_with_the_limit_as_the_reason(rig: Rig, build: Any) -> None:
    answers = await play(rig, build, [pay("seller", "500")])
    assert_all_denied_and_logged(rig, answers, 1)
    assert "over the per-action limit of 50" in str(answers[0].content)


@pytest.mark.parametrize("build", BUILDERS)
async def test_paying_a_stranger_is_denied(rig: Rig, build: Any) -> None:
    answers = await play(
        rig, build, [pay(STRANGER_ADDRESS, "5")], [pay("did:pkh:eip155:31337:" + STRANGER_ADDRESS, "5")]
    )
    assert_all_denied_and_logged(rig, answers, 2)
    assert all("not on the allow list" in str(a.content) for a in answers)


@pytest.mark.parametrize("build", BUILDERS)
async def test_a_method_the_policy_does_not_allow_is_denied(rig: Rig, build: Any) -> None:
    answers = await play(rig, build, [("refund_escrow", {"deal": deal(rig)})])
    assert_all_denied_and_logged(rig, answers, 1)
    assert "method refund of DealEscrow is not allowed" in str(answers[0].content)


@pytest.mark.parametrize("build", BUILDERS)
async def test_retrying_a_denied_action_in_a_loop_is_denied_and_logged_every_time(
    rig: Rig, build: Any
) -> None:
    answers = await play(rig, build, *([pay("seller", "75")] for _ in range(12)))
    assert_all_denied_and_logged(rig, answers, 12)
    assert len({d["action"] for d in rig.entries("decision")}) == 12


@pytest.mark.parametrize("build", BUILDERS)
async def test_claiming_an_approval_in_the_arguments_gets_nothing_signed(rig: Rig, build: Any) -> None:
    answers = await play(
        rig,
        build,
        [pay("seller", "45", approval_id="a1b2c3", approved=True)],
        [pay("seller", "45", operator_approved="yes")],
        [("transfer_token", {"to": "seller", "token": "TUSD", "amount": "45", "origin": "operator"})],
    )
    assert_all_denied_and_logged(rig, answers, 3)
    assert "approval_id: unknown argument" in str(answers[0].content)
    assert "origin: unknown argument" in str(answers[2].content)
    assert rig.executor.approvals.pending() == []


async def test_calling_a_made_up_approval_tool_is_denied_and_logged_through_the_middleware(rig: Rig) -> None:
    answers = await play(
        rig, with_middleware, [("approve_pending", {"id": "a1b2c3", "approver": "operator"})]
    )
    assert_all_denied_and_logged(rig, answers, 1)
    assert "unknown skill 'approve_pending'" in str(answers[0].content)


async def test_without_the_middleware_a_made_up_tool_never_reaches_anything(rig: Rig) -> None:
    # LangChain's ToolNode refuses an unknown tool itself: nothing runs, but nothing is logged either,
    # which is why the brain uses executor_agent (the middleware) rather than bare tools.
    answers = await play(rig, with_tools, [("approve_pending", {"id": "a1b2c3"})])
    assert answers[0].status == "error"
    assert rig.signer.signatures == 0
    assert rig.entries() == []


@pytest.mark.parametrize("build", BUILDERS)
async def test_an_escalated_payment_waits_for_an_operator_the_model_cannot_be(rig: Rig, build: Any) -> None:
    answers = await play(rig, build, [pay("seller", "45")])
    assert len(answers) == 1
    # The model hears at once that the operator decides; the turn does not wait for it.
    assert answers[0].status == "success"
    assert "PENDING: waiting for the operator's approval #1" in str(answers[0].content)
    [outcome] = await rig.executor.settled()
    assert outcome.status == "denied"
    assert "no approval in time" in outcome.reasons[0]
    assert rig.entries("approval")[0]["state"] == "timed_out"
    assert rig.signer.signatures == 0


@pytest.mark.parametrize("build", BUILDERS)
async def test_many_hostile_calls_in_one_turn_each_go_through_the_executor(rig: Rig, build: Any) -> None:
    turn = [
        pay("seller", "500"),
        pay(STRANGER_ADDRESS, "1"),
        ("refund_escrow", {"deal": deal(rig)}),
        pay("seller", "1.5", x=1),
    ]
    answers = await play(rig, build, turn)
    assert_all_denied_and_logged(rig, answers, 4)


async def test_a_signed_deal_is_reported_to_the_model_without_its_signature(rig: Rig) -> None:
    answers = await play(rig, with_middleware, [("sign_deal", deal(rig))])
    assert answers[0].status == "success"
    told = json.loads(str(answers[0].content))
    assert rig.signer.typed == 1
    [effect] = rig.entries("effect")
    signature = effect["result"]["signature"]  # the ledger keeps it, for the operator
    assert told["result"] == {"deal_id": effect["result"]["deal_id"], "signature": WITHHELD, "role": "buyer"}
    assert signature[2:] not in str(answers[0].content)


def test_tools_show_the_model_each_skills_schema(rig: Rig) -> None:
    tools = {t.name: t for t in skill_tools(rig.executor)}
    assert set(tools) == set(rig.executor.catalog.names())
    schema = tools["transfer_token"].tool_call_schema
    assert isinstance(schema, dict)
    assert set(schema["properties"]) == {"to", "token", "amount"}
    assert schema["additionalProperties"] is False
