"""The user functions of a `buy` goal: `input_from` (gives each run's input), `on_result` (is told
each deal's result) and `accept` (checks each output before the escrow is released), named in
agents.yaml as `module:function` — a module beside agents.yaml, else an installed one. All are user
code: loaded at start (a missing module or function is one line and the agent does not start), each
call's failure is one line in the agent's log, never a crash (a failing `accept` refuses the output).

    - kind: buy
      service: wordcount
      input_from: "texts:next_text"      # def next_text() -> dict   (or async def)
      on_result: "texts:keep"            # def keep(result: BuyResult) -> None   (or async def)
      accept: "texts:counted"            # def counted(input, output) -> bool   (or async def)

An `accept` is the agent's check of its service's outputs (`accept_checks`): every Buyer of the agent
runs it on each delivery of that service — the goal's deals, `sova buy`, a model's `buy_service`, a
deal taken up after a restart — after the schema check (runtime/negotiation/results.py).
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import inspect
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from runtime.errors import SovaError
from runtime.services.plugins import module_from_file

__all__ = ["BuyHooks", "accept_checks", "hook_problems", "load_function"]


def load_function(ref: str, root: Path, what: str) -> Callable[..., Any]:
    """The function `ref` ("module:function") names, its module beside `root` or installed; SovaError
    with one line (`what` says which setting) when it cannot be found or is not callable."""
    module_name, _, name = ref.partition(":")
    module = _module(module_name, root, what, ref)
    found = getattr(module, name, None)
    if found is None:
        raise SovaError(
            f"{what} {ref!r}: module {module_name} has no {name!r}: define `def {name}(...)` there"
        )
    if not callable(found):
        raise SovaError(f"{what} {ref!r}: {module_name}.{name} is a {type(found).__name__}, not a function")
    return found  # type: ignore[no-any-return]


def _module(name: str, root: Path, what: str, ref: str) -> ModuleType:
    beside = root / (name.replace(".", "/") + ".py")
    try:
        if beside.is_file():
            return module_from_file(name, beside)
        return importlib.import_module(name)
    except Exception as exc:  # importing runs user code: whatever it raised, on one line
        missing = isinstance(exc, ModuleNotFoundError) and exc.name == name
        where = f" (looked for {beside} and an installed module)" if missing else ""
        detail = " ".join(str(exc).split())[:200]
        raise SovaError(f"{what} {ref!r}: module {name} cannot be imported: {type(exc).__name__}: "
                        f"{detail}{where}") from None  # fmt: skip


def hook_problems(config: Any, path: Path) -> list[str]:
    """One line per buy goal of agents.yaml (`config`, read from `path`) whose `input_from`, `on_result`
    or `accept` does not load, that gives both `input:` and `input_from:`, or whose `accept` is not the
    one another goal of its service names (for `sova config check`)."""
    from runtime.config import BuyGoal

    problems: list[str] = []
    for index, spec in enumerate(config.agents):
        accepts: dict[str, str] = {}
        for number, goal in enumerate(spec.goals):
            if not isinstance(goal, BuyGoal):
                continue
            try:
                if goal.input_from or goal.on_result:
                    BuyHooks(goal.input_from, goal.on_result, path.parent, goal.input)
                if goal.accept:
                    _one_accept(accepts, goal.service, goal.accept)
                    load_function(goal.accept, path.parent, "accept")
            except SovaError as exc:
                problems.append(f"{path}: agents[{index}] ({spec.name}) goals[{number}]: {exc}")
    return problems


def accept_checks(spec: Any, root: Path) -> dict[str, Callable[..., Any]]:
    """The `accept` functions of agent `spec`'s buy goals by service, loaded (modules beside `root`
    first); SovaError (one line) when one does not load, or two goals of a service name different ones."""
    from runtime.config import BuyGoal

    refs: dict[str, str] = {}
    checks: dict[str, Callable[..., Any]] = {}
    for goal in spec.goals:
        if isinstance(goal, BuyGoal) and goal.accept:
            _one_accept(refs, goal.service, goal.accept)
            checks[goal.service] = load_function(goal.accept, root, "accept")
    return checks


def _one_accept(refs: dict[str, str], service: str, ref: str) -> None:
    """Note `ref` as `service`'s accept check in `refs`; SovaError when another is noted already."""
    if refs.setdefault(service, ref) != ref:
        raise SovaError(
            f"accept {ref!r}: another buy goal of {service} names accept {refs[service]!r}: an agent has "
            f"one accept check per service: name the same function in both goals"
        )


async def _call(function: Callable[..., Any], *args: Any) -> Any:
    """Call a user function, sync ones off the event loop."""
    if inspect.iscoroutinefunction(function):
        return await function(*args)
    answer = await asyncio.to_thread(function, *args)
    return await answer if inspect.isawaitable(answer) else answer


class BuyHooks:
    """A buy goal's `input_from` and `on_result`, loaded (None when not set)."""

    def __init__(self, input_from: str | None, on_result: str | None, root: Path, static: Any) -> None:
        if input_from and static:
            raise SovaError("a buy goal gives its input as `input:` or as `input_from:`, not both")
        self.static = static
        self.input_from = input_from
        self.on_result = on_result
        self._input = load_function(input_from, root, "input_from") if input_from else None
        self._result = load_function(on_result, root, "on_result") if on_result else None

    async def input(self) -> tuple[Any, str | None]:
        """This run's input, or (None, why) when `input_from` failed or gave no JSON object."""
        if self._input is None:
            return self.static, None
        try:
            data = await _call(self._input)
        except Exception as exc:  # user code
            return None, f"input_from {self.input_from} failed: {type(exc).__name__}: {_line(exc)}"
        if not isinstance(data, dict):
            return None, f"input_from {self.input_from} gave a {type(data).__name__}, not a dict"
        return data, None

    async def report(self, result: Any) -> str | None:
        """Give `result` to `on_result`; the one line saying why it failed, or None."""
        if self._result is None:
            return None
        try:
            await _call(self._result, result)
        except Exception as exc:  # user code must not stop the goal
            return f"on_result {self.on_result} failed: {type(exc).__name__}: {_line(exc)}"
        return None


def _line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]
