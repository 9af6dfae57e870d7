"""Tools a model calls that are answered by one of the agent's own functions, not by a skill: e.g.
`buy_service` (the agent's Purchaser) and `fetch_paid` (its paid fetch). The model sees a tool with a
JSON Schema; `AgentToolMiddleware` answers its calls with the function (which validates the untrusted
arguments itself and goes through the executor for every signature), and sends every other call to
the executor as `ExecutorMiddleware` does. The answer the model reads goes through `model_view` (no
signature), and a failure of the function is one line, never an exception in the model's run.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool, StructuredTool
from langgraph.prebuilt.tool_node import ToolCallRequest
from langgraph.types import Command

from runtime.brains.tools import (
    LLM_ORIGIN,
    MAX_CALLS_PER_TURN,
    ExecutorMiddleware,
    model_view,
    tool_answer,
)
from runtime.executor.executor import Executor

__all__ = ["AgentFunction", "AgentToolMiddleware", "agent_tool"]

AgentFunction = Callable[[Mapping[str, Any]], Awaitable[tuple[bool, Mapping[str, Any] | str]]]
"""Given the model's arguments: (True, result) when it worked, (False, result or a one-line reason)
otherwise. It validates the arguments itself: they are untrusted."""


def agent_tool(name: str, description: str, schema: dict[str, Any], middleware: str) -> BaseTool:
    """The tool the model sees; its calls are answered by `middleware`, never by the tool itself."""

    async def never(**kwargs: Any) -> str:
        raise RuntimeError(f"{name} runs only through {middleware}")

    return StructuredTool.from_function(
        coroutine=never, name=name, description=description, args_schema=schema, infer_schema=False,
        handle_tool_error=True,
    )  # fmt: skip


class AgentToolMiddleware(ExecutorMiddleware):
    """Calls of tool `name` go to `function` (`what` names it in a failure: "the purchase failed");
    every other call to the executor (ExecutorMiddleware). The per-turn call cap counts both."""

    def __init__(
        self,
        executor: Executor,
        name: str,
        function: AgentFunction,
        what: str,
        *,
        origin: str = LLM_ORIGIN,
        max_calls: int = MAX_CALLS_PER_TURN,
    ) -> None:
        super().__init__(executor, origin=origin, max_calls=max_calls)
        self.tool_name, self.function, self.what = name, function, what

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command[Any]]],
    ) -> ToolMessage | Command[Any]:
        if request.tool_call.get("name") != self.tool_name:
            return await super().awrap_tool_call(request, handler)
        refused = self.over_the_cap(request)
        if refused is not None:
            return refused
        args = request.tool_call.get("args")
        if not isinstance(args, Mapping):
            return tool_answer(request, f"REFUSED: {self.tool_name} takes an object of arguments", ok=False)
        try:
            ok, answer = await self.function(args)
        except Exception as exc:  # the function is the agent's: say what failed, keep the model running
            ok, answer = False, f"the {self.what} failed ({type(exc).__name__}: {str(exc)[:200]})"
        if isinstance(answer, str):
            return tool_answer(request, f"REFUSED: {answer}", ok=False)
        return tool_answer(request, json.dumps(model_view(dict(answer)), default=str), ok=ok)
