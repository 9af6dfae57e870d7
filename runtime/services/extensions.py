"""What an agent's plugins registered: its `Extensions` — services, skills, policy rule kinds,
negotiation strategies and goal kinds, each on its own explicit registry (no module globals).

The agent process, `sova up` and `sova config check` build one per agent from the modules agents.yaml
names (runtime/services/plugins.py); the built-ins are not in it: `catalog()` and `skill_names()`
add the built-in skills, `strategies` starts with the built-in curves.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from policies import RuleKinds
from runtime.brains.rules import Strategies
from runtime.services.goal_kinds import GoalKinds
from runtime.services.service import Services
from skills import Catalog

__all__ = ["Extensions"]


@dataclass
class Extensions:
    """One agent's plugin registries. `origin` tells which plugin registered each name (for errors)."""

    services: Services = field(default_factory=Services)
    skills: Catalog = field(default_factory=Catalog)
    rule_kinds: RuleKinds = field(default_factory=RuleKinds)
    strategies: Strategies = field(default_factory=Strategies)
    goals: GoalKinds = field(default_factory=GoalKinds)
    plugins: list[str] = field(default_factory=list)
    """The plugins loaded, in order."""

    def catalog(self, names: Iterable[str] | None = None) -> Catalog:
        """The built-in skills and the plugins' (narrowed to `names` when given); SkillError when a
        plugin skill has a built-in's name, SkillNotFound for a name neither has."""
        from skills import default_catalog

        return default_catalog().extended(self.skills).only(names)

    def skill_names(self) -> frozenset[str]:
        """Every skill name a policy may list: the built-in ones and the plugins'."""
        from policies import DEFAULT_SKILLS

        return DEFAULT_SKILLS | frozenset(self.skills.names())
