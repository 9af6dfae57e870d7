"""The shared lifecycle of the runtime's small SQLite stores: one private (0600, WAL) file, one
connection guarded by a lock, idempotent close, usable as a context manager."""

from __future__ import annotations

import os
import sqlite3
import threading
from typing import Self

from identity.sqlite_files import open_private_db


class SqliteStore:
    """Base of DealStore and ThreadStore: opens the file and runs `schema` once."""

    def __init__(self, path: str | os.PathLike[str], what: str, schema: str) -> None:
        self.path = path
        self.what = what
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = open_private_db(path, what)
        self._conn.executescript(schema)

    def close(self) -> None:
        """Close the database (idempotent)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError(f"the {self.what} is closed")
        return self._conn

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
