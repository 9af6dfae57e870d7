"""Deals that died before any money moved: ended as `expired` at their deadline, and said so in the ledger.

A deal can stop anywhere: a peer killed mid-negotiation, a buyer killed after both signed and before it
funded, a seller that agreed and never signed. Deals with money in the escrow have their keepers (the
resumer and the deadline watch refund or release them); these have none, and without this they stay
`negotiating`, `agreed` or `signed` forever — counted as live in `sova status` and the console.

    state                       expires when                        provided
    negotiating, agreed         its Deal deadline has passed        the escrow never saw the deal
    signed                        (chain time, as DealEscrow          (`stateOf` is None: after the deadline
                                  judges), or, with no Deal built     `open` reverts, so it never will)
                                  yet, `idle_after` s after its
                                  last step

Each goes through `DealStore.advance` (the one path per deal step): state `expired`, the reason, and a
`deal` entry `expired` with the state it died in. A signed deal whose escrow the chain knows is left to
the resumer and the deadline watch; an escrow that cannot be asked is asked again on the next round.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from runtime.negotiation.deals import DealRecord, DealStore

if TYPE_CHECKING:
    from runtime.ledger.sink import LedgerSink

NO_MONEY = ("negotiating", "agreed", "signed")
IDLE_AFTER = 300.0
"""s without a step after which a deal with no Deal deadline yet is over: negotiations have deadlines of
seconds (the brain's `deadline`), so five minutes of silence means the other side is gone."""

EscrowState = Callable[[str], Awaitable[int]]


async def expire_deals(
    deals: DealStore,
    ledger: LedgerSink | None,
    chain_now: int,
    escrow_state: EscrowState | None,
    *,
    now: float | None = None,
    idle_after: float = IDLE_AFTER,
) -> list[DealRecord]:
    """End as `expired` every deal of this agent (either role) without money whose time is up; the
    records ended. `escrow_state(deal_id)` is DealEscrow.stateOf (None: no chain, signed deals wait)."""
    wall = time.time() if now is None else now
    ended = []
    for role in ("buyer", "seller"):
        for record in deals.in_states(role, NO_MONEY):
            why = _why(record, chain_now, wall, idle_after)
            if why is None or not await _no_escrow(record, escrow_state):
                continue
            record = await deals.advance(
                ledger,
                record,
                "expired",
                {"state": "expired", "reason": why},
                reason=why,
                was=record.state,
                deal_id=record.deal_id,
            )
            ended.append(record)
    return ended


def _why(record: DealRecord, chain_now: int, wall: float, idle_after: float) -> str | None:
    if record.deadline > 0:
        if chain_now <= record.deadline:
            return None
        return f"deadline {record.deadline} passed in state {record.state}, before any money moved"
    if wall - record.updated <= idle_after:
        return None
    return f"no step for {wall - record.updated:.0f} s in state {record.state} and no deal to fund"


async def _no_escrow(record: DealRecord, escrow_state: EscrowState | None) -> bool:
    """True when no escrow can exist for the deal: nothing was signed, or the chain says None."""
    if record.state != "signed" or not record.deal_id:
        return True
    if escrow_state is None:
        return False
    try:
        return await escrow_state(record.deal_id) == 0  # DealEscrow.State.None
    except Exception:  # the chain is away: ask again next round rather than guess
        return False
