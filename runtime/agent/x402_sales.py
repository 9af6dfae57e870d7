"""Selling an agent's services per call over x402 from `sova agent run` (runtime/payments/sales.py).

When the agent's agents.yaml entry has `x402:` (runtime/config_x402.py) and the agent has services, it
serves `POST /x402/services/{name}` on its own loopback port (`x402.port`, or the one it used last
time, else any free one) beside its A2A server, paid to its wallet in TestUSD on its chain, every sale
in its ledger, every settlement checked on its chain. The facilitator is the configured URL, or with
`local` the fleet's own (`sova facilitator`, which `sova up` starts first). The sales URL is written
to `<agent dir>/x402.json`. The same services are sold per call on its A2A endpoint through the x402 A2A
extension (runtime/payments/a2a_sales.py), through the same paywall.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from policies import TokenInfo
    from runtime.config_x402 import X402Sales
    from runtime.executor.executor import Executor
    from runtime.ledger.sink import LedgerSink
    from runtime.payments.sales import SaleShop
    from wallet.chain import ChainClient

__all__ = ["facilitator_url", "sell_x402", "start_sales"]


def facilitator_url(sales: X402Sales, root: Path) -> str | None:
    """The facilitator `sales` names: its URL, or for `local` the running fleet facilitator's (None
    when none runs)."""
    if not sales.local:
        return sales.facilitator
    from runtime.payments.local_facilitator import running_facilitator

    return running_facilitator(root)


async def sell_x402(agent: Any, parts: Any, session: Any, executor: Executor) -> str | None:
    """Start the sales of `agent` (runtime.agent.agent.Agent, serving) when configured; its URL."""
    sales = agent.spec.x402
    if sales is None or not agent.services:
        return None
    facilitator = facilitator_url(sales, agent.home.root)
    if facilitator is None:
        agent.say(
            "not selling over x402: the fleet's facilitator does not run (`sova up` starts it for "
            "`x402: {facilitator: local}`; or run `sova facilitator`)"
        )
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
        facilitator=facilitator,
        port=sales.port,
        negotiator=parts.negotiator,
    )


def _last_port(folder: Path) -> int:
    """The port of the sales URL written last time (0: none), so a restarted agent keeps its URL."""
    try:
        return urlsplit(json.loads((folder / "x402.json").read_text(encoding="utf-8"))["url"]).port or 0
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def _listen(port: int, folder: Path) -> tuple[socket.socket, str]:
    """The sales' socket: on `port`, else on the port used last time when it is free, else any."""
    from runtime.a2a.server import listen

    last = 0 if port else _last_port(folder)
    try:
        return listen("127.0.0.1", port or last)
    except OSError as exc:
        if port:
            from runtime.errors import SovaError

            raise SovaError(
                f"the x402 sales cannot listen on 127.0.0.1:{port} ({exc.strerror}): free that port or "
                "change x402.port in agents.yaml (0: any free one)"
            ) from None
        return listen("127.0.0.1", 0)  # the last port is taken now: any free one


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
    facilitator: str,
    port: int = 0,
    negotiator: Any = None,
) -> str | None:
    """Serve the x402 sales of `shop` until `stack` closes, over HTTP and — given the agent's
    `negotiator` — over A2A (the x402 A2A extension, runtime/payments/a2a_sales.py); the base URL, or
    None with nothing to sell."""
    if not shop.names():
        return None
    import uvicorn

    from runtime.a2a.server import serve_started
    from runtime.payments.facilitator_client import FacilitatorClient
    from runtime.payments.paywall import Paywall
    from runtime.payments.sales import Seller, sales_app
    from runtime.secrets import write_private

    sock, base = _listen(port, folder)
    stack.callback(sock.close)
    client = FacilitatorClient(facilitator)
    stack.push_async_callback(client.close)
    context = executor.context
    seller = Seller(context.agent_address, token, context.chain_id, base)
    paywall = Paywall(client, ledger, chain)
    app = sales_app(shop, seller, paywall)
    if negotiator is not None:
        from runtime.payments.a2a_sales import A2ASales

        negotiator.paid_tasks = A2ASales(shop, seller, paywall)
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
