"""The outbox: every signed transaction, stored in SQLite before it is broadcast.

After a crash, `ChainClient.recover` re-sends the stored bytes of every `signed` or `sent` entry, so
the chain sees the very transaction that was signed (same hash), once, and never a second one.

Statuses, and what they mean for the nonce (a `mined` entry goes back to `sent` only when the chain
lost its receipt, see `reopen`):

    signed    stored, broadcast not confirmed yet        nonce taken (re-sent on recovery)
    sent      the node accepted it                       nonce taken (re-sent on recovery)
    mined     included in a block (`receipt_status` 1 = success, 0 = reverted)   nonce used by it
    replaced  superseded by a fee-bumped version of the same nonce (`replaces` links them)
    failed    will never be mined: rejected by the node, or its nonce was used by another transaction

Durability: WAL with synchronous=NORMAL. A commit is in the WAL file when `record` returns, so it
survives the process being killed at any point (the crash this outbox is for); only a power cut or
kernel crash can lose the last few commits. Pass `durable=True` for synchronous=FULL (an fsync per
commit, ~2x slower). Each call is one short statement (~0.1 ms), cheap enough to run on the event
loop; `bench/wallet.py` measures it.

One connection per Outbox, guarded by a lock, so it may also be used from `asyncio.to_thread`. Several
processes may share the file (WAL, busy timeout); status changes only move forward, so two processes
recovering the same entry cannot undo each other's marks.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from wallet.abi import checksum
from wallet.errors import WalletError
from wallet.sqlite_migrate import Step, migrate

Status = Literal["signed", "sent", "mined", "failed", "replaced"]
PENDING: tuple[Status, ...] = ("signed", "sent")

# Allowed moves. A receipt is the truth, so `mined` may follow any state (a "replaced" or "failed"
# version can still turn out to be the one the chain took); nothing leaves `mined`.
_ALLOWED_FROM: dict[Status, tuple[Status, ...]] = {
    "sent": ("signed",),
    "mined": ("signed", "sent", "replaced", "failed"),
    "replaced": ("signed", "sent"),
    "failed": ("signed", "sent", "replaced"),
    "signed": (),
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    chain_id       INTEGER NOT NULL,
    sender         TEXT    NOT NULL,
    nonce          INTEGER NOT NULL,
    raw            BLOB    NOT NULL,
    tx_hash        TEXT    NOT NULL UNIQUE,
    tx             TEXT    NOT NULL,
    status         TEXT    NOT NULL CHECK (status IN ('signed', 'sent', 'mined', 'failed', 'replaced')),
    receipt_status INTEGER,
    block_number   INTEGER,
    replaces       INTEGER REFERENCES outbox(id),
    purpose        TEXT    NOT NULL DEFAULT '',
    error          TEXT,
    created_at     REAL    NOT NULL,
    updated_at     REAL    NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_sender_nonce ON outbox (chain_id, sender, nonce);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (status) WHERE status IN ('signed', 'sent');
"""
MIGRATIONS: tuple[Step, ...] = (("outbox", _SCHEMA),)  # wallet.sqlite_migrate; append to change it

_COLUMNS = (
    "id, chain_id, sender, nonce, raw, tx_hash, tx, status, receipt_status, block_number, replaces, "
    "purpose, error, created_at, updated_at"
)


@dataclass(frozen=True)
class OutboxEntry:
    """One stored signed transaction. `tx` holds the unsigned fields (for fee bumps and audits)."""

    id: int
    chain_id: int
    sender: str
    nonce: int
    raw: bytes
    tx_hash: bytes
    tx: dict[str, Any]
    status: Status
    receipt_status: int | None
    block_number: int | None
    replaces: int | None
    purpose: str
    error: str | None
    created_at: float
    updated_at: float

    @property
    def tx_hash_hex(self) -> str:
        return "0x" + self.tx_hash.hex()


def _hex(tx_hash: bytes) -> str:
    return "0x" + tx_hash.hex()


class Outbox:
    """SQLite store of signed transactions at `path` (created with its folder if missing)."""

    def __init__(self, path: Path, *, durable: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # isolation_level=None: autocommit; multi-statement changes use explicit BEGIN IMMEDIATE.
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        migrate(self._db, MIGRATIONS, f"outbox {self.path}", WalletError)

    def __repr__(self) -> str:
        return f"Outbox({str(self.path)!r})"

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # ----------------------------------------------------------------- writing

    def record(
        self,
        *,
        chain_id: int,
        sender: str,
        nonce: int,
        raw: bytes,
        tx_hash: bytes,
        tx: dict[str, Any],
        purpose: str = "",
        replaces: OutboxEntry | None = None,
    ) -> OutboxEntry:
        """Store a signed transaction as `signed`, committed when this returns. `replaces` links a fee
        bump to the version it replaces; that one is marked `replaced` only once the node took the new
        one (until then it may still be the one that gets mined)."""
        now = time.time()
        sender = checksum(sender)
        tx_json = json.dumps(tx, sort_keys=True, separators=(",", ":"))
        row = (
            chain_id,
            sender,
            nonce,
            raw,
            _hex(tx_hash),
            tx_json,
            replaces.id if replaces else None,
            purpose,
        )
        with self._lock:  # one INSERT in autocommit mode: committed when execute returns
            try:
                cur = self._db.execute(
                    "INSERT INTO outbox (chain_id, sender, nonce, raw, tx_hash, tx, status, replaces, "
                    "purpose, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'signed', ?, ?, ?, ?)",
                    (*row, now, now),
                )
                row_id = cur.lastrowid
            except sqlite3.IntegrityError:
                # The very same bytes again (signatures are deterministic): a transaction that failed
                # before, re-sent with its released nonce. Reopen that entry.
                self._db.execute(
                    "UPDATE outbox SET status = 'signed', error = NULL, purpose = ?, updated_at = ? "
                    "WHERE tx_hash = ? AND status = 'failed'",
                    (purpose, now, _hex(tx_hash)),
                )
                row_id = None
        if row_id is None:
            existing = self.get(tx_hash)
            assert existing is not None
            return existing
        return OutboxEntry(
            id=row_id,
            chain_id=chain_id,
            sender=sender,
            nonce=nonce,
            raw=raw,
            tx_hash=tx_hash,
            tx=json.loads(tx_json),
            status="signed",
            receipt_status=None,
            block_number=None,
            replaces=replaces.id if replaces else None,
            purpose=purpose,
            error=None,
            created_at=now,
            updated_at=now,
        )

    def mark(self, tx_hash: bytes, status: Status, *, error: str | None = None) -> bool:
        """Move an entry to `status` if that is a forward move; True when it changed."""
        allowed = _ALLOWED_FROM[status]
        if not allowed:
            return False
        marks = ",".join("?" * len(allowed))
        with self._lock:
            cur = self._db.execute(
                f"UPDATE outbox SET status = ?, error = COALESCE(?, error), updated_at = ? "  # noqa: S608
                f"WHERE tx_hash = ? AND status IN ({marks})",
                (status, error, time.time(), _hex(tx_hash), *allowed),
            )
        return cur.rowcount > 0

    def mark_mined(self, tx_hash: bytes, *, block_number: int, receipt_status: int) -> None:
        """Record the receipt of `tx_hash`; every other pending version of its nonce becomes `replaced`.
        One statement (one commit): it runs once per transaction on the hot path."""
        key = _hex(tx_hash)
        with self._lock:
            self._db.execute(
                "UPDATE outbox SET "
                "status = CASE WHEN tx_hash = :h THEN 'mined' ELSE 'replaced' END, "
                "block_number = CASE WHEN tx_hash = :h THEN :b ELSE block_number END, "
                "receipt_status = CASE WHEN tx_hash = :h THEN :s ELSE receipt_status END, "
                "updated_at = :t "
                "WHERE (chain_id, sender, nonce) = "
                "(SELECT chain_id, sender, nonce FROM outbox WHERE tx_hash = :h) "
                "AND (tx_hash = :h OR status IN ('signed', 'sent'))",
                {"h": key, "b": block_number, "s": receipt_status, "t": time.time()},
            )

    def reopen(self, tx_hash: bytes, error: str) -> bool:
        """The one move back: a `mined` entry whose receipt the chain no longer has (a rollback, a
        reorg, a node restarted from an older state) is `sent` again, so recovery re-sends its bytes."""
        with self._lock:
            cur = self._db.execute(
                "UPDATE outbox SET status = 'sent', receipt_status = NULL, block_number = NULL, error = ?, "
                "updated_at = ? WHERE tx_hash = ? AND status = 'mined'",
                (error, time.time(), _hex(tx_hash)),
            )
        return cur.rowcount > 0

    # ----------------------------------------------------------------- reading

    def mined_from(self, chain_id: int, sender: str, nonce: int) -> list[OutboxEntry]:
        """`mined` entries of `sender` from `nonce` up, by nonce: past the chain's count they are gone."""
        return self._all(
            f"SELECT {_COLUMNS} FROM outbox WHERE chain_id = ? AND sender = ? AND nonce >= ? "  # noqa: S608
            "AND status = 'mined' ORDER BY nonce, id",
            (chain_id, checksum(sender), nonce),
        )

    def get(self, tx_hash: bytes) -> OutboxEntry | None:
        """The entry of `tx_hash`, if stored."""
        return self._one(f"SELECT {_COLUMNS} FROM outbox WHERE tx_hash = ?", (_hex(tx_hash),))  # noqa: S608

    def pending(self, sender: str | None = None, *, chain_id: int | None = None) -> list[OutboxEntry]:
        """Entries still `signed` or `sent`, by chain, sender, nonce, and age."""
        where: list[str] = ["status IN ('signed', 'sent')"]
        args: list[Any] = []
        if sender is not None:
            where.append("sender = ?")
            args.append(checksum(sender))
        if chain_id is not None:
            where.append("chain_id = ?")
            args.append(chain_id)
        return self._all(
            f"SELECT {_COLUMNS} FROM outbox WHERE {' AND '.join(where)} "  # noqa: S608
            "ORDER BY chain_id, sender, nonce, id",
            tuple(args),
        )

    def versions(self, chain_id: int, sender: str, nonce: int) -> list[OutboxEntry]:
        """Every stored version of one nonce, oldest first."""
        return self._all(
            f"SELECT {_COLUMNS} FROM outbox WHERE chain_id = ? AND sender = ? AND nonce = ? "  # noqa: S608
            "ORDER BY id",
            (chain_id, checksum(sender), nonce),
        )

    def entries(self, sender: str | None = None, *, limit: int = 100) -> list[OutboxEntry]:
        """The newest entries (all statuses), newest first: for status screens and audits."""
        if sender is None:
            return self._all(f"SELECT {_COLUMNS} FROM outbox ORDER BY id DESC LIMIT ?", (limit,))  # noqa: S608
        return self._all(
            f"SELECT {_COLUMNS} FROM outbox WHERE sender = ? ORDER BY id DESC LIMIT ?",  # noqa: S608
            (checksum(sender), limit),
        )

    def _one(self, sql: str, args: tuple[Any, ...]) -> OutboxEntry | None:
        rows = self._all(sql, args)
        return rows[0] if rows else None

    def _all(self, sql: str, args: tuple[Any, ...]) -> list[OutboxEntry]:
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [_entry(r) for r in rows]


def _entry(row: tuple[Any, ...]) -> OutboxEntry:
    return OutboxEntry(
        id=row[0],
        chain_id=row[1],
        sender=row[2],
        nonce=row[3],
        raw=bytes(row[4]),
        tx_hash=bytes.fromhex(row[5][2:]),
        tx=json.loads(row[6]),
        status=row[7],
        receipt_status=row[8],
        block_number=row[9],
        replaces=row[10],
        purpose=row[11],
        error=row[12],
        created_at=row[13],
        updated_at=row[14],
    )
