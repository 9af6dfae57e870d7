"""What `sova up` does before it spawns agents: the operator key, the contracts, a key per agent and, on
the local chain, gas money and TestUSD for each."""

from __future__ import annotations

import asyncio
import os
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.chain.ops import fund_local
from runtime.config import AgentsFile, LocalChain
from runtime.home import Home

if TYPE_CHECKING:
    from wallet import ChainClient, Signer

__all__ = ["prepare"]


async def prepare(config: AgentsFile, config_path: Path, home: Home, url: str, warn: Any) -> Signer:
    """Operator key, contracts, a key per agent, and on the local chain gas money and TestUSD.
    The operator is unlocked once (scrypt: ~0.7 s, 256 MiB) and one client serves every step; the
    unlocked operator is returned for the console (on-chain pause, signed approvals)."""
    from runtime.chain.provision import (
        connect,
        deploy_with,
        ensure_key,
        key_passphrase,
        keystore_for,
        unlock_operator,
    )

    home.ensure()
    store = keystore_for(config, config_path, home)
    secret = key_passphrase(config, home, warn)
    operator = await unlock_operator(config, store, secret)
    client = await connect(config, home, url)
    try:
        deployed = await deploy_with(config, home, client, operator)
        # Each new key costs two scrypt runs (~0.7 s, 256 MiB each; they release the GIL): create
        # them on as many threads as there are cores, each distinct key once (first index wins).
        wanted: dict[str, int] = {}
        for index, agent in enumerate(config.agents, start=1):
            wanted.setdefault(agent.key_name, agent.key_index or index)
        slots = asyncio.Semaphore(max(1, min(4, os.cpu_count() or 1)))

        async def key(name: str, index: int) -> tuple[str, str]:
            async with slots:
                info = await asyncio.to_thread(ensure_key, config, store, name, index, secret)
            return name, info.address

        made = dict(await asyncio.gather(*(key(name, index) for name, index in wanted.items())))
        addresses = [made[agent.key_name] for agent in config.agents]
        if isinstance(config.chain, LocalChain):
            for address in addresses:
                await asyncio.to_thread(fund_local, url, address, Decimal(config.chain.fund))
            await _mint(config, client, operator, deployed.deployments.contracts["TestUSD"], addresses)
    finally:
        await client.close()
    return operator


async def _mint(
    config: AgentsFile, client: ChainClient, operator: Signer, token: str, addresses: list[str]
) -> None:
    """Top every agent up to `chain.mint` TestUSD (6 decimals) from the operator, who owns TestUSD."""
    from wallet import load_artifact
    from wallet.contracts import TestUSD

    assert isinstance(config.chain, LocalChain)
    want = int(Decimal(config.chain.mint) * 10**6)
    usd = TestUSD(client, "TestUSD", token, load_artifact("TestUSD").abi)
    for address in addresses:
        have = await usd.balance_of(address)
        if have < want:
            await client.transact(
                operator, usd.mint_tx(address, want - have), purpose=f"mint TUSD to {address}"
            )
