"""JSON-RPC over HTTP: one keep-alive aiohttp session per endpoint, with bounded retries.

Only transport faults are retried (connection refused or reset, timeouts, HTTP 5xx / 429), with
exponential backoff capped at `max_backoff`, `retries` tries in all. A JSON-RPC error answer (a
revert, "nonce too low", …) is never retried here: it is the node's verdict, and the caller decides.
Re-sending a raw transaction after a timeout is safe: the node answers "already known" or "nonce too
low" for bytes it has, and the chain client treats both as sent.

Why not web3's AsyncHTTPProvider for the transport: measured on anvil (bench/wallet.py machine), a call
through it costs ~370 µs of CPU (a session-cache lookup under a lock, a new TCP connection per request
by default) against ~130 µs for a plain keep-alive aiohttp POST; at 2-3 calls per transaction that
decides whether 500 receipts/s fit on one core. web3.py's stack (eth-account, eth-abi, eth-utils) still
does all signing and encoding.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import aiohttp

from wallet.errors import RpcError, RpcUnavailable

_RETRY_HTTP_STATUS = frozenset({429, 500, 502, 503, 504})
_HEADERS = {"Content-Type": "application/json"}


class Rpc:
    """One node endpoint. The session is opened on first use inside the running loop; `close()` it."""

    def __init__(
        self,
        url: str,
        *,
        retries: int = 5,
        backoff: float = 0.2,
        max_backoff: float = 2.0,
        timeout: float = 10.0,
        connections: int = 64,
    ) -> None:
        if retries < 1:
            raise ValueError("retries must be ≥ 1")
        self.url = url
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self._connections = connections
        self._ids = itertools.count(1)
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"Rpc({self.url!r})"

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                raise_for_status=True,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                connector=aiohttp.TCPConnector(limit=self._connections, keepalive_timeout=30),
            )
        return self._session

    async def request(self, method: str, params: list[Any]) -> Any:
        """The `result` of one call; RpcError when the node answers with an error, RpcUnavailable when
        it does not answer after the bounded retries."""
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        answer = await self._post(json.dumps(body).encode(), method)
        if not isinstance(answer, dict):
            raise RpcError(f"the node at {self.url} gave a malformed answer to {method}: not a JSON object")
        return _result(answer, method, self.url)

    async def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Several calls in one HTTP request; each item is the result, or an RpcError (not raised)."""
        if not calls:
            return []
        ids = [next(self._ids) for _ in calls]
        pairs = zip(ids, calls, strict=True)
        body = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in pairs]
        answers = await self._post(json.dumps(body).encode(), calls[0][0])
        if isinstance(answers, dict):  # the whole batch was refused
            err = _error(answers, calls[0][0], self.url)
            return [err for _ in calls]
        by_id = {a.get("id"): a for a in answers if isinstance(a, dict)} if isinstance(answers, list) else {}
        out: list[Any] = []
        for i, (method, _) in zip(ids, calls, strict=True):
            answer = by_id.get(i)
            if answer is None:
                out.append(RpcError(f"the node at {self.url} did not answer {method} in a batch"))
                continue
            try:
                out.append(_result(answer, method, self.url))
            except RpcError as exc:
                out.append(exc)
        return out

    async def _post(self, body: bytes, method: str) -> Any:
        session = self._ensure_session()
        last: BaseException | None = None
        delay = self.backoff
        for attempt in range(self.retries):
            try:
                async with session.post(self.url, data=body, headers=_HEADERS) as resp:
                    payload = await resp.read()
                return json.loads(payload)
            except aiohttp.ClientResponseError as exc:
                if exc.status not in _RETRY_HTTP_STATUS:
                    raise RpcError(
                        f"the node at {self.url} answered HTTP {exc.status} to {method}: check chain.rpc_url",
                        code=exc.status,
                    ) from None
                last = exc
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                last = exc
            except ValueError:
                raise RpcError(f"the node at {self.url} answered {method} with something not JSON") from None
            if attempt + 1 < self.retries:
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff)
        raise RpcUnavailable(
            f"RPC at {self.url} not reachable after {self.retries} tries: start the chain (`sova chain up`) "
            f"or fix chain.rpc_url in agents.yaml (last error: {_describe(last)})"
        )

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


def _describe(exc: BaseException | None) -> str:
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"HTTP {exc.status}"
    if isinstance(exc, aiohttp.ClientConnectorError | ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return type(exc).__name__ if exc else "no answer"


def _error(answer: dict[str, Any], method: str, url: str) -> RpcError:
    err = answer.get("error")
    if not isinstance(err, dict):
        return RpcError(f"the node at {url} gave a malformed answer to {method}")
    data = err.get("data")
    if isinstance(data, dict):  # some nodes nest it: {"data": {"data": "0x…"}}
        data = data.get("data")
    message = " ".join(str(err.get("message", "")).split())
    code = err.get("code")
    return RpcError(
        f"the node at {url} refused {method}: {message}",
        code=code if isinstance(code, int) else None,
        data=data if isinstance(data, str) else None,
    )


def _result(answer: dict[str, Any], method: str, url: str) -> Any:
    if "error" in answer:
        raise _error(answer, method, url)
    if "result" not in answer:
        raise RpcError(f"the node at {url} gave no result for {method}")
    return answer["result"]
