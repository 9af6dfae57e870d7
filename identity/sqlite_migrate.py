"""Schema versions of a SQLite store: `PRAGMA user_version` and an ordered list of migration steps.

Step i of a store's list takes its file from version i-1 to i; the list only ever grows (a released
step is never edited: files out there have run it). `migrate` runs the missing steps at open, all in
one transaction with the version bumps, and records each in table `sova_migrations`; a file newer
than the list is refused with one line. Step 1 is the schema of the release before versions existed
(`CREATE … IF NOT EXISTS`): its files say version 0 and already hold those tables.

The same file is in identity/, wallet/ and policies/: those packages may not import each other (nor
anything else of Sova's), so each keeps its copy; tests/unit/test_sqlite_migrate.py checks they are
identical. The runtime's stores use identity's.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence

Action = str | Callable[[sqlite3.Connection], object]
Step = tuple[str, Action]
"""(name, action): `;`-separated SQL statements, or a function given the connection (for a
`sqlite_utils` `transform`: run the statements of `Table.transform_sql` on it)."""

_HISTORY = """CREATE TABLE IF NOT EXISTS sova_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"""


def schema_version(conn: sqlite3.Connection) -> int:
    """The version the file says it has (0: never migrated)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(
    conn: sqlite3.Connection, steps: Sequence[Step], what: str, error: Callable[[str], Exception]
) -> int:
    """Bring the file of `conn` (autocommit: isolation_level=None) to version len(steps); the version.

    `what` names the file in messages ("deal store /x/deals.sqlite"); `error` makes the exception
    raised for a file newer than `steps`, one that is not SQLite, or a step that fails (then nothing
    of the migration is kept)."""
    target = len(steps)
    try:
        # The usual open: one header read, no lock, so opening a current file costs nothing.
        if _checked(conn, target, what, error) == target:
            return target
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        raise error(f"{what} is not a usable SQLite database ({exc}): move it away") from None
    version = 0
    try:
        # Again under the write lock: another process may have migrated it while we waited.
        version = _checked(conn, target, what, error)
        conn.execute(_HISTORY)
        for number in range(version + 1, target + 1):
            name, action = steps[number - 1]
            _run(conn, action)
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            conn.execute("INSERT OR REPLACE INTO sova_migrations VALUES (?, ?, ?)", (number, name, stamp))
            conn.execute(f"PRAGMA user_version={number}")
        conn.execute("COMMIT")
    except BaseException as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise error(
                f"{what} could not be upgraded from schema version {version} to {target} ({exc}); "
                "it was left unchanged: report this, and keep the file"
            ) from None
        raise
    return target


def _checked(conn: sqlite3.Connection, target: int, what: str, error: Callable[[str], Exception]) -> int:
    version = schema_version(conn)
    if version > target:
        raise error(
            f"{what} has schema version {version}, newer than this Sova knows ({target}): "
            "upgrade Sova, or move the file away"
        )
    return version


def _run(conn: sqlite3.Connection, action: Action) -> None:
    if not isinstance(action, str):
        action(conn)
        return
    # Not executescript: it commits the open transaction first, and the steps must run inside it.
    for statement in _statements(action):
        conn.execute(statement)


def _statements(script: str) -> Iterator[str]:
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \t\r\n;"):
                yield pending
            pending = ""
    if pending.strip(" \t\r\n;"):
        yield pending  # unfinished: SQLite says what is wrong with it
