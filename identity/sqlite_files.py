"""Private SQLite files for the identity stores: created 0600, refused when others can read them."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

from identity.errors import StoreError


def open_private_db(path: str | os.PathLike[str], what: str) -> sqlite3.Connection:
    """Open (creating with mode 0600) the SQLite file `path` in WAL mode, autocommit, for any thread.

    StoreError when the file is accessible by group/others or is not a SQLite database.
    """
    file = Path(path)
    file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        mode = stat.S_IMODE(file.stat().st_mode)
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise StoreError(
                f"{what} {file} is accessible by others (mode {mode:04o}): run chmod 600 {file}"
            ) from None
    try:
        conn = sqlite3.connect(file, isolation_level=None, check_same_thread=False, timeout=5.0)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{what} {file} is not a usable SQLite database ({exc}): move it away") from None
    return conn
