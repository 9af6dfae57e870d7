"""A chain that goes back (anvil reverted to a snapshot, or restarted from an older state file after a
SIGKILL) loses transactions the outbox recorded as mined; `resend_lost` re-sends their stored bytes, so
the chain gets back the very same transactions (same hashes, same nonces), and new ones follow them."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from eth_account import Account

from identity import IdentityKey
from runtime.chain.anvil import AnvilNode
from runtime.chain.rollback import resend_lost
from runtime.ledger.anchor import anchor_new_entries
from runtime.ledger.ledger import Ledger, ledger_path
from runtime.ledger.onchain import verify_on_chain
from tests.support.contracts import deploy_all
from wallet.chain import ChainClient
from wallet.contracts import ActionLogAnchor, bind
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


async def test_verify_names_the_first_logged_anchor_the_chain_lost_until_it_is_resent(
    anvil: AnvilNode, tmp_path: Path
) -> None:
    anchor_address = str(deploy_all(anvil.url).anchor.address)
    client, signer = await funded_client(anvil.url, tmp_path / "outbox.db")
    anchor = bind(client, "ActionLogAnchor", anchor_address)
    assert isinstance(anchor, ActionLogAnchor)
    try:
        with Ledger.open(ledger_path(tmp_path, "agent"), IdentityKey.generate(), signer.address) as ledger:
            ledger.append("decision", {"i": 1})
            kept = await anchor_new_entries(ledger, client, anchor, signer)
            snapshot = await client.rpc.request("evm_snapshot", [])
            ledger.append("decision", {"i": 2})
            lost = await anchor_new_entries(ledger, client, anchor, signer)
            ledger.append("decision", {"i": 3})
            path = ledger.path
        assert kept is not None
        assert lost is not None
        await client.rpc.request("evm_revert", [snapshot])

        report = await verify_on_chain(path, client, anchor_address, expected_wallet=signer.address)

        assert not report.ok
        assert (report.problem, report.first_bad) == ("anchor_missing", lost.entry.seq)
        assert f"entries {lost.from_seq}..{lost.to_seq} logged at entry {lost.entry.seq}" in report.message()
        assert "no longer on-chain" in report.message()
        assert "newer entries not anchored yet" not in report.message()

        assert await resend_lost(client, signer.address) is not None
        again = await verify_on_chain(path, client, anchor_address, expected_wallet=signer.address)
        assert again.ok, again.message()
        assert again.anchored_to == lost.to_seq
    finally:
        await client.close()


async def test_the_watch_skips_a_round_quietly_while_the_node_is_down(tmp_path: Path) -> None:
    node = AnvilNode().start()
    client = await ChainClient.connect(node.url, outbox=Outbox(tmp_path / "outbox.db"), retries=1)
    try:
        node.kill()
        assert await resend_lost(client, Account.create().address) is None  # no exception for the scheduler
    finally:
        await client.close()
        node.stop()
