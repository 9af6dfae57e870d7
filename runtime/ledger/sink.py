"""The one interface through which the runtime records to an agent's ledger: `LedgerSink`.

`runtime.ledger.ledger.Ledger` is one (its writes go through its writer thread, never blocking the
event loop; several entries of `append_many_async` share one commit). The executor's decisions, the
protocol's messages, the negotiation's deal steps and the brains' moves all write through it; tests and
benches pass a list-backed sink with the same two methods.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Protocol

Item = tuple[str, dict[str, Any]]
"""One entry to write: its kind and its data."""


class LedgerSink(Protocol):
    """Where an agent's entries go. Each method's awaitable completes when the entries are committed,
    and fsynced when `barrier` (runtime.ledger.sync); it gives the entry (or entries) written."""

    def append_async(self, kind: str, data: dict[str, Any], *, barrier: bool = True) -> Awaitable[Any]:
        """Record one entry."""
        ...

    def append_many_async(self, items: list[Item], *, barrier: bool = True) -> Awaitable[Any]:
        """Record entries in order, in one commit when the sink can."""
        ...


class MemorySink:
    """A LedgerSink that keeps (kind, data) in a list: for tests and benches (nothing signed, no disk,
    so `barrier` is accepted and has nothing to sync)."""

    def __init__(self) -> None:
        self.entries: list[Item] = []

    async def append_async(self, kind: str, data: dict[str, Any], *, barrier: bool = True) -> int:
        """Keep one entry; its position (1-based)."""
        self.entries.append((kind, dict(data)))
        return len(self.entries)

    async def append_many_async(self, items: list[Item], *, barrier: bool = True) -> int:
        """Keep entries in order; the position of the last."""
        self.entries.extend((kind, dict(data)) for kind, data in items)
        return len(self.entries)

    def kinds(self) -> list[str]:
        """The kinds written, in order."""
        return [kind for kind, _ in self.entries]
