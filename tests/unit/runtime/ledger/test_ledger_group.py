"""Group commit in runtime/ledger/ledger.py: appends queued while the writer is busy share one commit, and no
caller hears of its entry before that commit is durable."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from identity import IdentityKey
from runtime.ledger.ledger import Ledger, LedgerError, ledger_path
from runtime.ledger.verify import verify_ledger

WALLET = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


@pytest.fixture
def key() -> IdentityKey:
    return IdentityKey.generate()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return ledger_path(tmp_path, "buyer")


def _count_commits(ledger: Ledger) -> list[str]:
    commits: list[str] = []
    ledger._conn.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
    return commits


async def _hold_writer(ledger: Ledger) -> tuple[threading.Event, asyncio.Future[object]]:
    """Keep the writer thread busy until the event is set (appends queue up meanwhile)."""
    release, started = threading.Event(), threading.Event()

    def busy() -> None:
        started.set()
        release.wait(10)

    held = asyncio.ensure_future(ledger.run(busy))
    await asyncio.to_thread(started.wait, 10)
    return release, held


async def test_appends_queued_while_the_writer_is_busy_share_one_commit(path: Path, key: IdentityKey) -> None:
    with Ledger.open(path, key, WALLET) as ledger:
        commits = _count_commits(ledger)
        release, held = await _hold_writer(ledger)
        futures = [ledger.append_async("step", {"i": i}) for i in range(20)]
        release.set()
        await held
        entries = await asyncio.gather(*futures)
    assert [e.seq for e in entries] == list(range(2, 22))
    assert [e.data["i"] for e in entries] == list(range(20))
    assert len(commits) == 1
    report = verify_ledger(path)
    assert report.ok
    assert report.entries == 21


async def test_an_awaited_entry_is_already_committed(path: Path, key: IdentityKey) -> None:
    with Ledger.open(path, key, WALLET) as ledger:
        for i in range(5):
            entry = await ledger.append_async("step", {"i": i})
            # Another connection sees it at once: the commit that holds it is done.
            with sqlite3.connect(path) as other:
                row = other.execute("SELECT kind FROM entries WHERE seq = ?", (entry.seq,)).fetchone()
            assert row == ("step",)


async def test_append_many_async_writes_its_items_in_order_in_one_commit(
    path: Path, key: IdentityKey
) -> None:
    with Ledger.open(path, key, WALLET) as ledger:
        commits = _count_commits(ledger)
        entries = await ledger.append_many_async([("message_out", {"n": 1}), ("message_in", {"n": 2})])
    assert [(e.seq, e.kind) for e in entries] == [(2, "message_out"), (3, "message_in")]
    assert len(commits) == 1


async def test_append_many_async_refuses_every_item_when_one_is_bad(path: Path, key: IdentityKey) -> None:
    with Ledger.open(path, key, WALLET) as ledger:
        with pytest.raises(LedgerError, match="not JSON-able"):
            ledger.append_many_async([("a", {"n": 1}), ("b", {"n": float("nan")})])
        await ledger.append_async("c", {"n": 3})
        assert [e.kind for e in ledger.entries(2)] == ["c"]


async def test_a_failed_group_commit_fails_every_caller_and_writes_none_of_it(
    path: Path, key: IdentityKey
) -> None:
    with Ledger.open(path, key, WALLET) as first, Ledger.open(path, key, WALLET) as second:
        first.append("a", {"by": "first"})
        release, held = await _hold_writer(second)
        futures = [second.append_async("a", {"by": "second", "i": i}) for i in range(3)]
        release.set()
        await held
        results = await asyncio.gather(*futures, return_exceptions=True)
    assert all(isinstance(r, LedgerError) and "another writer" in str(r) for r in results)
    report = verify_ledger(path)
    assert report.ok
    assert report.entries == 2


async def test_a_cancelled_caller_does_not_stop_the_rest_of_its_group(path: Path, key: IdentityKey) -> None:
    with Ledger.open(path, key, WALLET) as ledger:
        release, held = await _hold_writer(ledger)
        futures = [ledger.append_async("step", {"i": i}) for i in range(3)]
        futures[1].cancel()
        release.set()
        await held
        first, last = await futures[0], await futures[2]
    assert (first.seq, last.seq) == (2, 4)  # the cancelled one was written all the same (docstring)
    report = verify_ledger(path)
    assert report.ok
    assert report.entries == 4


async def test_appends_queued_before_close_are_written(path: Path, key: IdentityKey) -> None:
    ledger = Ledger.open(path, key, WALLET)
    futures = [ledger.append_async("step", {"i": i}) for i in range(10)]
    ledger.close()
    entries = await asyncio.gather(*futures)
    assert [e.seq for e in entries] == list(range(2, 12))
    with pytest.raises(LedgerError, match="closed"):
        ledger.append_async("step", {"i": 99})
