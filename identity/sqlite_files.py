"""Private SQLite files: created 0600 in a 0700 folder, refused when others may use them, opened in
WAL mode for any thread. The identity stores use `open_private_db`; the runtime's ledger opens its
file with the same two steps and its own stricter settings (synchronous=FULL)."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

from identity.errors import StoreError

GROUP_OR_OTHERS = stat.S_IRWXG | stat.S_IRWXO
"""Any access by group or others (the default refusal)."""


def open_private_db(path: str | os.PathLike[str], what: str) -> sqlite3.Connection:
    """Open (creating with mode 0600) the SQLite file `path` in WAL mode, autocommit, for any thread.

    StoreError when the file is accessible by group/others or is not a SQLite database.
    """
    return connect_private(private_file(path, what), what)


def private_file(
    path: str | os.PathLike[str], what: str, refuse: int = GROUP_OR_OTHERS, problem: str = "accessible"
) -> Path:
    """`path`, created empty with mode 0600 (its folder 0700) when missing. StoreError when it exists
    and its mode has any bit of `refuse` ("<what> <path> is <problem> by others ...")."""
    file = Path(path)
    file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        mode = stat.S_IMODE(file.stat().st_mode)
        if mode & refuse:
            raise StoreError(
                f"{what} {file} is {problem} by others (mode {mode:04o}): run chmod 600 {file}"
            ) from None
    return file


def connect_private(
    file: Path, what: str, *, synchronous: str = "NORMAL", timeout: float = 5.0
) -> sqlite3.Connection:
    """A WAL, autocommit connection to `file` usable from any thread. StoreError when it is not a
    usable SQLite database."""
    try:
        conn = sqlite3.connect(file, isolation_level=None, check_same_thread=False, timeout=timeout)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{what} {file} is not a usable SQLite database ({exc}): move it away") from None
    return conn
