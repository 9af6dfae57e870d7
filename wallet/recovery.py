"""Recovery after a crash: re-broadcast the stored bytes of pending outbox entries, never new ones.

For each pending nonce of a sender, oldest nonce first:

1. a receipt for any stored version of that nonce  -> that version `mined`, the others `replaced`;
2. else the chain already used the nonce           -> `failed` (another transaction took it);
3. else the newest stored version is re-sent as is -> `sent` when the node takes it or already has
   it; "nonce too low" means it was mined meanwhile (checked again), anything else -> `failed`.

Before that, for one sender, a rollback is looked for (`reopen_vanished`): a `mined` entry whose nonce
the chain's count of that sender no longer reaches, and whose receipt is gone, was undone (a reorg,
or a node restarted from an older state file). It is reopened as `sent` and so re-sent like any
pending entry: the very bytes, the same nonce, the same hash — a released escrow is released again,
an anchor anchored again, and nothing is ever signed twice.

Nothing here signs. Receipts that arrive later are picked up by `ChainClient.wait`.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from wallet.errors import NonceError
from wallet.nonces import NonceStart
from wallet.outbox import OutboxEntry
from wallet.receipts import parse_receipt
from wallet.signer import SignedTransaction

if TYPE_CHECKING:
    from wallet.chain import ChainClient

log = logging.getLogger(__name__)
MAX_GAP = 256


@dataclass
class RecoveryReport:
    """What recovery did, per transaction hash; `gaps` maps a sender to nonces nobody stored."""

    senders: list[str] = field(default_factory=list)
    resent: list[bytes] = field(default_factory=list)
    mined: list[bytes] = field(default_factory=list)
    failed: list[tuple[bytes, str]] = field(default_factory=list)
    gaps: dict[str, list[int]] = field(default_factory=dict)
    reopened: list[bytes] = field(default_factory=list)  # mined once, then lost by the chain

    def __bool__(self) -> bool:
        return bool(self.resent or self.mined or self.failed or self.gaps or self.reopened)


async def recover_pending(client: ChainClient, sender: str | None) -> RecoveryReport:
    """Recover the pending entries of `sender` (or of every sender) on the client's chain."""
    report = RecoveryReport()
    if client.outbox is None:
        return report
    if sender is not None:
        report.reopened = [e.tx_hash for e in await reopen_vanished(client, sender)]
    by_sender: dict[str, dict[int, list[OutboxEntry]]] = defaultdict(lambda: defaultdict(list))
    for entry in client.outbox.pending(sender, chain_id=client.chain_id):
        by_sender[entry.sender][entry.nonce].append(entry)
    for address, nonces in by_sender.items():
        report.senders.append(address)
        used = await client.nonce(address, "latest")
        for nonce in sorted(nonces):
            await _recover_nonce(client, address, nonce, nonces[nonce], used, report)
    return report


async def reopen_vanished(client: ChainClient, sender: str) -> list[OutboxEntry]:
    """The `mined` entries of `sender` the chain lost, reopened as `sent` (oldest nonce first). One
    nonce query when nothing was lost; a stored receipt is checked before an entry is reopened, so a
    transaction mined between the two reads is not taken for a lost one."""
    if client.outbox is None:
        return []
    used = await client.nonce(sender, "latest")
    candidates = client.outbox.mined_from(client.chain_id, sender, used)
    if not candidates:
        return []
    answers = await client.rpc.batch([("eth_getTransactionReceipt", [e.tx_hash_hex]) for e in candidates])
    lost = [e for e, answer in zip(candidates, answers, strict=True) if answer is None]  # null: unknown tx
    why = f"its receipt vanished: the chain went back (nonce count of {sender} is {used})"
    reopened = [e for e in lost if client.outbox.reopen(e.tx_hash, why)]
    if reopened:
        log.warning(
            "chain rollback: %d mined transaction(s) of %s are gone from chain %d (nonces %s); re-sending "
            "their stored bytes",
            len(reopened), sender, client.chain_id, ", ".join(str(e.nonce) for e in reopened),
        )  # fmt: skip
    return reopened


async def _recover_nonce(
    client: ChainClient,
    address: str,
    nonce: int,
    pending: list[OutboxEntry],
    used: int,
    report: RecoveryReport,
) -> None:
    assert client.outbox is not None
    versions = client.outbox.versions(client.chain_id, address, nonce)
    if await _settle_any(client, versions, report):
        return
    if nonce < used:
        reason = f"nonce {nonce} was used on chain by a transaction not in the outbox"
        for entry in pending:
            client.outbox.mark(entry.tx_hash, "failed", error=reason)
            report.failed.append((entry.tx_hash, reason))
        return
    newest = max(pending, key=lambda e: e.id)
    signed = SignedTransaction(raw=newest.raw, hash=newest.tx_hash, nonce=newest.nonce)
    outcome, err = await client._broadcast(address, signed)
    if outcome in ("accepted", "known"):
        report.resent.append(newest.tx_hash)
        return
    if outcome == "nonce_low":
        if await _settle_any(client, versions, report):
            return
        reason = f"nonce {nonce} was used on chain by a transaction not in the outbox"
    elif outcome == "underpriced":
        reason = f"nonce {nonce} is held by a pending transaction not in the outbox ({err})"
    else:
        reason = f"not re-sent: {err}"
    client.outbox.mark(newest.tx_hash, "failed", error=reason)
    report.failed.append((newest.tx_hash, reason))


async def _settle_any(client: ChainClient, versions: list[OutboxEntry], report: RecoveryReport) -> bool:
    answers = await client.rpc.batch([("eth_getTransactionReceipt", [v.tx_hash_hex]) for v in versions])
    for answer in answers:
        if isinstance(answer, dict):
            receipt = await client._settle(parse_receipt(answer), raise_on_revert=False)
            report.mined.append(receipt.tx_hash)
            return True
    return False


async def nonce_start(client: ChainClient, address: str, report: RecoveryReport | None) -> NonceStart:
    """Where `address` starts: past the node's pending nonce and the outbox's pending entries, with
    the nonces between them that nobody stored as holes (recorded in `report.gaps`)."""
    chain_next = await client.nonce(address, "pending")
    stored = (
        {e.nonce for e in client.outbox.pending(address, chain_id=client.chain_id)}
        if client.outbox
        else set()
    )
    above = {n for n in stored if n >= chain_next}
    if not above:
        return NonceStart(next=chain_next)
    top = max(above)
    holes = tuple(n for n in range(chain_next, top) if n not in above)
    if len(holes) > MAX_GAP:
        raise NonceError(
            f"the outbox {client.outbox.path if client.outbox else ''} has pending transactions of {address} "
            f"up to nonce {top} but chain {client.chain_id} expects nonce {chain_next} next: was the chain "
            "reset? If those transactions are stale, move the outbox file away and restart"
        )
    if holes:
        log.warning("nonce gap for %s: %s never stored; the next transactions fill it", address, holes)
        if report is not None:
            report.gaps[address] = list(holes)
    return NonceStart(next=top + 1, holes=holes)
