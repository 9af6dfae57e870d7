"""Group commit for `runtime.ledger.ledger.Ledger`: the queue of appends and the ledger's own writer thread
(`GroupWriter`), and resolving the callers' futures on their event loops once the commit that holds them
is done (or failed).

A dedicated thread rather than `asyncio.to_thread` keeps the ledger off the shared default executor,
where a slow job (an scrypt unlock) would hold appends up.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from runtime.ledger.format import Entry, LedgerError

GROUP_MAX = 256  # entries per group commit: bounds one transaction's size and its callers' wait
T = TypeVar("T")
WriteGroup = Callable[[list[tuple[str, bytes]], bool], list[Entry]]


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
        if future.done():  # cancelled by its caller: the entry may still be written (runtime.ledger.ledger)
            continue
        if error is not None:
            future.set_exception(error)
        else:
            assert entry is not None
            future.set_result(entry)


class GroupWriter:
    """The writer thread of one ledger and the appends queued for it. `write(items, barrier)` is the
    ledger's own commit of one group (on this thread); a group is a barrier when any item in it is."""

    def __init__(self, name: str, write: WriteGroup) -> None:
        self._name, self._write = name, write
        self._pool: ThreadPoolExecutor | None = ThreadPoolExecutor(1, thread_name_prefix="ledger-writer")
        self._pending: deque[Pending] = deque()
        self._lock = threading.Lock()
        self._draining = False  # whether a drain job is queued for the pending appends

    def queue(self, raws: list[tuple[str, bytes]], barrier: bool) -> list[asyncio.Future[Entry]]:
        """Queue entries (kind, canonical bytes) in call order; their futures on the running loop."""
        loop = asyncio.get_running_loop()
        items = [Pending(kind, raw, loop, loop.create_future(), barrier) for kind, raw in raws]
        with self._lock:
            pool = self._pool
            if pool is None:
                raise LedgerError(f"ledger {self._name} is closed")
            self._pending.extend(items)
            if not self._draining:
                # One drain job at a time: it takes everything queued by then, so appends made while a
                # commit is under way wait for the next one and share its fsync.
                pool.submit(self._drain)
                self._draining = True
        return [item.future for item in items]

    def _drain(self) -> None:
        """On the writer thread: write what is queued, a group per commit, until nothing is left."""
        while True:
            with self._lock:
                group = [self._pending.popleft() for _ in range(min(GROUP_MAX, len(self._pending)))]
                if not group:
                    self._draining = False
                    return
            try:
                barrier = any(item.barrier for item in group)
                entries = self._write([(item.kind, item.raw) for item in group], barrier)
            except Exception as exc:  # every caller of the group learns it; nothing of it was written
                settle(group, None, exc)
                continue
            except BaseException as exc:  # the thread is going down: say so, and let a later append drain
                settle(group, None, exc)
                with self._lock:
                    self._draining = False
                raise
            settle(group, entries, None)

    def submit(self, fn: Callable[[], Any]) -> None:
        """Run `fn` on the writer thread after what is queued; nothing once shut down."""
        with self._lock:
            if self._pool is not None:
                self._pool.submit(fn)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking call on the writer thread, after the appends queued before it."""
        pool = self._pool
        if pool is None:
            raise LedgerError(f"ledger {self._name} is closed")
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)

    def shutdown(self) -> None:
        """Refuse new appends, and wait for the queued ones to be written."""
        with self._lock:  # no append is queued behind the shutdown
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
