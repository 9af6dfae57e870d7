"""Settlement that a crash or a lost answer interrupted, taken up again by the buyer (docs/architecture.md,
"Failure recovery").

A buyer killed between funding an escrow and releasing it leaves its deal `signed`, `funded` or
`delivered` in its DealStore with nothing driving it; a seller that went away after the escrow was
funded leaves it `funded`. `DealResumer.tick` (the agent runs it at start, then with the deadline
watch) takes up the deals found unfinished at start, and every deal funded or delivered that nothing
touched for `stale_after` seconds, from what the chain says, never from memory:

    DealEscrow.stateOf(id)  None      never opened: the deal is declined, nothing is sent (the outbox
                                      re-sent a stored open at connect, so None means it did not go through)
                            Open      `funded` again to the seller (found in AgentRegistry by its DID),
                                      which delivers again; the delivery is checked and released as usual
                            Released  recorded as released (the release went out before the crash)
                            Refunded  recorded as refunded

No transaction is made twice: an open is never redone, and a release follows only the chain saying Open.
A seller that does not answer is asked again on the next tick; the deadline watch refunds the escrow
once its deadline passes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from runtime.negotiation.deals import DealRecord
from runtime.negotiation.settlement import (
    ESCROW_NONE,
    ESCROW_OPEN,
    ESCROW_REFUNDED,
    ESCROW_RELEASED,
    SettlementError,
)

if TYPE_CHECKING:
    from runtime.negotiation.buyer import Buyer

log = logging.getLogger(__name__)

UNFINISHED = ("signed", "funded", "delivered")
"""A buyer's deal states between both signatures and the release."""
STALE = ("funded", "delivered")
"""States in which a deal untouched for a while is asked about again (the seller may have lost it)."""


class DealResumer:
    """Takes up the buyer's interrupted deals; see the module docstring. Build it before the agent
    buys anything: the deals unfinished at that moment are the ones a previous run left."""

    def __init__(self, buyer: Buyer, say: Callable[[str], None], *, stale_after: float = 30.0) -> None:
        self.buyer = buyer
        self.say = say
        self.stale_after = stale_after
        self.orphans = {(r.peer, r.thid) for r in buyer.deals.in_states("buyer", UNFINISHED)}

    async def tick(self) -> list[DealRecord]:
        """Try each interrupted deal once; the records that came to an end."""
        now = time.time()
        keys = list(self.orphans)
        keys += [
            (r.peer, r.thid)
            for r in self.buyer.deals.in_states("buyer", STALE)
            if now - r.updated > self.stale_after and (r.peer, r.thid) not in self.orphans
        ]
        ended: list[DealRecord] = []
        for peer, thid in keys:
            record = self.buyer.deals.get(peer, thid)
            if record is not None and record.state in UNFINISHED:
                try:
                    record = await self.resume(record)
                except Exception as exc:  # the seller or the chain is away: next tick
                    log.warning("deal %s not resumed yet: %s: %s", thid, type(exc).__name__, exc)
                    continue
                if record.state not in UNFINISHED:
                    ended.append(record)
                    self.say(f"deal {thid} taken up again: {record.state}")
            if record is None or record.state not in UNFINISHED:
                self.orphans.discard((peer, thid))
        return ended

    async def resume(self, record: DealRecord) -> DealRecord:
        """Take one interrupted deal as far as it goes now (see the module docstring)."""
        buyer = self.buyer
        settlement = buyer.settlement
        escrow = buyer.executor.context.contract("DealEscrow")
        state = ESCROW_NONE
        if record.deal_id:
            state = int(await escrow.call("stateOf", bytes.fromhex(record.deal_id[2:])))
        if state == ESCROW_NONE:
            return await settlement.end(
                record, "declined", "the escrow was never opened (the buyer stopped before funding it)"
            )
        if state in (ESCROW_RELEASED, ESCROW_REFUNDED):
            final = "released" if state == ESCROW_RELEASED else "refunded"
            record = await buyer.deals.advance(
                buyer.ledger, record, final, {"state": final}, deal_id=record.deal_id, on_chain=True
            )
            return record
        if state != ESCROW_OPEN:
            raise SettlementError(f"DealEscrow.stateOf({record.deal_id}) is {state}, not a known state")
        if record.state == "signed":  # funded by the transaction the outbox kept; recorded only now
            record = await buyer.deals.advance(
                buyer.ledger, record, "funded", {"state": "funded"}, deal_id=record.deal_id, resumed=True
            )
        await self._reach(record.peer)
        return await settlement.ask_delivery(record, buyer.sender(record.peer, record.thid))

    async def _reach(self, did: str) -> None:
        """Learn the seller's endpoint again (a restarted buyer has forgotten it) from AgentRegistry."""
        buyer = self.buyer
        if did in buyer.messenger.endpoints or buyer.registry is None:
            return
        found = await buyer.registry.by_did(did)
        if found is None or not found.endpoint:
            raise SettlementError(f"{did} has no endpoint in AgentRegistry")
        card = await buyer.messenger.connect(found.endpoint)
        if card.did != did:
            buyer.messenger.endpoints.pop(card.did, None)
            raise SettlementError(f"the card at {found.endpoint} names {card.did}, not {did}")
