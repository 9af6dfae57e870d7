"""Group commit's hand-back for `runtime.ledger.Ledger`: the queued appends, and resolving their futures on
their event loops once the commit that holds them is done (or failed)."""

from __future__ import annotations

import asyncio
import contextlib

from runtime.ledger_format import Entry


class Pending:
    """One queued `append_async`: what to write, whether it is a barrier (fsynced before its future
    resolves), and the future (of `loop`) its caller awaits."""

    __slots__ = ("barrier", "future", "kind", "loop", "raw")

    def __init__(
        self,
        kind: str,
        raw: bytes,
        loop: asyncio.AbstractEventLoop,
        future: asyncio.Future[Entry],
        barrier: bool = True,
    ) -> None:
        self.kind, self.raw, self.loop, self.future, self.barrier = kind, raw, loop, future, barrier


def settle(group: list[Pending], entries: list[Entry] | None, error: BaseException | None) -> None:
    """Resolve a group's futures on their loops: one hand-off per loop, not one per entry."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Entry], Entry | None]]] = {}
    for i, item in enumerate(group):
        by_loop.setdefault(item.loop, []).append((item.future, entries[i] if entries else None))
    for loop, pairs in by_loop.items():
        with contextlib.suppress(RuntimeError):  # that loop is closed: nobody is waiting any more
            loop.call_soon_threadsafe(_resolve, pairs, error)


def _resolve(pairs: list[tuple[asyncio.Future[Entry], Entry | None]], error: BaseException | None) -> None:
    for future, entry in pairs:
        if future.done():  # cancelled by its caller: the entry may still be written (runtime.ledger)
            continue
        if error is not None:
            future.set_exception(error)
        else:
            assert entry is not None
            future.set_result(entry)
