"""The services of one agent as the seller's negotiation sees them (runtime/negotiation/offers.py):
each bound to the agent's `ServiceContext`, its credential requirements with issuer names resolved to
DIDs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from runtime.services.run import run_service
from runtime.services.service import Service, ServiceContext, Services

__all__ = ["Offering", "Shop"]

Resolve = Callable[[Sequence[str]], tuple[str, ...]]
"""Issuer references (agent names or DIDs) -> DIDs; an empty list: the agent's trusted issuers."""


class Offering:
    """One service with the context its handler runs in."""

    def __init__(self, service: Service, context: ServiceContext, resolve: Resolve) -> None:
        self.service = service
        self.context = context
        self.requires = tuple((r.type, resolve(r.issuers)) for r in service.requires)

    @property
    def name(self) -> str:
        return self.service.name

    def read(self, data: Any) -> Any:
        return self.service.read_input(data)

    def quote(self, value: Any) -> Decimal:
        return self.service.quote(value)

    async def run(self, value: Any) -> tuple[Any, bytes]:
        return await run_service(self.service, value, self.context)


class Shop:
    """All of an agent's services, each an Offering."""

    def __init__(self, services: Services, context: ServiceContext, resolve: Resolve) -> None:
        self._offers = {s.name: Offering(s, context, resolve) for s in services}

    def get(self, name: str) -> Offering | None:
        return self._offers.get(name)

    def names(self) -> list[str]:
        return list(self._offers)
