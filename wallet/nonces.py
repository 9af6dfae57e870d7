"""Per-address nonces handed out locally, so concurrent senders never ask the node and never collide.

The first `allocate` for an address asks `start(address)` (the chain client: the node's pending
nonce, the outbox's pending entries) under that address's asyncio.Lock; later allocations are plain
increments with no await in between, so concurrent coroutines get consecutive nonces.

Holes: a nonce can be handed out and then not used (the node rejected the transaction, so nothing
holds it), or be missing after a restart (a process signed nonce 7 and 8, stored 8 and died before
storing 7). Any later nonce would then wait forever in the mempool. Such nonces are kept as holes
and the next `allocate` returns the lowest hole first, so the next transaction fills the gap.

One process per key: two processes sending from the same address would each count on their own.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from wallet.abi import checksum


@dataclass(frozen=True)
class NonceStart:
    """Where an address starts: the next fresh nonce, and unused nonces below it."""

    next: int
    holes: tuple[int, ...] = ()


@dataclass
class _State:
    next: int
    holes: list[int] = field(default_factory=list)  # a heap


class NonceManager:
    """Hands out nonces per address; see the module docstring."""

    def __init__(self, start: Callable[[str], Awaitable[NonceStart]]) -> None:
        self._start = start
        self._state: dict[str, _State] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def allocate(self, address: str) -> int:
        """The nonce for the next transaction from `address`: the lowest hole, else the next fresh one."""
        address = checksum(address)
        state = self._state.get(address)
        if state is None:
            lock = self._locks.setdefault(address, asyncio.Lock())
            async with lock:
                state = self._state.get(address)
                if state is None:
                    begin = await self._start(address)
                    state = _State(next=begin.next, holes=[h for h in set(begin.holes) if h < begin.next])
                    heapq.heapify(state.holes)
                    self._state[address] = state
        if state.holes:
            return heapq.heappop(state.holes)
        nonce = state.next
        state.next += 1
        return nonce

    def release(self, address: str, nonce: int) -> None:
        """Give back a nonce whose transaction will never be mined (rejected before it reached a block)."""
        state = self._state.get(checksum(address))
        if state is None or nonce >= state.next or nonce in state.holes:
            return
        if nonce == state.next - 1:
            state.next -= 1
            # Holes directly below the new top are no longer holes: they are simply unused.
            while state.holes and max(state.holes) == state.next - 1:
                state.holes.remove(state.next - 1)
                state.next -= 1
            heapq.heapify(state.holes)
        else:
            heapq.heappush(state.holes, nonce)

    def add_holes(self, address: str, nonces: Iterable[int]) -> None:
        """Mark nonces as unused (found by recovery) so the next transactions fill them."""
        for n in sorted(nonces, reverse=True):
            self.release(address, n)

    def peek(self, address: str) -> NonceStart | None:
        """The current state of an address (None before its first allocation)."""
        state = self._state.get(checksum(address))
        if state is None:
            return None
        return NonceStart(next=state.next, holes=tuple(sorted(state.holes)))

    def is_started(self, address: str) -> bool:
        return checksum(address) in self._state

    def set_start(self, address: str, start: NonceStart) -> None:
        """Set the state directly (recovery computed it already)."""
        state = _State(next=start.next, holes=[h for h in set(start.holes) if h < start.next])
        heapq.heapify(state.holes)
        self._state[checksum(address)] = state

    def forget(self, address: str) -> None:
        """Drop what is known about `address`: the next allocation asks `start` again."""
        self._state.pop(checksum(address), None)
