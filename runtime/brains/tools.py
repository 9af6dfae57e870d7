"""The skill catalog as LangChain tools, for the LLM brain (DESIGN §9). The model is untrusted input.

- `skill_tools(executor)`: one StructuredTool per skill. The model sees each skill's JSON schema, but
  the tool hands the raw arguments to `executor.execute(..., origin="llm")`, so that extra keys (an
  `approval_id`, `"approved": true`) are refused by the skill's own model and logged like every other
  attempt. A denial or failure comes back as a ToolMessage with status "error" and the reasons.
- `ExecutorMiddleware`: a `wrap_tool_call` middleware that sends every tool call — also one naming no
  known tool — through the executor and never calls the tool itself. With it, nothing a model says can
  reach a handler that skips the executor.
- `executor_agent(model, executor)`: `create_agent` with both.

Async only: the executor is async (use `ainvoke` / `astream`).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
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


def result_text(outcome: Outcome) -> str:
    """What the model reads for an outcome: the result as JSON, or the denial with its reasons."""
    if outcome.ok:
        return json.dumps({"status": "done", "result": outcome.result}, default=str)
    return outcome.message()


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
        outcome = await executor.execute(name, kwargs, origin)
        if not outcome.ok:
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
    itself never runs. Denials and failures are ToolMessages with status "error"."""

    def __init__(self, executor: Executor, *, origin: str = LLM_ORIGIN) -> None:
        super().__init__()
        self.executor = executor
        self.origin = origin

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command[Any]]],
    ) -> ToolMessage | Command[Any]:
        call = request.tool_call
        outcome = await self.executor.execute(str(call.get("name", "")), call.get("args"), self.origin)
        return tool_answer(request, result_text(outcome), ok=outcome.ok)


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
