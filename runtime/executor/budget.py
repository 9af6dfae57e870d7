"""The executor's budget steps: the facts a policy is judged on, `admit` (rate limits and the action's
budget in one atomic step) and `settle` (commit, release or keep it after the run), by the plan's
`BudgetUse` mode (skills/base.py; the rules are in runtime/executor/executor.py's docstring).

Trust facts (policies/trust.py): when a trust rule applies to the intent, a `TrustSource` reads the
counterparty's reputation and settled deals into the Facts; a failed read leaves them missing, which
the rule denies.

Budget is sync SQLite: its calls run in worker threads (`asyncio.to_thread`). Every failure to read or
take budget fails closed (no facts: no decision; no admission: no signature).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from policies import (
    Admitted,
    Budget,
    Counterparty,
    Facts,
    Intent,
    Policy,
    Refusal,
    Reservation,
    Spend,
    TrustNeed,
    to_base_units,
)
from skills import BudgetUse, Planned

log = logging.getLogger(__name__)


class TrustSource(Protocol):
    """Reads what ERC-8004's registries say of a counterparty (runtime/chain/trust.py)."""

    async def facts(self, party: Counterparty, need: TrustNeed) -> dict[str, Any]:
        """Fields of `Facts` (`reputation`, `settled_deals`) for `party`, as `need` asks."""
        ...


class BudgetGate:
    """One agent's budget as the executor uses it, under one policy."""

    def __init__(
        self,
        budget: Budget,
        policy: Policy,
        agent: str,
        known: tuple[str, ...],
        trust: TrustSource | None = None,
    ) -> None:
        self.budget, self.policy, self.agent, self.known_counterparties = budget, policy, agent, known
        self.trust = trust

    async def facts(self, intent: Intent, exclude: str | None) -> Facts:
        facts = await self._usage(intent, exclude)
        need, party = self.policy.trust_need(intent), intent.counterparty
        if not need or party is None or self.trust is None:
            return facts
        try:
            return facts.model_copy(update=await self.trust.facts(party, need))
        except Exception as exc:  # left missing: the trust rule denies, saying it could not read them
            log.warning("trust facts of %s could not be read: %s: %s", party.address or party.did,
                        type(exc).__name__, exc)  # fmt: skip
            return facts

    async def _usage(self, intent: Intent, exclude: str | None) -> Facts:
        token = self.policy.tokens.find(intent.token) if intent.token is not None else None
        return await asyncio.to_thread(
            self.budget.facts_for,
            self.agent,
            token,
            period=self.policy.rate_period,
            known=self.known_counterparties,
            exclude=exclude,
        )

    async def admit(self, planned: Planned[Any]) -> Admitted | Refusal:
        """Count the action and take its budget in one step (Budget.admit); fails closed."""
        intent, use = planned.intent, planned.budget
        spend = None
        if use is not None and intent.amount:
            assert intent.token is not None
            token = self.policy.tokens.find(intent.token)
            limits = self.policy.spend_limits(intent.token)
            if token is None or limits is None:  # evaluate denied these already; stay closed anyway
                return Refusal("per_action", f"no spend limit covers {intent.token}")
            party = intent.counterparty
            who = None if party is None else (party.address or party.did)
            amount = to_base_units(intent.amount, token.decimals)
            spend = Spend(token, who, amount, limits, key=use.key, until=use.until)
        try:
            return await asyncio.to_thread(
                self.budget.admit, self.agent, rates=self.policy.rate_limits, spend=spend
            )
        except Exception as exc:  # fail closed
            return Refusal("unavailable", f"the budget could not be checked ({exc})")

    async def settle(
        self, reservation: Reservation | None, use: BudgetUse | None, *, moved: bool, signed: bool
    ) -> None:
        """Commit, release or keep a reservation after the run (see the module docstring)."""
        if reservation is None:
            return
        mode = use.mode if use is not None else "spend"
        if mode == "hold":
            settle = None if signed else self.budget.release
        elif mode == "consume":
            settle = self.budget.commit if moved else None
        else:
            settle = self.budget.commit if moved else self.budget.release
        if settle is None:
            return
        try:
            await asyncio.to_thread(settle, reservation)
        except Exception:
            log.exception("could not settle budget reservation %s", reservation.id)
