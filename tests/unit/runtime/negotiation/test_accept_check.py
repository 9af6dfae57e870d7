"""The buyer's own check of a delivered output (`accept(input, output)`, runtime/negotiation/results.py):
True releases; False, anything else, a raise or no answer in time refuses, with one line saying why.
Sync checks run on a worker thread, async ones on the loop."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from runtime.negotiation.results import accept_problem

INPUT, OUTPUT = {"text": "a b c"}, {"words": 3}


def counted(data: dict[str, Any], output: dict[str, Any]) -> bool:
    return output["words"] == len(data["text"].split())


async def counted_later(data: dict[str, Any], output: dict[str, Any]) -> bool:
    await asyncio.sleep(0)
    return counted(data, output)


async def test_a_check_that_returns_true_accepts_sync_or_async() -> None:
    assert await accept_problem(counted, INPUT, OUTPUT) is None
    assert await accept_problem(counted_later, INPUT, OUTPUT) is None
    assert await accept_problem(None, INPUT, OUTPUT) is None  # no check: the schema check is all


async def test_a_sync_check_runs_off_the_event_loop() -> None:
    seen: list[bool] = []

    def check(data: Any, output: Any) -> bool:
        seen.append(threading.current_thread() is threading.main_thread())
        return True

    assert await accept_problem(check, INPUT, OUTPUT) is None
    assert seen == [False]


def refuses(data: Any, output: Any) -> bool:
    return False


def forgets(data: Any, output: Any) -> None:
    return None


def raises(data: Any, output: Any) -> bool:
    raise ValueError("no words\nsecond line")


def hangs(data: Any, output: Any) -> bool:
    time.sleep(0.5)
    return True


@pytest.mark.parametrize(
    ("check", "said"),
    [
        (refuses, "the buyer's accept check refuses refused the output (it returned False)"),
        (forgets, "the buyer's accept check forgets refused the output (it returned None)"),
        (raises, "the buyer's accept check raises failed: ValueError: no words second line"),
        (hangs, "the buyer's accept check hangs gave no answer within 0.1s"),
    ],
)
async def test_anything_but_true_is_a_refusal_in_one_line(check: Any, said: str) -> None:
    assert await accept_problem(check, INPUT, {"words": 2}, limit=0.1) == said
