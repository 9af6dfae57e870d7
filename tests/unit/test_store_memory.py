"""The deal and thread stores answer recent reads from memory, written through to SQLite: what a
restart sees, what a failed write leaves, and what another writer of the same file does to them."""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from runtime.deals import DealRecord, DealStore
from runtime.negotiation_fsm import ThreadState, ThreadStore

PEER = "did:key:z6MkPeer"
TERMS = {"buyer": "0xb", "seller": "0xs", "token": "TUSD", "amount": "12.5", "deadline": 1_900_000_000}


def record(thid: str = "t1", **changes: object) -> DealRecord:
    base = DealRecord(peer=PEER, thid=thid, role="buyer", item="compute", price="10")
    return replace(base, **changes)  # type: ignore[arg-type]


def statements(store: DealStore | ThreadStore) -> list[str]:
    seen: list[str] = []
    store._db().set_trace_callback(seen.append)
    return seen


def test_a_reopened_deal_store_sees_every_write(tmp_path: Path) -> None:
    path = tmp_path / "deals.sqlite"
    with DealStore(path) as store:
        for i in range(5):
            store.put(record(f"t{i}"))
        store.update(PEER, "t2", state="signed", deal=TERMS, txs={"open": "0x1"})
        store.update(PEER, "t2", txs={"release": "0x2"})
        written = {r.thid: r for r in store.all()}
    with DealStore(path, cache_size=2) as again:
        assert {r.thid: r for r in again.all()} == written
        for thid, stored in written.items():
            assert again.get(PEER, thid) == stored
    assert written["t2"].deal == TERMS
    assert written["t2"].txs == {"open": "0x1", "release": "0x2"}


def test_recent_deals_are_read_without_sql(tmp_path: Path) -> None:
    with DealStore(tmp_path / "deals.sqlite") as store:
        store.put(record(deal=TERMS))
        seen = statements(store)
        got = store.get(PEER, "t1")
        assert seen == []
        assert got is not None
        assert got.deal == TERMS


def test_a_deal_read_is_a_copy_the_caller_may_change(tmp_path: Path) -> None:
    with DealStore(tmp_path / "deals.sqlite") as store:
        store.put(record(deal=dict(TERMS), txs={"open": "0x1"}))
        first = store.get(PEER, "t1")
        assert first is not None
        assert first.deal is not None
        first.deal["amount"] = "999"
        first.txs["open"] = "0xevil"
        again = store.get(PEER, "t1")
        assert again is not None
        assert (again.deal, again.txs) == (TERMS, {"open": "0x1"})


def test_a_failed_deal_write_leaves_memory_and_file_as_they_were(tmp_path: Path) -> None:
    path = tmp_path / "deals.sqlite"
    with DealStore(path) as store:
        before = store.put(record(state="agreed"))
        with pytest.raises(sqlite3.Error):  # a value SQLite cannot store: refused at the statement
            store.update(PEER, "t1", state="signed", price=Decimal("11"))
        with pytest.raises(sqlite3.Error):
            store.put(record("t9", price=Decimal("1")))
        assert store.get(PEER, "t1") == before
        assert store.get(PEER, "t9") is None
    with DealStore(path) as again:
        assert again.get(PEER, "t1") == before
        assert again.get(PEER, "t9") is None


def test_a_deal_write_the_database_aborts_leaves_no_phantom(tmp_path: Path) -> None:
    path = tmp_path / "deals.sqlite"
    with DealStore(path) as store:
        before = store.put(record(state="agreed"))
        guard = sqlite3.connect(path)
        guard.execute(
            "CREATE TRIGGER no_release BEFORE INSERT ON deals WHEN NEW.state = 'released'"
            " BEGIN SELECT RAISE(ABORT, 'refused by test'); END"
        )
        guard.commit()
        guard.close()
        before = store.update(PEER, "t1", price="9")  # the store notices the other connection here
        assert store.get(PEER, "t1") == before  # from memory again
        with pytest.raises(sqlite3.IntegrityError, match="refused by test"):
            store.update(PEER, "t1", state="released")
        assert store.get(PEER, "t1") == before
    with DealStore(path) as again:
        assert again.get(PEER, "t1") == before


def test_another_writer_is_seen_before_the_next_write(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "deals.sqlite"
    with DealStore(path) as mine, DealStore(path) as other:
        mine.put(record(state="agreed"))
        assert mine.get(PEER, "t1") is not None
        other.update(PEER, "t1", state="signed", deal_id="0xd")
        with caplog.at_level(logging.WARNING):
            merged = mine.update(PEER, "t1", txs={"open": "0x1"})
        assert (merged.state, merged.deal_id, merged.txs) == ("signed", "0xd", {"open": "0x1"})
        assert "changed by another connection" in caplog.text
    with DealStore(path) as again:
        assert again.get(PEER, "t1") == merged


def test_a_thread_store_reloads_after_another_writer(tmp_path: Path) -> None:
    path = tmp_path / "threads.sqlite"
    state = ThreadState(peer=PEER, thid="t", role="buyer", state="open", messages=1)
    with ThreadStore(path) as mine, ThreadStore(path) as other:
        mine.put(state)
        other.put(replace(state, state="offered", messages=2))
        mine.put(replace(state, thid="u"))  # a write: memory is dropped and re-read from the file
        seen = statements(mine)
        got = mine.get(PEER, "t")
        assert got is not None
        assert (got.state, got.messages) == ("offered", 2)
        assert seen  # read from the file, not from the stale memory
        seen.clear()
        assert mine.get(PEER, "u") is not None
        assert seen == []


def test_a_failed_thread_write_leaves_no_phantom(tmp_path: Path) -> None:
    path = tmp_path / "threads.sqlite"
    state = ThreadState(peer=PEER, thid="t", role="buyer", state="open", messages=1)
    with ThreadStore(path) as store:
        store.put(state)
        with pytest.raises(sqlite3.Error):
            store.put(replace(state, state="offered", messages=Decimal(2)))  # type: ignore[arg-type]
        assert store.get(PEER, "t") == state
    with ThreadStore(path) as again:
        assert again.get(PEER, "t") == state
