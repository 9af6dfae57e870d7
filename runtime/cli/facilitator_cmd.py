"""`sova facilitator [-f agents.yaml] [--port P] [--key NAME] [--policy FILE]` — Sova's x402 facilitator
for the fleet's chain: `GET /supported`, `POST /verify`, `POST /settle` for scheme `exact` on
`eip155:<chainId>`, in the foreground until Ctrl-C.

It is an agent of its own: its wallet key (`facilitator` in the fleet's key folder, created on first
use; on the local chain it is given gas), its policy (default `policies/presets/facilitator.yaml`) and
its ledger (`<sova home>/facilitator/`). It listens on the port kept in `.sova/facilitator/port` and
says where in `.sova/facilitator/facilitator.json`, where agents configured with
`x402: {facilitator: local}` find it (`sova up` starts it for them). Sellers on other chains name any
other facilitator's URL.
"""

from __future__ import annotations

import asyncio
import socket
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer

from runtime.cli.common import DEFAULT_CONFIG, ConfigOption, load, out, warn

FACILITATOR_INDEX = 1000
"""The HD index of the facilitator's key when keys come from a seed (agents use 1, 2, …)."""

PortOption = Annotated[
    int | None,
    typer.Option("--port", help="loopback port (0: any free one; default: .sova/facilitator/port)"),
]
KeyOption = Annotated[str, typer.Option("--key", help="the facilitator's key name in the key folder")]
PolicyOption = Annotated[
    Path | None, typer.Option("--policy", help="policy file (default: policies/presets/facilitator.yaml)")
]


def facilitator(
    file: ConfigOption = DEFAULT_CONFIG,
    port: PortOption = None,
    key: KeyOption = "facilitator",
    policy: PolicyOption = None,
) -> None:
    """Run Sova's x402 facilitator (scheme exact) for the fleet's chain until Ctrl-C."""
    config, home = load(file)
    asyncio.run(_serve(config, file, home, port, key, policy))


async def _serve(
    config: object, file: Path, home: object, port: int | None, name: str, policy: Path | None
) -> None:
    import os

    from identity import IdentityKeyStore
    from policies import TokenInfo
    from runtime.a2a.server import listen
    from runtime.chain.provision import ensure_key, key_passphrase, keystore_for
    from runtime.chain.session import chain_session
    from runtime.config import AgentsFile, LocalChain
    from runtime.home import Home
    from runtime.payments.assemble import open_facilitator
    from runtime.payments.facilitator_app import facilitator_app
    from runtime.payments.local_facilitator import clear_record, facilitator_dir, kept_port, write_record

    assert isinstance(config, AgentsFile)
    assert isinstance(home, Home)
    store = keystore_for(config, file, home)
    secret = key_passphrase(config, home, warn)
    async with chain_session(config, home) as session:
        await asyncio.to_thread(ensure_key, config, store, name, FACILITATOR_INDEX, secret)
        signer = await asyncio.to_thread(store.unlock, name, secret)
        identity = await asyncio.to_thread(IdentityKeyStore(store.directory).unlock, name, secret)
        if isinstance(config.chain, LocalChain):
            from runtime.chain.ops import fund_local

            await asyncio.to_thread(
                fund_local, session.client.url, signer.address, Decimal(config.chain.fund)
            )
        usd = session.contracts["TestUSD"]
        parts = open_facilitator(
            facilitator_dir(home.root),
            signer=signer,
            key=identity,
            chain=session.client,
            contracts={"TestUSD": usd},
            tokens=(TokenInfo(symbol="TUSD", address=usd.address, decimals=6),),
            policy_path=policy,
        )
        sock, url = listen("127.0.0.1", kept_port(home.root) if port is None else port)
        write_record(home.root, os.getpid(), url)  # how `facilitator: local` agents find it
        out.print(
            f"x402 facilitator for eip155:{session.client.chain_id} at {url} (gas from {signer.address})"
        )
        try:
            await _until_stopped(facilitator_app(parts.facilitator), sock)
        finally:
            clear_record(home.root, os.getpid())
            parts.close()
            sock.close()


async def _until_stopped(app: Any, sock: socket.socket) -> None:
    """Serve `app` on `sock` until SIGINT or SIGTERM."""
    import signal

    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    # uvicorn stops gracefully on SIGTERM, then raises it again under the handler it found: a no-op
    # one lets this process clean up (its record, its ledger) instead of dying there.
    signal.signal(signal.SIGTERM, lambda *_: None)
    await server.serve(sockets=[sock])
