"""An agent's plugins as agents.yaml names them: loaded into its `Extensions`, and every name its
config uses that only a plugin can give (a sold service, a skill, a strategy, a goal kind) found.
`config_problems` is what `sova up` runs before anything starts (`sova config check` gives the same
problems with their lines: runtime/config_check.py)."""

from __future__ import annotations

from pathlib import Path

from runtime.a2a.card_services import ServiceSpec
from runtime.config import Agent, AgentsFile, LlmBrain, PluginGoal, RuleBrain, SellGoal
from runtime.config_report import BUILTIN_GOALS
from runtime.services.errors import PluginError
from runtime.services.extensions import Extensions
from runtime.services.plugins import load_extensions
from runtime.services.service import Services

__all__ = ["agent_extensions", "agent_services", "card_services", "config_problems", "name_problems"]

YamlPath = tuple[str | int, ...]


def agent_extensions(spec: Agent, root: Path) -> Extensions:
    """The Extensions of agent `spec` (plugins relative to `root`, the folder of agents.yaml).
    PluginError with one line when a plugin fails or a name the agent uses is registered by none."""
    extensions = load_extensions(spec.plugins, root)
    for _, message in name_problems(spec, extensions):
        raise PluginError(message)
    return extensions


def agent_services(spec: Agent, root: Path) -> Services:
    """The services of agent `spec` (see `agent_extensions`)."""
    return agent_extensions(spec, root).services


def name_problems(spec: Agent, ext: Extensions) -> list[tuple[YamlPath, str]]:
    """(YAML path inside the agent, one line) for each name `spec` uses that neither the built-ins
    nor its plugins have: skills, sold services, strategies, goal kinds and their options."""
    from runtime.services.goal_kinds import option_problems

    out: list[tuple[YamlPath, str]] = []
    known_skills = sorted(ext.skill_names())
    for j, skill in enumerate(spec.skills):
        if skill not in known_skills:
            out.append(
                (("skills", j), f"unknown skill {skill[:40]!r}: {_none_has(skill, known_skills, 'skill')}")
            )
    for g, goal in enumerate(spec.goals):
        if isinstance(goal, SellGoal) and goal.service not in ext.services:
            offered = (
                ", ".join(ext.services.names()) or "none: add a plugin that registers it (plugins: [module])"
            )
            message = f"sells {goal.service!r}, which no plugin of it registers (registered: {offered})"
            out.append((("goals", g, "service"), message))
        elif isinstance(goal, PluginGoal):
            kind = ext.goals.get(goal.kind)
            if kind is None:
                kinds = [*BUILTIN_GOALS, *ext.goals.names()]
                message = f"unknown goal kind {goal.kind!r}: {_none_has(goal.kind, kinds, 'goal kind')}"
                out.append((("goals", g, "kind"), message))
                continue
            out += [(("goals", g, *loc), msg) for loc, msg in option_problems(kind, goal.options)]
    brains: list[tuple[YamlPath, RuleBrain]] = []
    if isinstance(spec.brain, RuleBrain):
        brains.append((("brain", "strategy"), spec.brain))
    elif isinstance(spec.brain, LlmBrain) and spec.brain.fallback is not None:
        brains.append((("brain", "fallback", "strategy"), spec.brain.fallback))
    for where, brain in brains:
        if brain.strategy not in ext.strategies:
            known = ext.strategies.names()
            message = (
                f"unknown strategy {brain.strategy[:40]!r}: {_none_has(brain.strategy, known, 'strategy')}"
            )
            out.append((where, message))
    return out


def _none_has(name: str, known: list[str], what: str) -> str:
    """The rest of an 'unknown NAME' line: a close match, then what is known."""
    import difflib

    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    listed = ", ".join(known)
    return f"{hint}remove it, or name a built-in {what} or one of this agent's plugins (known: {listed})"


def config_problems(config: AgentsFile, path: Path) -> list[str]:
    """One line per agent whose plugins or names do not load: `file: agents[i] (name): what`."""
    problems: list[str] = []
    for index, spec in enumerate(config.agents):
        try:
            agent_extensions(spec, path.parent)
        except PluginError as exc:
            problems.append(f"{path}: agents[{index}] ({spec.name}): {exc}")
    return problems


def card_services(services: Services) -> tuple[ServiceSpec, ...]:
    """What the agent card says of each service (runtime/a2a/card_services.py)."""
    return tuple(
        ServiceSpec(
            name=s.name,
            description=s.description,
            input_schema=s.input_schema(),
            output_schema=s.output_schema(),
            price=s.fixed_price() or "",
            requires=tuple({"type": r.type, "issuers": list(r.issuers)} for r in s.requires),
        )
        for s in services
    )
