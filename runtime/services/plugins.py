"""Plugins: Python modules named per agent in agents.yaml (`plugins: [module]`) that register services,
skills, policy rule kinds, negotiation strategies and goal kinds on an explicit `Plugin` object.

    def register(plugin: Plugin) -> None:
        @plugin.service("wordcount", input=Text, output=Count, price="0.5")
        def wordcount(text: Text, context: ServiceContext) -> Count: ...

        @plugin.skill
        class Stamp(Skill[StampArgs]): ...          # plan -> Intent and effects; run with a narrow signer

        @plugin.rule_kind
        class MaxWords(CustomRule): ...             # kind: Literal["max_words"]; def evaluate(...)

        @plugin.strategy("stubborn")
        def stubborn(t): return t ** 4              # the share conceded at time t, in [0, 1]

        @plugin.goal("tip_jar", config=Tip)
        async def tip(config: Tip, context: GoalContext) -> None: ...

Where a name is found, in this order: `NAME.py` beside agents.yaml; an entry point NAME of the
`sova.plugins` group (an installed distribution's `[project.entry-points."sova.plugins"]`, whose value
is a module or a `module:function` register function); an importable module by its dotted name.
Nothing is kept in module globals: each agent loads its plugins into its own `Extensions`. Plugin code
is trusted like the agent's own config (it runs in the agent process), but what it registers reaches
effects only through the executor: a skill through plan -> policy -> narrow signer, a goal through
`context.execute`, a service only by its output.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from policies import RuleKindError
from runtime.brains.rules import StrategyError
from runtime.services.errors import PluginError
from runtime.services.extensions import Extensions
from runtime.services.goal_kinds import GoalRun
from runtime.services.service import Handler, Services
from skills import SkillError

__all__ = ["ENTRY_POINT_GROUP", "Plugin", "load_extensions", "load_plugins", "module_from_file"]

ENTRY_POINT_GROUP = "sova.plugins"
T = TypeVar("T")
_SKILL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class Plugin:
    """What a plugin's `register` gets: registers on the loading agent's own `Extensions`. Every
    refusal (a name taken, a malformed registration) is a PluginError naming the plugin."""

    def __init__(self, module: str, extensions: Extensions | Services) -> None:
        self.module = module
        self.extensions = (
            extensions if isinstance(extensions, Extensions) else Extensions(services=extensions)
        )

    def service(self, name: str, **options: Any) -> Callable[[Handler], Handler]:
        """As `Services.service`: a decorator registering a handler as service `name`."""
        decorate = self.extensions.services.service(name, **options)
        return lambda handler: self._guard(decorate, handler)

    def skill(self, cls: type[T]) -> type[T]:
        """Class decorator: a `skills.Skill` subclass (name, args_model, plan, run), registered as a
        skill of this agent; a skill with a built-in's name is refused."""
        from skills import Skill

        if not (isinstance(cls, type) and issubclass(cls, Skill)):
            raise PluginError(
                f"plugin {self.module}: @plugin.skill takes a skills.Skill subclass, not {cls!r}"
            )
        for method in ("plan", "run"):
            if getattr(cls, method) is getattr(Skill, method):
                raise PluginError(f"plugin {self.module}: skill {cls.__name__} does not define `{method}`")
        from policies import DEFAULT_SKILLS

        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not _SKILL_NAME.match(name):
            raise PluginError(
                f"plugin {self.module}: skill {cls.__name__} needs a `name` of a-z, 0-9 and _ (≤ 64), "
                f"not {name!r}: it is also the LLM's tool name and what policies list"
            )
        if name in DEFAULT_SKILLS:
            raise PluginError(f"plugin {self.module}: skill {name!r} is built in: give yours another name")
        registered: type[T] = self._guard(self.extensions.skills.skill, cls)
        return registered

    def rule_kind(self, model: type[T]) -> type[T]:
        """Class decorator: a policy rule kind (policies.CustomRule: `kind: Literal[...]` and
        `evaluate(intent, facts)`), usable in this agent's policy file."""
        registered: type[T] = self._guard(self.extensions.rule_kinds.rule_kind, model)
        return registered

    def strategy(self, name: str) -> Callable[[T], T]:
        """Decorator: a concession curve t -> share conceded, as rules-brain strategy `name`."""
        return lambda curve: self._guard(self.extensions.strategies.strategy(name), curve)

    def goal(self, name: str, **options: Any) -> Callable[[GoalRun], GoalRun]:
        """Decorator: the run of goal kind `name` (`config=` its pydantic model; see goal_kinds.py)."""
        return lambda run: self._guard(lambda r: self.extensions.goals.goal(name, **options)(r), run)

    def _guard(self, register: Callable[[Any], Any], value: Any) -> Any:
        try:
            return register(value)
        except (PluginError, SkillError, RuleKindError, StrategyError) as exc:
            text = str(exc)
            prefix = f"plugin {self.module}: "
            raise PluginError(
                text if text.startswith(prefix) else prefix + text, plugin=self.module
            ) from None


def load_extensions(modules: Sequence[str], root: Path, extensions: Extensions | None = None) -> Extensions:
    """Import each plugin (see the module docstring; `root` is the folder of agents.yaml) and let it
    register on the agent's Extensions. PluginError with one line for the first that fails."""
    extensions = extensions if extensions is not None else Extensions()
    for name in modules:
        register = _register_of(name, root)
        try:
            register(Plugin(name, extensions))
        except PluginError as exc:
            exc.plugin = name
            raise
        except Exception as exc:  # plugin code: any failure is the plugin's
            detail = " ".join(str(exc).split())[:200]
            raise PluginError(
                f"plugin {name}: register() failed: {type(exc).__name__}: {detail}", plugin=name
            ) from None
        extensions.plugins.append(name)
    return extensions


def load_plugins(modules: Sequence[str], root: Path, services: Services | None = None) -> Services:
    """Like `load_extensions`, for the services alone."""
    return load_extensions(modules, root, Extensions(services=services or Services())).services


def unknown_services(services: Services, wanted: Iterable[str]) -> list[str]:
    """The names in `wanted` that `services` does not have."""
    return [name for name in wanted if name not in services]


def _register_of(name: str, root: Path) -> Callable[[Plugin], Any]:
    beside = root / f"{name}.py"
    try:
        if "." not in name and beside.is_file():
            found: Any = module_from_file(name, beside)
        else:
            found = _entry_point(name)
            if found is None:
                found = importlib.import_module(name)
    except PluginError:
        raise
    except Exception as exc:  # an import runs plugin code: report whatever it raised, on one line
        detail = " ".join(str(exc).split())[:200]
        missing = isinstance(exc, ModuleNotFoundError) and exc.name == name
        where = (
            f" (looked for {beside}, an entry point in {ENTRY_POINT_GROUP} and an installed module)"
            if missing
            else ""
        )
        raise PluginError(
            f"plugin {name} cannot be imported: {type(exc).__name__}: {detail}{where}", plugin=name
        ) from None
    register = getattr(found, "register", None) if isinstance(found, ModuleType) else found
    if not callable(register):
        raise PluginError(
            f"plugin {name} has no `register(plugin)` function: add one that registers what it offers",
            plugin=name,
        )
    return register  # type: ignore[no-any-return]


def _entry_point(name: str) -> Any:
    """The loaded entry point `name` of the sova.plugins group (a module or a register function), or
    None when no installed distribution has one."""
    from importlib.metadata import entry_points

    found = entry_points(group=ENTRY_POINT_GROUP, name=name)
    for point in found:
        return point.load()
    return None


def module_from_file(name: str, path: Path) -> ModuleType:
    """Module `name` loaded from `path` (a file beside agents.yaml), once: a second call gives the
    module already loaded from that file. Whatever the file raises is raised."""
    loaded = sys.modules.get(name)
    if loaded is not None and Path(getattr(loaded, "__file__", "") or "").resolve() == path.resolve():
        return loaded
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module
