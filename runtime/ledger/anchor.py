"""Anchoring: put the Merkle root of the ledger's new entries on-chain, from the agent's wallet, and log it.

One round (`anchor_new_entries`): the leaves are the stored hashes of the entries after the last anchored
seq; the root (OpenZeppelin-compatible, `wallet.merkle`) goes to `ActionLogAnchor.anchor(root, from,
to)`, which emits `Anchored(agent = the wallet, root, from, to)`; then the round is logged as an entry
of kind "anchor" (root, range, tx, block), which the next round anchors in turn. A round whose only new
entries are such "anchor" entries does nothing, so an idle agent does not pay to anchor its own
bookkeeping forever.

Crash safety: the range and root are saved as "pending" in the ledger file's anchor cache before the
transaction is sent (the wallet's outbox makes the send itself crash-safe). The next round finishes a
pending one first: if the chain shows the wallet's anchor of that root it is marked mined and logged;
otherwise it is sent again (the same root over the same range: a duplicate is harmless).

The cache only saves work; verification trusts only what `runtime.ledger.onchain.fetch_anchors` reads:
the chain's `Anchored` logs filtered by the agent's wallet (anchors are namespaced by sender, and
anyone may anchor).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from runtime.ledger.format import hex32
from runtime.ledger.ledger import ANCHOR, AnchorRecord, Entry, Ledger, LedgerError
from runtime.ledger.onchain import fetch_anchors
from runtime.ledger.senders import AnchorSender, ExecutorAnchorSender, SignerAnchorSender, as_sender

__all__ = [
    "ANCHOR_JOB_ID", "AnchorResult", "AnchorSender", "ExecutorAnchorSender", "SignerAnchorSender",
    "anchor_job", "anchor_new_entries", "as_sender", "next_anchor", "schedule_anchoring",
]  # fmt: skip

if TYPE_CHECKING:
    from apscheduler.job import Job  # type: ignore[import-untyped]
    from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]

    from wallet.chain import ChainClient
    from wallet.contracts import ActionLogAnchor
    from wallet.signer import Signer

log = logging.getLogger(__name__)

ANCHOR_JOB_ID = "ledger-anchor"


@dataclass(frozen=True)
class AnchorResult:
    """One anchoring round: the range and root sent, where it was mined, and the entry that logged it."""

    root: bytes
    from_seq: int
    to_seq: int
    tx_hash: bytes
    block: int
    gas_used: int | None
    entry: Entry

    @property
    def count(self) -> int:
        return self.to_seq - self.from_seq + 1


async def anchor_new_entries(
    ledger: Ledger,
    client: ChainClient,
    anchor: ActionLogAnchor,
    signer: Signer | AnchorSender,
    *,
    max_entries: int | None = None,
    timeout: float = 120.0,  # noqa: ASYNC109 - passed on to ChainClient.transact
) -> AnchorResult | None:
    """Anchor the entries after the last anchored one (at most `max_entries`) and log it; None when
    there is nothing new to anchor. Finishes a round a crash interrupted first (see the module doc)."""
    sender = as_sender(signer)
    if sender.address.lower() != ledger.wallet.lower():
        raise LedgerError(
            f"ledger {ledger.path} is anchored by wallet {ledger.wallet}, not {sender.address}: "
            "anchors from another wallet would not count"
        )
    mine = [
        r
        for r in await asyncio.to_thread(ledger.anchor_records)
        if r.chain_id == client.chain_id and r.contract == anchor.address
    ]
    for record in mine:
        if record.status == "pending":
            return await _finish_pending(ledger, client, anchor, sender, record, timeout)
        if record.entry_seq is None:
            return await _log_round(ledger, record)
    found = await asyncio.to_thread(_fresh_range, ledger, mine, max_entries)
    if found is None:
        return None
    root, from_seq, to_seq = found
    record = AnchorRecord(
        client.chain_id, anchor.address, from_seq, to_seq, root, "pending", block=await client.block_number()
    )
    await ledger.run(ledger.save_anchor, record)
    return await _send(ledger, anchor, sender, record, timeout)


def _fresh_range(
    ledger: Ledger, mine: list[AnchorRecord], max_entries: int | None
) -> tuple[bytes, int, int] | None:
    """(root, from, to) of the entries after the last anchored one; None when only the log of earlier
    rounds (or nothing) is new."""
    from wallet.merkle import merkle_root

    anchored_to = max((r.to_seq for r in mine), default=0)
    last = ledger.last().seq
    if last <= anchored_to or ledger.kinds_after(anchored_to) <= {ANCHOR}:
        return None
    to_seq = last if max_entries is None else min(last, anchored_to + max_entries)
    return merkle_root(ledger.hashes(anchored_to + 1, to_seq)), anchored_to + 1, to_seq


def next_anchor(ledger: Ledger, chain_id: int, contract: str) -> tuple[bytes, int, int] | None:
    """The anchor the ledger itself asks for next, as the `anchor_log` skill plans it: the pending
    round's (root, from, to) when one is pending, else the root of every entry after the last
    anchored one; None when nothing is new. What a caller of the skill cannot choose."""
    mine = [r for r in ledger.anchor_records() if r.chain_id == chain_id and r.contract == contract]
    pending = next((r for r in mine if r.status == "pending"), None)
    if pending is not None:
        return pending.root, pending.from_seq, pending.to_seq
    return _fresh_range(ledger, mine, None)


async def _send(
    ledger: Ledger,
    anchor: ActionLogAnchor,
    sender: AnchorSender,
    record: AnchorRecord,
    timeout: float,  # noqa: ASYNC109 - passed on to ChainClient.wait
) -> AnchorResult:
    tx_hash = await sender(anchor, record.root, record.from_seq, record.to_seq)
    receipt = await anchor.client.wait(tx_hash, timeout=timeout)
    if not any(bytes(e["root"]) == record.root for e in anchor.events(receipt, "Anchored")):
        raise LedgerError(
            f"the anchor transaction {receipt.tx_hash_hex} emitted no Anchored event for its root"
        )
    mined = replace(
        record, status="mined", tx_hash=receipt.tx_hash, block=receipt.block_number, gas_used=receipt.gas_used
    )
    await ledger.run(ledger.save_anchor, mined)
    return await _log_round(ledger, mined)


async def _finish_pending(
    ledger: Ledger,
    client: ChainClient,
    anchor: ActionLogAnchor,
    sender: AnchorSender,
    record: AnchorRecord,
    timeout: float,  # noqa: ASYNC109 - passed on to ChainClient.transact
) -> AnchorResult:
    seen = await fetch_anchors(
        client, anchor.address, ledger.wallet, from_block=record.block or 0, root=record.root
    )
    match = next((a for a in seen if (a.from_seq, a.to_seq) == (record.from_seq, record.to_seq)), None)
    if match is None:
        log.info("re-sending the interrupted ledger anchor of %d..%d", record.from_seq, record.to_seq)
        return await _send(ledger, anchor, sender, record, timeout)
    receipt = await client.receipt(match.tx_hash)
    mined = replace(
        record,
        status="mined",
        tx_hash=match.tx_hash,
        block=match.block,
        gas_used=receipt.gas_used if receipt is not None else None,
    )
    await ledger.run(ledger.save_anchor, mined)
    return await _log_round(ledger, mined)


async def _log_round(ledger: Ledger, record: AnchorRecord) -> AnchorResult:
    assert record.tx_hash is not None
    assert record.block is not None
    entry = await asyncio.to_thread(_logged_entry, ledger, record)
    if entry is None:
        entry = await ledger.append_async(
            ANCHOR,
            {
                "block": record.block,
                "chain_id": record.chain_id,
                "contract": record.contract,
                "from_seq": record.from_seq,
                "root": hex32(record.root),
                "to_seq": record.to_seq,
                "tx": hex32(record.tx_hash),
            },
        )
    await ledger.run(ledger.save_anchor, replace(record, entry_seq=entry.seq))
    return AnchorResult(
        record.root, record.from_seq, record.to_seq, record.tx_hash, record.block, record.gas_used, entry
    )


def _logged_entry(ledger: Ledger, record: AnchorRecord) -> Entry | None:
    """The "anchor" entry already logging `record` (a crash can fall between the append and the cache)."""
    root = hex32(record.root)
    for entry in ledger.entries(record.to_seq + 1):
        if entry.kind == ANCHOR and entry.data.get("root") == root:
            return entry
    return None


async def anchor_job(
    ledger: Ledger,
    client: ChainClient,
    anchor: ActionLogAnchor,
    signer: Signer | AnchorSender,
    max_entries: int | None,
) -> AnchorResult | None:
    """The scheduled anchoring round: chain trouble is logged and retried at the next round."""
    from wallet.errors import WalletError

    try:
        result = await anchor_new_entries(ledger, client, anchor, signer, max_entries=max_entries)
    except WalletError as exc:
        log.warning("ledger anchoring skipped this round: %s", exc)
        return None
    except Exception as exc:  # a scheduled job: one line, never a scheduler traceback; next round retries
        detail = " ".join(str(exc).split())[:300]
        log.warning(
            "ledger anchoring failed this round (%s: %s); retrying next round", type(exc).__name__, detail
        )
        log.debug("anchoring failure", exc_info=True)
        return None
    if result is not None:
        log.info(
            "anchored ledger entries %d..%d in tx 0x%s", result.from_seq, result.to_seq, result.tx_hash.hex()
        )
    return result


def schedule_anchoring(
    scheduler: AsyncIOScheduler,
    ledger: Ledger,
    client: ChainClient,
    anchor: ActionLogAnchor,
    signer: Signer | AnchorSender,
    *,
    every: timedelta,
    job_id: str = ANCHOR_JOB_ID,
    max_entries: int | None = None,
    start_now: bool = False,
) -> Job:
    """Add (or replace) the anchoring job: every `every`, never two rounds at once, missed rounds merged
    into one. The job holds live objects (ledger, client, signer), so it belongs in a memory job store."""
    from apscheduler.triggers.interval import IntervalTrigger  # type: ignore[import-untyped]

    seconds = every.total_seconds()
    if seconds <= 0:
        raise LedgerError(f"the anchoring interval must be positive, not {every}")
    options: dict[str, Any] = {}
    if start_now:
        options["next_run_time"] = datetime.now(UTC)
    return scheduler.add_job(
        anchor_job,
        IntervalTrigger(seconds=seconds),
        args=(ledger, client, anchor, signer, max_entries),
        id=job_id,
        name=f"anchor {ledger.path}",
        replace_existing=True,
        coalesce=True,
        max_instances=1,
        misfire_grace_time=max(1, int(seconds)),
        **options,
    )
