"""The replay store: envelope nonces seen, kept in SQLite until their envelope expires.

By default (`flush_interval` 0.02 s) new nonces are batched: `add` answers from SQLite plus the nonces
not yet written, a background thread writes them at the latest `flush_interval` seconds after they
arrive, and always on `flush()` / `close()`; a crash can lose the last `flush_interval` of nonces (for
envelopes still within their `exp`). Two identical messages racing in one process cannot both pass.

`flush_interval=0` makes `add` one SQLite statement, one atomic commit: insert the nonce, or renew it
if its envelope has expired, or change nothing when it is still live (a replay). A nonce is then on
disk before its message is acted on, and identical messages racing across processes pass once. With
WAL and synchronous=NORMAL the commit is a write to the WAL, no fsync (~30 µs of CPU). It is cheaper
than batching when messages are spread out (no thread wake-up per nonce) and slower in bursts
(bench/identity.py measures both).

Each call does microseconds of SQLite work under a lock: fine to call from asyncio code.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from types import TracebackType

from identity.errors import StoreError
from identity.sqlite_files import open_private_db
from identity.sqlite_migrate import Step, migrate

_SCHEMA = """
CREATE TABLE IF NOT EXISTS nonces (
    sender  TEXT    NOT NULL,
    nonce   TEXT    NOT NULL,
    expires INTEGER NOT NULL,
    PRIMARY KEY (sender, nonce)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS nonces_expires ON nonces (expires);
"""
MIGRATIONS: tuple[Step, ...] = (("nonces", _SCHEMA),)
"""The schema's versions (identity.sqlite_migrate); append a step to change it."""
_LIVE = "SELECT 1 FROM nonces WHERE sender = ? AND nonce = ? AND expires >= ?"
_UPSERT = (
    "INSERT INTO nonces (sender, nonce, expires) VALUES (?, ?, ?)"
    " ON CONFLICT (sender, nonce) DO UPDATE SET expires = excluded.expires"
)
# One statement, hence one atomic commit: a new nonce is inserted, an expired one renewed, a live one
# left alone (0 rows changed = a replay).
_CLAIM = _UPSERT + " WHERE nonces.expires < ?"
DEFAULT_FLUSH_INTERVAL = 0.02
_MAX_PENDING = 256


class ReplayStore:
    """Nonces seen per sender, in the SQLite file `path` (mode 0600). Thread safe; close() when done."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        flush_interval: float = DEFAULT_FLUSH_INTERVAL,
        purge_interval: float = 30.0,
    ) -> None:
        self.path = path
        self.flush_interval = flush_interval
        self.purge_interval = purge_interval
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = open_private_db(path, "replay store")
        try:
            migrate(self._conn, MIGRATIONS, f"replay store {path}", StoreError)
        except StoreError:
            self._conn.close()
            raise
        self._pending: dict[tuple[str, str], int] = {}
        self._next_purge = 0.0
        self._wake = threading.Event()
        self._flusher: threading.Thread | None = None

    def add(self, sender: str, nonce: str, expires: int, *, now: float | None = None) -> bool:
        """Record `nonce` of `sender` until `expires` (unix seconds); False if live already (a replay)."""
        moment = time.time() if now is None else now
        key = (sender, nonce)
        with self._lock:
            conn = self._connection()
            if moment >= self._next_purge:
                self._purge(conn, moment)
            if self.flush_interval <= 0:
                return conn.execute(_CLAIM, (sender, nonce, expires, int(moment))).rowcount == 1
            pending = self._pending.get(key)
            if (pending is not None and pending >= moment) or conn.execute(
                _LIVE, (sender, nonce, int(moment))
            ).fetchone():
                return False
            self._pending[key] = expires
            if len(self._pending) >= _MAX_PENDING:
                self._write(conn)
            elif len(self._pending) == 1:
                self._schedule_flush()
            return True

    def flush(self) -> None:
        """Write the nonces not yet written."""
        with self._lock:
            if self._conn is not None:
                self._write(self._conn)

    def purge(self, *, now: float | None = None) -> int:
        """Delete nonces whose envelopes have expired; the number deleted."""
        with self._lock:
            return self._purge(self._connection(), time.time() if now is None else now)

    def __len__(self) -> int:
        """The number of nonces recorded (live or not yet purged)."""
        with self._lock:
            self._write(self._connection())
            return int(self._connection().execute("SELECT count(*) FROM nonces").fetchone()[0])

    def close(self) -> None:
        """Write what is pending and close the database (idempotent)."""
        with self._lock:
            if self._conn is not None:
                self._write(self._conn)
                self._conn.close()
                self._conn = None
        self._wake.set()

    def _purge(self, conn: sqlite3.Connection, moment: float) -> int:
        self._next_purge = moment + self.purge_interval
        return conn.execute("DELETE FROM nonces WHERE expires < ?", (int(moment),)).rowcount

    def _write(self, conn: sqlite3.Connection) -> None:
        if not self._pending:
            return
        rows = [(s, n, e) for (s, n), e in self._pending.items()]
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(_UPSERT, rows)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._pending.clear()

    def _schedule_flush(self) -> None:
        if self._flusher is None:
            self._flusher = threading.Thread(target=self._flush_loop, name="sova-replay-flush", daemon=True)
            self._flusher.start()
        self._wake.set()

    def _flush_loop(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._conn is None:
                return
            time.sleep(self.flush_interval)
            self.flush()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("the replay store is closed")
        return self._conn

    def __enter__(self) -> ReplayStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
