"""An agent's services as agents.yaml names them: its plugins loaded, each `sell` goal's service found.
`config_problems` is what `sova config check` and `sova up` run before anything starts."""

from __future__ import annotations

from pathlib import Path

from runtime.a2a.card_services import ServiceSpec
from runtime.config import Agent, AgentsFile, SellGoal
from runtime.services.errors import PluginError
from runtime.services.plugins import load_plugins
from runtime.services.service import Services

__all__ = ["agent_services", "card_services", "config_problems"]


def agent_services(spec: Agent, root: Path) -> Services:
    """The services of agent `spec` (plugins relative to `root`, the folder of agents.yaml).
    PluginError with one line when a plugin fails or a sell goal names a service none registers."""
    services = load_plugins(spec.plugins, root)
    for goal in spec.goals:
        if isinstance(goal, SellGoal) and goal.service not in services:
            offered = (
                ", ".join(services.names()) or "none: add a plugin that registers it (plugins: [module])"
            )
            raise PluginError(
                f"sells {goal.service!r}, which no plugin of it registers (registered: {offered})"
            )
    return services


def config_problems(config: AgentsFile, path: Path) -> list[str]:
    """One line per agent whose plugins or sell goals do not load: `file: agents[i] (name): what`."""
    problems: list[str] = []
    for index, spec in enumerate(config.agents):
        try:
            agent_services(spec, path.parent)
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
