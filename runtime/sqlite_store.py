"""The shared lifecycle of the runtime's small SQLite stores: one private (0600, WAL) file, one
connection guarded by a lock, idempotent close, usable as a context manager; and their write-through
memory of recent records.

Single writer (decision): the agent process that opens a store is the only one that writes its file
(the supervisor runs one process per agent, and a second process on the same home is refused by the
ledger at its first append). So the store can answer reads of recent records from memory, without SQL:
each write commits to SQLite first (same synchronous setting as before) and only then updates the
memory, so a failed write leaves no phantom; memory starts empty at open (everything is reloaded
from the file on demand), and keeps at most `cache_size` records (least recently used go; the file
keeps them). Readers in other processes (`sova status`, tests) read the file as usual.

A second writer is made harmless rather than impossible: before each write the store asks SQLite's
`PRAGMA data_version` (a few µs, no I/O), which changes when another connection has committed (or
checkpointed) the file; the store then drops its memory and re-reads from the file, so a write never
merges stale memory into another writer's data. Reads between two writes of this process may still
come from memory.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections import OrderedDict
from typing import Generic, Self, TypeVar

from identity.sqlite_files import open_private_db

log = logging.getLogger(__name__)

V = TypeVar("V")


class SqliteStore(Generic[V]):
    """Base of DealStore and ThreadStore: opens the file, runs `schema` once, and keeps up to
    `cache_size` values (`V`) by (peer, thid) in memory, write-through (see the module docstring)."""

    def __init__(
        self, path: str | os.PathLike[str], what: str, schema: str, *, cache_size: int = 4096
    ) -> None:
        self.path = path
        self.what = what
        self.cache_size = cache_size
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = open_private_db(path, what)
        self._conn.executescript(schema)
        self._cache: OrderedDict[tuple[str, str], V] = OrderedDict()
        self._version = self._data_version(self._conn)

    def close(self) -> None:
        """Close the database (idempotent)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self._cache.clear()

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError(f"the {self.what} is closed")
        return self._conn

    def _cached(self, key: tuple[str, str]) -> V | None:
        """The value in memory for `key`, or None (then read the file). Call under the lock."""
        value = self._cache.get(key)
        if value is not None:
            self._cache.move_to_end(key)
        return value

    def _remember(self, key: tuple[str, str], value: V) -> None:
        """Keep `value` (as it is in the file) in memory. Call under the lock, after the commit."""
        self._cache[key] = value
        self._cache.move_to_end(key)
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def _before_write(self) -> sqlite3.Connection:
        """The connection, once memory is known to match the file. Call under the lock, before a
        write (or a read that a write will be based on)."""
        conn = self._db()
        version = self._data_version(conn)
        if version != self._version:
            log.warning("%s %s was changed by another connection: re-reading it from the file", self.what,
                        self.path)  # fmt: skip
            self._cache.clear()
            self._version = version
        return conn

    @staticmethod
    def _data_version(conn: sqlite3.Connection) -> int:
        return int(conn.execute("PRAGMA data_version").fetchone()[0])

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
