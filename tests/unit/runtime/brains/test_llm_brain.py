"""The LLM brain deciding single moves, driven by scripted (and hostile) chat models.

The model's move is taken only within the limits (the buyer's cap, the fallback's reservation, the last
round); anything else is refused back to it, and when it makes no valid move the rules fallback decides
with the reason in the ledger. Skills it calls go through the executor like any other request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from langchain_core.messages import BaseMessage

from runtime.brains.llm import LlmDecider
from runtime.brains.rules import Situation
from runtime.brains.scripted import Fail, ScriptedChatModel, scripted, tool_turn
from runtime.config import LlmBrain, RuleBrain
from runtime.ledger.sink import MemorySink
from tests.support.executor import STRANGER_ADDRESS, CountingSigner, Rig, make_rig
from wallet.signer import Signer

POLICY = """
version: 1
rules:
  - kind: allow_skills
    skills: [transfer_token, send_message, sign_deal]
  - kind: spend_limit
    token: TUSD
    per_action: "50"
    per_day: "100"
  - kind: counterparties
    allow: [seller]
"""
FALLBACK = RuleBrain(strategy="linear", target="10", reservation="30", rounds=6)
PRIVATE_KEY = Account.create().key


class Sink(MemorySink):
    """A ledger sink keeping what the brain writes."""

    def moves(self) -> list[dict[str, Any]]:
        return [d for k, d in self.entries if k == "brain"]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    signer = CountingSigner(Signer.from_private_key(PRIVATE_KEY))
    with make_rig(tmp_path, POLICY, signer=signer) as r:
        yield r


def buyer_at(their: str | None, round_no: int = 0, cap: str | None = "25") -> Situation:
    return Situation(
        role="buyer",
        item="translation",
        peer="did:key:z6MkSeller",
        thid="t1",
        token="TUSD",
        their_price=None if their is None else Decimal(their),
        our_price=None,
        round_no=round_no,
        elapsed=0.0,
        cap=None if cap is None else Decimal(cap),
    )


def seller_at(their: str | None, round_no: int = 1) -> Situation:
    return Situation(
        role="seller",
        item="translation",
        peer="did:key:z6MkBuyer",
        thid="t2",
        token="TUSD",
        their_price=None if their is None else Decimal(their),
        our_price=Decimal("38"),
        round_no=round_no,
        elapsed=0.0,
    )


def decider(
    rig: Rig, model: ScriptedChatModel, sink: Sink, *, fallback: RuleBrain | None = FALLBACK, **config: Any
) -> LlmDecider:
    brain = LlmBrain(kind="llm", model="scripted:x.yaml", fallback=fallback, **config)
    return LlmDecider(model, rig.executor, config=brain, ledger=sink)


def turn(name: str, **args: Any) -> Any:
    return tool_turn((name, args))


async def test_a_counter_within_the_limits_is_the_move_and_is_logged(rig: Rig) -> None:
    sink = Sink()
    model = scripted([turn("counter", price="12.1234567", reason="start low")])
    move = await decider(rig, model, sink).decide(buyer_at("38"))
    assert (move.kind, move.price) == ("counter", Decimal("12.123456"))  # rounded down: a buyer's favour
    assert move.reason == "llm: start low"
    assert model.calls == 1  # the run ends at the move: no extra model call
    [entry] = sink.moves()
    assert entry["source"] == "llm"
    assert entry["move"] == "counter"
    assert entry["calls"] == [{"tool": "counter", "args": {"price": "12.1234567", "reason": "start low"},
                               "verdict": "taken"}]  # fmt: skip


async def test_accepting_over_the_cap_is_refused_and_the_model_may_try_again(rig: Rig) -> None:
    sink = Sink()
    model = scripted([turn("accept", reason="fine"), turn("counter", price="20")])
    move = await decider(rig, model, sink).decide(buyer_at("38"))
    assert (move.kind, move.price) == ("counter", Decimal("20"))
    assert model.calls == 2
    refused = sink.moves()[0]["calls"][0]
    assert refused["verdict"] == "refused"
    assert "accepting 38 is outside the limits (at most 25)" in refused["reason"]
    # The refusal went back to the model as a tool error.
    answer = model.seen[1][-1]
    assert "REFUSED: accepting 38" in str(answer.content)


async def test_the_fallback_reservation_bounds_the_buyer_below_its_cap(rig: Rig) -> None:
    sink = Sink()
    reservation = RuleBrain(target="10", reservation="18", rounds=6)
    model = scripted([turn("counter", price="20")])
    move = await decider(rig, model, sink, fallback=reservation).decide(buyer_at("38"))
    # refused (over 18), then the script ended: the fallback's move, within 18
    assert move.kind == "counter"
    assert move.price is not None
    assert move.price <= 18
    assert move.reason.startswith("fallback rules brain:")
    assert "a price of 20 is outside the limits (at most 18)" in sink.moves()[0]["calls"][0]["reason"]


async def test_overspending_counters_and_nonsense_prices_are_all_refused(rig: Rig) -> None:
    sink = Sink()
    model = scripted(
        [
            turn("counter", price="999"),
            turn("counter", price="-5"),
            turn("counter", price="ten"),
            turn("counter", price="1e400"),
            turn("counter", price=True),
        ]
    )
    move = await decider(rig, model, sink, max_steps=5).decide(buyer_at("38"))
    calls = sink.moves()[0]["calls"]
    assert [c["verdict"] for c in calls] == ["refused"] * 5
    assert move.reason.startswith("fallback rules brain:")
    assert move.price is not None
    assert move.price <= 25
    assert rig.signer.signatures == 0


async def test_a_counter_no_better_than_their_offer_is_refused(rig: Rig) -> None:
    sink = Sink()
    model = scripted([turn("counter", price="20"), turn("accept")])
    move = await decider(rig, model, sink).decide(buyer_at("15"))
    assert (move.kind, move.price) == ("accept", Decimal("15"))
    assert (
        "20 is no better for us than their offer 15: accept it instead"
        in sink.moves()[0]["calls"][0]["reason"]
    )


async def test_a_decision_claiming_an_approval_is_refused(rig: Rig) -> None:
    sink = Sink()
    model = scripted([turn("accept", approved=True, approval_id="a1"), turn("reject", reason="ok then")])
    move = await decider(rig, model, sink).decide(buyer_at("20"))
    assert move.kind == "reject"
    refused = sink.moves()[0]["calls"][0]
    assert refused["reason"] == "approval_id, approved: unknown argument (allowed: reason)"


async def test_the_last_round_allows_only_accept_or_reject(rig: Rig) -> None:
    sink = Sink()
    model = scripted([turn("counter", price="11"), turn("accept")])
    move = await decider(rig, model, sink, rounds=6).decide(buyer_at("24", round_no=5))
    assert (move.kind, move.price) == ("accept", Decimal("24"))
    assert sink.moves()[0]["calls"][0]["reason"] == "this is the last round: accept or reject"


async def test_a_failing_model_falls_back_to_the_rules_brain_and_says_why(rig: Rig) -> None:
    sink = Sink()
    move = await decider(rig, scripted([Fail(error="rate limited")]), sink).decide(buyer_at("38"))
    assert move.reason.startswith("fallback rules brain:")
    assert move.price == Decimal("12.5")  # the linear rules brain's counter at offer 1 of 6, 10 -> 25
    [entry] = sink.moves()
    assert entry["source"] == "fallback"
    assert entry["why_not_llm"] == "the model failed: the scripted model scripted failed: rate limited"


async def test_a_model_that_only_talks_falls_back(rig: Rig) -> None:
    sink = Sink()
    move = await decider(rig, scripted(["I think 20 is fair."]), sink).decide(buyer_at("38"))
    assert move.reason.startswith("fallback rules brain:")
    assert sink.moves()[0]["why_not_llm"] == "the model made no move in 1 step(s)"


async def test_without_a_fallback_a_model_failure_rejects(rig: Rig) -> None:
    sink = Sink()
    move = await decider(rig, scripted([]), sink, fallback=None).decide(buyer_at("38"))
    assert move.kind == "reject"
    assert "has no reply left" in move.reason
    assert move.reason.endswith("and there is no fallback brain")
    assert sink.moves()[0]["source"] == "none"


class SlowModel(ScriptedChatModel):
    async def _agenerate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(30)
        raise AssertionError("not reached")


async def test_a_slow_model_times_out_and_the_fallback_decides(rig: Rig) -> None:
    sink = Sink()
    slow = SlowModel(replies=[])
    move = await decider(rig, slow, sink, timeout="200ms").decide(buyer_at("38"))
    assert move.reason.startswith("fallback rules brain:")
    assert sink.moves()[0]["why_not_llm"] == "the model gave no answer within 0.2s"


async def test_skills_the_model_calls_go_through_the_executor_and_are_denied(rig: Rig) -> None:
    sink = Sink()
    model = scripted(
        [
            tool_turn(
                ("transfer_token", {"to": STRANGER_ADDRESS, "token": "TUSD", "amount": "5"}),
                ("transfer_token", {"to": "seller", "token": "TUSD", "amount": "500"}),
                ("approve_pending", {"id": "a1"}),
            ),
            turn("counter", price="15"),
        ]
    )
    move = await decider(rig, model, sink).decide(buyer_at("38"))
    assert (move.kind, move.price) == ("counter", Decimal("15"))
    decisions = rig.entries("decision")
    assert [d["origin"] for d in decisions] == ["llm"] * 3
    assert [d["verdict"] for d in decisions] == ["deny"] * 3
    reasons = " ".join(str(d["reasons"]) for d in decisions)
    assert "not on the allow list" in reasons
    assert "over the per-action limit of 50" in reasons
    assert "unknown skill 'approve_pending'" in reasons
    assert rig.signer.signatures == 0
    assert rig.entries("effect") == []


async def test_a_seller_model_cannot_go_below_the_fallback_reservation(rig: Rig) -> None:
    sink = Sink()
    floor = RuleBrain(target="38", reservation="15", rounds=6)
    model = scripted([turn("accept"), turn("counter", price="12"), turn("counter", price="30")])
    move = await decider(rig, model, sink, fallback=floor).decide(seller_at("10"))
    assert (move.kind, move.price) == ("counter", Decimal("30"))
    reasons = [c.get("reason", "") for c in sink.moves()[0]["calls"]]
    assert reasons[:2] == [
        "accepting 10 is outside the limits (at least 15)",
        "a price of 12 is outside the limits (at least 15)",
    ]


async def test_a_seller_model_makes_the_opening_offer(rig: Rig) -> None:
    sink = Sink()
    model = scripted([turn("accept"), turn("counter", price="40.0000001")])
    floor = RuleBrain(target="38", reservation="15", rounds=6)
    move = await decider(rig, model, sink, fallback=floor).decide(seller_at(None, round_no=0))
    assert (move.kind, move.price) == ("counter", Decimal("40.000001"))  # rounded up: a seller's favour
    assert "there is no offer to accept yet" in sink.moves()[0]["calls"][0]["reason"]


async def test_prompts_carry_the_situation_and_never_a_key(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOVA_TEST_LLM_KEY", "sk-very-secret-123")
    sink = Sink()
    model = scripted([turn("counter", price="20")])
    d = decider(rig, model, sink, api_key_env="SOVA_TEST_LLM_KEY")
    await d.decide(buyer_at("38"))
    prompt = "\n".join(str(m.content) for m in model.seen[0])
    assert '"their_offer": "38"' in prompt
    assert "at most 25" in prompt
    for secret in ("sk-very-secret-123", PRIVATE_KEY.hex().removeprefix("0x"), "SOVA_TEST_LLM_KEY"):
        assert secret not in prompt


def test_llm_brain_settings_have_safe_defaults() -> None:
    brain = LlmBrain(kind="llm", model="openai:gpt-4o-mini")
    assert (brain.rounds, brain.max_steps, brain.timeout) == (10, 4, timedelta(seconds=30))
    assert brain.fallback is None


ESCALATING = (
    POLICY
    + """  - kind: approval
    when: {amount_over: "40"}
    approvers: 1
    timeout: 10s
"""
)


async def test_an_escalated_skill_does_not_stall_the_move_and_finishes_in_the_background(
    tmp_path: Path,
) -> None:
    with make_rig(tmp_path, ESCALATING) as rig:
        sink = Sink()
        model = scripted(
            [
                tool_turn(("transfer_token", {"to": "seller", "token": "TUSD", "amount": "45"})),
                turn("counter", price="15"),
            ]
        )
        # The operator never answers while the model decides: the move is made all the same.
        move = await asyncio.wait_for(decider(rig, model, sink, timeout="5s").decide(buyer_at("38")), 5)
        assert (move.kind, move.price) == ("counter", Decimal("15"))
        [approval] = rig.executor.approvals.pending()
        assert approval.origin == "llm"
        told = str(model.seen[1][-1].content)
        assert f"waiting for the operator's approval #{approval.number}" in told
        assert rig.entries("approval") == []
        rig.executor.approvals.reject(approval.id, "operator", "not now")
        [outcome] = await rig.executor.settled()
        assert outcome.status == "denied"
        assert f"approval {approval.id}: rejected by operator" in outcome.reasons[0]
        [logged] = rig.entries("approval")
        assert (logged["approval_id"], logged["state"]) == (approval.id, "rejected")
        assert rig.signer.signatures == 0
