"""Reading the ledger's anchors from the chain, and verifying a ledger file against them.

`fetch_anchors` is what verification trusts: the `Anchored(agent, root, fromSeq, toSeq)` events of the
ActionLogAnchor contract, filtered by the agent's wallet (anyone may anchor, but only under their own
address), read with eth_getLogs in bounded block windows.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.ledger.format import genesis_fields, hex32, keccak256
from runtime.ledger.report import OnchainAnchor, SignatureMode, VerifyReport
from runtime.ledger.store import connect_reader, read_entry
from runtime.ledger.verify import verify_ledger

if TYPE_CHECKING:
    from wallet.chain import ChainClient

ANCHORED_TOPIC = keccak256(b"Anchored(address,bytes32,uint64,uint64)")
LOG_WINDOW = 50_000  # blocks per eth_getLogs request: public nodes cap the range


def _topic_address(address: str) -> str:
    return "0x" + "0" * 24 + address.lower().removeprefix("0x")


def _parse_log(raw: dict[str, Any]) -> OnchainAnchor | None:
    topics = raw.get("topics") or []
    data = bytes.fromhex(str(raw.get("data", "0x"))[2:])
    if raw.get("removed") or len(topics) != 3 or len(data) != 64:
        return None
    return OnchainAnchor(
        root=bytes.fromhex(str(topics[2])[2:]),
        from_seq=int.from_bytes(data[:32], "big"),
        to_seq=int.from_bytes(data[32:], "big"),
        tx_hash=bytes.fromhex(str(raw["transactionHash"])[2:]),
        block=int(str(raw["blockNumber"]), 16),
        log_index=int(str(raw.get("logIndex", "0x0")), 16),
    )


async def fetch_anchors(
    client: ChainClient,
    anchor_address: str,
    wallet: str,
    *,
    from_block: int = 0,
    to_block: int | None = None,
    root: bytes | None = None,
    window: int = LOG_WINDOW,
) -> list[OnchainAnchor]:
    """The `Anchored` events that `wallet` emitted at the ActionLogAnchor `anchor_address` (of one `root`
    when given), oldest first, read with eth_getLogs in windows of `window` blocks."""
    end = to_block if to_block is not None else await client.block_number()
    topics: list[str | None] = [hex32(ANCHORED_TOPIC), _topic_address(wallet)]
    if root is not None:
        topics.append(hex32(root))
    found: list[OnchainAnchor] = []
    start = max(0, from_block)
    while start <= end:
        stop = min(end, start + window - 1)
        query = {"address": anchor_address, "topics": topics, "fromBlock": hex(start), "toBlock": hex(stop)}
        for raw in await client.rpc.request("eth_getLogs", [query]) or []:
            parsed = _parse_log(raw)
            if parsed is not None:
                found.append(parsed)
        start = stop + 1
    return sorted(found, key=lambda a: (a.block, a.log_index))


def genesis_wallet(path: str | Path) -> str | None:
    """The wallet the file's genesis names (None when it has no readable genesis)."""
    conn = connect_reader(Path(path))
    try:
        genesis = read_entry(conn, 1)
        return genesis_fields(genesis)[1] if genesis is not None else None
    except ValueError:
        return None
    finally:
        conn.close()


async def verify_on_chain(
    path: str | Path,
    client: ChainClient,
    anchor_address: str,
    *,
    expected_did: str | None = None,
    expected_wallet: str | None = None,
    from_block: int = 0,
    signatures: SignatureMode = "all",
) -> VerifyReport:
    """`verify_ledger` against the anchors of the agent's wallet (`expected_wallet`, else the one the
    genesis names: then a replaced genesis is caught only by `expected_did` or by signatures)."""
    from runtime.ledger.recorded import check_recorded, recorded_anchors

    wallet = expected_wallet or await asyncio.to_thread(genesis_wallet, path)
    recorded = await asyncio.to_thread(recorded_anchors, Path(path), anchor_address)  # before the chain
    anchors = await fetch_anchors(client, anchor_address, wallet, from_block=from_block) if wallet else None
    report = await asyncio.to_thread(
        verify_ledger,
        path,
        anchors=anchors,
        anchors_note="the file names no wallet",
        expected_did=expected_did,
        expected_wallet=expected_wallet,
        signatures=signatures,
    )
    check_recorded(report, recorded)
    return report
