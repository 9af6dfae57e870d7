"""The buyer's feedback after a released deal: a rating of the seller in ReputationRegistry (ERC-8004),
through the executor's `give_feedback` skill, so the policy, the ledger and the narrow signer see it as
any other transaction.

Score: a released deal had a delivery that passed the buyer's check (hash, deal binding, the card's
output schema), so it starts at 100; the time from the start of the negotiation to the release costs
one point per second past `FAST_SECONDS`, down to `FLOOR`. tag1 is `starred` (ERC-8004's 0-100 quality
rating), tag2 the service. A deal that was disputed or refunded cannot be rated: the registry accepts
feedback only for released deals.
"""

from __future__ import annotations

import logging
import time

from runtime.chain.registry import Registry
from runtime.executor.action_log import Outcome
from runtime.executor.executor import Executor
from runtime.negotiation.deals import DealRecord

__all__ = ["FAST_SECONDS", "FLOOR", "feedback_score", "leave_feedback"]

log = logging.getLogger(__name__)

FAST_SECONDS = 5.0
"""A deal released within this many seconds of its start scores 100."""
FLOOR = 50
"""The lowest score of a released deal (its delivery passed the buyer's check)."""


def feedback_score(seconds: float) -> int:
    """The rating of a released deal that took `seconds` from negotiation to release."""
    late = max(0.0, seconds - FAST_SECONDS)
    return max(FLOOR, 100 - int(late))


async def leave_feedback(
    executor: Executor,
    registry: Registry | None,
    record: DealRecord,
    origin: str,
    *,
    now: float | None = None,
) -> Outcome | None:
    """Rate the seller of released deal `record` when this agent has the `give_feedback` skill and the
    chain a ReputationRegistry; None when it does not (or the seller is not registered). A refusal or
    failure is the executor's outcome (logged, in the ledger); it never undoes the deal."""
    if "give_feedback" not in executor.catalog or registry is None or record.deal is None:
        return None
    if "ReputationRegistry" not in executor.context.contracts:
        return None
    try:
        seller = await registry.by_wallet(str(record.deal["seller"]))
    except Exception as exc:  # the chain may be briefly unreachable: the deal stands unrated
        log.warning("no feedback for deal %s: cannot read the registry (%s)", record.deal_id, exc)
        return None
    if seller is None:
        return None
    seconds = (time.time() if now is None else now) - record.started
    args = {
        "deal": record.deal, "agent_id": seller.agent_id, "value": feedback_score(seconds),
        "tag2": record.item[:64], "endpoint": seller.endpoint[:512],
    }  # fmt: skip
    outcome = await executor.execute("give_feedback", args, origin)
    if not outcome.ok:
        log.info("no feedback for deal %s: %s", record.deal_id, outcome.message())
    return outcome
