"""The ledger's SQLite file: tables, pragmas, read-only access, and the writer's anchor cache.

Table `entries` holds the entries (format in `runtime.ledger.format`). Table `anchors` is the writer's
cache of what it anchored, for speed and crash recovery (`runtime.ledger.anchor`); verification never
trusts it, only the chain. `PRAGMA user_version` is the schema version (`MIGRATIONS`); the writer
migrates an older file at open, and both the writer and the reader refuse a newer one.
"""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from identity.errors import StoreError
from identity.sqlite_files import connect_private, private_file
from identity.sqlite_migrate import Step, migrate, schema_version
from runtime.ledger.format import (
    Entry,
    LedgerError,
    LedgerTampered,
    entry_hash,
    genesis_fields,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    kind TEXT NOT NULL,
    data BLOB NOT NULL,
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL,
    sig BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS anchors (
    chain_id INTEGER NOT NULL,
    contract TEXT NOT NULL,
    from_seq INTEGER NOT NULL,
    to_seq INTEGER NOT NULL,
    root BLOB NOT NULL,
    status TEXT NOT NULL,
    tx_hash BLOB,
    block INTEGER,
    gas_used INTEGER,
    entry_seq INTEGER,
    PRIMARY KEY (chain_id, contract, from_seq, to_seq)
);
"""
MIGRATIONS: tuple[Step, ...] = (("entries and anchors", SCHEMA),)
"""The schema's versions (identity.sqlite_migrate); append a step to change it. Ledgers were created
at version 1 from the start."""
COLUMNS = "seq, ts, kind, data, prev_hash, hash, sig"
_SELECT = f"SELECT {COLUMNS} FROM entries"  # noqa: S608 - constants only


def connect_writer(path: Path) -> sqlite3.Connection:
    """Open (creating with mode 0600 in a 0700 folder) the ledger file for writing: WAL, synchronous=FULL
    (the ledger lowers it to NORMAL for non-barrier commits: runtime.ledger.sync), autocommit (each
    append runs its own BEGIN IMMEDIATE … COMMIT)."""
    try:
        # Others may read a ledger (it is an audit log), never write it.
        private_file(path, "ledger", refuse=stat.S_IWGRP | stat.S_IWOTH, problem="writable")
        # FULL until told otherwise: the WAL is fsynced at each commit, so what returned survives a power cut.
        conn = connect_private(path, "ledger", synchronous="FULL", timeout=10.0)
    except StoreError as exc:
        raise LedgerError(str(exc)) from None
    try:
        migrate(conn, MIGRATIONS, f"ledger {path}", LedgerError)
    except LedgerError:
        conn.close()
        raise
    return conn


def connect_reader(path: Path) -> sqlite3.Connection:
    """Open an existing ledger file read-only (LedgerError when missing or not a Sova ledger)."""
    if not path.is_file():
        raise LedgerError(f"no ledger file {path}")
    try:
        conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, check_same_thread=False)
        conn.execute(_SELECT + " LIMIT 0")
        version = schema_version(conn)
    except sqlite3.DatabaseError as exc:
        raise LedgerError(f"{path} is not a Sova ledger ({exc})") from None
    if version > len(MIGRATIONS):
        # Read-only: it cannot be migrated here, and a newer layout may mean what this code misreads.
        conn.close()
        raise LedgerError(
            f"ledger {path} has schema version {version}, newer than this Sova knows "
            f"({len(MIGRATIONS)}): verify it with the Sova that wrote it, or upgrade"
        )
    return conn


def read_entries(conn: sqlite3.Connection, from_seq: int = 1, to_seq: int | None = None) -> list[Entry]:
    """Entries with from_seq <= seq <= to_seq (to the end when None), in seq order."""
    end = to_seq if to_seq is not None else 2**63 - 1
    rows = conn.execute(_SELECT + " WHERE seq BETWEEN ? AND ? ORDER BY seq", (from_seq, end)).fetchall()
    return [Entry.from_row(r) for r in rows]


def iter_entries(conn: sqlite3.Connection) -> Iterator[Entry]:
    """Every entry in seq order, streamed (an export of a large ledger does not load it whole)."""
    for row in conn.execute(_SELECT + " ORDER BY seq"):
        yield Entry.from_row(row)


def read_entry(conn: sqlite3.Connection, seq: int) -> Entry | None:
    row = conn.execute(_SELECT + " WHERE seq = ?", (seq,)).fetchone()
    return Entry.from_row(row) if row else None


def read_last(conn: sqlite3.Connection) -> Entry | None:
    row = conn.execute(_SELECT + " ORDER BY seq DESC LIMIT 1").fetchone()
    return Entry.from_row(row) if row else None


ANCHOR_COLUMNS = "chain_id, contract, from_seq, to_seq, root, status, tx_hash, block, gas_used, entry_seq"
_SELECT_ANCHORS = f"SELECT {ANCHOR_COLUMNS} FROM anchors ORDER BY from_seq, to_seq"  # noqa: S608 - constants


@dataclass(frozen=True, slots=True)
class AnchorRecord:
    """One row of the writer's anchor cache. `status`: "pending" (sent or about to be) or "mined";
    `entry_seq`: the "anchor" entry that logged it, once written."""

    chain_id: int
    contract: str
    from_seq: int
    to_seq: int
    root: bytes
    status: str
    tx_hash: bytes | None = None
    block: int | None = None
    gas_used: int | None = None
    entry_seq: int | None = None

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> AnchorRecord:
        chain_id, contract, from_seq, to_seq, root, status, tx_hash, block, gas_used, entry_seq = row
        return cls(
            int(chain_id),
            str(contract),
            int(from_seq),
            int(to_seq),
            bytes(root),
            str(status),
            bytes(tx_hash) if tx_hash is not None else None,
            int(block) if block is not None else None,
            int(gas_used) if gas_used is not None else None,
            int(entry_seq) if entry_seq is not None else None,
        )

    def as_row(self) -> tuple[Any, ...]:
        return (
            self.chain_id,
            self.contract,
            self.from_seq,
            self.to_seq,
            self.root,
            self.status,
            self.tx_hash,
            self.block,
            self.gas_used,
            self.entry_seq,
        )


def read_anchor_records(conn: sqlite3.Connection) -> list[AnchorRecord]:
    """The anchor cache (empty when the table is missing: it is a cache, not evidence)."""
    try:
        rows = conn.execute(_SELECT_ANCHORS).fetchall()
    except sqlite3.DatabaseError:
        return []
    return [AnchorRecord.from_row(r) for r in rows]


def check_opened(
    conn: sqlite3.Connection, path: Path, did: str, wallet: str, public: Ed25519PublicKey, last: Entry
) -> None:
    """Before appending to an existing ledger: it is this agent's (genesis DID and wallet) and its last
    entry verifies. LedgerError for another agent's file, LedgerTampered for a broken one."""
    genesis = read_entry(conn, 1)
    try:
        if genesis is None:
            raise ValueError("it has no entry 1")
        owner, anchored_by = genesis_fields(genesis)
    except ValueError as exc:
        raise LedgerTampered(
            f"ledger {path} has no valid genesis entry ({exc}): run `sova log verify`"
        ) from None
    if owner != did:
        raise LedgerError(f"ledger {path} belongs to {owner}, not to this agent's {did}: wrong file or key")
    if anchored_by != wallet:
        raise LedgerError(
            f"ledger {path} is anchored by wallet {anchored_by}, not {wallet}: wrong file or wallet key"
        )
    problem = None
    if entry_hash(last.prev_hash, last.body()) != last.hash:
        problem = "its hash does not match its content"
    else:
        try:
            public.verify(last.sig, last.hash)
        except InvalidSignature:
            problem = "its signature is not this agent's"
    if problem:
        raise LedgerTampered(
            f"ledger {path}: the last entry ({last.seq}) does not verify ({problem}); nothing is "
            "appended to a broken chain: run `sova log verify` and restore the file from a backup"
        )
