"""The on-chain half of a console pause: `AgentRegistry.pause` / `unpause` of an agent's wallet, sent
with the operator key, so the escrow refuses the agent's deals even if the agent ignored its own switch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runtime.errors import user_message

if TYPE_CHECKING:
    from runtime.chain.session import ChainSession
    from wallet import Signer


@dataclass
class OnChain:
    """The outcome of an on-chain pause or unpause."""

    ok: bool
    tx: str | None = None
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "tx": self.tx, "error": self.error}


async def set_paused(
    session: ChainSession, operator: Signer, name: str, address: str, paused: bool
) -> OnChain:
    """Pause (or unpause) `address` in AgentRegistry; the outcome, never an exception."""
    try:
        registry = session.registry.contract
        tx = registry.pause_tx(address) if paused else registry.unpause_tx(address)
        verb = "pause" if paused else "unpause"
        receipt = await session.client.transact(operator, tx, purpose=f"{verb} agent {name}")
    except Exception as exc:
        return OnChain(False, error=user_message(exc)[0])
    return OnChain(True, tx=receipt.tx_hash_hex)
