"""The outbox (SQLite, WAL) and the nonce manager, without a chain."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from eth_utils.crypto import keccak

from wallet.nonces import NonceManager, NonceStart
from wallet.outbox import Outbox, OutboxEntry

SENDER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
OTHER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"


def _record(
    box: Outbox, nonce: int, version: int = 0, sender: str = SENDER, chain_id: int = 31337, **kw: Any
) -> OutboxEntry:
    raw = f"raw-{chain_id}-{sender}-{nonce}-{version}".encode()
    return box.record(
        chain_id=chain_id,
        sender=sender,
        nonce=nonce,
        raw=raw,
        tx_hash=keccak(raw),
        tx={"nonce": nonce, "maxFeePerGas": 100 + version, "data": "0x"},
        **kw,
    )


@pytest.fixture
def box(tmp_path: Path) -> Outbox:
    return Outbox(tmp_path / "state" / "outbox.db")


def test_record_is_committed_and_survives_reopen(box: Outbox) -> None:
    entry = _record(box, 0, purpose="pay seller")
    assert entry.status == "signed"
    # A second connection (another process would do the same) sees it without any further call.
    other = sqlite3.connect(box.path)
    assert other.execute("SELECT status, purpose FROM outbox").fetchall() == [("signed", "pay seller")]
    other.close()
    box.close()
    again = Outbox(box.path)
    stored = again.get(entry.tx_hash)
    assert stored is not None
    assert stored.raw == entry.raw
    assert stored.tx == {"data": "0x", "maxFeePerGas": 100, "nonce": 0}
    assert stored.sender == SENDER


def test_wal_and_synchronous_modes(tmp_path: Path) -> None:
    normal = Outbox(tmp_path / "a.db")
    assert normal._db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert normal._db.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
    durable = Outbox(tmp_path / "b.db", durable=True)
    assert durable._db.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL


def test_pending_lists_signed_and_sent_by_sender_and_chain(box: Outbox) -> None:
    a0 = _record(box, 0)
    a1 = _record(box, 1)
    b0 = _record(box, 0, sender=OTHER)
    _record(box, 0, chain_id=1)
    box.mark(a1.tx_hash, "sent")
    box.mark_mined(a0.tx_hash, block_number=3, receipt_status=1)
    assert [e.nonce for e in box.pending(SENDER, chain_id=31337)] == [1]
    assert {e.tx_hash for e in box.pending(chain_id=31337)} == {a1.tx_hash, b0.tx_hash}
    assert len(box.pending()) == 3


def test_status_only_moves_forward(box: Outbox) -> None:
    e = _record(box, 0)
    assert box.mark(e.tx_hash, "sent")
    assert not box.mark(e.tx_hash, "signed")
    box.mark_mined(e.tx_hash, block_number=9, receipt_status=1)
    assert not box.mark(e.tx_hash, "sent")
    assert not box.mark(e.tx_hash, "failed")
    got = box.get(e.tx_hash)
    assert got is not None
    assert (got.status, got.block_number, got.receipt_status) == ("mined", 9, 1)


def test_mined_version_wins_and_others_become_replaced(box: Outbox) -> None:
    v0 = _record(box, 4, 0)
    v1 = _record(box, 4, 1, replaces=v0)
    v2 = _record(box, 4, 2, replaces=v1)
    unrelated = _record(box, 5)
    for v in (v0, v1, v2):
        box.mark(v.tx_hash, "sent")
    box.mark(v0.tx_hash, "replaced")
    box.mark_mined(v1.tx_hash, block_number=12, receipt_status=1)  # the middle one got in first
    statuses = {e.tx_hash: e.status for e in box.versions(31337, SENDER, 4)}
    assert statuses == {v0.tx_hash: "replaced", v1.tx_hash: "mined", v2.tx_hash: "replaced"}
    assert [e.replaces for e in box.versions(31337, SENDER, 4)] == [None, v0.id, v1.id]
    got = box.get(unrelated.tx_hash)
    assert got is not None
    assert got.status == "signed"


def test_identical_bytes_after_a_failure_are_stored_again(box: Outbox) -> None:
    # Deterministic signatures: re-sending the same fields with a released nonce gives the same hash.
    e = _record(box, 0)
    box.mark(e.tx_hash, "failed", error="insufficient funds")
    again = _record(box, 0, purpose="retry")
    assert again.id == e.id
    assert (again.status, again.error, again.purpose) == ("signed", None, "retry")
    assert len(box.entries()) == 1


def test_failed_records_the_reason(box: Outbox) -> None:
    e = _record(box, 0)
    box.mark(e.tx_hash, "failed", error="insufficient funds")
    got = box.get(e.tx_hash)
    assert got is not None
    assert (got.status, got.error) == ("failed", "insufficient funds")
    assert box.entries(SENDER)[0].tx_hash == e.tx_hash


def test_record_cost_is_small(box: Outbox) -> None:
    import time

    start = time.perf_counter()
    for n in range(200):
        e = _record(box, n)
        box.mark(e.tx_hash, "sent")
        box.mark_mined(e.tx_hash, block_number=n, receipt_status=1)
    per_tx = (time.perf_counter() - start) / 200
    assert per_tx < 0.005  # ~0.2 ms measured; generous bound for shared machines


# ------------------------------------------------------------------------- nonce manager


def _manager(next_: int, holes: tuple[int, ...] = ()) -> tuple[NonceManager, list[str]]:
    calls: list[str] = []

    async def start(address: str) -> NonceStart:
        calls.append(address)
        await asyncio.sleep(0.01)  # concurrent callers pile up here
        return NonceStart(next=next_, holes=holes)

    return NonceManager(start), calls


async def test_concurrent_allocations_are_consecutive_and_start_once() -> None:
    nm, calls = _manager(5)
    nonces = await asyncio.gather(*[nm.allocate(SENDER) for _ in range(100)])
    assert sorted(nonces) == list(range(5, 105))
    assert calls == [SENDER]
    assert await nm.allocate(SENDER.lower()) == 105  # same address, any spelling


async def test_holes_are_handed_out_first_lowest_first() -> None:
    nm, _ = _manager(10, holes=(8, 6))
    assert [await nm.allocate(SENDER) for _ in range(4)] == [6, 8, 10, 11]


async def test_release_of_top_nonce_rewinds_and_lower_becomes_hole() -> None:
    nm, _ = _manager(0)
    for _ in range(4):
        await nm.allocate(SENDER)  # 0..3 taken
    nm.release(SENDER, 3)
    assert nm.peek(SENDER) == NonceStart(next=3)
    nm.release(SENDER, 1)
    assert nm.peek(SENDER) == NonceStart(next=3, holes=(1,))
    nm.release(SENDER, 2)  # top again: 2 and the hole 1 below it collapse
    assert nm.peek(SENDER) == NonceStart(next=1)
    assert await nm.allocate(SENDER) == 1


async def test_forget_restarts_from_the_source() -> None:
    nm, calls = _manager(3)
    assert await nm.allocate(SENDER) == 3
    nm.forget(SENDER)
    assert await nm.allocate(SENDER) == 3
    assert len(calls) == 2
