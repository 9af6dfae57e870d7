"""The shared lifecycle of the runtime's small SQLite stores: one private (0600, WAL) file brought to
its schema version at open (identity.sqlite_migrate), one connection guarded by a lock, idempotent
close, usable as a context manager."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Sequence
from typing import Self

from identity.errors import StoreError
from identity.sqlite_files import open_private_db
from identity.sqlite_migrate import Step, migrate


class SqliteStore:
    """Base of DealStore and ThreadStore: opens the file and runs the `migrations` it has not run."""

    def __init__(self, path: str | os.PathLike[str], what: str, migrations: Sequence[Step]) -> None:
        self.path = path
        self.what = what
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = open_private_db(path, what)
        try:
            migrate(self._conn, migrations, f"{what} {path}", StoreError)
        except StoreError:
            self._conn.close()
            raise

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
