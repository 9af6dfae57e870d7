"""Services an agent sells and the plugins that extend an agent (DESIGN §12): `Service`, `Services`,
`ServiceContext`, running a handler within its limits (`run`), loading plugin modules (`plugins`)
into an agent's `Extensions` (services, skills, rule kinds, strategies, goal kinds), and the errors
(`errors`). Light to import: pydantic, policies and the skills base (no chain, no web).
"""

from runtime.services.errors import BadServiceInput, PluginError, ServiceError, ServiceFailed
from runtime.services.extensions import Extensions
from runtime.services.goal_kinds import GoalContext, GoalKind, GoalKinds
from runtime.services.plugins import ENTRY_POINT_GROUP, Plugin, load_extensions, load_plugins
from runtime.services.run import run_service
from runtime.services.service import Requirement, Service, ServiceContext, Services

__all__ = [
    "ENTRY_POINT_GROUP",
    "BadServiceInput",
    "Extensions",
    "GoalContext",
    "GoalKind",
    "GoalKinds",
    "Plugin",
    "PluginError",
    "Requirement",
    "Service",
    "ServiceContext",
    "ServiceError",
    "ServiceFailed",
    "Services",
    "load_extensions",
    "load_plugins",
    "run_service",
]
