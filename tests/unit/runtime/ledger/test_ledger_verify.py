"""verify_ledger on real files tampered with through SQLite, the way an attacker with the file would."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from eth_hash.auto import keccak

from identity import IdentityKey
from runtime.ledger.format import entry_body
from runtime.ledger.ledger import Ledger, LedgerError
from runtime.ledger.report import OnchainAnchor
from runtime.ledger.verify import merkle_root_fast, verify_ledger
from wallet.merkle import merkle_root

WALLET = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
OTHER_WALLET = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
ENTRIES = 40  # genesis + 39


def make_ledger(path: Path, key: IdentityKey, wallet: str = WALLET, n: int = ENTRIES) -> list[bytes]:
    """A ledger of `n` entries; the stored hashes, in order."""
    with Ledger.open(path, key, wallet) as ledger:
        for i in range(n - 1):
            ledger.append("decision", {"i": i, "amount": str(10 + i), "to": "seller"})
        return [e.hash for e in ledger.entries()]


def sql(path: Path, statement: str, *args: object) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(statement, args)


def row(path: Path, seq: int) -> tuple[str, str, bytes, bytes]:
    with sqlite3.connect(path) as conn:
        r = conn.execute("SELECT ts, kind, data, prev_hash FROM entries WHERE seq = ?", (seq,)).fetchone()
    return str(r[0]), str(r[1]), bytes(r[2]), bytes(r[3])


def rehash(path: Path, seq: int, key: IdentityKey | None) -> bytes:
    """Recompute entry `seq`'s hash over its (edited) content; re-sign with `key` when given."""
    ts, kind, data, prev = row(path, seq)
    digest = keccak(prev + entry_body(seq, ts, kind, data))
    sql(path, "UPDATE entries SET hash = ? WHERE seq = ?", digest, seq)
    if key is not None:
        sql(path, "UPDATE entries SET sig = ? WHERE seq = ?", key.sign(digest), seq)
    return digest


@pytest.fixture
def key() -> IdentityKey:
    return IdentityKey.generate()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.sqlite"


MODES = pytest.mark.parametrize("mode", ["all", "checkpoints"])


@MODES
def test_an_untouched_ledger_verifies(path: Path, key: IdentityKey, mode: str) -> None:
    make_ledger(path, key)
    report = verify_ledger(path, signatures=mode)  # type: ignore[arg-type]
    assert report.ok, report.message()
    assert (report.entries, report.last_seq, report.did, report.wallet) == (ENTRIES, ENTRIES, key.did, WALLET)
    assert "anchors not checked" in report.message()


@MODES
def test_an_edited_entry_is_named(path: Path, key: IdentityKey, mode: str) -> None:
    make_ledger(path, key)
    sql(path, "UPDATE entries SET data = ? WHERE seq = 17", b'{"amount":"9999","i":15,"to":"attacker"}')
    report = verify_ledger(path, signatures=mode)  # type: ignore[arg-type]
    assert (report.ok, report.first_bad, report.problem) == (False, 17, "edited")
    assert "entry 17 was edited (its hash does not match its content)" in report.message()


@MODES
def test_an_edited_entry_with_its_hash_recomputed_fails_its_signature(
    path: Path, key: IdentityKey, mode: str
) -> None:
    make_ledger(path, key)
    sql(path, "UPDATE entries SET data = ? WHERE seq = 17", b'{"amount":"9999"}')
    rehash(path, 17, None)
    report = verify_ledger(path, signatures=mode)  # type: ignore[arg-type]
    assert (report.first_bad, report.problem) == (17, "bad_signature")


@MODES
def test_an_entry_re_signed_with_another_key_is_named(path: Path, key: IdentityKey, mode: str) -> None:
    make_ledger(path, key)
    sql(path, "UPDATE entries SET data = ? WHERE seq = 17", b'{"amount":"9999"}')
    rehash(path, 17, IdentityKey.generate())
    report = verify_ledger(path, signatures=mode)  # type: ignore[arg-type]
    assert (report.first_bad, report.problem) == (17, "bad_signature")
    assert f"not made by {key.did}" in report.message()


@MODES
def test_a_whole_chain_rewritten_and_re_signed_with_another_key_fails_at_the_first_edit(
    path: Path, key: IdentityKey, mode: str
) -> None:
    make_ledger(path, key)
    forger = IdentityKey.generate()
    sql(path, "UPDATE entries SET data = ? WHERE seq = 17", b'{"amount":"9999"}')
    prev = rehash(path, 17, forger)
    for seq in range(18, ENTRIES + 1):  # a consistent chain from 17 on, all signed by the forger
        sql(path, "UPDATE entries SET prev_hash = ? WHERE seq = ?", prev, seq)
        prev = rehash(path, seq, forger)
    report = verify_ledger(path, signatures=mode)  # type: ignore[arg-type]
    assert (report.first_bad, report.problem) == (17, "bad_signature")


@MODES
def test_a_deleted_entry_is_named(path: Path, key: IdentityKey, mode: str) -> None:
    make_ledger(path, key)
    sql(path, "DELETE FROM entries WHERE seq = 17")
    report = verify_ledger(path, signatures=mode)  # type: ignore[arg-type]
    assert (report.first_bad, report.problem) == (17, "deleted")
    assert "entry 17 was deleted" in report.message()


def test_a_deleted_entry_with_the_rest_renumbered_is_named(path: Path, key: IdentityKey) -> None:
    make_ledger(path, key)
    sql(path, "DELETE FROM entries WHERE seq = 17")
    for seq in range(18, ENTRIES + 1):
        sql(path, "UPDATE entries SET seq = ? WHERE seq = ?", seq - 1, seq)
    report = verify_ledger(path)
    assert (report.first_bad, report.problem) == (17, "deleted")
    assert "renumbered" in report.message()


@MODES
def test_reordered_entries_are_named(path: Path, key: IdentityKey, mode: str) -> None:
    make_ledger(path, key)
    sql(path, "UPDATE entries SET seq = -1 WHERE seq = 17")
    sql(path, "UPDATE entries SET seq = 17 WHERE seq = 18")
    sql(path, "UPDATE entries SET seq = 18 WHERE seq = -1")
    report = verify_ledger(path, signatures=mode)  # type: ignore[arg-type]
    assert (report.first_bad, report.problem) == (17, "reordered")
    assert "written as 18" in report.message()


def test_a_replaced_signature_alone_is_caught_by_the_full_check(path: Path, key: IdentityKey) -> None:
    make_ledger(path, key)
    sql(path, "UPDATE entries SET sig = ? WHERE seq = 9", os.urandom(64))
    report = verify_ledger(path, signatures="all")
    assert (report.first_bad, report.problem) == (9, "bad_signature")


def test_the_quick_check_trusts_signatures_between_checkpoints(path: Path, key: IdentityKey) -> None:
    # Documented trade-off: the content is still proven (entry 40's signature covers it through the
    # chain); only a signature swapped on an otherwise untouched entry goes unseen.
    make_ledger(path, key)
    sql(path, "UPDATE entries SET sig = ? WHERE seq = 9", os.urandom(64))
    report = verify_ledger(path, signatures="checkpoints")
    assert report.ok
    assert report.signatures_checked == 2  # genesis and last


def test_the_quick_check_catches_a_bad_last_signature(path: Path, key: IdentityKey) -> None:
    make_ledger(path, key)
    sql(path, "UPDATE entries SET sig = ? WHERE seq = ?", os.urandom(64), ENTRIES)
    report = verify_ledger(path, signatures="checkpoints")
    assert (report.first_bad, report.problem) == (ENTRIES, "bad_signature")


@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        ("UPDATE entries SET data = 'text, not bytes' WHERE seq = 5", "edited"),
        ("UPDATE entries SET prev_hash = 'x' WHERE seq = 5", "edited"),
        ("UPDATE entries SET sig = 12 WHERE seq = 5", "bad_signature"),
        ("UPDATE entries SET kind = 'payment' WHERE seq = 5", "edited"),
        ("UPDATE entries SET ts = '2020-01-01T00:00:00.000000Z' WHERE seq = 5", "edited"),
    ],
)
def test_columns_rewritten_with_other_values_or_types_are_named(
    path: Path, key: IdentityKey, statement: str, problem: str
) -> None:
    make_ledger(path, key)
    sql(path, statement)
    report = verify_ledger(path)
    assert (report.first_bad, report.problem) == (5, problem)


def test_a_forged_genesis_is_a_wrong_signer_when_the_agents_did_is_known(
    path: Path, key: IdentityKey
) -> None:
    make_ledger(path, IdentityKey.generate())  # a self-consistent file under another key
    report = verify_ledger(path, expected_did=key.did)
    assert (report.first_bad, report.problem) == (1, "wrong_signer")
    assert verify_ledger(path, expected_wallet=OTHER_WALLET).problem == "wrong_signer"
    assert verify_ledger(path, expected_wallet=WALLET.lower()).ok


def test_a_self_consistent_forgery_fails_the_agents_anchors(path: Path, key: IdentityKey) -> None:
    hashes = make_ledger(path, key)
    anchors = [OnchainAnchor(merkle_root(hashes[:20]), 1, 20, b"\x01" * 32, 5)]
    assert verify_ledger(path, anchors=anchors).anchored_to == 20
    path.unlink()
    make_ledger(path, IdentityKey.generate())  # whole file replaced, same wallet claimed
    report = verify_ledger(path, anchors=anchors)
    assert (report.first_bad, report.problem) == (1, "anchor_mismatch")
    assert "do not match the root the wallet anchored" in report.message()


def test_truncation_is_caught_by_the_anchors(path: Path, key: IdentityKey) -> None:
    hashes = make_ledger(path, key)
    anchors = [
        OnchainAnchor(merkle_root(hashes[:20]), 1, 20, b"\x01" * 32, 5),
        OnchainAnchor(merkle_root(hashes[20:35]), 21, 35, b"\x02" * 32, 9),
    ]
    sql(path, "DELETE FROM entries WHERE seq > 30")
    offline = verify_ledger(path)
    assert offline.ok  # without the chain, a cut tail cannot be seen
    report = verify_ledger(path, anchors=anchors)
    assert (report.first_bad, report.problem) == (31, "truncated")
    assert "entries 31..35 are missing from the end" in report.message()


def test_anchors_matching_report_how_far_the_ledger_is_anchored(path: Path, key: IdentityKey) -> None:
    hashes = make_ledger(path, key)
    anchors = [OnchainAnchor(merkle_root(hashes[:25]), 1, 25, b"\x01" * 32, 5)] * 2  # a duplicate is fine
    report = verify_ledger(path, anchors=anchors)
    assert report.ok
    assert (report.anchors_checked, report.anchored_to) == (2, 25)
    assert "15 newer entries not anchored yet" in report.message()


def test_an_internal_problem_names_the_anchor_that_proves_the_original(path: Path, key: IdentityKey) -> None:
    hashes = make_ledger(path, key)
    anchors = [OnchainAnchor(merkle_root(hashes), 1, ENTRIES, b"\x01" * 32, 5)]
    sql(path, "UPDATE entries SET data = ? WHERE seq = 17", b"{}")
    message = verify_ledger(path, anchors=anchors).message()
    assert message == (
        f"ledger {path}: entry 17 was edited (its hash does not match its content): restore the file from a "
        f"backup; the on-chain anchor of 1..{ENTRIES} proves the original"
    )


@pytest.mark.parametrize(
    ("damage", "problem", "seq"),
    [
        (lambda p: sql(p, "DELETE FROM entries"), "deleted", 1),
        (lambda p: sql(p, "DELETE FROM entries WHERE seq = 1"), "deleted", 1),
        (
            lambda p: sql(p, "UPDATE entries SET data = ? WHERE seq = 1", b'{"did":"did:key:zBad"}'),
            "edited",
            1,
        ),
        (lambda p: sql(p, "UPDATE entries SET kind = 'decision' WHERE seq = 1"), "edited", 1),
    ],
)
def test_a_missing_or_broken_genesis_is_named(
    path: Path, key: IdentityKey, damage: Callable[[Path], None], problem: str, seq: int
) -> None:
    make_ledger(path, key)
    damage(path)
    report = verify_ledger(path)
    assert (report.ok, report.first_bad, report.problem) == (False, seq, problem)


def test_a_file_that_is_not_a_ledger_is_bad_input(tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(LedgerError, match="not a Sova ledger"):
        verify_ledger(other)
    with pytest.raises(LedgerError, match="no ledger file"):
        verify_ledger(tmp_path / "missing.sqlite")


def test_verification_opens_the_file_read_only(path: Path, key: IdentityKey) -> None:
    make_ledger(path, key)
    before = path.read_bytes()
    assert verify_ledger(path).ok
    assert path.read_bytes() == before


@pytest.mark.slow
def test_many_entries_verify_through_the_signature_thread_pool(path: Path, key: IdentityKey) -> None:
    make_ledger(path, key, n=5000)  # more than one CHUNK per thread
    sql(path, "UPDATE entries SET sig = ? WHERE seq = 4321", os.urandom(64))
    report = verify_ledger(path, threads=2)
    assert (report.first_bad, report.problem, report.signatures_checked) == (4321, "bad_signature", 5000)


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 8, 9, 16, 31, 33, 100])
def test_the_verifiers_merkle_root_is_the_wallets(size: int) -> None:
    leaves = [keccak(os.urandom(8)) for _ in range(size)]
    assert merkle_root_fast(leaves) == merkle_root(leaves)
