"""Plugins: Python modules named in agents.yaml (`plugins: [module]`) that register services.

A plugin is a module beside agents.yaml (`wordcount` -> `wordcount.py` there) or an installed one
(`examples.wordcount`). It exposes `register(plugin)`, which calls `plugin.service(...)` — the same
decorator as `Services.service`. Nothing is kept in module globals: each agent loads its plugins into
its own `Services`.

    def register(plugin: Plugin) -> None:
        @plugin.service("wordcount", input=Text, output=Count, price="0.5")
        def wordcount(text: Text, context: ServiceContext) -> Count: ...
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from runtime.services.errors import PluginError
from runtime.services.service import Handler, Services

__all__ = ["Plugin", "load_plugins"]


class Plugin:
    """What a plugin's `register` gets: registers on the loading agent's `Services`."""

    def __init__(self, module: str, services: Services) -> None:
        self.module = module
        self._services = services

    def service(self, name: str, **options: Any) -> Any:
        """As `Services.service`: a decorator registering a handler as service `name`."""
        decorate = self._services.service(name, **options)

        def register(handler: Handler) -> Handler:
            try:
                return decorate(handler)
            except PluginError as exc:
                raise PluginError(f"plugin {self.module}: {exc}") from None

        return register


def load_plugins(modules: Sequence[str], root: Path, services: Services | None = None) -> Services:
    """Import each plugin module (beside `root`, the folder of agents.yaml, else installed) and let it
    register its services; the Services. PluginError with one line for the first that fails."""
    services = services if services is not None else Services()
    for name in modules:
        module = _import(name, root)
        register = getattr(module, "register", None)
        if not callable(register):
            raise PluginError(f"plugin {name} has no `register(plugin)` function: add one that registers "
                              "its services")  # fmt: skip
        try:
            register(Plugin(name, services))
        except PluginError:
            raise
        except Exception as exc:  # plugin code: any failure is the plugin's
            raise PluginError(f"plugin {name}: register() failed: {type(exc).__name__}: {exc}") from None
    return services


def unknown_services(services: Services, wanted: Iterable[str]) -> list[str]:
    """The names in `wanted` that `services` does not have."""
    return [name for name in wanted if name not in services]


def _import(name: str, root: Path) -> ModuleType:
    beside = root / f"{name}.py"
    try:
        if "." not in name and beside.is_file():
            return _from_file(name, beside)
        return importlib.import_module(name)
    except Exception as exc:  # an import runs plugin code: report whatever it raised, on one line
        detail = " ".join(str(exc).split())[:200]
        missing = isinstance(exc, ModuleNotFoundError) and exc.name == name
        where = f" (looked for {beside} and an installed module)" if missing else ""
        raise PluginError(
            f"plugin {name} cannot be imported: {type(exc).__name__}: {detail}{where}"
        ) from None


def _from_file(name: str, path: Path) -> ModuleType:
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
