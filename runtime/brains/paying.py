"""`fetch_paid`: a tool with which a model fetches a URL and pays its x402 `402`, under the agent's policy.

The model names a URL, optionally a method, a body and the most one payment may cost (`max_amount`);
the call goes to `fetch`, the agent's paid fetch (runtime/payments/model_fetch.py: the same PaidFetch
path as `sova fetch`, so the executor's `pay_x402`, its policy — per-payment cap, day budget, payees,
`domains`, approval — the narrow signer and the ledger decide every signature). An offer over
`max_amount` is refused before the executor is asked; one the policy denies is refused before
anything is signed; either comes back as an error ToolMessage with the reason. The model reads the
answer through `model_view` (the authorization and its signature are never shown). Other tool calls go
through the executor as always (`ExecutorMiddleware`).

    agent = paying_agent(model, executor, ModelFetch(executor, ledger).for_model)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain.agents import create_agent
from langchain.agents.middleware import AgentMiddleware
from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool

from runtime.brains.agent_tools import AgentFunction, AgentToolMiddleware, agent_tool
from runtime.brains.tools import LLM_ORIGIN, skill_tools
from runtime.executor.executor import Executor

__all__ = ["FETCH_PAID", "FetchFunction", "PaymentMiddleware", "fetch_paid_tool", "paying_agent"]

FETCH_PAID = "fetch_paid"
FetchFunction = AgentFunction
"""The agent's paid fetch: given the model's arguments, (True, answer) when it went through (paid or
not needed), (False, a one-line reason) otherwise. It validates the arguments itself (untrusted)."""

SCHEMA: dict[str, Any] = {
    "title": FETCH_PAID,
    "type": "object",
    "properties": {
        "url": {"type": "string", "description": "the http(s) URL to fetch"},
        "max_amount": {
            "type": "string",
            "description": "the most one payment may cost, a decimal string in the token's units",
        },
        "method": {"type": "string", "enum": ["GET", "POST"], "description": "GET (default) or POST"},
        "body": {"type": "string", "description": "the request body for POST (text)"},
    },
    "required": ["url", "max_amount"],
}
DESCRIPTION = (
    "Fetch a URL; when it answers 402 Payment Required (x402), pay it from this agent's wallet within "
    "`max_amount` and this agent's policy (its per-payment cap, day budget, allowed payees and domains). "
    "Answers the HTTP status, what was paid and the body, or why nothing was paid."
)


def fetch_paid_tool() -> BaseTool:
    """The tool the model sees; its calls are answered by PaymentMiddleware, never by the tool."""
    return agent_tool(FETCH_PAID, DESCRIPTION, SCHEMA, "PaymentMiddleware")


class PaymentMiddleware(AgentToolMiddleware):
    """`fetch_paid` calls go to `fetch`; every other call to the executor (ExecutorMiddleware)."""

    def __init__(self, executor: Executor, fetch: FetchFunction, *, origin: str = LLM_ORIGIN) -> None:
        super().__init__(executor, FETCH_PAID, fetch, "fetch", origin=origin)
        self.fetch = fetch


def paying_agent(
    model: BaseChatModel | str, executor: Executor, fetch: FetchFunction, *, system_prompt: str | None = None,
    middleware: Sequence[AgentMiddleware] = (), **options: Any,
) -> Any:  # fmt: skip
    """A LangChain agent with the executor's skills and `fetch_paid`; every call goes through the
    executor or the agent's paid fetch (PaymentMiddleware outermost)."""
    return create_agent(
        model, tools=[*skill_tools(executor), fetch_paid_tool()], system_prompt=system_prompt,
        middleware=[PaymentMiddleware(executor, fetch), *middleware], **options,
    )  # fmt: skip
