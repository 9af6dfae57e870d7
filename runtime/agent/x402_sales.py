"""Selling an agent's services per call over x402 from `sova agent run` (runtime/payments/sales.py).

When `$SOVA_X402_FACILITATOR` names a facilitator (Sova's `sova facilitator`, or any other for other
chains) and the agent has services, it serves `POST /x402/services/{name}` on its own loopback port
(`$SOVA_X402_PORT`, default any free one) beside its A2A server, paid to its wallet in TestUSD on its
chain, every sale in its ledger, every settlement checked on its chain. The URL is written to
`<agent dir>/x402.json`. Without the variable nothing is served.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from policies import TokenInfo
    from runtime.executor.executor import Executor
    from runtime.ledger.sink import LedgerSink
    from runtime.payments.sales import SaleShop
    from wallet.chain import ChainClient

__all__ = ["FACILITATOR_ENV", "PORT_ENV", "sell_x402", "start_sales"]

FACILITATOR_ENV = "SOVA_X402_FACILITATOR"
PORT_ENV = "SOVA_X402_PORT"


async def sell_x402(agent: Any, parts: Any, session: Any, executor: Executor) -> str | None:
    """Start the sales of `agent` (runtime.agent.agent.Agent, serving) when configured; its URL."""
    if not agent.services or not os.environ.get(FACILITATOR_ENV, "").strip():
        return None
    from policies import TokenInfo

    token = TokenInfo(symbol="TUSD", address=session.deployments.address("TestUSD"), decimals=6)
    return await start_sales(
        agent._stack,
        shop=agent._shop(executor, agent._trusted_issuers()),
        ledger=parts.sink,
        executor=executor,
        chain=session.client,
        token=token,
        folder=agent.home.agent_dir(agent.name),
        say=agent.say,
    )


async def start_sales(
    stack: AsyncExitStack,
    *,
    shop: SaleShop,
    ledger: LedgerSink,
    executor: Executor,
    chain: ChainClient,
    token: TokenInfo,
    folder: Path,
    say: Callable[[str], None],
) -> str | None:
    """Serve the x402 sales of `shop` until `stack` closes; the base URL, or None when not configured."""
    facilitator = os.environ.get(FACILITATOR_ENV, "").strip()
    if not facilitator or not shop.names():
        return None
    import uvicorn

    from runtime.a2a.server import listen, serve_started
    from runtime.payments.facilitator_client import FacilitatorClient
    from runtime.payments.paywall import Paywall
    from runtime.payments.sales import Seller, sales_app
    from runtime.secrets import write_private

    sock, base = listen("127.0.0.1", int(os.environ.get(PORT_ENV) or 0))
    stack.callback(sock.close)
    client = FacilitatorClient(facilitator)
    stack.push_async_callback(client.close)
    context = executor.context
    seller = Seller(context.agent_address, token, context.chain_id, base)
    app = sales_app(shop, seller, Paywall(client, ledger, chain))
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", ws="none")
    )
    task = await serve_started(server, sock, "the x402 sales server")

    async def stop() -> None:
        server.should_exit = True
        await task

    stack.push_async_callback(stop)
    write_private(folder / "x402.json", json.dumps({"url": base, "facilitator": facilitator}) + "\n")
    say(f"selling {', '.join(shop.names())} over x402 at {base}/x402/services (facilitator {facilitator})")
    return base
