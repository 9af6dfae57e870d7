"""The ledger writer: durable signed entries, the hashed bytes, one writer under concurrency, bad input."""

from __future__ import annotations

import asyncio
import sqlite3
import stat
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from eth_hash.auto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from identity import IdentityKey
from identity.jcs import canonicalize
from runtime.ledger.format import ZERO_HASH, entry_body
from runtime.ledger.ledger import Ledger, LedgerError, LedgerTampered, ledger_path
from runtime.ledger.verify import verify_ledger

WALLET = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


@pytest.fixture
def key() -> IdentityKey:
    return IdentityKey.generate()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return ledger_path(tmp_path, "buyer")


def test_new_ledger_is_a_private_wal_file_whose_genesis_names_did_and_wallet(
    path: Path, key: IdentityKey
) -> None:
    with Ledger.open(path, key, WALLET.lower()) as ledger:
        genesis = ledger.last()
        mode = ledger._conn.execute("PRAGMA journal_mode").fetchone()[0]
        sync = ledger._conn.execute("PRAGMA synchronous").fetchone()[0]
    assert path == ledger_path(path.parents[2], "buyer")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert (mode, sync) == ("wal", 2)  # 2 = FULL: the WAL is fsynced at every commit
    assert (genesis.seq, genesis.kind, genesis.prev_hash) == (1, "genesis", ZERO_HASH)
    assert genesis.data == {"did": key.did, "format": "sova-ledger/1", "wallet": WALLET}


def test_entry_hash_is_keccak_of_prev_hash_and_the_jcs_of_the_stored_entry(
    path: Path, key: IdentityKey
) -> None:
    with Ledger.open(path, key, WALLET) as ledger:
        genesis = ledger.last()
        first = ledger.append("decision", {"amount": "12.50", "to": "seller", "ok": True, "n": 3})
        second = ledger.append("payment", {"note": "ünïcode ✓", "nested": {"b": [1, 2], "a": None}})
    for entry, prev in ((first, genesis.hash), (second, first.hash)):
        assert entry.prev_hash == prev
        canonical = canonicalize({"data": entry.data, "kind": entry.kind, "seq": entry.seq, "ts": entry.ts})
        assert entry.body() == canonical
        assert entry.hash == keccak(entry.prev_hash + canonical)
        Ed25519PublicKey.from_public_bytes(key.public_key_bytes).verify(entry.sig, entry.hash)
    with sqlite3.connect(path) as conn:
        stored = conn.execute("SELECT data, hash, sig FROM entries WHERE seq = 3").fetchone()
    assert stored == (canonicalize(second.data), second.hash, second.sig)  # exactly the hashed bytes


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(
    data=st.dictionaries(st.text(max_size=10), json_values, max_size=5),
    kind=st.sampled_from(["a", "x.y:z-1"]),
)
@pytest.mark.slow
def test_spliced_body_equals_jcs_of_the_whole_entry(data: dict[str, object], kind: str) -> None:
    ts = "2026-11-02T10:00:00.123456Z"
    assert entry_body(7, ts, kind, canonicalize(data)) == canonicalize(
        {"data": data, "kind": kind, "seq": 7, "ts": ts}
    )


def test_entries_survive_reopening_and_the_chain_continues(path: Path, key: IdentityKey) -> None:
    with Ledger.open(path, key, WALLET) as ledger:
        ledger.append("a", {"i": 1})
    with Ledger.open(path, key, WALLET) as ledger:
        third = ledger.append("b", {"i": 2})
        assert [e.seq for e in ledger.entries()] == [1, 2, 3]
        assert ledger.entries(2, 2)[0].hash == third.prev_hash
        assert ledger.last() == third
    assert verify_ledger(path).ok


def test_an_append_is_committed_when_it_returns(path: Path, key: IdentityKey) -> None:
    with Ledger.open(path, key, WALLET) as ledger:
        entry = ledger.append("decision", {"i": 1})
        with sqlite3.connect(path) as other:  # another connection sees it: it is committed, not buffered
            assert other.execute("SELECT hash FROM entries WHERE seq = 2").fetchone() == (entry.hash,)


def test_opening_with_another_agents_key_or_wallet_is_refused(path: Path, key: IdentityKey) -> None:
    Ledger.open(path, key, WALLET).close()
    with pytest.raises(LedgerError, match="belongs to did:key"):
        Ledger.open(path, IdentityKey.generate(), WALLET)
    with pytest.raises(LedgerError, match="anchored by wallet"):
        Ledger.open(path, key, "0x70997970C51812dc3A010C7d01b50e0d17dc79C8")


def test_nothing_is_appended_to_a_ledger_whose_last_entry_was_tampered(path: Path, key: IdentityKey) -> None:
    with Ledger.open(path, key, WALLET) as ledger:
        ledger.append("decision", {"amount": "1"})
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE entries SET data = ? WHERE seq = 2", (b'{"amount":"1000"}',))
    with pytest.raises(LedgerTampered, match="last entry"):
        Ledger.open(path, key, WALLET)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM entries").fetchone() == (2,)


@pytest.mark.parametrize(
    ("kind", "data", "why"),
    [
        ("Decision", {}, "bad ledger entry kind"),
        ("", {}, "bad ledger entry kind"),
        ("ok", ["not", "a", "dict"], "must be a JSON object"),
        ("ok", {"amount": 2**64}, "not JSON-able"),
        ("ok", {"x": float("nan")}, "not JSON-able"),
        ("ok", {"x": object()}, "not JSON-able"),
        ("ok", {1: "non-string key"}, "not JSON-able"),
        ("ok", {"blob": "x" * (1 << 20)}, "over the"),
    ],
)
def test_bad_entries_are_refused_and_nothing_is_written(
    path: Path, key: IdentityKey, kind: str, data: object, why: str
) -> None:
    with Ledger.open(path, key, WALLET) as ledger:
        with pytest.raises(LedgerError, match=why):
            ledger.append(kind, data)  # type: ignore[arg-type]
        assert ledger.last().seq == 1
        assert ledger.append("ok", {"after": True}).seq == 2


def test_bad_wallet_address_is_refused(path: Path, key: IdentityKey) -> None:
    with pytest.raises(LedgerError, match="not a wallet address"):
        Ledger.open(path, key, "0x1234")
    assert not path.exists()  # refused before anything is written


def test_a_closed_ledger_refuses_appends(path: Path, key: IdentityKey) -> None:
    ledger = Ledger.open(path, key, WALLET)
    ledger.close()
    ledger.close()  # twice is fine
    with pytest.raises(LedgerError, match="closed"):
        ledger.append("a", {})


async def test_many_tasks_appending_at_once_give_a_contiguous_valid_chain(
    path: Path, key: IdentityKey
) -> None:
    ledger = Ledger.open(path, key, WALLET)
    try:
        entries = await asyncio.gather(*(ledger.append_async("task", {"i": i}) for i in range(300)))
    finally:
        ledger.close()
    assert sorted(e.seq for e in entries) == list(range(2, 302))
    assert sorted(e.data["i"] for e in entries) == list(range(300))
    report = verify_ledger(path)
    assert report.ok, report.message()
    assert report.entries == 301


async def test_async_and_threaded_appends_interleave_into_one_chain(path: Path, key: IdentityKey) -> None:
    ledger = Ledger.open(path, key, WALLET)

    def from_thread(n: int) -> None:
        for i in range(50):
            ledger.append("thread", {"t": n, "i": i})

    threads = [threading.Thread(target=from_thread, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    await asyncio.gather(*(ledger.append_async("task", {"i": i}) for i in range(100)))
    for t in threads:
        t.join()
    ledger.close()
    report = verify_ledger(path)
    assert report.ok, report.message()
    assert report.last_seq == 1 + 150 + 100


async def test_append_async_snapshots_the_data_when_called(path: Path, key: IdentityKey) -> None:
    with Ledger.open(path, key, WALLET) as ledger:
        data = {"price": "10"}
        pending = asyncio.ensure_future(ledger.append_async("offer", data))
        data["price"] = "999"  # the caller changes its dict before the write ran
        entry = await pending
    assert entry.data == {"price": "10"}


async def test_append_async_refuses_bad_data_at_once(path: Path, key: IdentityKey) -> None:
    with Ledger.open(path, key, WALLET) as ledger:
        with pytest.raises(LedgerError, match="not JSON-able"):
            await ledger.append_async("ok", {"x": {1, 2}})
        assert ledger.last().seq == 1


def test_a_file_writable_by_others_is_refused(path: Path, key: IdentityKey) -> None:
    Ledger.open(path, key, WALLET).close()
    path.chmod(0o666)
    with pytest.raises(LedgerError, match="chmod 600"):
        Ledger.open(path, key, WALLET)


def test_a_file_that_is_not_sqlite_is_refused(path: Path, key: IdentityKey) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database" * 100)
    path.chmod(0o600)
    with pytest.raises(LedgerError, match="not a usable SQLite database"):
        Ledger.open(path, key, WALLET)


async def test_async_appends_take_their_seqs_in_call_order(path: Path, key: IdentityKey) -> None:
    with Ledger.open(path, key, WALLET) as ledger:
        futures = [ledger.append_async("step", {"i": i}) for i in range(50)]
        entries = await asyncio.gather(*reversed(futures))
    assert {e.data["i"]: e.seq for e in entries} == {i: i + 2 for i in range(50)}


def test_a_closed_ledger_is_one_self_contained_file(path: Path, key: IdentityKey) -> None:
    with Ledger.open(path, key, WALLET) as ledger:
        ledger.append("a", {"i": 1})
        assert verify_ledger(path).ok  # a reader while the writer is open does not get in its way
    assert sorted(p.name for p in path.parent.iterdir()) == ["ledger.sqlite"]  # WAL checkpointed away


def test_a_second_writer_on_the_same_file_is_refused_instead_of_forking_the_chain(
    path: Path, key: IdentityKey
) -> None:
    with Ledger.open(path, key, WALLET) as first, Ledger.open(path, key, WALLET) as second:
        first.append("a", {"by": "first"})
        with pytest.raises(LedgerError, match="another writer"):
            second.append("a", {"by": "second"})
    report = verify_ledger(path)
    assert report.ok
    assert report.entries == 2
