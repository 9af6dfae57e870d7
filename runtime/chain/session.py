"""An open connection to the fleet's chain with its deployed contracts, for commands and agents."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from runtime.chain.ops import chain_url
from runtime.chain.provision import connect
from runtime.chain.registry import Registry
from runtime.config import AgentsFile
from runtime.home import Home

if TYPE_CHECKING:
    from wallet import ChainClient, ContractBinding, Deployments
    from wallet.contracts import AgentRegistry
    from wallet.trust import ReputationRegistry


@dataclass
class ChainSession:
    """A chain client, the deployments record and typed bindings of the contracts."""

    client: ChainClient
    deployments: Deployments
    contracts: dict[str, ContractBinding]

    @property
    def registry(self) -> Registry:
        reputation = self.contracts.get("ReputationRegistry")
        agents = cast("AgentRegistry", self.contracts["AgentRegistry"])
        return Registry(agents, cast("ReputationRegistry | None", reputation))


@asynccontextmanager
async def chain_session(config: AgentsFile, home: Home) -> AsyncIterator[ChainSession]:
    """Connect to the chain agents.yaml names, load its deployments; close the client afterwards."""
    from wallet import Deployments, contracts_for

    client = await connect(config, home, chain_url(config, home))
    try:
        deployments = Deployments.load(home.deployments(client.chain_id))
        yield ChainSession(client, deployments, contracts_for(client, deployments))
    finally:
        await client.close()
