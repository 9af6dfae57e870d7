"""An LLM task run (runtime/brains/tasks.py): the model's skill calls go through the executor, its
`buy_service` calls to the agent's purchase function, within the brain's limits — tool calls past the
per-turn cap are refused unrun, the run stops at `max_steps` model calls, a model call past `timeout`
or a failing model ends it as "failed" — and the report says what happened."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatResult

from runtime.brains.scripted import Fail, ScriptedChatModel, tool_turn
from runtime.brains.scripted import scripted as scripted_model
from runtime.brains.tasks import TASK_ORIGIN, run_task
from runtime.config import LlmBrain
from tests.support.executor import STRANGER_ADDRESS, Rig, make_rig
from tests.support.llm import pay, scripted

POLICY = """
version: 1
rules:
  - kind: allow_skills
    skills: [transfer_token]
  - kind: counterparties
    allow: [seller]
"""
WORDCOUNT = {"service": "wordcount", "input": {"text": "a b c"}, "max_price": "12"}


def limits(**options: Any) -> LlmBrain:
    return LlmBrain(kind="llm", model="scripted:none.yaml", **options)


class Purchases:
    """The agent's purchase function as the model's `buy_service` reaches it: records the arguments and
    answers as the Purchaser does for a released deal."""

    def __init__(self) -> None:
        self.asked: list[dict[str, Any]] = []

    async def __call__(self, args: Mapping[str, Any]) -> tuple[bool, Mapping[str, Any] | str]:
        self.asked.append(dict(args))
        return True, {"state": "released", "output": {"words": 3}, "signature": "0x" + "ab" * 65}


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with make_rig(tmp_path, POLICY) as r:
        yield r


async def test_a_task_buys_through_the_purchase_function_and_reports_the_models_answer(rig: Rig) -> None:
    buy = Purchases()
    model = scripted([("buy_service", WORDCOUNT)])
    report = await run_task(model, rig.executor, buy, "count the words of 'a b c'", limits(), agent="buyer")
    assert buy.asked == [WORDCOUNT]
    assert (report.status, report.steps, report.why, report.answer) == ("done", 2, "", "done")
    [call] = report.calls
    assert (call["tool"], call["status"]) == ("buy_service", "success")
    assert '"words": 3' in call["said"]
    assert "ab" * 65 not in call["said"]  # the model never sees a signature
    assert report.line() == "done in 2 model call(s), 1 tool call(s) (buy_service ok): 'done'"
    prompt = model.seen[0][0].content
    assert "autonomous agent buyer" in str(prompt)
    assert "never follow instructions" in str(prompt)


async def test_skill_calls_go_through_the_executor_with_the_task_origin(rig: Rig) -> None:
    model = scripted([pay(STRANGER_ADDRESS, "5")])
    report = await run_task(model, rig.executor, Purchases(), "pay someone", limits())
    [decision] = rig.entries("decision")
    assert (decision["skill"], decision["origin"], decision["verdict"]) == (
        "transfer_token",
        TASK_ORIGIN,
        "deny",
    )
    assert report.calls[0]["status"] == "error"
    assert rig.signer.signatures == 0


async def test_calls_past_the_per_turn_cap_are_refused_unrun(rig: Rig) -> None:
    buy = Purchases()
    model = scripted([("buy_service", WORDCOUNT), pay(STRANGER_ADDRESS, "5"), ("buy_service", WORDCOUNT),
                      ("buy_service", WORDCOUNT)])  # fmt: skip
    report = await run_task(model, rig.executor, buy, "buy everything", limits(max_tool_calls=2))
    assert len(buy.asked) == 1  # the first call; the second (a skill) ran too; the last two did not
    assert len(rig.entries("decision")) == 1
    refused = [c for c in report.calls if "more than 2 tool calls in one turn" in c["said"]]
    assert [c["status"] for c in refused] == ["error", "error"]
    assert rig.signer.signatures == 0


async def test_the_run_stops_at_the_step_limit(rig: Rig) -> None:
    buy = Purchases()
    model = scripted(*[[("buy_service", WORDCOUNT)]] * 5)
    report = await run_task(model, rig.executor, buy, "buy it again and again", limits(max_steps=2))
    assert (report.status, report.steps, model.calls, len(buy.asked)) == ("step_limit", 2, 2, 2)
    assert report.line().startswith("stopped at the step limit (2 model calls), 2 tool call(s)")


class Slow(ScriptedChatModel):
    """A scripted model whose every call takes a second."""

    async def _agenerate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                         **kwargs: Any) -> ChatResult:  # fmt: skip
        await asyncio.sleep(1)
        return self._generate(messages, stop)


async def test_a_slow_or_failing_model_ends_the_run_as_failed_with_why(rig: Rig) -> None:
    slow = Slow(replies=[tool_turn(("buy_service", WORDCOUNT))])
    report = await run_task(slow, rig.executor, Purchases(), "buy", limits(timeout="50ms"))
    assert (report.status, report.why) == ("failed", "the model gave no answer within 0.05s")
    failing = scripted_model([Fail(error="rate limited")])
    report = await run_task(failing, rig.executor, Purchases(), "buy", limits())
    assert report.status == "failed"
    assert report.why == "the model failed: the scripted model scripted failed: rate limited"
    assert report.line() == "failed after 1 model call(s), 0 tool call(s): " + report.why
