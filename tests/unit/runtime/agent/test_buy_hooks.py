"""A buy goal's `input_from` and `on_result` (agents.yaml `module:function`): found beside agents.yaml or
installed, sync or async; a missing module, a missing or non-callable name, or both `input:` and
`input_from:` is one line at start; a failing function is one line per run, never a crash."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from runtime.agent.buy_hooks import BuyHooks, accept_checks, hook_problems, load_function
from runtime.config import BuyGoal, load_config
from runtime.errors import SovaError

MODULE = """
import asyncio

seen = []
NOT_A_FUNCTION = 3

def text():
    return {"text": "a b c"}

async def later():
    await asyncio.sleep(0)
    return {"text": "x"}

def listed():
    return ["not", "a", "dict"]

def broken():
    raise RuntimeError("the text file is gone\\nsecond line")

async def keep(result):
    seen.append(result)

def fails(result):
    raise ValueError("disk full")

def counted(data, output):
    return output["words"] == len(data["text"].split())

def other(data, output):
    return True
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "hooksmod.py").write_text(MODULE)
    return tmp_path


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_input_functions_sync_or_async_give_each_runs_input(root: Path) -> None:
    assert run(BuyHooks("hooksmod:text", None, root, {}).input()) == ({"text": "a b c"}, None)
    assert run(BuyHooks("hooksmod:later", None, root, {}).input()) == ({"text": "x"}, None)
    assert run(BuyHooks(None, None, root, {"text": "static"}).input()) == ({"text": "static"}, None)


def test_an_input_function_that_fails_or_gives_no_dict_is_one_line(root: Path) -> None:
    data, why = run(BuyHooks("hooksmod:broken", None, root, {}).input())
    assert data is None
    assert why == ("input_from hooksmod:broken failed: RuntimeError: the text file is gone second line")
    data, why = run(BuyHooks("hooksmod:listed", None, root, {}).input())
    assert data is None
    assert why == "input_from hooksmod:listed gave a list, not a dict"


def test_the_result_callback_gets_the_result_and_its_failure_is_one_line(root: Path) -> None:
    hooks = BuyHooks(None, "hooksmod:keep", root, {})
    assert run(hooks.report({"state": "released"})) is None
    import hooksmod  # type: ignore[import-not-found]  # loaded from `root` by BuyHooks

    assert hooksmod.seen == [{"state": "released"}]
    assert run(BuyHooks(None, "hooksmod:fails", root, {}).report({})) == (
        "on_result hooksmod:fails failed: ValueError: disk full"
    )


@pytest.mark.parametrize(
    ("ref", "words"),
    [
        ("nomod:text", "module nomod cannot be imported: ModuleNotFoundError"),
        ("hooksmod:absent", "module hooksmod has no 'absent'"),
        ("hooksmod:NOT_A_FUNCTION", "hooksmod.NOT_A_FUNCTION is a int, not a function"),
    ],
)
def test_a_function_that_cannot_be_found_is_one_line_at_start(root: Path, ref: str, words: str) -> None:
    with pytest.raises(SovaError) as refused:
        load_function(ref, root, "input_from")
    assert words in str(refused.value)
    assert "\n" not in str(refused.value)
    assert str(refused.value).startswith(f"input_from {ref!r}")


def test_input_and_input_from_together_are_refused(root: Path) -> None:
    with pytest.raises(SovaError, match="not both"):
        BuyHooks("hooksmod:text", None, root, {"text": "static"})


def test_the_goal_takes_module_function_references_only() -> None:
    goal = BuyGoal(
        kind="buy", service="s", every="1m", max_price="3", input_from="pkg.mod:fn", on_result="m:f"
    )
    assert (goal.input_from, goal.on_result) == ("pkg.mod:fn", "m:f")
    for bad in ("mod.fn", "mod:", ":fn", "mod:fn()", "1mod:fn"):
        with pytest.raises(ValueError, match="should match pattern"):
            BuyGoal(kind="buy", service="s", every="1m", max_price="3", input_from=bad)


def test_hook_problems_lists_each_goal_that_does_not_load(root: Path) -> None:
    (root / "p.yaml").write_text("version: 1\nrules: []\n")
    (root / "agents.yaml").write_text(
        "version: 1\nchain: {kind: local}\nagents:\n"
        "  - name: buyer\n    policy: p.yaml\n    goals:\n"
        '      - {kind: buy, service: s, every: 1m, max_price: "3", input_from: "hooksmod:text"}\n'
        '      - {kind: buy, service: s, every: 1m, max_price: "3", on_result: "hooksmod:gone"}\n'
        '      - {kind: buy, service: s, every: 1m, max_price: "3", input_from: "nomod:f"}\n'
    )
    path = root / "agents.yaml"
    problems = hook_problems(load_config(path), path)
    assert len(problems) == 2
    assert problems[0].startswith(f"{path}: agents[0] (buyer) goals[1]: on_result 'hooksmod:gone'")
    assert "goals[2]: input_from 'nomod:f': module nomod cannot be imported" in problems[1]


def agents(root: Path, *goals: str) -> Path:
    (root / "p.yaml").write_text("version: 1\nrules: []\n")
    lines = "".join(f'      - {{kind: buy, every: 1m, max_price: "3", {g}}}\n' for g in goals)
    head = "version: 1\nchain: {kind: local}\nagents:\n  - name: buyer\n    policy: p.yaml\n    goals:\n"
    (root / "agents.yaml").write_text(head + lines)
    return root / "agents.yaml"


def test_accept_checks_are_the_agents_by_service(root: Path) -> None:
    path = agents(root, 'service: wordcount, accept: "hooksmod:counted"', "service: other",
                  'service: wordcount, accept: "hooksmod:counted", input: {text: x}')  # fmt: skip
    checks = accept_checks(load_config(path).agent("buyer"), root)
    assert list(checks) == ["wordcount"]
    assert checks["wordcount"]({"text": "a b"}, {"words": 2}) is True
    assert hook_problems(load_config(path), path) == []


def test_two_accept_checks_for_one_service_or_one_that_does_not_load_are_one_line(root: Path) -> None:
    path = agents(root, 'service: s, accept: "hooksmod:counted"', 'service: s, accept: "hooksmod:other"',
                  'service: t, accept: "hooksmod:gone"')  # fmt: skip
    problems = hook_problems(load_config(path), path)
    assert problems == [
        f"{path}: agents[0] (buyer) goals[1]: accept 'hooksmod:other': another buy goal of s names accept "
        "'hooksmod:counted': an agent has one accept check per service: name the same function in both goals",
        f"{path}: agents[0] (buyer) goals[2]: accept 'hooksmod:gone': module hooksmod has no 'gone': define "
        "`def gone(...)` there",
    ]
    with pytest.raises(SovaError, match="another buy goal of s names accept 'hooksmod:counted'"):
        accept_checks(load_config(path).agent("buyer"), root)
