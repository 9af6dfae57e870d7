"""The ERC-8004 `ValidationRequest` events addressed to one validator, read with eth_getLogs in windows
(what a validator's scheduled job reads since the last block it looked at)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eth_hash.auto import keccak

from wallet.abi import decode_event, signature

if TYPE_CHECKING:
    from wallet.contracts import ContractBinding

__all__ = ["LOG_WINDOW", "RequestEvent", "validation_requests"]

LOG_WINDOW = 10_000
"""Blocks per eth_getLogs request (public nodes cap the range)."""


@dataclass(frozen=True)
class RequestEvent:
    """One `ValidationRequest`: which agent asks, where the work is described, and its hash."""

    request_hash: str
    agent_id: int
    request_uri: str
    block: int


async def validation_requests(
    registry: ContractBinding, validator: str, from_block: int, to_block: int, *, window: int = LOG_WINDOW
) -> list[RequestEvent]:
    """The requests to `validator` emitted by `registry` in blocks [from_block, to_block], oldest first."""
    event = next(e for e in registry.abi if e.get("type") == "event" and e.get("name") == "ValidationRequest")
    topic0 = "0x" + keccak(signature(event).encode()).hex()
    topics: list[Any] = [topic0, "0x" + "00" * 12 + validator.lower().removeprefix("0x")]
    found: list[RequestEvent] = []
    start = max(0, from_block)
    while start <= to_block:
        stop = min(to_block, start + window - 1)
        query = {"address": registry.address, "topics": topics, "fromBlock": hex(start), "toBlock": hex(stop)}
        for raw in await registry.client.rpc.request("eth_getLogs", [query]) or []:
            decoded = None if raw.get("removed") else decode_event(event, raw)
            if decoded is not None:
                found.append(RequestEvent(
                    "0x" + bytes(decoded["requestHash"]).hex(), int(decoded["agentId"]),
                    str(decoded["requestURI"]), int(str(raw["blockNumber"]), 16),
                ))  # fmt: skip
        start = stop + 1
    return found
