"""The skill catalog as LangChain tools, for the LLM brain (DESIGN §9). The model is untrusted input.

- `skill_tools(executor)`: one StructuredTool per skill. The model sees each skill's JSON schema, but
  the tool hands the raw arguments to `executor.execute(..., origin="llm")`, so that extra keys (an
  `approval_id`, `"approved": true`) are refused by the skill's own model and logged like every other
  attempt. A denial or failure comes back as a ToolMessage with status "error" and the reasons.
- `ExecutorMiddleware`: a `wrap_tool_call` middleware that sends every tool call — also one naming no
  known tool — through the executor and never calls the tool itself. With it, nothing a model says can
  reach a handler that skips the executor.
- `executor_agent(model, executor)`: `create_agent` with both.

What the model is told is `model_view` of a result: signatures, presentations and credentials are
withheld (the model learns that a deal was signed, never the bytes it could forward). An action the
policy escalates answers "pending" at once (the executor finishes it in the background), so a model
cannot stall its agent on the operator. At most `max_calls` tool calls of one model turn run; the rest
are refused (the rate limit is atomic besides, so parallel calls cannot pass it together).

Async only: the executor is async (use `ainvoke` / `astream`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from langchain.agents import create_agent
from langchain.agents.middleware import AgentMiddleware
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool, StructuredTool, ToolException
from langgraph.prebuilt.tool_node import ToolCallRequest
from langgraph.types import Command

from runtime.executor.action_log import Outcome
from runtime.executor.executor import Executor
from skills import Skill

LLM_ORIGIN = "llm"
MAX_CALLS_PER_TURN = 8
"""Tool calls of one model turn that run; the others are refused."""
WITHHELD = "<withheld: signed data stays inside the agent>"
_SIGNED_KEYS = frozenset(
    {"signature", "signatures", "proof", "jws", "presentation", "credential", "raw_transaction"}
)
_HEX_SIGNATURE = re.compile(r"^0x[0-9a-fA-F]{128,132}$")
_COMPACT_JWS = re.compile(r"^[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]{40,}$")


def model_view(value: Any, depth: int = 0) -> Any:
    """`value` as the model may see it: every signature, JWS, presentation and credential withheld."""
    if depth > 20:
        return "<too deep>"
    if isinstance(value, Mapping):
        return {
            str(k): WITHHELD if _signed_key(str(k)) else model_view(v, depth + 1) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [model_view(v, depth + 1) for v in value]
    if isinstance(value, str) and (_HEX_SIGNATURE.match(value) or _COMPACT_JWS.match(value)):
        return WITHHELD
    return value


def _signed_key(key: str) -> bool:
    key = key.lower()
    return key in _SIGNED_KEYS or key.endswith("_signature")


def result_text(outcome: Outcome) -> str:
    """What the model reads for an outcome: the result as JSON (`model_view`), the pending approval, or
    the denial with its reasons."""
    if outcome.ok:
        return json.dumps({"status": "done", "result": model_view(outcome.result)}, default=str)
    return outcome.message()


def answered(outcome: Outcome) -> bool:
    """A tool call that went as asked: done, or waiting for the operator (not an error)."""
    return outcome.status in ("done", "pending")


def tool_answer(request: ToolCallRequest, text: str, *, ok: bool) -> ToolMessage:
    """The ToolMessage answering `request`'s call with `text`, status "success" or "error" by `ok`."""
    call = request.tool_call
    return ToolMessage(
        content=text,
        tool_call_id=str(call.get("id") or ""),
        name=str(call.get("name", "")),
        status="success" if ok else "error",
    )


def skill_tools(executor: Executor, *, origin: str = LLM_ORIGIN) -> list[BaseTool]:
    """One tool per skill of the executor's catalog; calls go through `executor.execute`."""
    return [_tool(executor, skill, origin) for skill in executor.catalog]


def _tool(executor: Executor, skill: Skill[Any], origin: str) -> BaseTool:
    name = skill.name

    async def call(**kwargs: Any) -> str:
        outcome = await executor.execute(name, kwargs, origin, wait_for_approval=False)
        if not answered(outcome):
            raise ToolException(result_text(outcome))
        return result_text(outcome)

    schema = skill.args_model.model_json_schema()
    schema.setdefault("title", name)
    # A JSON-schema dict (not the pydantic model): LangChain then passes the raw arguments through
    # unvalidated, and the executor validates and logs them.
    return StructuredTool.from_function(
        coroutine=call,
        name=name,
        description=skill.description,
        args_schema=schema,
        infer_schema=False,
        handle_tool_error=True,
    )


class ExecutorMiddleware(AgentMiddleware):
    """Every tool call of the agent goes through `executor.execute(name, args, origin)`; the tool
    itself never runs. Denials and failures are ToolMessages with status "error"; escalations answer
    "pending" at once; past `max_calls` calls in one model turn, calls are refused unrun."""

    def __init__(
        self, executor: Executor, *, origin: str = LLM_ORIGIN, max_calls: int = MAX_CALLS_PER_TURN
    ) -> None:
        super().__init__()
        self.executor = executor
        self.origin = origin
        self.max_calls = max_calls
        self.calls_this_turn = 0

    async def abefore_model(self, state: Any, runtime: Any) -> dict[str, Any] | None:
        self.calls_this_turn = 0  # a new model turn: its tool calls are counted afresh
        return None

    def over_the_cap(self, request: ToolCallRequest) -> ToolMessage | None:
        """A refusal when this turn has made its `max_calls` calls already (counted before any await,
        so the parallel calls of one turn cannot all slip under it)."""
        self.calls_this_turn += 1
        if self.calls_this_turn <= self.max_calls:
            return None
        text = f"REFUSED: more than {self.max_calls} tool calls in one turn; this one was not run"
        return tool_answer(request, text, ok=False)

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command[Any]]],
    ) -> ToolMessage | Command[Any]:
        refused = self.over_the_cap(request)
        if refused is not None:
            return refused
        return await self.through_executor(request)

    async def through_executor(self, request: ToolCallRequest) -> ToolMessage:
        """The call, run by the executor (never by the tool), answered as the model may see it."""
        call = request.tool_call
        outcome = await self.executor.execute(
            str(call.get("name", "")), call.get("args"), self.origin, wait_for_approval=False
        )
        return tool_answer(request, result_text(outcome), ok=answered(outcome))


def executor_agent(
    model: BaseChatModel | str,
    executor: Executor,
    *,
    system_prompt: str | None = None,
    middleware: Sequence[AgentMiddleware] = (),
    **options: Any,
) -> Any:
    """A LangChain agent whose tools are the executor's skills and whose every tool call goes through
    the executor (ExecutorMiddleware outermost). `options` go to `create_agent` (e.g. checkpointer)."""
    return create_agent(
        model,
        tools=skill_tools(executor),
        system_prompt=system_prompt,
        middleware=[ExecutorMiddleware(executor), *middleware],
        **options,
    )
