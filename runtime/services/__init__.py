"""Services an agent sells and the plugins that register them (DESIGN §12): `Service`, `Services`,
`ServiceContext`, running a handler within its limits (`run`), loading plugin modules (`plugins`),
and the errors (`errors`). Light to import: pydantic only.
"""

from runtime.services.errors import BadServiceInput, PluginError, ServiceError, ServiceFailed
from runtime.services.plugins import Plugin, load_plugins
from runtime.services.run import run_service
from runtime.services.service import Requirement, Service, ServiceContext, Services

__all__ = [
    "BadServiceInput",
    "Plugin",
    "PluginError",
    "Requirement",
    "Service",
    "ServiceContext",
    "ServiceError",
    "ServiceFailed",
    "Services",
    "load_plugins",
    "run_service",
]
