"""The witness of a ledger's head, kept outside the agent's database: it only moves forward, and a
ledger shorter than it (or different at its seq) fails verification, even with no anchor after it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from identity import IdentityKey
from runtime.ledger.ledger import Ledger
from runtime.ledger.verify import verify_ledger
from runtime.ledger.witness import Witness, advance, check_witness

WALLET = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


def grow(path: Path, key: IdentityKey, n: int) -> None:
    with Ledger.open(path, key, WALLET) as ledger:
        for i in range(n):
            ledger.append("decision", {"i": i})


def truncate(path: Path, keep: int) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM entries WHERE seq > ?", (keep,))


def verified(path: Path, witness: Path) -> tuple[bool, int | None, str | None, str]:
    report = verify_ledger(path)
    check_witness(report, Witness.read(witness), path)
    return report.ok, report.first_bad, report.problem, report.message()


def witnessed(path: Path) -> Witness:
    found = Witness.read(path)
    assert found is not None
    return found


@pytest.fixture
def key() -> IdentityKey:
    return IdentityKey.generate()


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "agent" / "ledger.sqlite", tmp_path / "witness" / "agent.json"


def test_the_witness_follows_the_head_and_a_whole_ledger_verifies(
    key: IdentityKey, files: tuple[Path, Path]
) -> None:
    ledger, witness = files
    assert advance(witness, ledger) is None  # no ledger yet: nothing witnessed
    assert Witness.read(witness) is None
    grow(ledger, key, 9)
    assert advance(witness, ledger) is None
    seen = Witness.read(witness)
    assert seen is not None
    assert seen.seq == 10
    assert (witness.stat().st_mode & 0o777) == 0o600
    grow(ledger, key, 5)
    advance(witness, ledger)
    later = witnessed(witness)
    assert (later.seq, later.hash != seen.hash) == (15, True)
    assert verified(ledger, witness)[0]


def test_a_ledger_cut_after_its_witnessed_head_fails_as_truncated_and_the_witness_stays(
    key: IdentityKey, files: tuple[Path, Path]
) -> None:
    ledger, witness = files
    grow(ledger, key, 19)
    advance(witness, ledger)
    truncate(ledger, 12)

    problem = advance(witness, ledger)

    assert problem is not None
    assert "ends at entry 12, but entry 20 was witnessed" in problem
    assert witnessed(witness).seq == 20  # never moves back
    assert verify_ledger(ledger).ok  # the file alone still looks whole: that is the gap a witness closes
    ok, first_bad, kind, message = verified(ledger, witness)
    assert (ok, first_bad, kind) == (False, 13, "truncated")
    assert "entries 13..20 are missing from the end" in message


def test_a_tail_rewritten_past_the_witness_fails_at_the_witnessed_seq(
    key: IdentityKey, files: tuple[Path, Path]
) -> None:
    ledger, witness = files
    grow(ledger, key, 9)
    advance(witness, ledger)
    truncate(ledger, 6)
    grow(ledger, key, 8)  # re-signed by the agent's own key: the hash chain is valid again

    assert "entry 10 is not the one witnessed" in str(advance(witness, ledger))
    ok, first_bad, kind, _ = verified(ledger, witness)
    assert (ok, first_bad, kind) == (False, 10, "edited")


def test_a_witness_not_signed_by_the_ledgers_key_is_ignored(
    key: IdentityKey, files: tuple[Path, Path]
) -> None:
    ledger, witness = files
    grow(ledger, key, 4)
    advance(witness, ledger)
    forged = json.loads(witness.read_text())
    forged["seq"] = 99
    forged["sig"] = "0x" + IdentityKey.generate().sign(bytes.fromhex(forged["hash"][2:])).hex()
    witness.write_text(json.dumps(forged))
    report = verify_ledger(ledger)
    check_witness(report, Witness.read(witness), ledger)
    assert report.ok
    assert "not signed by the ledger's key" in report.anchors_note


def test_a_malformed_witness_file_is_no_witness(key: IdentityKey, files: tuple[Path, Path]) -> None:
    ledger, witness = files
    grow(ledger, key, 2)
    witness.parent.mkdir(parents=True)
    witness.write_text("{not json")
    assert Witness.read(witness) is None
    assert advance(witness, ledger) is None  # replaced by the head
    assert witnessed(witness).seq == 3
