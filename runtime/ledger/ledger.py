"""The agent's ledger: an append-only, hash-chained log of what it decided and did, each entry signed by
its identity key, in one SQLite file per agent (`<home>/agents/<name>/ledger.sqlite`).

The format (what is hashed, what is signed) is in `runtime.ledger.format`; checking a file is
`runtime.ledger.verify`; anchoring Merkle roots on-chain is `runtime.ledger.anchor`; inclusion proofs are
`runtime.ledger.proof`.

Writing (decision): there is one writer per file, and no entry is reported written before its commit is
done, so it survives the process being killed. Durability against a power cut follows the barrier rule
of `runtime.ledger.sync`: an append is a barrier by default (fsynced before its caller hears of it);
callers opt out (`barrier=False`) for entries after which nothing leaves the process, and those reach
the disk with the next barrier or within `FLUSH_INTERVAL` (1 s). `synced_seq` says how far the chain is
fsynced. `append` is the blocking call, serialized by a lock. Asyncio callers use `append_async` (or
`append_many_async`), which canonicalizes the data at the call (so a bad value fails at once, and later
changes to the dict do not leak in) and queues the rest — sign, insert, commit — for the ledger's own
single writer thread. The event loop never waits for the disk, and entries get their seqs in the order
callers asked.

Group commit: the writer takes every entry queued while it was busy and writes them in one transaction
(BEGIN IMMEDIATE … COMMIT), in queue order, at most `GROUP_MAX` at a time, fsynced when any of them is a
barrier; each caller's future is resolved only after that commit, so an awaited barrier is on disk, and
a power cut loses only barriers whose callers were still waiting (and non-barriers of the last second).
A group is written whole or not at all: when its commit fails, every caller in it gets the error and
nothing of it is in the chain.
The queue and the writer thread are `runtime.ledger.group`; bench/ledger.py measures the loop's longest
stall during concurrent appends.
A cancelled `append_async` may still write its entry: an entry is written whole or not at all, and a
log line that says more than the caller saw is better than one that says less.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from identity.keys import IdentityKey
from runtime.ledger.format import (
    ANCHOR,
    FORMAT,
    GENESIS,
    ZERO_HASH,
    Entry,
    LedgerError,
    LedgerTampered,
    NotAnchored,
    canonical_data,
    entry_body,
    entry_hash,
    ledger_path,
    normal_address,
    now_ts,
)
from runtime.ledger.group import GroupWriter
from runtime.ledger.store import (
    ANCHOR_COLUMNS,
    COLUMNS,
    AnchorRecord,
    check_opened,
    connect_reader,
    connect_writer,
    read_anchor_records,
    read_entries,
    read_entry,
    read_last,
)
from runtime.ledger.sync import FLUSH_INTERVAL, FlushTimer, fsync_wal, set_synchronous

__all__ = [
    "ANCHOR",
    "GENESIS",
    "AnchorRecord",
    "Entry",
    "Ledger",
    "LedgerError",
    "LedgerTampered",
    "NotAnchored",
    "canonical_data",
    "ledger_path",
]


_INSERT = f"INSERT INTO entries ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"  # noqa: S608 - constants


class Ledger:
    """One agent's ledger, open for appending. Build it with `Ledger.open(path, key, wallet)`."""

    def __init__(self, path: Path, key: IdentityKey, wallet: str, flush_interval: float = FLUSH_INTERVAL):
        self.path = path
        self.did = key.did
        self.wallet = wallet
        self._key = key
        self._public = Ed25519PublicKey.from_public_bytes(key.public_key_bytes)
        self._lock = threading.Lock()
        self._conn = connect_writer(path)
        # Readers get their own connection: under WAL they never wait for the writer's fsync.
        self._reader = connect_reader(path)
        self._read_lock = threading.Lock()
        self._writer = GroupWriter(str(path), self._append_group)
        self._last: Entry | None = None
        self._closed = False
        # Durability (runtime.ledger.sync): the connection's synchronous mode, the newest fsynced seq, and
        # the flush that follows an unsynced commit.
        self._full = True  # connect_writer's default
        self._synced = 0
        self._flush_timer = FlushTimer(flush_interval, self._flush_soon)

    @classmethod
    def open(
        cls, path: str | Path, key: IdentityKey, wallet: str, *, flush_interval: float = FLUSH_INTERVAL
    ) -> Ledger:
        """Open (creating it with its genesis entry) the ledger at `path` for the agent whose identity key
        is `key` and whose wallet is `wallet`. LedgerError when the file belongs to another DID or wallet;
        LedgerTampered when its last entry does not verify (nothing is appended to a broken chain).
        `flush_interval`: the longest a non-barrier entry waits for its fsync (seconds)."""
        ledger = cls(Path(path), key, normal_address(wallet), flush_interval)
        try:
            ledger._start()
        except BaseException:
            ledger.close()
            raise
        return ledger

    def _start(self) -> None:
        last = read_last(self._conn)
        if last is None:
            self._last = None
            self.append(GENESIS, {"did": self.did, "format": FORMAT, "wallet": self.wallet})
            return
        check_opened(self._conn, self.path, self.did, self.wallet, self._public, last)
        self._last = last
        # What a killed process left committed but maybe unsynced is made durable before anything new.
        fsync_wal(self.path)
        self._synced = last.seq

    # ----------------------------------------------------------------- writing

    @property
    def synced_seq(self) -> int:
        """The newest seq known to be fsynced (it and every entry before it survive a power cut). An
        awaited barrier entry is always at or below it; a non-barrier one may be above it for up to the
        flush interval."""
        return self._synced

    def append(self, kind: str, data: dict[str, Any], *, barrier: bool = True) -> Entry:
        """Append one entry and commit it; the entry as stored. Blocks for the commit, and for the fsync
        when `barrier` (see the module docstring)."""
        return self._append_group([(kind, canonical_data(kind, data))], barrier)[0]

    def append_async(self, kind: str, data: dict[str, Any], *, barrier: bool = True) -> asyncio.Future[Entry]:
        """`append` without blocking the event loop: `await ledger.append_async(kind, data)`.

        A plain function returning a future, on purpose: the data is canonicalized (and refused, with
        LedgerError) at the call, and the write is queued at the call, so entries take their seqs in
        the order the calls were made, whatever order the awaits run in. The future is resolved once the
        group commit holding the entry is done, and fsynced when `barrier` (the default): pass
        `barrier=False` only for an entry after which nothing leaves the process."""
        return self._writer.queue([(kind, canonical_data(kind, data))], barrier)[0]

    def append_many_async(
        self, items: list[tuple[str, dict[str, Any]]], *, barrier: bool = True
    ) -> asyncio.Future[list[Entry]]:
        """Several entries, in order, in one commit when they fit one group: `await` gives them all.
        All are canonicalized at the call (one bad item refuses them all, nothing queued). `barrier`
        holds for the last (so, the fsync covering it, for all)."""
        raws = [(kind, canonical_data(kind, data)) for kind, data in items]
        futures = self._writer.queue(raws, barrier)
        return asyncio.gather(*futures)

    def _append_group(self, items: list[tuple[str, bytes]], barrier: bool) -> list[Entry]:
        """Sign, chain and insert `items` in one transaction; the entries once it is committed (and
        fsynced, with everything before it, when `barrier`)."""
        with self._lock:
            if self._closed:
                raise LedgerError(f"ledger {self.path} is closed")
            self._synchronous(full=barrier)
            prev = self._last
            seq = prev.seq + 1 if prev else 1
            entries: list[Entry] = []
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                # One writer per file: another process appending too would fork the chain. The write
                # lock is held from here, so the newest seq on disk is what this writer last wrote.
                newest = conn.execute("SELECT max(seq) FROM entries").fetchone()[0] or 0
                if newest != seq - 1:
                    raise LedgerError(
                        f"ledger {self.path} was appended to by another writer (it ends at entry {newest}, "
                        f"this one wrote up to {seq - 1}): run one agent process per ledger"
                    )
                prev_hash = prev.hash if prev else ZERO_HASH
                for kind, raw in items:
                    ts = now_ts()
                    digest = entry_hash(prev_hash, entry_body(seq, ts, kind, raw))
                    entry = Entry(seq, ts, kind, raw, prev_hash, digest, self._key.sign(digest))
                    entries.append(entry)
                    seq, prev_hash = seq + 1, digest
                conn.executemany(_INSERT, [(e.seq, e.ts, e.kind, e.data_bytes, e.prev_hash, e.hash, e.sig)
                                           for e in entries])  # fmt: skip
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            self._last = entries[-1]
            if barrier:
                self._synced = self._last.seq
            else:
                self._flush_timer.arm()
            return entries

    # ----------------------------------------------------------------- durability (runtime.ledger.sync)

    def _synchronous(self, *, full: bool) -> None:
        """Switch the writer connection's synchronous mode when it differs (under `_lock`)."""
        if self._full is not full:
            set_synchronous(self._conn, full)
            self._full = full

    def _flush_soon(self) -> None:
        """On the flush timer's thread: queue the flush behind the appends (none after close)."""
        self._writer.submit(self.flush)

    def flush(self) -> None:
        """fsync every committed entry now (blocking; the writer thread does it on its own at most a
        flush interval after a non-barrier commit)."""
        with self._lock:
            if not self._closed:
                self._flush_locked()

    def _flush_locked(self) -> None:
        last = self._last
        if last is not None and last.seq > self._synced:
            fsync_wal(self.path)
            self._synced = last.seq

    # ----------------------------------------------------------------- reading

    def last(self) -> Entry:
        """The newest entry (the genesis in a new ledger). Lock-free: reading one reference is atomic,
        and the event loop must not wait behind an append's fsync."""
        last = self._last
        assert last is not None
        return last

    def entries(self, from_seq: int = 1, to_seq: int | None = None) -> list[Entry]:
        """Entries from_seq..to_seq inclusive (to the end when None), in order."""
        with self._read_lock:
            return read_entries(self._reader, from_seq, to_seq)

    def entry(self, seq: int) -> Entry | None:
        with self._read_lock:
            return read_entry(self._reader, seq)

    def hashes(self, from_seq: int, to_seq: int) -> list[bytes]:
        """The stored hashes of from_seq..to_seq (the Merkle leaves of an anchor)."""
        with self._read_lock:
            rows = self._reader.execute(
                "SELECT hash FROM entries WHERE seq BETWEEN ? AND ? ORDER BY seq", (from_seq, to_seq)
            ).fetchall()
        return [bytes(r[0]) for r in rows]

    def kinds_after(self, seq: int) -> set[str]:
        """The distinct kinds of the entries after `seq`."""
        with self._read_lock:
            rows = self._reader.execute("SELECT DISTINCT kind FROM entries WHERE seq > ?", (seq,)).fetchall()
        return {str(r[0]) for r in rows}

    # ----------------------------------------------------------------- the anchor cache

    def anchor_records(self) -> list[AnchorRecord]:
        with self._read_lock:
            return read_anchor_records(self._reader)

    def save_anchor(self, record: AnchorRecord) -> None:
        """Insert or replace one row of the anchor cache (durably: it tells a restart what was sent)."""
        marks = ", ".join("?" * len(record.as_row()))
        with self._lock:
            self._synchronous(full=True)  # its fsync covers every entry before it too
            self._conn.execute(
                f"INSERT OR REPLACE INTO anchors ({ANCHOR_COLUMNS}) VALUES ({marks})",  # noqa: S608 - constants
                record.as_row(),
            )
            if self._last is not None:
                self._synced = self._last.seq

    async def run(self, fn: Any, *args: Any) -> Any:
        """Run a blocking ledger call on the writer thread, after the appends queued before it."""
        return await self._writer.run(fn, *args)

    # ----------------------------------------------------------------- closing

    def close(self) -> None:
        """Wait for queued appends, fsync what is unsynced, then close the file. Safe to call twice."""
        self._writer.shutdown()
        self._flush_timer.cancel()
        with self._lock, self._read_lock:
            if self._closed:
                return
            self._closed = True
            # Not left to the close's checkpoint: a reader in another process would prevent that one.
            self._flush_locked()
            # The read-only connection first: the last one to close checkpoints the WAL into the file
            # and removes it, and only the writer may. A closed ledger is then one self-contained file.
            self._reader.close()
            self._conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Ledger({str(self.path)!r}, did={self.did})"
