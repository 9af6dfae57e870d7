"""An LLM-brained agent's model at work: the negotiation decider its Buyers and Seller ask
(`llm_decider`), and its `llm_task` goals (`task_jobs`).

    - kind: llm_task
      prompt: "Count the words of our slogan with the wordcount service; pay at most 12 TUSD."
      every: 1h            # without it: once, at start

Each run of an `llm_task` goal is one run of the agent's chat model (the `model` of its llm brain) on
`prompt`, with the agent's skills (through the executor) and `buy_service` (the agent's Purchaser,
runtime/operator/purchase.py: the same path, policy cap and budgets as `sova buy`), within the brain's
`max_tool_calls` per turn, `max_steps` model calls and `timeout` per call (runtime/brains/tasks.py).
Its outcome is one line in the agent's log and one `task` entry in its ledger: the goal, the prompt's
start, the status (done | step_limit | failed), the model calls, each tool call with its answer, and
the model's last words. An agent whose brain is not an llm one is refused: by `sova config check`
(runtime/config_check.py), and at start.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.config import Agent as AgentSpec
from runtime.config import LlmBrain, SellGoal, TaskGoal
from runtime.errors import SovaError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from runtime.brains.buying import BuyFunction
    from runtime.brains.tasks import TaskReport
    from runtime.executor.executor import Executor
    from runtime.ledger.sink import LedgerSink

__all__ = ["TaskJob", "llm_decider", "task_goals", "task_jobs"]

log = logging.getLogger(__name__)

PROMPT_LOGGED = 200
"""Characters of a task's prompt its ledger entry keeps (the prompt is in agents.yaml)."""


def llm_decider(spec: AgentSpec, root: Path, executor: Executor, ledger: Any, strategies: Any) -> Any:
    """The LLM brain's decider for the Buyer and Seller (runtime/brains/llm.py): the model named in
    agents.yaml, its rules `fallback`, the agent's skills through the executor. A seller needs the
    fallback: its reservation price is the lowest price the model may agree to."""
    from runtime.brains.llm import LlmDecider
    from runtime.brains.rules import RuleDecider

    brain = spec.brain
    assert isinstance(brain, LlmBrain)
    if any(isinstance(g, SellGoal) for g in spec.goals) and brain.fallback is None:
        raise SovaError(
            f"agent {spec.name}: an llm brain that sells needs a `fallback:` rules brain: its reservation "
            "is the lowest price the model may agree to"
        )
    decider = LlmDecider(_model(spec, root), executor, config=brain, ledger=ledger)
    if brain.fallback is not None:  # its rules fallback may use a plugin's strategy
        decider.fallback = RuleDecider(brain.fallback, strategies)
    return decider


def _model(spec: AgentSpec, root: Path) -> BaseChatModel:
    """A new chat model of `spec`'s llm brain; SovaError naming the agent when it cannot be made."""
    from runtime.brains.models import chat_model

    assert isinstance(spec.brain, LlmBrain)
    try:
        return chat_model(spec.brain, root=root)
    except SovaError as exc:
        raise SovaError(f"agent {spec.name}: {exc}") from None


def task_goals(spec: AgentSpec) -> list[TaskGoal]:
    """The llm_task goals of agent `spec`."""
    return [g for g in spec.goals if isinstance(g, TaskGoal)]


def task_jobs(agent: Any, parts: Any, session: Any, executor: Executor) -> list[TaskJob]:
    """The jobs of `agent`'s llm_task goals (an `Agent` of runtime/agent/agent.py, its parts, chain
    session and executor); none without such goals. SovaError (one line) when the agent's brain is not
    an llm one, or its model cannot be made."""
    spec: AgentSpec = agent.spec
    goals = task_goals(spec)
    if not goals:
        return []
    if not isinstance(spec.brain, LlmBrain):
        raise SovaError(
            f"agent {spec.name}: an llm_task goal needs an llm brain (brain: {{kind: llm, model: ...}}): "
            f"its brain is {spec.brain.kind}"
        )
    from runtime.operator.purchase_site import make_purchaser

    purchaser = make_purchaser(agent, parts, session, executor)
    root = agent.config_path.parent
    return [
        TaskJob(goal, i, _model(spec, root), executor, purchaser.for_model, spec.brain, parts.sink, agent.say)
        for i, goal in enumerate(goals)
    ]


class TaskJob:
    """One llm_task goal, run by the scheduler (every `every`, or once at start): the model's run, one
    log line (`say`), one `task` ledger entry. `number`: the goal's place among the agent's tasks."""

    def __init__(
        self, goal: TaskGoal, number: int, model: BaseChatModel, executor: Executor, buy: BuyFunction,
        limits: LlmBrain, ledger: LedgerSink | None, say: Callable[[str], None],
    ) -> None:  # fmt: skip
        self.goal, self.number, self.model = goal, number, model
        self.executor, self.buy, self.limits = executor, buy, limits
        self.ledger, self.say = ledger, say
        self.runs = 0

    @property
    def every(self) -> timedelta | None:
        return self.goal.every

    async def __call__(self) -> TaskReport:
        from runtime.brains.tasks import TASK_ORIGIN, run_task

        self.runs += 1
        name = self.executor.context.agent_name or ""
        report = await run_task(self.model, self.executor, self.buy, self.goal.prompt, self.limits,
                                agent=name, origin=TASK_ORIGIN)  # fmt: skip
        if self.ledger is not None:
            entry: dict[str, Any] = {
                "goal": "llm_task", "task": self.number, "run": self.runs, "origin": TASK_ORIGIN,
                "prompt": self.goal.prompt[:PROMPT_LOGGED], "status": report.status, "steps": report.steps,
                "calls": report.calls[:50], "answer": report.answer,
            }  # fmt: skip
            if report.why:
                entry["why"] = report.why
            await self.ledger.append_async("task", entry)
        self.say(f"llm_task {self.number}: {report.line()}")
        return report
