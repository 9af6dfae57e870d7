"""Shared parts of the x402 tests (no tests here): serve a Starlette app on loopback, a facilitator on
a market's chain, a seller's paid resource behind Sova's paywall, and x402 requirements for TestUSD."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from eth_account import Account
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from identity import IdentityKey
from runtime.a2a.server import listen, serve_started
from runtime.ledger.sink import MemorySink
from runtime.payments.assemble import FacilitatorParts, open_facilitator
from runtime.payments.facilitator_app import facilitator_app
from runtime.payments.facilitator_client import FacilitatorClient
from runtime.payments.paywall import Handler, Offer, Paywall
from runtime.payments.wire import Requirements, ResourceInfo
from tests.support.executor import Market
from wallet.signer import Signer


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """Serve the ASGI `app` on a free loopback port in this loop; its base URL."""
    sock, url = listen()
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", ws="none")
    )
    task = await serve_started(server, sock, "the test server")
    try:
        yield url
    finally:
        server.should_exit = True
        await task
        sock.close()


def requirements(market: Market, pay_to: str, amount: int, **over: Any) -> Requirements:
    """An `exact` offer of `amount` TestUSD base units to `pay_to` on the market's chain."""
    entry: dict[str, Any] = {
        "scheme": "exact",
        "network": f"eip155:{market.client.chain_id}",
        "asset": market.token.address,
        "amount": str(amount),
        "payTo": pay_to,
        "maxTimeoutSeconds": 300,
        "extra": {"name": "Test USD", "version": "1"},
    }
    entry.update(over)
    return Requirements.model_validate(entry)


@asynccontextmanager
async def facilitator(market: Market, tmp_path: Path) -> AsyncIterator[tuple[FacilitatorParts, str]]:
    """Sova's facilitator on the market's chain (own key funded with gas, own ledger), served; its URL."""
    signer = Signer.from_private_key(Account.create().key)
    await market.client.rpc.request("anvil_setBalance", [signer.address, hex(10 * 10**18)])
    parts = open_facilitator(
        tmp_path / "facilitator",
        signer=signer,
        key=IdentityKey.generate(),
        chain=market.client,
        contracts=market.contracts,
        tokens=(market.token,),
    )
    try:
        async with serving(facilitator_app(parts.facilitator)) as url:
            yield parts, url
    finally:
        parts.close()


@dataclass
class Shop:
    """A seller's paid resource at `url` (POST or GET), its paywall and the ledger entries it wrote."""

    url: str
    offer: Offer
    sink: MemorySink
    calls: list[bytes]


async def echo(body: bytes) -> tuple[int, bytes, str]:
    return 200, b'{"forecast": "sunny", "input": ' + (body or b"null") + b"}", "application/json"


@asynccontextmanager
async def shop(
    market: Market,
    facilitator_url: str,
    pay_to: str,
    amount: int,
    handler: Handler = echo,
    *,
    wait: float = 10,
    check_chain: bool = False,
) -> AsyncIterator[Shop]:
    """A Starlette app selling `/weather` for `amount` through Sova's paywall and `facilitator_url`
    (waiting `wait` s for it; with `check_chain`, settlements are looked up on the market's chain)."""
    sink, calls = MemorySink(), []
    client = FacilitatorClient(facilitator_url, timeout=wait)
    paywall = Paywall(client, sink, market.client if check_chain else None)
    holder: dict[str, Offer] = {}

    async def counted(body: bytes) -> tuple[int, bytes, str]:
        calls.append(body)
        return await handler(body)

    async def weather(request: Request) -> Response:
        return await paywall.serve(request, holder["offer"], await request.body(), counted)

    app = Starlette(routes=[Route("/weather", weather, methods=["GET", "POST"])])
    async with serving(app) as base:
        offer = Offer(requirements(market, pay_to, amount), ResourceInfo(url=f"{base}/weather"))
        holder["offer"] = offer
        try:
            yield Shop(f"{base}/weather", offer, sink, calls)
        finally:
            await client.close()
