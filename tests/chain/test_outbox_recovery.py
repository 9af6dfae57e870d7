"""Crash safety: a process killed between signing and broadcasting (or between broadcasting and the
receipt) is recovered from the outbox by re-sending the stored bytes, never a second transaction.
Also: nonce gaps after a restart, and stored transactions whose nonce someone else used."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from eth_account import Account

from runtime.chain.anvil import AnvilNode
from tests.support.paths import REPO_ROOT
from wallet.chain import ChainClient
from wallet.errors import NonceError
from wallet.outbox import Outbox
from wallet.signer import Signer

pytestmark = pytest.mark.chain
PROJECT = REPO_ROOT
ETH = 10**18

CHILD = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from pathlib import Path
    from wallet.chain import ChainClient
    from wallet.outbox import Outbox
    from wallet.signer import Signer

    def die(signed):
        os.kill(os.getpid(), signal.SIGKILL)  # as a crash: no cleanup, no flush, nothing after this

    async def main(url, outbox, to, when):
        hooks = {"on_recorded": die} if when == "recorded" else {"on_broadcast": die}
        client = await ChainClient.connect(url, outbox=Outbox(Path(outbox)), **hooks)
        signer = Signer.from_private_key(os.environ["TEST_SENDER_KEY"])
        await client.transact(signer, {"to": to, "value": 1000, "gas": 21000}, purpose="crash test")
        sys.exit(3)  # not reached when the hook fired

    asyncio.run(main(*sys.argv[1:]))
    """
)


def crash_while_sending(url: str, outbox: Path, key: str, to: str, when: str) -> None:
    """Run a real process that sends a transfer and is SIGKILLed right after the outbox commit
    (`when="recorded"`) or right after the node accepted it (`when="broadcast"`)."""
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, url, str(outbox), to, when],
        cwd=PROJECT,
        env={**os.environ, "TEST_SENDER_KEY": key},
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()


async def fund(url: str, address: str) -> None:
    client = await ChainClient.connect(url)
    try:
        await client.rpc.request("anvil_setBalance", [address, hex(10 * ETH)])
    finally:
        await client.close()


def new_key() -> tuple[str, str]:
    acct = Account.create()
    return "0x" + bytes(acct.key).hex(), acct.address


async def test_crash_before_broadcast_sends_the_stored_transaction_once(
    anvil: AnvilNode, tmp_path: Path
) -> None:
    key, sender = new_key()
    to = Account.create().address
    await fund(anvil.url, sender)
    outbox_path = tmp_path / "outbox.db"

    crash_while_sending(anvil.url, outbox_path, key, to, "recorded")

    [stored] = Outbox(outbox_path).entries()
    assert stored.status == "signed"
    probe = await ChainClient.connect(anvil.url)  # no outbox: recovers nothing
    assert await probe.nonce(sender, "pending") == 0  # the node never saw it
    await probe.close()
    client = await ChainClient.connect(anvil.url, outbox=Outbox(outbox_path))
    try:
        report = client.last_recovery
        assert report is not None
        assert report.resent == [stored.tx_hash]
        receipt = await client.wait(stored.tx_hash, timeout=10)
        assert receipt.tx_hash == stored.tx_hash  # the very transaction that was signed
        assert await client.balance(to) == 1000  # moved once
        assert await client.nonce(sender, "latest") == 1  # one transaction only
        # A second recovery (another restart) finds it mined and sends nothing.
        again = await client.recover(sender)
        assert again.resent == []
        entry = client.outbox.get(stored.tx_hash) if client.outbox else None
        assert entry is not None
        assert entry.status == "mined"
    finally:
        await client.close()


async def test_crash_after_broadcast_does_not_send_twice(anvil: AnvilNode, tmp_path: Path) -> None:
    key, sender = new_key()
    to = Account.create().address
    await fund(anvil.url, sender)
    outbox_path = tmp_path / "outbox.db"

    crash_while_sending(anvil.url, outbox_path, key, to, "broadcast")

    [stored] = Outbox(outbox_path).entries()
    assert stored.status == "sent"
    client = await ChainClient.connect(anvil.url, outbox=Outbox(outbox_path))
    try:
        report = client.last_recovery
        assert report is not None
        assert report.mined == [stored.tx_hash]
        assert report.resent == []
        assert await client.balance(to) == 1000
        assert await client.nonce(sender, "latest") == 1
        # The next transfer takes the next nonce: nothing is reused or skipped.
        signer = Signer.from_private_key(key)
        receipt = await client.transact(signer, {"to": to, "value": 1, "gas": 21000})
        assert receipt.succeeded
        assert await client.nonce(sender, "latest") == 2
    finally:
        await client.close()


async def test_crash_after_broadcast_before_mining_resends_same_bytes(
    anvil: AnvilNode, tmp_path: Path
) -> None:
    key, sender = new_key()
    to = Account.create().address
    await fund(anvil.url, sender)
    outbox_path = tmp_path / "outbox.db"
    probe = await ChainClient.connect(anvil.url)
    await probe.rpc.request("evm_setAutomine", [False])
    await probe.close()

    crash_while_sending(anvil.url, outbox_path, key, to, "broadcast")

    [stored] = Outbox(outbox_path).entries()
    client = await ChainClient.connect(anvil.url, outbox=Outbox(outbox_path))
    try:
        report = client.last_recovery
        assert report is not None
        assert report.resent == [stored.tx_hash]  # the node already had it ("already imported")
        await client.rpc.request("anvil_mine", [1])
        receipt = await client.wait(stored.tx_hash, timeout=10)
        assert receipt.tx_hash == stored.tx_hash
        assert await client.balance(to) == 1000
        assert await client.nonce(sender, "latest") == 1
    finally:
        await client.close()


def sign_transfer(
    signer: Signer, nonce: int, to: str, value: int
) -> tuple[dict[str, int | str], bytes, bytes]:
    tx: dict[str, int | str] = {
        "chainId": 31337,
        "nonce": nonce,
        "to": to,
        "value": value,
        "gas": 21000,
        "maxFeePerGas": 10 * 10**9,
        "maxPriorityFeePerGas": 10**9,
    }
    signed = signer.sign_transaction(tx)
    return tx, signed.raw, signed.hash


async def test_gap_with_stored_bytes_is_filled_by_resending_them(anvil: AnvilNode, tmp_path: Path) -> None:
    key, sender = new_key()
    signer = Signer.from_private_key(key)
    to = Account.create().address
    await fund(anvil.url, sender)
    box = Outbox(tmp_path / "outbox.db")
    # A run stored nonce 0 and 1, but only 1 reached the node before the crash: 1 is stuck behind 0.
    entries = []
    for nonce in (0, 1):
        tx, raw, tx_hash = sign_transfer(signer, nonce, to, 10 + nonce)
        entries.append(
            box.record(chain_id=31337, sender=sender, nonce=nonce, raw=raw, tx_hash=tx_hash, tx=tx)
        )
    probe = await ChainClient.connect(anvil.url)
    await probe.rpc.request("eth_sendRawTransaction", ["0x" + entries[1].raw.hex()])
    assert await probe.nonce(sender, "latest") == 0  # queued, not mined
    await probe.close()

    client = await ChainClient.connect(anvil.url, outbox=box)
    try:
        report = client.last_recovery
        assert report is not None
        assert report.resent[0] == entries[0].tx_hash
        # Nonce 1 is re-sent too, unless the node mined it (right after 0) before recovery got to it.
        assert set(report.resent) | set(report.mined) == {e.tx_hash for e in entries}
        assert report.gaps == {}
        for entry in entries:
            assert (await client.wait(entry.tx_hash, timeout=10)).succeeded
        assert await client.balance(to) == 21
        assert await client.nonce(sender, "latest") == 2
    finally:
        await client.close()


async def test_gap_without_stored_bytes_is_filled_by_the_next_transaction(
    anvil: AnvilNode, tmp_path: Path
) -> None:
    key, sender = new_key()
    signer = Signer.from_private_key(key)
    to = Account.create().address
    await fund(anvil.url, sender)
    box = Outbox(tmp_path / "outbox.db")
    # Nonce 0 was allocated but never stored (the process died between two concurrent signings);
    # nonce 1 was stored and broadcast, and now waits in the node's queue for 0.
    tx, raw, tx_hash = sign_transfer(signer, 1, to, 5)
    box.record(chain_id=31337, sender=sender, nonce=1, raw=raw, tx_hash=tx_hash, tx=tx)

    client = await ChainClient.connect(anvil.url, outbox=box)
    try:
        report = client.last_recovery
        assert report is not None
        assert report.gaps == {sender: [0]}
        assert report.resent == [tx_hash]
        assert await client.nonce(sender, "latest") == 0  # still stuck
        receipt = await client.transact(signer, {"to": to, "value": 1, "gas": 21000})
        entry = box.get(receipt.tx_hash)
        assert entry is not None
        assert entry.nonce == 0  # the next transaction took the missing nonce
        assert (await client.wait(tx_hash, timeout=10)).succeeded  # and freed the stuck one
        assert await client.balance(to) == 6
        assert await client.nonce(sender, "latest") == 2
    finally:
        await client.close()


async def test_implausible_gap_is_a_clear_nonce_error(anvil: AnvilNode, tmp_path: Path) -> None:
    key, sender = new_key()
    signer = Signer.from_private_key(key)
    await fund(anvil.url, sender)
    box = Outbox(tmp_path / "outbox.db")
    tx, raw, tx_hash = sign_transfer(signer, 5000, sender, 0)
    box.record(chain_id=31337, sender=sender, nonce=5000, raw=raw, tx_hash=tx_hash, tx=tx)
    with pytest.raises(NonceError) as err:
        await ChainClient.connect(anvil.url, outbox=box)
    message = str(err.value)
    assert str(box.path) in message
    assert sender in message
    assert "up to nonce 5000" in message
    assert "expects nonce 0" in message
    assert "move the outbox file away" in message


async def test_stored_transaction_whose_nonce_was_taken_is_marked_failed(
    anvil: AnvilNode, tmp_path: Path
) -> None:
    key, sender = new_key()
    signer = Signer.from_private_key(key)
    to = Account.create().address
    await fund(anvil.url, sender)
    box = Outbox(tmp_path / "outbox.db")
    tx, raw, tx_hash = sign_transfer(signer, 0, to, 5)
    box.record(chain_id=31337, sender=sender, nonce=0, raw=raw, tx_hash=tx_hash, tx=tx)
    # Another program used nonce 0 for something else meanwhile.
    _, other_raw, other_hash = sign_transfer(signer, 0, sender, 0)
    probe = await ChainClient.connect(anvil.url)
    await probe.rpc.request("eth_sendRawTransaction", ["0x" + other_raw.hex()])
    await probe.wait(other_hash, timeout=10)
    await probe.close()

    client = await ChainClient.connect(anvil.url, outbox=box)
    try:
        report = client.last_recovery
        assert report is not None
        assert [h for h, _ in report.failed] == [tx_hash]
        assert "used on chain by a transaction not in the outbox" in report.failed[0][1]
        entry = box.get(tx_hash)
        assert entry is not None
        assert entry.status == "failed"
        assert await client.balance(to) == 0
    finally:
        await client.close()
