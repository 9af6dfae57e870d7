"""What the console shows of an agent from the chain: its on-chain pause and its trust (agent id, paid
reputation, settled deals, validations; runtime/chain/agent_view.py). Each is None when it cannot be
read (no wallet key yet, the chain away, not registered): the agent list still shows the rest."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from runtime.chain.session import ChainSession

__all__ = ["chain_facts"]


class ConsoleFleet(Protocol):
    """What this needs of runtime.fleet.console_fleet.ConsoleFleet."""

    def address(self, name: str) -> str | None: ...

    async def chain(self) -> ChainSession: ...


async def chain_facts(fleet: ConsoleFleet, name: str) -> dict[str, Any]:
    """`paused_onchain` and `trust` of agent `name`."""
    from runtime.chain.agent_view import trust_summary

    facts: dict[str, Any] = {"paused_onchain": None, "trust": None}
    address = fleet.address(name)
    if address is None:
        return facts
    try:
        session = await fleet.chain()
        facts["paused_onchain"] = await session.registry.contract.is_paused(address)
        agent_id = int(await session.registry.contract.agent_id_of(address))
        if agent_id:
            facts["trust"] = {"agent_id": agent_id, **await trust_summary(session.contracts, agent_id)}
    except Exception:  # the list still shows everything else when the chain is away
        return facts
    return facts
