"""Errors of services and plugins.

Hierarchy:

    ServiceError (SovaError)   base of everything raised by runtime/services
    ├── PluginError            a plugin cannot be imported, has no `register`, or registers a bad name
    ├── BadServiceInput        an input that does not match the service's input model, or is too large
    └── ServiceFailed          the handler raised, timed out, or returned an invalid or too large output

Each message is one line a user (or the peer, in a `reject`) can act on; runtime/errors.py turns them
into CLI answers like any SovaError.
"""

from __future__ import annotations

from runtime.errors import SovaError

__all__ = ["BadServiceInput", "PluginError", "ServiceError", "ServiceFailed"]


class ServiceError(SovaError):
    """Base of the errors of runtime/services."""


class PluginError(ServiceError):
    """A plugin module named in agents.yaml that cannot be used. `plugin`: its name, when known (for
    the line of agents.yaml that names it)."""

    def __init__(self, message: str, *, plugin: str | None = None) -> None:
        super().__init__(message)
        self.plugin = plugin


class BadServiceInput(ServiceError):
    """An input refused before anything is signed: it does not validate, or it is over the size limit."""


class ServiceFailed(ServiceError):
    """The handler did not produce a valid output. `why` is one of: raised, timeout, too_large, invalid."""

    def __init__(self, message: str, *, why: str) -> None:
        super().__init__(message)
        self.why = why
