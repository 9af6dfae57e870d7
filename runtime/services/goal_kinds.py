"""Goal kinds a plugin adds: a name, a pydantic config model, and a run function the agent schedules
like its built-in goals.

    def register(plugin):
        @plugin.goal("tip_jar", config=Tip)
        async def tip(config: Tip, context: GoalContext) -> None:
            outcome = await context.execute("transfer_token", {"to": config.to, "token": "TUSD",
                                                              "amount": config.amount})
            context.say(outcome.message())

In agents.yaml: `goals: [{kind: tip_jar, every: "1h", to: bob, amount: "1"}]`: `every` (optional) is
the interval, first run at start; without it the goal runs once at start. The other keys are the
goal's config, validated by its model (`sova config check` names a bad key with its line).

The run function's only way to an effect is `context.execute`: the agent's executor, so every action
is planned, judged by the policy, budgeted and logged like any other (origin "goal"). It never sees a
key, a signer or the executor itself. Sync functions run on a worker thread.
"""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from runtime.config_report import BUILTIN_GOALS
from runtime.services.errors import PluginError

if TYPE_CHECKING:
    from runtime.executor.action_log import Outcome

__all__ = ["GoalContext", "GoalKind", "GoalKinds", "GoalRun"]

GoalRun = Callable[[Any, "GoalContext"], Any]
"""(validated config, context) -> None; async, or sync (run on a worker thread)."""
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


@dataclass(frozen=True)
class GoalContext:
    """What a plugin goal's run may use: who the agent is, a way to say one line in its log, its
    scratch folder, and `execute(skill, args)` — the executor's `execute` with origin "goal"."""

    agent_name: str
    agent_did: str
    agent_address: str
    scratch: Path
    execute: Callable[[str, dict[str, Any]], Awaitable[Outcome]]
    say: Callable[[str], None]


@dataclass(frozen=True)
class GoalKind:
    """One registered goal kind."""

    name: str
    config: type[BaseModel]
    run: GoalRun
    description: str = ""

    def parse(self, options: dict[str, Any]) -> BaseModel:
        """The goal's options validated by its config model (pydantic's ValidationError when not)."""
        return self.config.model_validate(options)

    async def __call__(self, config: BaseModel, context: GoalContext) -> None:
        """One run of the goal."""
        if inspect.iscoroutinefunction(self.run):
            await self.run(config, context)
        else:
            await asyncio.to_thread(self.run, config, context)


class GoalKinds:
    """Goal kinds by name; a name registered twice, or a built-in goal's, is an error."""

    BUILTIN = BUILTIN_GOALS

    def __init__(self) -> None:
        self._kinds: dict[str, GoalKind] = {}

    def goal(
        self, name: str, *, config: type[BaseModel], description: str = ""
    ) -> Callable[[GoalRun], GoalRun]:
        """Decorator: register the function as the run of goal kind `name`; returned unchanged."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise PluginError(f"goal kind {name!r} must be lowercase a-z, 0-9 and _ (like nightly_report)")
        if name in self.BUILTIN:
            raise PluginError(f"goal kind {name!r} is built in: give the new one another name")
        if name in self._kinds:
            raise PluginError(f"goal kind {name!r} is registered twice")
        if not (isinstance(config, type) and issubclass(config, BaseModel)):
            raise PluginError(f"goal kind {name!r}: `config` must be a pydantic model class")
        if "every" in config.model_fields or "kind" in config.model_fields:
            raise PluginError(
                f"goal kind {name!r}: its config may not have `kind` or `every` (agents.yaml's)"
            )

        def register(run: GoalRun) -> GoalRun:
            if not callable(run):
                raise PluginError(f"goal kind {name!r}: decorate a function (config, context)")
            text = description or inspect.cleandoc(getattr(run, "__doc__", None) or "")
            self._kinds[name] = GoalKind(name, config, run, text)
            return run

        return register

    def get(self, name: str) -> GoalKind | None:
        return self._kinds.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._kinds

    def __iter__(self) -> Iterator[GoalKind]:
        return iter(self._kinds.values())

    def names(self) -> list[str]:
        return sorted(self._kinds)


def option_problems(kind: GoalKind, options: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    """(path inside the goal, message) for each problem of `options` under `kind`'s config model."""
    try:
        kind.parse(options)
    except ValidationError as exc:
        out: list[tuple[tuple[str | int, ...], str]] = []
        for err in exc.errors(include_url=False):
            loc = tuple(err["loc"])
            if err["type"] == "extra_forbidden":
                keys = ", ".join(kind.config.model_fields) or "none"
                message = f"unknown key {loc[-1]!r} for goal kind {kind.name}: remove it (keys: {keys})"
            elif err["type"] == "missing":
                message = f"required key {loc[-1]!r} of goal kind {kind.name} is missing: add it"
            else:
                message = str(err["msg"]).removeprefix("Value error, ")
            out.append((loc, message))
        return out
    return []
