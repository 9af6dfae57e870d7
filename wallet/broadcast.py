"""Broadcasting raw transactions: per sender in signing order, batched when many wait.

Order matters: a nonce that reaches the node before its predecessor waits in the node's queue
instead of being mined, so the transactions of one sender go out one request after the other, in
the order they were handed in (= nonce order, since the client signs and queues them without an
await in between). While one request is in flight, later transactions of that sender gather and go
out together as one JSON-RPC batch (in order): 1,000 concurrent transfers cost a few dozen requests
instead of a thousand. Different senders do not wait for each other.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from wallet.errors import RpcError, RpcUnavailable
from wallet.rpc import Rpc

MAX_BATCH = 200


class Broadcaster:
    """Sends raw transactions for a ChainClient; see the module docstring."""

    def __init__(self, rpc: Rpc) -> None:
        self._rpc = rpc
        self._queues: dict[str, list[tuple[bytes, asyncio.Future[Any]]]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    async def send(self, sender: str, raw: bytes) -> Any:
        """The node's answer to eth_sendRawTransaction: the hash, or an RpcError (returned, not raised).
        RpcUnavailable is raised: nobody knows whether the node got it."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queues.setdefault(sender, []).append((raw, fut))
        task = self._tasks.get(sender)
        if task is None or task.done():
            self._tasks[sender] = asyncio.create_task(self._flush(sender), name=f"broadcast-{sender}")
        return await fut

    async def _flush(self, sender: str) -> None:
        queue = self._queues[sender]
        while queue:
            batch = queue[:MAX_BATCH]
            del queue[: len(batch)]
            try:
                answers = await self._post([raw for raw, _ in batch])
            except RpcUnavailable as exc:
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            for (_, fut), answer in zip(batch, answers, strict=True):
                if not fut.done():
                    fut.set_result(answer)

    async def _post(self, raws: list[bytes]) -> list[Any]:
        if len(raws) == 1:
            try:
                return [await self._rpc.request("eth_sendRawTransaction", ["0x" + raws[0].hex()])]
            except RpcUnavailable:
                raise
            except RpcError as exc:
                return [exc]
        return await self._rpc.batch([("eth_sendRawTransaction", ["0x" + raw.hex()]) for raw in raws])

    async def close(self) -> None:
        for task in self._tasks.values():
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._tasks.clear()
