"""The seller runs the service once the escrow holds the price, and delivers its output bound to the
deal; when the service has no output (it raised, timed out, or its output is invalid or too large) the
seller asks for a refund at once and tells the buyer why.

    deliver {deal_id, output, output_hash, terms_hash}     in the deal's thread; output_hash =
                                                           keccak256(JCS(output)), kept in the ledger
    dispute {reason}                                       the service failed; refund asked

A `funded` that comes again (a buyer that restarted) gets the output kept with the deal, never a
second run of the handler.
"""

from __future__ import annotations

from typing import Any

from runtime.a2a.handler import Reply
from runtime.a2a.protocol import LedgerSink
from runtime.errors import SovaError
from runtime.executor.executor import Executor
from runtime.negotiation.deals import DealRecord, DealStore
from runtime.negotiation.offers import Offers

__all__ = ["deliver_reply", "serve"]

REFUND_ORIGIN = "service"


def deliver_reply(record: DealRecord, output: Any) -> Reply:
    """The `deliver` message of `record`'s output."""
    return Reply("deliver", {"deal_id": record.deal_id, "output": output, "output_hash": record.output_hash,
                             "terms_hash": record.terms_hash})  # fmt: skip


async def serve(
    executor: Executor, deals: DealStore, offers: Offers, ledger: LedgerSink | None, record: DealRecord
) -> list[Reply]:
    """Run the funded deal's service and deliver its output, or refund (see the module docstring)."""
    if record.output_hash:
        kept = deals.payloads.load(record.output, record.output_hash)
        if kept is not None:
            return [deliver_reply(record, kept)]
    offer = offers.get(record.item)
    data = deals.payloads.load(record.input, record.input_hash)
    try:
        if offer is None or data is None:
            raise SovaError(f"the service {record.item!r} or the deal's input is no longer here")
        output, raw = await offer.run(offer.read(data))
    except SovaError as exc:
        return await _refund(executor, deals, ledger, record, exc)
    inline, digest = deals.payloads.keep(raw)
    record = await deals.advance(
        ledger, record, "delivered", {"state": "delivered", "output": inline, "output_hash": digest},
        deal_id=record.deal_id, output_hash=digest, bytes=len(raw),
    )  # fmt: skip
    return [deliver_reply(record, output)]


async def _refund(
    executor: Executor, deals: DealStore, ledger: LedgerSink | None, record: DealRecord, exc: SovaError
) -> list[Reply]:
    """The service has no output: record why, ask for the refund at once, tell the buyer."""
    kind = str(getattr(exc, "why", "failed"))
    why = f"the service failed ({kind}): {exc}"
    record = await deals.advance(
        ledger, record, "service_failed", {"state": "failed", "reason": why}, deal_id=record.deal_id,
        why=kind, reason=why,
    )  # fmt: skip
    outcome = await executor.execute("refund_escrow", {"deal": record.deal}, REFUND_ORIGIN)
    if outcome.ok and outcome.result is not None:
        tx = str(outcome.result.get("tx_hash", ""))
        await deals.advance(
            ledger, record, "refunded", {"state": "refunded", "txs": {"refund": tx}}, deal_id=record.deal_id,
            tx=tx, reason=why,
        )  # fmt: skip
        return [Reply("dispute", {"reason": f"{why}; refunded in {tx}"[:500]})]
    # Until DealEscrow lets a seller refund before the deadline, this is refused: the buyer's deadline
    # watch refunds then. The ledger keeps both the failure and the refused refund.
    later = f"the refund was not made ({outcome.message()}): the deadline refund stays the fallback"
    await deals.advance(ledger, record, "refund_failed", deal_id=record.deal_id, reason=later)
    return [Reply("dispute", {"reason": f"{why}; {later}"[:500]})]
