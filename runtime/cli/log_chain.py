"""What `sova log verify` and `sova log prove` ask the chain: the deployed ActionLogAnchor and the
anchors of an agent's wallet (with the anchors its ledger logged, read first: see
runtime/ledger/recorded.py)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.errors import SovaError

if TYPE_CHECKING:
    from runtime.config import AgentsFile
    from runtime.home import Home
    from runtime.ledger.recorded import RecordedAnchor
    from runtime.ledger.report import OnchainAnchor

Anchors = tuple["list[OnchainAnchor] | None", str, "list[RecordedAnchor]"]


async def chain_anchors(
    path: Path, config: AgentsFile | None, home: Home | None, wallet: str | None, problem: str = ""
) -> Anchors:
    """The anchors of the agent's wallet as the chain reports them (or None and why not), and the
    anchors the ledger at `path` logged at the deployed contract, read before the chain is asked."""
    from runtime.ledger.onchain import fetch_anchors, genesis_wallet
    from runtime.ledger.recorded import recorded_anchors

    wallet = wallet or genesis_wallet(path)
    if wallet is None:
        return None, "the file names no wallet", []
    connected = await connect_anchor(config, home, problem)
    if isinstance(connected, str):
        return None, connected, []
    client, address, from_block = connected
    try:
        recorded = recorded_anchors(path, address)
        return await fetch_anchors(client, address, wallet, from_block=from_block), "", recorded
    except SovaError as exc:
        return None, f"reading anchors failed ({exc})", []
    except Exception as exc:  # a wallet/RPC error: the check is skipped, and the reason shown
        return None, f"chain not reachable ({type(exc).__name__}: {' '.join(str(exc).split())[:80]})", []
    finally:
        await client.close()


async def connect_anchor(
    config: AgentsFile | None, home: Home | None, problem: str
) -> tuple[Any, str, int] | str:
    """(client, ActionLogAnchor address, deployment block), or why the chain cannot be asked."""
    if config is None or home is None:
        return problem or "no agents.yaml to find the chain"
    from runtime.chain.ops import chain_url
    from wallet import ChainClient, Deployments, WalletError

    try:
        url = chain_url(config, home)
    except SovaError as exc:
        return f"chain not reachable ({exc})"
    try:
        client = await ChainClient.connect(url, retries=2, request_timeout=3.0)
    except WalletError:
        return f"chain not reachable (no answer from {url})"
    try:
        deployments = Deployments.load(home.deployments(client.chain_id))
        address = deployments.address("ActionLogAnchor")
        if not await client.code(address):
            raise WalletError(f"no contract at {address} (was the chain reset?)")
    except WalletError as exc:
        await client.close()
        return f"no ActionLogAnchor deployment on chain {client.chain_id} ({exc})"
    return client, address, deployments.block
