"""Schema versions of the SQLite stores (identity/sqlite_migrate.py and its copies in wallet/ and
policies/): missing steps run once, in one transaction, recorded; a newer file is refused."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlite_utils

from identity.errors import StoreError
from identity.sqlite_migrate import Step, migrate, schema_version

ROOT = Path(__file__).resolve().parents[3]
V1: Step = ("notes", "CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);")


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(tmp_path / "store.sqlite", isolation_level=None)
    yield db
    db.close()


def history(db: sqlite3.Connection) -> list[tuple[int, str]]:
    return [
        (int(v), str(n)) for v, n in db.execute("SELECT version, name FROM sova_migrations ORDER BY version")
    ]


def test_a_new_file_runs_every_step_and_records_each(conn: sqlite3.Connection) -> None:
    steps = (V1, ("tags", "ALTER TABLE notes ADD COLUMN tags TEXT NOT NULL DEFAULT ''"))
    assert migrate(conn, steps, "test store", StoreError) == 2
    assert schema_version(conn) == 2
    assert history(conn) == [(1, "notes"), (2, "tags")]
    conn.execute("INSERT INTO notes (body, tags) VALUES ('a', 'b')")


def test_a_step_from_n_to_n_plus_1_runs_once_and_is_recorded(conn: sqlite3.Connection) -> None:
    migrate(conn, (V1,), "test store", StoreError)
    conn.execute("INSERT INTO notes (body) VALUES ('kept')")
    runs: list[int] = []

    def add_tags(db: sqlite3.Connection) -> None:
        runs.append(1)
        db.execute("ALTER TABLE notes ADD COLUMN tags TEXT NOT NULL DEFAULT ''")

    steps = (V1, ("tags", add_tags))
    assert migrate(conn, steps, "test store", StoreError) == 2
    assert migrate(conn, steps, "test store", StoreError) == 2
    assert runs == [1]
    assert history(conn) == [(1, "notes"), (2, "tags")]
    assert conn.execute("SELECT body, tags FROM notes").fetchall() == [("kept", "")]


def test_two_openers_racing_on_an_old_file_run_each_step_once(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    runs: list[str] = []
    started = threading.Event()

    def slow_notes(db: sqlite3.Connection) -> None:
        runs.append(threading.current_thread().name)
        started.set()
        time.sleep(0.3)  # holds the write lock while the other opener arrives
        db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY)")

    def open_it() -> None:
        db = sqlite3.connect(path, isolation_level=None, timeout=10)
        migrate(db, (("notes", slow_notes),), "test store", StoreError)
        db.close()

    first = threading.Thread(target=open_it, name="first")
    first.start()
    started.wait(5)
    # the second finds version 0 without a lock, then waits for the first's, then finds version 1
    open_it()
    first.join()
    assert runs == ["first"]


def test_a_file_from_a_newer_sova_is_refused_with_one_line_and_left_alone(conn: sqlite3.Connection) -> None:
    migrate(conn, (V1, ("tags", "ALTER TABLE notes ADD COLUMN tags TEXT")), "test store", StoreError)
    with pytest.raises(StoreError) as refused:
        migrate(conn, (V1,), "deal store /x/deals.sqlite", StoreError)
    message = str(refused.value)
    assert "\n" not in message
    assert message == (
        "deal store /x/deals.sqlite has schema version 2, newer than this Sova knows (1): upgrade Sova, "
        "or move the file away"
    )
    assert schema_version(conn) == 2


def test_a_failing_step_keeps_nothing_of_the_migration(conn: sqlite3.Connection) -> None:
    migrate(conn, (V1,), "test store", StoreError)
    broken = (V1, ("tags", "ALTER TABLE notes ADD COLUMN tags TEXT"), ("oops", "ALTER TABLE nowhere ADD x"))
    with pytest.raises(StoreError, match=r"^test store could not be upgraded from schema version 1 to 3 "):
        migrate(conn, broken, "test store", StoreError)
    assert schema_version(conn) == 1
    assert history(conn) == [(1, "notes")]
    assert [c[1] for c in conn.execute("PRAGMA table_info(notes)")] == ["id", "body"]
    assert not conn.in_transaction


def test_a_sqlite_utils_transform_runs_inside_the_one_transaction(conn: sqlite3.Connection) -> None:
    migrate(conn, (V1,), "test store", StoreError)
    conn.execute("INSERT INTO notes (body) VALUES ('12')")

    def body_to_int(db: sqlite3.Connection) -> None:
        # what ALTER TABLE cannot do (a column's type), sqlite-utils rebuilds the table for;
        # its own atomic() nests as a savepoint in migrate's transaction
        sqlite_utils.Database(db)["notes"].transform(types={"body": int}, rename={"body": "amount"})

    migrate(conn, (V1, ("amount", body_to_int)), "test store", StoreError)
    assert conn.execute("SELECT amount, typeof(amount) FROM notes").fetchall() == [(12, "integer")]
    assert history(conn) == [(1, "notes"), (2, "amount")]


def test_a_file_that_is_not_sqlite_is_refused_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "junk.sqlite"
    path.write_bytes(b"not a database at all, just some bytes" * 50)
    db = sqlite3.connect(path, isolation_level=None)
    with pytest.raises(
        StoreError, match=r"^test store is not a usable SQLite database \(.*\): move it away$"
    ):
        migrate(db, (V1,), "test store", StoreError)
    db.close()


def test_the_copies_in_wallet_and_policies_are_the_same_file() -> None:
    # identity, wallet and policies may not import each other, so each has a copy; they may not drift
    original = (ROOT / "identity" / "sqlite_migrate.py").read_text()
    for package in ("wallet", "policies"):
        assert (ROOT / package / "sqlite_migrate.py").read_text() == original, package
