"""`buy_service`: a tool with which a model buys work from another agent, under the agent's policies.

The model names a service, its input, optionally a max price and a seller; the call goes to `buy`, the
agent's purchase function (the operator's Purchaser: the same Buyer path as a buy goal or `sova buy`,
so the executor, policy, budgets, caps and ledger decide every signature). A max price over the
agent's policy cap (deal_price) is refused before anything is sent, whatever the model says; a
refusal or a failed purchase comes back as an error ToolMessage with the reason. The model sees the
result through `model_view` (no signature). Other tool calls go through the executor as always
(`ExecutorMiddleware`): nothing a model says reaches a skill or a purchase any other way.

    agent = buyer_agent(model, executor, purchaser_tool_function)   # create_agent with both

An agent with an LLM brain runs it in its `llm_task` goals (runtime/brains/tasks.py, runtime/agent/tasks.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain.agents import create_agent
from langchain.agents.middleware import AgentMiddleware
from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool

from runtime.brains.agent_tools import AgentFunction, AgentToolMiddleware, agent_tool
from runtime.brains.tools import (
    LLM_ORIGIN,
    MAX_CALLS_PER_TURN,
    skill_tools,
)
from runtime.executor.executor import Executor

__all__ = ["BUY_SERVICE", "BuyFunction", "PurchaseMiddleware", "buy_service_tool", "buyer_agent"]

BUY_SERVICE = "buy_service"
BuyFunction = AgentFunction
"""The agent's purchase: given the model's arguments, (True, result) once the deal is released,
(False, result or a one-line reason) otherwise. It validates the arguments itself (untrusted)."""

SCHEMA: dict[str, Any] = {
    "title": BUY_SERVICE,
    "type": "object",
    "properties": {
        "service": {"type": "string", "description": "the service to buy (sellers register under it)"},
        "input": {"type": "object", "description": "the service's input (its seller's input schema)"},
        "max_price": {
            "type": "string",
            "description": "the most to pay, a decimal string, within the agent's policy cap",
        },
        "seller": {"type": "string", "description": "a seller's agent name or DID (default: any)"},
    },
    "required": ["service", "input"],
}
DESCRIPTION = (
    "Buy work from another agent: a registered seller of `service` runs it on `input` for a price agreed "
    "in negotiation and paid through escrow, within this agent's policy (its deal price cap and budgets). "
    "Answers the result once the deal is released, or why there is no deal."
)


def buy_service_tool() -> BaseTool:
    """The tool the model sees; its calls are answered by PurchaseMiddleware, never by the tool."""
    return agent_tool(BUY_SERVICE, DESCRIPTION, SCHEMA, "PurchaseMiddleware")


class PurchaseMiddleware(AgentToolMiddleware):
    """`buy_service` calls go to `buy`; every other call to the executor (ExecutorMiddleware)."""

    def __init__(
        self,
        executor: Executor,
        buy: BuyFunction,
        *,
        origin: str = LLM_ORIGIN,
        max_calls: int = MAX_CALLS_PER_TURN,
    ) -> None:
        super().__init__(executor, BUY_SERVICE, buy, "purchase", origin=origin, max_calls=max_calls)
        self.buy = buy


def buyer_agent(
    model: BaseChatModel | str, executor: Executor, buy: BuyFunction, *, system_prompt: str | None = None,
    middleware: Sequence[AgentMiddleware] = (), **options: Any,
) -> Any:  # fmt: skip
    """A LangChain agent with the executor's skills and `buy_service`; every call goes through the
    executor or the agent's purchase function (PurchaseMiddleware outermost)."""
    return create_agent(
        model, tools=[*skill_tools(executor), buy_service_tool()], system_prompt=system_prompt,
        middleware=[PurchaseMiddleware(executor, buy), *middleware], **options,
    )  # fmt: skip
