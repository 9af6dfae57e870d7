"""A chain that goes back (anvil reverted to a snapshot, or restarted from an older state file after a
SIGKILL) loses transactions the outbox recorded as mined; `resend_lost` re-sends their stored bytes, so
the chain gets back the very same transactions (same hashes, same nonces), and new ones follow them."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from eth_account import Account

from runtime.chain.anvil import AnvilNode
from runtime.chain.rollback import resend_lost
from wallet.chain import ChainClient
from wallet.outbox import Outbox
from wallet.signer import Signer

pytestmark = pytest.mark.chain
ETH = 10**18


async def funded_client(url: str, outbox: Path) -> tuple[ChainClient, Signer]:
    acct = Account.create()
    signer = Signer.from_private_key("0x" + bytes(acct.key).hex())
    client = await ChainClient.connect(url, outbox=Outbox(outbox))
    await client.rpc.request("anvil_setBalance", [signer.address, hex(10 * ETH)])
    return client, signer


async def transfers(client: ChainClient, signer: Signer, to: str, count: int) -> list[bytes]:
    hashes = []
    for i in range(count):
        receipt = await client.transact(signer, {"to": to, "value": 1000 + i, "gas": 21000}, purpose="t")
        hashes.append(receipt.tx_hash)
    return hashes


async def test_transactions_lost_to_a_revert_are_resent_with_their_stored_bytes(
    anvil: AnvilNode, tmp_path: Path
) -> None:
    client, signer = await funded_client(anvil.url, tmp_path / "outbox.db")
    to = Account.create().address
    try:
        [kept] = await transfers(client, signer, to, 1)
        snapshot = await client.rpc.request("evm_snapshot", [])
        lost = await transfers(client, signer, to, 3)
        assert await client.rpc.request("evm_revert", [snapshot]) is True
        assert await client.receipt(lost[0]) is None  # the chain went back: mined, then gone
        assert await client.nonce(signer.address, "latest") == 1

        report = await resend_lost(client, signer.address)

        assert report is not None
        assert report.resent == lost  # in nonce order, the very transactions that were signed
        for tx_hash in [kept, *lost]:
            receipt = await client.receipt(tx_hash)
            assert receipt is not None
            assert receipt.succeeded
        assert await client.balance(to) == 1000 + 1000 + 1001 + 1002  # each moved once
        assert client.outbox is not None
        assert [e.status for e in client.outbox.entries(signer.address)] == ["mined"] * 4
        # The next transaction takes the next nonce, behind the re-sent ones.
        [after] = await transfers(client, signer, to, 1)
        assert await client.nonce(signer.address, "latest") == 5
        assert (await client.receipt(after)) is not None
    finally:
        await client.close()


async def test_a_chain_that_kept_everything_is_left_alone(anvil: AnvilNode, tmp_path: Path) -> None:
    client, signer = await funded_client(anvil.url, tmp_path / "outbox.db")
    try:
        await transfers(client, signer, Account.create().address, 2)
        assert await resend_lost(client, signer.address) is None
        assert client.outbox is not None
        assert all(e.error is None for e in client.outbox.entries(signer.address))
    finally:
        await client.close()


async def test_a_process_restarted_after_a_rollback_resends_before_its_first_new_transaction(
    anvil: AnvilNode, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox.db"
    client, signer = await funded_client(anvil.url, outbox)
    to = Account.create().address
    snapshot = await client.rpc.request("evm_snapshot", [])
    lost = await transfers(client, signer, to, 2)
    await client.rpc.request("evm_revert", [snapshot])
    await client.close()

    again = await ChainClient.connect(anvil.url, outbox=Outbox(outbox))  # a restarted agent
    try:
        [new] = await transfers(again, signer, to, 1)  # its first send recovers the sender first
        assert await again.nonce(signer.address, "latest") == 3  # 2 re-sent + 1 new, no gap, no clash
        for tx_hash in [*lost, new]:
            assert await again.receipt(tx_hash) is not None
        assert await again.balance(to) == 1000 + 1001 + 1000
    finally:
        await again.close()


async def test_anvil_killed_loses_at_most_seconds_and_the_outbox_restores_the_rest(tmp_path: Path) -> None:
    state = tmp_path / "chain" / "state.json"
    node = AnvilNode(state_file=state).start()
    client: ChainClient | None = None
    try:
        client, signer = await funded_client(node.url, tmp_path / "outbox.db")
        to = Account.create().address
        saved = await transfers(client, signer, to, 2)
        await asyncio.sleep(2.5)  # past anvil's --state-interval: the periodic dump has these blocks
        shutil.copy(state, tmp_path / "older.json")
        lost = await transfers(client, signer, to, 2)
        node.kill()  # SIGKILL: no dump on exit
        shutil.copy(tmp_path / "older.json", state)  # as if the kill came before the next dump
        node = AnvilNode(port=node.port, state_file=state).start()
        assert await client.receipt(saved[1]) is not None  # the periodic dump kept the older blocks
        assert await client.receipt(lost[0]) is None

        report = await resend_lost(client, signer.address)

        assert report is not None
        assert report.resent == lost
        assert await client.balance(to) == 1000 + 1001 + 1000 + 1001
    finally:
        if client is not None:
            await client.close()
        node.stop()
