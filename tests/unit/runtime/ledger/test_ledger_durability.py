"""The ledger's barrier rule (runtime/ledger/sync.py): every entry is committed at once (a killed process
keeps it); a barrier is fsynced before its caller hears of it, with everything before it; the rest reach
the disk with the next barrier, within the flush interval, or at close. `synced_seq` says how far."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from identity import IdentityKey
from runtime.ledger.ledger import Ledger, ledger_path
from runtime.ledger.store import AnchorRecord
from runtime.ledger.verify import verify_ledger
from tests.support.paths import REPO_ROOT

WALLET = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
ROOT = REPO_ROOT
NEVER = 3600.0  # a flush interval no test waits for


@pytest.fixture
def key() -> IdentityKey:
    return IdentityKey.generate()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return ledger_path(tmp_path, "buyer")


def _committed(path: Path, seq: int) -> bool:
    with sqlite3.connect(path) as other:
        return other.execute("SELECT 1 FROM entries WHERE seq = ?", (seq,)).fetchone() is not None


async def test_an_awaited_entry_is_a_barrier_by_default_and_is_synced(path: Path, key: IdentityKey) -> None:
    with Ledger.open(path, key, WALLET, flush_interval=NEVER) as ledger:
        entry = await ledger.append_async("decision", {"verdict": "allow"})
        assert ledger.synced_seq >= entry.seq
        more = await ledger.append_many_async([("message_in", {}), ("message_out", {})])
        assert ledger.synced_seq >= more[-1].seq


async def test_a_non_barrier_entry_is_committed_at_once_but_not_yet_synced(
    path: Path, key: IdentityKey
) -> None:
    with Ledger.open(path, key, WALLET, flush_interval=NEVER) as ledger:
        entry = await ledger.append_async("effect", {"status": "done"}, barrier=False)
        assert _committed(path, entry.seq)  # other readers see it: the commit is done
        assert ledger.synced_seq == entry.seq - 1


async def test_a_barrier_syncs_every_entry_before_it(path: Path, key: IdentityKey) -> None:
    with Ledger.open(path, key, WALLET, flush_interval=NEVER) as ledger:
        for i in range(3):
            await ledger.append_async("deal", {"i": i}, barrier=False)
        unsynced = ledger.last().seq
        assert ledger.synced_seq < unsynced
        barrier = await ledger.append_async("decision", {"verdict": "allow"})
        assert ledger.synced_seq == barrier.seq > unsynced


async def test_an_effect_entry_is_flushed_within_a_second(path: Path, key: IdentityKey) -> None:
    with Ledger.open(path, key, WALLET) as ledger:
        entry = await ledger.append_async("effect", {"status": "done"}, barrier=False)
        started = time.monotonic()
        assert ledger.synced_seq < entry.seq
        for _ in range(150):
            if ledger.synced_seq >= entry.seq:
                break
            await asyncio.sleep(0.02)
        waited = time.monotonic() - started
    assert ledger.synced_seq >= entry.seq
    assert 0.5 < waited < 1.5


def test_close_flushes_unsynced_entries(path: Path, key: IdentityKey) -> None:
    ledger = Ledger.open(path, key, WALLET, flush_interval=NEVER)
    entry = ledger.append("effect", {"status": "done"}, barrier=False)
    assert ledger.synced_seq < entry.seq
    started = time.monotonic()
    ledger.close()
    assert time.monotonic() - started < 1  # not waiting for a timer
    assert ledger.synced_seq == entry.seq


async def test_saving_an_anchor_record_syncs_the_entries_before_it(path: Path, key: IdentityKey) -> None:
    with Ledger.open(path, key, WALLET, flush_interval=NEVER) as ledger:
        entry = await ledger.append_async("deal", {"event": "agreed"}, barrier=False)
        record = AnchorRecord(31337, "0x" + "11" * 20, 1, entry.seq, b"\x00" * 32, "pending")
        await ledger.run(ledger.save_anchor, record)
        assert ledger.synced_seq == entry.seq


def test_a_killed_process_keeps_its_unsynced_entries(path: Path) -> None:
    secret = os.urandom(32)
    key = IdentityKey.from_private_bytes(secret)
    with Ledger.open(path, key, WALLET):
        pass  # created by the test, so the child needs only the key's bytes
    script = textwrap.dedent(
        f"""
        import asyncio, os, signal, sys
        from identity import IdentityKey
        from runtime.ledger.ledger import Ledger

        async def main() -> None:
            key = IdentityKey.from_private_bytes(bytes.fromhex(sys.argv[1]))
            ledger = Ledger.open({str(path)!r}, key, {WALLET!r}, flush_interval=3600)
            for i in range(5):
                await ledger.append_async("effect", {{"i": i}}, barrier=False)
            assert ledger.synced_seq == 1, ledger.synced_seq
            print("written", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

        asyncio.run(main())
        """
    )
    child = subprocess.run(
        [sys.executable, "-c", script, secret.hex()],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert "written" in child.stdout
    with Ledger.open(path, key, WALLET) as ledger:
        assert [e.data["i"] for e in ledger.entries(2)] == [0, 1, 2, 3, 4]
        assert ledger.synced_seq == 6  # opening syncs what the killed process left in the WAL
    assert verify_ledger(path).ok
