"""When the ledger fsyncs (`runtime.ledger.ledger.Ledger`): barriers, the deferred flush, and `synced_seq`.

Every commit reaches the WAL file (the OS page cache) before it returns, so a killed process loses
nothing. Only a power cut or a kernel crash can lose what was not yet fsynced. The rule: an append that
is a *barrier* (the default) is committed with synchronous=FULL, i.e. the WAL is fsynced before the
caller hears of it; one that opts out (`barrier=False`) is committed with synchronous=NORMAL, and is made
durable by the next barrier (an fsync of the sequential WAL covers every earlier commit) or by the flush
this module arms: at most `interval` seconds after the first unsynced commit, the writer fsyncs the WAL.
Closing the ledger flushes too.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

FLUSH_INTERVAL = 1.0
"""Seconds an unsynced (non-barrier) commit may wait for its fsync when no barrier comes first."""


def set_synchronous(conn: sqlite3.Connection, full: bool) -> None:
    """Set the connection's `PRAGMA synchronous` (between transactions only): FULL fsyncs the WAL at
    each commit, NORMAL leaves it to the next FULL commit, checkpoint or `fsync_wal`."""
    conn.execute("PRAGMA synchronous=FULL" if full else "PRAGMA synchronous=NORMAL")


def fsync_wal(db_path: Path) -> None:
    """fsync the WAL file of the SQLite database at `db_path`: every commit written to it so far becomes
    durable (fsync acts on the file, whichever descriptor asks). No WAL file: nothing waits in one (the
    last connection's close checkpointed it into the database file and synced that)."""
    try:
        fd = os.open(f"{db_path}-wal", os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FlushTimer:
    """Calls `fire` once, `interval` seconds after the first `arm` since the last firing; `cancel`
    stops it. A timer thread per arming (at most one a second), so an idle ledger holds no thread."""

    def __init__(self, interval: float, fire: Callable[[], None]) -> None:
        self.interval, self._fire = interval, fire
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def arm(self) -> None:
        """Make sure a firing is due within `interval` (an armed timer is left as it is)."""
        with self._lock:
            if self._timer is not None:
                return
            timer = threading.Timer(self.interval, self._run)
            timer.daemon = True  # a process exiting without close() must not wait for it
            self._timer = timer
            timer.start()

    def _run(self) -> None:
        with self._lock:
            self._timer = None
        self._fire()

    def cancel(self) -> None:
        """Stop a pending firing (closing flushes by itself)."""
        with self._lock:
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
