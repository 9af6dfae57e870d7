"""Ledger anchoring on a real anvil: roots on-chain from the agent's wallet, the round logged, proofs that
ActionLogAnchor verifies, forgeries and truncation caught by the anchors, the scheduled job, the CLI."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from eth_account import Account

from identity import IdentityKey, IdentityKeyStore
from runtime.chain.anvil import AnvilNode
from runtime.chain.ops import NodeRecord
from runtime.ledger.anchor import ANCHOR_JOB_ID, anchor_new_entries, schedule_anchoring
from runtime.ledger.ledger import AnchorRecord, Ledger, LedgerError, ledger_path
from runtime.ledger.onchain import fetch_anchors, verify_on_chain
from runtime.ledger.proof import check_on_chain, prove
from runtime.ledger.verify import verify_ledger
from tests.support.cli import one_error_line, sova
from tests.support.contracts import deploy_all, dev_account
from tests.support.paths import REPO_ROOT
from wallet import ChainClient, Deployments, Keystore, Outbox, Signer
from wallet.contracts import ActionLogAnchor, bind
from wallet.merkle import merkle_root

pytestmark = pytest.mark.chain
ETH = 10**18
PASS = "correct horse battery staple"


@pytest.fixture(scope="module")
def anchor_address(module_anvil: AnvilNode) -> str:
    return str(deploy_all(module_anvil.url).anchor.address)


@pytest.fixture
async def client(module_anvil: AnvilNode, tmp_path: Path) -> AsyncIterator[ChainClient]:
    c = await ChainClient.connect(module_anvil.url, outbox=Outbox(tmp_path / "outbox.sqlite"))
    try:
        yield c
    finally:
        await c.close()


@pytest.fixture
def anchor(client: ChainClient, anchor_address: str) -> ActionLogAnchor:
    binding = bind(client, "ActionLogAnchor", anchor_address)
    assert isinstance(binding, ActionLogAnchor)
    return binding


@pytest.fixture
def private_key() -> str:
    return "0x" + bytes(Account.create().key).hex()


@pytest.fixture
async def signer(client: ChainClient, private_key: str) -> Signer:
    s = Signer.from_private_key(private_key)
    await client.rpc.request("anvil_setBalance", [s.address, hex(10 * ETH)])
    return s


@pytest.fixture
def key() -> IdentityKey:
    return IdentityKey.generate()


@pytest.fixture
def ledger(tmp_path: Path, key: IdentityKey, signer: Signer) -> Iterator[Ledger]:
    with Ledger.open(ledger_path(tmp_path, "buyer"), key, signer.address) as opened:
        yield opened


def fill(ledger: Ledger, n: int) -> None:
    for i in range(n):
        ledger.append("decision", {"i": i, "amount": str(i)})


async def test_anchoring_puts_the_root_on_chain_from_the_wallet_and_logs_itself(
    ledger: Ledger, client: ChainClient, anchor: ActionLogAnchor, signer: Signer
) -> None:
    fill(ledger, 10)
    result = await anchor_new_entries(ledger, client, anchor, signer)
    assert result is not None
    assert (result.from_seq, result.to_seq) == (1, 11)
    assert result.root == merkle_root(ledger.hashes(1, 11))
    logged = ledger.last()
    assert (logged.seq, logged.kind, result.entry) == (12, "anchor", logged)
    assert logged.data["root"] == "0x" + result.root.hex()
    assert logged.data["tx"] == "0x" + result.tx_hash.hex()
    assert (logged.data["from_seq"], logged.data["to_seq"], logged.data["block"]) == (1, 11, result.block)
    (onchain,) = await fetch_anchors(client, anchor.address, signer.address)
    assert (onchain.root, onchain.from_seq, onchain.to_seq, onchain.tx_hash) == (
        result.root,
        1,
        11,
        result.tx_hash,
    )
    report = verify_ledger(ledger.path, anchors=[onchain])
    assert report.ok, report.message()
    assert report.anchored_to == 11


async def test_anchoring_twice_with_no_new_entries_does_nothing(
    ledger: Ledger, client: ChainClient, anchor: ActionLogAnchor, signer: Signer
) -> None:
    fill(ledger, 3)
    assert await anchor_new_entries(ledger, client, anchor, signer) is not None
    block = await client.block_number()
    assert await anchor_new_entries(ledger, client, anchor, signer) is None  # only its own log is new
    assert await anchor_new_entries(ledger, client, anchor, signer) is None
    assert await client.block_number() == block  # no transaction was sent
    ledger.append("decision", {"late": True})
    nxt = await anchor_new_entries(ledger, client, anchor, signer)
    assert nxt is not None
    assert (nxt.from_seq, nxt.to_seq) == (5, 6)  # the previous round's log entry is anchored now


async def test_max_entries_splits_a_backlog_into_rounds(
    ledger: Ledger, client: ChainClient, anchor: ActionLogAnchor, signer: Signer
) -> None:
    fill(ledger, 9)
    first = await anchor_new_entries(ledger, client, anchor, signer, max_entries=4)
    second = await anchor_new_entries(ledger, client, anchor, signer, max_entries=4)
    assert first is not None
    assert second is not None
    assert [(first.from_seq, first.to_seq), (second.from_seq, second.to_seq)] == [(1, 4), (5, 8)]
    anchors = await fetch_anchors(client, anchor.address, signer.address)
    assert verify_ledger(ledger.path, anchors=anchors).anchored_to == 8


async def test_proofs_verify_on_chain_through_action_log_anchor(
    ledger: Ledger, client: ChainClient, anchor: ActionLogAnchor, signer: Signer
) -> None:
    fill(ledger, 12)
    first = await anchor_new_entries(ledger, client, anchor, signer)
    ledger.append("decision", {"alone": True})
    second = await anchor_new_entries(ledger, client, anchor, signer)
    assert first is not None
    assert second is not None
    for seq in (1, 2, 7, 13, 14, 15):
        proof = prove(ledger.path, seq)
        assert proof.check() is None
        assert await anchor.verify(proof.root, proof.leaf, proof.proof) is True
        assert await check_on_chain(proof, client, anchor) is None
        assert proof.anchor.tx_hash == (first if seq <= 13 else second).tx_hash
    tampered = replace(prove(ledger.path, 7), leaf=prove(ledger.path, 8).leaf)
    assert await anchor.verify(tampered.root, tampered.leaf, tampered.proof) is False
    assert "rejects" in str(await check_on_chain(tampered, client, anchor))


async def test_a_proof_from_a_root_another_wallet_anchored_is_refused(
    ledger: Ledger, client: ChainClient, anchor: ActionLogAnchor, signer: Signer
) -> None:
    fill(ledger, 4)
    assert await anchor_new_entries(ledger, client, anchor, signer) is not None
    proof = prove(ledger.path, 3)
    stranger = replace(proof, wallet=dev_account(7).address)  # claims the anchor was someone else's
    assert "never anchored" in str(await check_on_chain(stranger, client, anchor))


async def test_a_self_consistent_forgery_fails_the_wallets_anchors(
    ledger: Ledger, client: ChainClient, anchor: ActionLogAnchor, signer: Signer, tmp_path: Path
) -> None:
    fill(ledger, 20)
    assert await anchor_new_entries(ledger, client, anchor, signer) is not None
    anchors = await fetch_anchors(client, anchor.address, signer.address)
    ledger.close()
    # The attacker replaces the file: a fresh ledger, signed with their own key, claiming the wallet.
    forged_path = tmp_path / "forged.sqlite"
    with Ledger.open(forged_path, IdentityKey.generate(), signer.address) as forged:
        fill(forged, 25)
    ledger.path.unlink()
    forged_path.rename(ledger.path)
    assert verify_ledger(ledger.path).ok  # consistent by itself
    report = verify_ledger(ledger.path, anchors=anchors)
    assert (report.ok, report.first_bad, report.problem) == (False, 1, "anchor_mismatch")
    assert "do not match the root the wallet anchored on-chain in tx 0x" in report.message()
    same = await verify_on_chain(ledger.path, client, anchor.address)  # the wallet read from the genesis
    assert (same.first_bad, same.problem, same.anchors_checked) == (1, "anchor_mismatch", 1)


async def test_a_forgery_under_a_new_wallet_is_caught_by_the_agents_wallet(
    ledger: Ledger, client: ChainClient, anchor: ActionLogAnchor, signer: Signer
) -> None:
    fill(ledger, 5)
    assert await anchor_new_entries(ledger, client, anchor, signer) is not None
    assert (await verify_on_chain(ledger.path, client, anchor.address, expected_wallet=signer.address)).ok
    ledger.close()
    ledger.path.unlink()
    with Ledger.open(ledger.path, IdentityKey.generate(), dev_account(5).address) as forged:
        fill(forged, 5)
    by_genesis = await verify_on_chain(ledger.path, client, anchor.address)
    assert by_genesis.ok  # the forged wallet never anchored: nothing contradicts it by itself
    report = await verify_on_chain(ledger.path, client, anchor.address, expected_wallet=signer.address)
    assert (report.first_bad, report.problem) == (1, "wrong_signer")


async def test_truncating_anchored_entries_is_caught(
    ledger: Ledger, client: ChainClient, anchor: ActionLogAnchor, signer: Signer
) -> None:
    fill(ledger, 20)
    assert await anchor_new_entries(ledger, client, anchor, signer) is not None
    ledger.close()
    with sqlite3.connect(ledger.path) as conn:
        conn.execute("DELETE FROM entries WHERE seq > 15")
    anchors = await fetch_anchors(client, anchor.address, signer.address)
    report = verify_ledger(ledger.path, anchors=anchors)
    assert (report.first_bad, report.problem) == (16, "truncated")


async def test_anchoring_from_another_wallet_is_refused(
    ledger: Ledger, client: ChainClient, anchor: ActionLogAnchor
) -> None:
    other = Signer.from_private_key(Account.create().key)
    with pytest.raises(LedgerError, match="anchored by wallet"):
        await anchor_new_entries(ledger, client, anchor, other)


async def test_an_interrupted_round_is_re_sent_then_logged_once(
    ledger: Ledger, client: ChainClient, anchor: ActionLogAnchor, signer: Signer
) -> None:
    fill(ledger, 5)
    root = merkle_root(ledger.hashes(1, 6))
    # A crash after saving the pending round but before the transaction reached the node:
    ledger.save_anchor(AnchorRecord(client.chain_id, anchor.address, 1, 6, root, "pending", block=0))
    result = await anchor_new_entries(ledger, client, anchor, signer)
    assert result is not None
    assert (result.from_seq, result.to_seq, result.root) == (1, 6, root)
    assert len(await fetch_anchors(client, anchor.address, signer.address)) == 1
    assert await anchor_new_entries(ledger, client, anchor, signer) is None
    assert [e.seq for e in ledger.entries() if e.kind == "anchor"] == [7]


async def test_a_round_mined_before_the_crash_is_logged_without_a_new_transaction(
    ledger: Ledger, client: ChainClient, anchor: ActionLogAnchor, signer: Signer
) -> None:
    fill(ledger, 5)
    root = merkle_root(ledger.hashes(1, 6))
    ledger.save_anchor(AnchorRecord(client.chain_id, anchor.address, 1, 6, root, "pending", block=0))
    receipt = await client.transact(signer, anchor.anchor_tx(root, 1, 6))  # it did go out
    block = await client.block_number()
    result = await anchor_new_entries(ledger, client, anchor, signer)
    assert result is not None
    assert (result.tx_hash, result.gas_used) == (receipt.tx_hash, receipt.gas_used)
    assert await client.block_number() == block
    assert ledger.last().kind == "anchor"


async def test_the_scheduled_job_anchors_new_entries(
    ledger: Ledger, client: ChainClient, anchor: ActionLogAnchor, signer: Signer
) -> None:
    fill(ledger, 4)
    scheduler = AsyncIOScheduler()
    scheduler.start()
    try:
        job = schedule_anchoring(scheduler, ledger, client, anchor, signer, every=timedelta(seconds=0.2))
        again = schedule_anchoring(scheduler, ledger, client, anchor, signer, every=timedelta(seconds=0.2))
        assert job.id == again.id == ANCHOR_JOB_ID
        assert len(scheduler.get_jobs()) == 1  # replaced, not doubled
        for _ in range(100):
            if await fetch_anchors(client, anchor.address, signer.address):
                break
            await asyncio.sleep(0.1)
        (onchain,) = await fetch_anchors(client, anchor.address, signer.address)
        assert (onchain.from_seq, onchain.to_seq) == (1, 5)
    finally:
        scheduler.shutdown(wait=False)
    await asyncio.sleep(0.3)  # let a round already running finish before the fixtures close
    with pytest.raises(LedgerError, match="positive"):
        schedule_anchoring(scheduler, ledger, client, anchor, signer, every=timedelta(0))


# ----------------------------------------------------------------- the CLI against the chain


@pytest.fixture
def home(tmp_path: Path, module_anvil: AnvilNode, anchor_address: str, private_key: str) -> Path:
    """agents.yaml with a buyer whose key files exist, the running node recorded, the deployment saved."""
    root = REPO_ROOT
    config = tmp_path / "agents.yaml"
    config.write_text(f"agents:\n  - name: buyer\n    policy: {root / 'policies/presets/buyer.yaml'}\n")
    sova_home = tmp_path / ".sova"
    Keystore(sova_home / "keys", scrypt_n=2**10).import_private_key("buyer", private_key, PASS)
    assert module_anvil.pid is not None
    NodeRecord(url=module_anvil.url, pid=module_anvil.pid, port=module_anvil.port).write(
        sova_home / "chain/node.json"
    )
    Deployments(
        chain_id=31337,
        contracts={"ActionLogAnchor": anchor_address},
        deployer=dev_account(0).address,
        block=0,
    ).save(sova_home / "deployments/31337.json")
    return config


@pytest.fixture
def cli_key(home: Path) -> IdentityKey:
    return IdentityKeyStore(home.parent / ".sova/keys", scrypt_n=2**10).create("buyer", PASS)


async def test_cli_verify_checks_the_anchors_and_prove_checks_on_chain(
    home: Path, cli_key: IdentityKey, client: ChainClient, anchor: ActionLogAnchor, signer: Signer
) -> None:
    with Ledger.open(ledger_path(home.parent / ".sova", "buyer"), cli_key, signer.address) as ledger:
        fill(ledger, 30)
        assert await anchor_new_entries(ledger, client, anchor, signer) is not None
        ledger.append("decision", {"after": True})
    ok = await asyncio.to_thread(sova, "log", "verify", "buyer", "-f", str(home))
    assert ok.code == 0, ok.err
    assert f"1 on-chain anchors of wallet {signer.address} match entries 1..31" in ok.out
    assert "(2 newer entries not anchored yet)" in ok.out
    proved = await asyncio.to_thread(sova, "log", "prove", "buyer", "17", "-f", str(home), "--json")
    assert proved.code == 0, proved.err
    assert json.loads(proved.out)["verified_on_chain"] is True
    text = await asyncio.to_thread(sova, "log", "prove", "buyer", "17", "-f", str(home))
    assert "on-chain  yes" in text.out


async def test_cli_verify_exits_1_on_a_forgery_the_anchors_expose(
    home: Path, cli_key: IdentityKey, client: ChainClient, anchor: ActionLogAnchor, signer: Signer
) -> None:
    path = ledger_path(home.parent / ".sova", "buyer")
    with Ledger.open(path, cli_key, signer.address) as ledger:
        fill(ledger, 10)
        assert await anchor_new_entries(ledger, client, anchor, signer) is not None
    # Someone who holds the agent's key file cannot be stopped by signatures; the anchors still
    # pin what was written. Here: the file is rewritten from entry 4 on, re-signed with the real key.
    path.unlink()
    with Ledger.open(path, cli_key, signer.address) as rewritten:
        fill(rewritten, 3)
        rewritten.append("decision", {"i": 3, "amount": "1000000"})
        fill(rewritten, 7)
    result = await asyncio.to_thread(sova, "log", "verify", "buyer", "-f", str(home))
    assert result.code == 1
    line = one_error_line(result)
    assert "entries 1..11 do not match the root the wallet anchored on-chain" in line
    assert "restore it from a backup" in line
