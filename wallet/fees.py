"""Filling a transaction's gas and fees; EIP-1559 fees from the node, cached briefly; and the fee
bump that replaces a stuck transaction.

One batched request (eth_feeHistory + eth_maxPriorityFeePerGas) per `ttl` seconds, shared by all
concurrent senders: asking per transaction would double the RPC calls of a plain transfer.
maxFeePerGas = 2 × next base fee + tip, which stays valid through six full blocks of base-fee rise.
A chain without a base fee (pre-London) gets legacy `gasPrice` transactions.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from wallet.errors import ChainError, RpcError
from wallet.rpc import Rpc

BUMP_NUMERATOR, BUMP_DENOMINATOR = 9, 8  # +12.5 %: what geth and anvil require of a replacement


@dataclass(frozen=True)
class Fees:
    """Fee fields for a transaction: EIP-1559 (`max_fee`, `tip`) or legacy (`gas_price`)."""

    max_fee: int | None = None
    tip: int | None = None
    gas_price: int | None = None

    def fields(self) -> dict[str, int]:
        if self.gas_price is not None:
            return {"gasPrice": self.gas_price}
        assert self.max_fee is not None
        assert self.tip is not None
        return {"maxFeePerGas": self.max_fee, "maxPriorityFeePerGas": self.tip}


class FeeOracle:
    """Current fees, refreshed at most every `ttl` seconds."""

    def __init__(self, rpc: Rpc, ttl: float = 2.0) -> None:
        self._rpc = rpc
        self.ttl = ttl
        self._fees: Fees | None = None
        self._at = 0.0
        self._lock = asyncio.Lock()

    async def current(self) -> Fees:
        if self._fees is not None and time.monotonic() - self._at < self.ttl:
            return self._fees
        async with self._lock:  # one refresh for many concurrent senders
            if self._fees is None or time.monotonic() - self._at >= self.ttl:
                self._fees = await self._fetch()
                self._at = time.monotonic()
            return self._fees

    def invalidate(self) -> None:
        self._fees = None

    async def _fetch(self) -> Fees:
        history, tip = await self._rpc.batch(
            [("eth_feeHistory", [1, "latest", []]), ("eth_maxPriorityFeePerGas", [])]
        )
        base = _next_base_fee(history)
        if base is None:
            price = await self._rpc.request("eth_gasPrice", [])
            return Fees(gas_price=int(price, 16))
        tip_wei = int(tip, 16) if isinstance(tip, str) else 10**9  # 1 gwei when the node has no opinion
        return Fees(max_fee=2 * base + tip_wei, tip=tip_wei)


def _next_base_fee(history: Any) -> int | None:
    if isinstance(history, RpcError) or not isinstance(history, dict):
        return None
    fees = history.get("baseFeePerGas") or []
    if not fees:
        return None
    value = int(str(fees[-1]), 16)
    return value or None


def bump(value: int) -> int:
    """`value` raised by at least 12.5 %, plus 1 wei so that rounding never leaves it short."""
    return value * BUMP_NUMERATOR // BUMP_DENOMINATOR + 1


def bumped_fees(tx: dict[str, Any], now: Fees) -> dict[str, int]:
    """Fee fields for a replacement of `tx`: each old fee bumped ≥ 12.5 %, and never below what the
    chain asks now (a replacement that cannot enter the next block would be stuck as well)."""
    if "gasPrice" in tx:
        current = now.gas_price or now.max_fee or 0
        return {"gasPrice": max(bump(int(tx["gasPrice"])), current)}
    tip = bump(int(tx["maxPriorityFeePerGas"]))
    if now.tip is not None:
        tip = max(tip, now.tip)
    max_fee = max(bump(int(tx["maxFeePerGas"])), (now.max_fee or 0) - (now.tip or 0) + tip)
    return {"maxFeePerGas": max(max_fee, tip), "maxPriorityFeePerGas": tip}


async def fill_transaction(
    tx: dict[str, Any],
    sender: str,
    chain_id: int,
    fees: FeeOracle,
    estimate_gas: Callable[[dict[str, Any]], Awaitable[int]],
) -> dict[str, Any]:
    """`tx` completed for signing, except the nonce: chainId, value, data as hex, gas (estimated with
    a 20 % margin unless given; a plain transfer's 21,000 is exact), fees (unless given)."""
    body = {k: v for k, v in tx.items() if k != "from"}
    if "from" in tx and str(tx["from"]).lower() != sender.lower():
        raise ChainError(f"transaction 'from' {tx['from']} is not the signer {sender}: drop 'from'")
    if "nonce" in body:
        raise ChainError("do not set 'nonce': the client's nonce manager assigns it")
    if body.setdefault("chainId", chain_id) != chain_id:
        raise ChainError(f"transaction is for chain {body['chainId']} but the node is chain {chain_id}")
    body.setdefault("value", 0)
    if isinstance(body.get("data"), bytes | bytearray):
        body["data"] = "0x" + bytes(body["data"]).hex()
    if "gas" not in body:
        estimate = await estimate_gas({**body, "from": sender})
        body["gas"] = estimate if estimate <= 21000 else estimate + estimate // 5
    if not any(k in body for k in ("gasPrice", "maxFeePerGas")):
        body.update((await fees.current()).fields())
    elif "maxFeePerGas" in body and "maxPriorityFeePerGas" not in body:
        tip = (await fees.current()).tip or 0
        body["maxPriorityFeePerGas"] = min(tip, int(body["maxFeePerGas"]))
    return body
