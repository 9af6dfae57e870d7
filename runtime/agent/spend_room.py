"""Before a buyer negotiates: could its policy let it pay this seller at all today?

A buy goal runs every period. Once the policy's daily budget for a seller (`per_counterparty_day`) or
for the day (`per_day`) is spent, every further deal would be negotiated in full — the seller prices
it, runs its part, signs — only for the buyer's own `sign_deal` to be refused. `cannot_pay` says so
before the first message: the room left under the spend limits of the goal's token, in the policy's
own words, against the lowest price the buyer would agree to (its rule brain's target; any positive
amount for an LLM brain). The executor still judges the real signature; this only saves a negotiation.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from runtime.config import RuleBrain

if TYPE_CHECKING:
    from runtime.negotiation.buyer import Buyer

__all__ = ["cannot_pay"]


def cannot_pay(buyer: Buyer, seller_wallet: str) -> str | None:
    """Why `buyer` could not sign any deal with the seller at `seller_wallet` today, or None."""
    executor = buyer.executor
    token = executor.policy.tokens.find(buyer.token)
    limits = executor.policy.spend_limits(buyer.token)
    if token is None or limits is None:
        return None  # the executor refuses a token no spend limit covers, and says why
    agent = executor.context.agent_did
    rooms: list[tuple[int, str]] = []
    if limits.per_day is not None:
        rooms.append((limits.per_day - executor.budget.spent(agent, token), "per_day"))
    if limits.per_counterparty_day is not None:
        spent_with = executor.budget.spent(agent, token, seller_wallet)
        rooms.append((limits.per_counterparty_day - spent_with, "per_counterparty_day"))
    if not rooms:
        return None
    room, limit = min(rooms)
    scale = Decimal(10) ** token.decimals
    floor = Decimal(buyer.brain.target) if isinstance(buyer.brain, RuleBrain) else Decimal(0)
    if Decimal(room) / scale > floor and room > 0:
        return None
    left = Decimal(room) / scale
    return (
        f"the policy's {limit} budget leaves {left.normalize():f} {token.symbol} (last 24 h), less than "
        f"the lowest price this buyer offers ({floor.normalize():f}): no deal could be signed, so none "
        "is negotiated"
    )
