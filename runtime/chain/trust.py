"""What ERC-8004's registries say of other agents, for the policy's trust rules and the buyer's choice
of seller: paid-feedback summaries (ReputationRegistry `getSummary`) and settled deals on record.

Counterparties are found by wallet (`agentIdOf`, the registry's `agentWallet` index), else by DID; an
agent that is not registered has no feedback and no deals. Reads are cached for `ttl` seconds (30 by
default) per agent and question, so a negotiation's several intents cost one read each.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from policies import Counterparty, Reputation, ReputationQuery, TrustNeed

if TYPE_CHECKING:
    from runtime.chain.registry import AgentRecord, Registry
    from wallet.trust import ReputationRegistry

__all__ = ["ChainTrust", "rank_sellers"]

log = logging.getLogger(__name__)

EVERYONE = ReputationQuery()
"""Feedback from every (paying) client, any tag: what sellers are ranked by."""


class ChainTrust:
    """Reputation and settled deals of counterparties, read from the chain and cached briefly."""

    def __init__(
        self, registry: Registry, reputation: ReputationRegistry, *, ttl: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self.registry, self.reputation, self.ttl, self._clock = registry, reputation, ttl, clock
        self._cache: dict[tuple[object, ...], tuple[float, Any]] = {}

    async def _cached(self, key: tuple[object, ...], read: Callable[[], Any]) -> Any:
        now = self._clock()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        value = await read()
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[key] = (now, value)
        return value

    async def agent_id(self, party: Counterparty) -> int:
        """The party's agent id (by wallet, else by DID); 0 when it is not registered."""
        if party.address is not None:
            address = party.address
            return int(
                await self._cached(
                    ("id", address.lower()), lambda: self.registry.contract.agent_id_of(address)
                )
            )
        did = party.did or ""
        return int(await self._cached(("did", did), lambda: self.registry.contract.call("agentIdOfDid", did)))

    async def summary(self, agent_id: int, query: ReputationQuery = EVERYONE) -> Reputation:
        """The agent's paid feedback over `query`'s clients and tag."""
        if not agent_id:
            return Reputation()

        async def read() -> Reputation:
            count, value, decimals = await self.reputation.summary(agent_id, query.clients, query.tag)
            return Reputation(count=count, value=Decimal(value).scaleb(-decimals))

        found: Reputation = await self._cached(("summary", agent_id, query.key), read)
        return found

    async def settled_deals(self, agent_id: int) -> int:
        """Released deals of the agent as seller, on record."""
        if not agent_id:
            return 0
        return int(await self._cached(("deals", agent_id), lambda: self.reputation.settled_deals(agent_id)))

    async def facts(self, party: Counterparty, need: TrustNeed) -> dict[str, Any]:
        """The `Facts` fields `need` asks for (executor's TrustSource)."""
        agent_id = await self.agent_id(party)
        out: dict[str, Any] = {}
        if need.reputation:
            out["reputation"] = {q.key: await self.summary(agent_id, q) for q in need.reputation}
        if need.settled_deals:
            out["settled_deals"] = await self.settled_deals(agent_id)
        return out


async def rank_sellers(records: Sequence[AgentRecord], reputation: ReputationRegistry) -> list[AgentRecord]:
    """`records` best first by paid feedback over every client: higher average, then more feedback,
    then the older registration; agents nobody rated last (in registry order). A registry that
    cannot be read leaves the order as it was."""
    rated: dict[int, Reputation] = {}
    try:
        for record in records:
            count, value, decimals = await reputation.summary(record.agent_id)
            rated[record.agent_id] = Reputation(count=count, value=Decimal(value).scaleb(-decimals))
    except Exception as exc:
        log.warning("sellers unranked: reputation unreadable (%s: %s)", type(exc).__name__, exc)
        return list(records)

    def key(record: AgentRecord) -> tuple[int, Decimal, int, int]:
        found = rated[record.agent_id]
        return (
            (0, -found.value, -found.count, record.agent_id)
            if found.count
            else (1, Decimal(0), 0, record.agent_id)
        )

    return sorted(records, key=key)
