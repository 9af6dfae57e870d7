"""A scripted chat model: plays a fixed list of replies (text and tool calls), with no network.

It stands in for a real LLM in tests and demos (`model: "scripted:brains/buyer.yaml"` in agents.yaml),
including hostile scripts that try to overspend, pay strangers or fake approvals. Each call of the model
returns the next reply; `bind_tools` keeps the model as it is (the script decides which tools to call).
At the end of the script the model fails (`ScriptEnded`), or starts over when `loop` is set.

Script file (YAML or JSON), relative to agents.yaml:

    loop: true                 # start over at the end (a demo that keeps trading)
    replies:
      - tool_calls:            # one model turn calling tools
          - {name: counter, args: {price: "10", reason: "start low"}}
      - text: "I accept."      # a plain answer
      - error: "rate limited"  # the model call fails (tests of the fallback)

A bare list of replies is accepted too. `seen` keeps every prompt the model was given, for tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from runtime.errors import SovaError

MAX_SCRIPT_BYTES = 1024 * 1024


class ScriptError(SovaError):
    """A script file that cannot be read or is not a valid script."""


class ScriptEnded(SovaError):
    """The model was called after its last reply (and the script does not loop)."""


class ScriptedFailure(SovaError):
    """A reply of the script that is a failure of the model call (`error:`)."""


class Fail(BaseModel):
    """A scripted reply that is a failed model call (a timeout, a rate limit, a provider error)."""

    model_config = ConfigDict(frozen=True)

    error: str


class _Call(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    args: dict[str, Any] = Field(default_factory=dict)


class _Reply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = ""
    tool_calls: list[_Call] = Field(default_factory=list)
    error: str | None = None


class _Script(BaseModel):
    model_config = ConfigDict(extra="forbid")

    loop: bool = False
    replies: list[_Reply | str] = Field(min_length=1)


class ScriptedChatModel(BaseChatModel):
    """A chat model that answers with its replies in order; see the module docstring."""

    replies: list[Any]
    """Each item is one model turn: an AIMessage (text and/or tool calls), a plain string, or a Fail.
    (Typed Any: pydantic would try to build an AIMessage from a string and crash.)"""
    loop: bool = False
    name_: str = "scripted"

    _position: int = PrivateAttr(default=0)
    _seen: list[list[BaseMessage]] = PrivateAttr(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "sova-scripted"

    @property
    def seen(self) -> list[list[BaseMessage]]:
        """The messages of every call so far (a copy of each prompt)."""
        return self._seen

    @property
    def calls(self) -> int:
        return len(self._seen)

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        """The script already says which tools it calls: the model is returned as it is."""
        return self

    def _next(self, messages: list[BaseMessage]) -> AIMessage:
        self._seen.append(list(messages))
        if self._position >= len(self.replies):
            if not self.loop:
                raise ScriptEnded(
                    f"the scripted model {self.name_} has no reply left ({len(self.replies)} used)"
                )
            self._position = 0
        reply = self.replies[self._position]
        self._position += 1
        if isinstance(reply, Fail):
            raise ScriptedFailure(f"the scripted model {self.name_} failed: {reply.error}")
        if isinstance(reply, str):
            return AIMessage(content=reply)
        if not isinstance(reply, AIMessage):
            raise ScriptError(f"the scripted model {self.name_}: reply {reply!r} is not a message")
        # A fresh copy with fresh call ids: the same reply may be played twice (loop).
        calls = [
            {**call, "id": f"call-{self.calls}-{i}", "type": "tool_call"}
            for i, call in enumerate(reply.tool_calls)
        ]
        return AIMessage(content=reply.content, tool_calls=calls)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._next(messages))])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        # No thread hop: the script is in memory.
        return self._generate(messages, stop)


def tool_turn(*calls: tuple[str, dict[str, Any]], text: str = "") -> AIMessage:
    """One model turn calling `calls` ((name, args) pairs) in order."""
    return AIMessage(
        content=text,
        tool_calls=[
            {"name": name, "args": args, "id": f"call-{i}", "type": "tool_call"}
            for i, (name, args) in enumerate(calls)
        ],
    )


def scripted(
    replies: Iterable[AIMessage | Fail | str], *, loop: bool = False, name: str = "scripted"
) -> ScriptedChatModel:
    """A scripted model from replies built in code (tests)."""
    return ScriptedChatModel(replies=list(replies), loop=loop, name_=name)


def load_script(path: Path) -> ScriptedChatModel:
    """The scripted model of a YAML or JSON script file; ScriptError (one line) when it is unfit."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ScriptError(
            f"scripted model: script {path} not found: create it (see README, 'LLM brain')"
        ) from None
    except OSError as exc:
        raise ScriptError(f"scripted model: cannot read {path}: {exc.strerror}") from None
    if len(raw) > MAX_SCRIPT_BYTES:
        raise ScriptError(f"scripted model: {path} is over {MAX_SCRIPT_BYTES} bytes")
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        where = getattr(exc, "problem_mark", None)
        line = f":{where.line + 1}" if where is not None else ""
        raise ScriptError(
            f"scripted model: {path}{line}: not valid YAML/JSON ({type(exc).__name__})"
        ) from None
    if isinstance(data, list):
        data = {"replies": data}
    try:
        script = _Script.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        at = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ScriptError(
            f"scripted model: {path}: {at}: {first['msg']} (a script is `replies:` — a list of "
            "{text, tool_calls: [{name, args}], error})"
        ) from None
    return ScriptedChatModel(replies=_messages(script.replies), loop=script.loop, name_=path.name)


def _messages(replies: Sequence[_Reply | str]) -> list[AIMessage | Fail | str]:
    out: list[AIMessage | Fail | str] = []
    for reply in replies:
        if isinstance(reply, str):
            out.append(reply)
        elif reply.error is not None:
            out.append(Fail(error=reply.error))
        else:
            out.append(tool_turn(*((c.name, c.args) for c in reply.tool_calls), text=reply.text))
    return out


def script_text(replies: Sequence[dict[str, Any]], *, loop: bool = False) -> str:
    """A script file's text (JSON, which is YAML too) from replies as dicts: for tests and demos."""
    return json.dumps({"loop": loop, "replies": list(replies)}, indent=2) + "\n"
