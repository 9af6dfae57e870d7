"""Keys and contracts made ready before anything runs: the operator key, funding, deployment."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from runtime.chain.ops import expected_chain_id, fund_local
from runtime.config import AgentsFile, LocalChain
from runtime.errors import SovaError
from runtime.home import Home
from runtime.secrets import passphrase
from wallet import KeyNotFound

if TYPE_CHECKING:
    from wallet import ChainClient, Deployments, KeyInfo, Keystore, Signer

OPERATOR_INDEX = 0


class WrongChain(SovaError):
    """The node reports another chain id than agents.yaml expects."""


@dataclass
class Deployed:
    """The outcome of `deploy_contracts`."""

    url: str
    chain_id: int
    operator: str
    deployments: Deployments
    fresh: bool


def keystore_for(config: AgentsFile, config_path: Path, home: Home) -> Keystore:
    from wallet import Keystore

    return Keystore(home.keys_dir(config, config_path.parent))


def key_passphrase(config: AgentsFile, home: Home, warn: object = None) -> str:
    """The keystore passphrase: the env variable agents.yaml names; a generated one on a local chain."""
    dev = home.dev_passphrase if isinstance(config.chain, LocalChain) else None
    return passphrase(config.keys.passphrase_env, dev_file=dev, warn=warn if callable(warn) else None)


def ensure_key(config: AgentsFile, store: Keystore, name: str, index: int, secret: str) -> KeyInfo:
    """The wallet key `name` and its identity key beside it; each created when missing (the wallet
    key derived from the seed at `index` when keys.seed_env is set)."""
    ensure_identity_key(store.directory, name, secret)
    try:
        return store.info(name)
    except KeyNotFound:
        pass
    seed = os.environ.get(config.keys.seed_env) if config.keys.seed_env else None
    if config.keys.seed_env and not seed:
        raise SovaError(
            f"keys.seed_env names ${config.keys.seed_env} but it is not set: export the mnemonic, "
            "or remove seed_env to create random keys"
        )
    if seed:
        return store.import_mnemonic(name, seed, secret, index=index)
    return store.create(name, secret)


def ensure_identity_key(directory: Path, name: str, secret: str) -> str:
    """The DID of the identity key `name` in `directory`, created (same passphrase) when missing."""
    from identity import IdentityKeyStore

    identities = IdentityKeyStore(directory)
    if not identities.exists(name):
        identities.create(name, secret)
    return identities.did(name)


async def unlock_operator(config: AgentsFile, store: Keystore, secret: str) -> Signer:
    name = config.keys.operator
    await asyncio.to_thread(ensure_key, config, store, name, OPERATOR_INDEX, secret)
    # scrypt takes ~0.7 s and 256 MiB: off the event loop.
    return await asyncio.to_thread(store.unlock, name, secret)


async def connect(config: AgentsFile, home: Home, url: str) -> ChainClient:
    from wallet import ChainClient, Outbox

    client = await ChainClient.connect(url, outbox=Outbox(home.outbox))
    want = expected_chain_id(config)
    if client.chain_id != want:
        await client.close()
        raise WrongChain(
            f"the node at {url} is chain {client.chain_id} but agents.yaml expects chain {want}: "
            "fix chain.chain_id or chain.rpc_url"
        )
    return client


async def deploy_contracts(
    config: AgentsFile, config_path: Path, home: Home, url: str, warn: object = None
) -> Deployed:
    """Make sure the operator key exists (funded on the local chain) and the contracts are deployed once."""
    home.ensure()
    store = keystore_for(config, config_path, home)
    signer = await unlock_operator(config, store, key_passphrase(config, home, warn))
    client = await connect(config, home, url)
    try:
        return await deploy_with(config, home, client, signer)
    finally:
        await client.close()


async def deploy_with(config: AgentsFile, home: Home, client: ChainClient, signer: Signer) -> Deployed:
    """`deploy_contracts` for a caller that already holds the unlocked operator and a client."""
    from wallet import deploy_all

    if isinstance(config.chain, LocalChain):
        await asyncio.to_thread(fund_local, client.url, signer.address, Decimal(config.chain.fund))
    deployments, fresh = await deploy_all(client, signer, home.deployments(client.chain_id))
    return Deployed(client.url, client.chain_id, signer.address, deployments, fresh)
