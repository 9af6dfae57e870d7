"""Scripted tool calls for the LLM tests: a model that says what the test wrote, and a pay call."""

from __future__ import annotations

from typing import Any

from runtime.brains.scripted import ScriptedChatModel, tool_turn
from runtime.brains.scripted import scripted as scripted_model

Call = tuple[str, dict[str, Any]]


def scripted(*turns: list[Call]) -> ScriptedChatModel:
    """A model playing one turn of tool calls per item of `turns`, then saying "done"."""
    return scripted_model([*(tool_turn(*turn) for turn in turns), "done"])


def pay(to: str, amount: str, **extra: Any) -> Call:
    return ("transfer_token", {"to": to, "token": "TUSD", "amount": amount, **extra})
