"""Deploy the contracts once per chain and remember where: `<sova_home>/deployments/<chain_id>.json`.

`deploy_all` reuses a recorded deployment when the file is for the node's chain, every address has
code, and the artifacts are the ones deployed (same source hashes); otherwise it deploys afresh and
says why (`Deployments.note`): a local chain restarted without its state has no code at the recorded
addresses. A file for another chain id is an error, never silently replaced.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from wallet.abi import checksum
from wallet.artifacts import CONTRACT_NAMES, load_artifact
from wallet.chain import ChainClient
from wallet.contracts import ContractBinding, bind, deploy_contract
from wallet.errors import DeploymentError
from wallet.signer import Signer

log = logging.getLogger(__name__)


@dataclass
class Deployments:
    """Where the contracts live on one chain. `note` (not stored) says why they were (re)deployed."""

    chain_id: int
    contracts: dict[str, str]
    deployer: str
    block: int
    deployed_at: str = ""
    source_hashes: dict[str, str] = field(default_factory=dict)
    note: str = field(default="", compare=False)

    def address(self, name: str) -> str:
        try:
            return self.contracts[name]
        except KeyError:
            raise DeploymentError(
                f"no {name} in the deployments of chain {self.chain_id}: run `sova chain deploy`"
            ) from None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("note")
        return data

    @classmethod
    def load(cls, path: Path) -> Deployments:
        """Read a deployments file; DeploymentError when it is missing or unreadable."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                chain_id=int(data["chain_id"]),
                contracts={str(k): checksum(str(v)) for k, v in dict(data["contracts"]).items()},
                deployer=checksum(str(data["deployer"])),
                block=int(data["block"]),
                deployed_at=str(data.get("deployed_at", "")),
                source_hashes={str(k): str(v) for k, v in dict(data.get("source_hashes", {})).items()},
            )
        except FileNotFoundError:
            raise DeploymentError(
                f"no deployments file {path}: run `sova chain deploy` (or `sova up`)"
            ) from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DeploymentError(
                f"deployments file {path} is unreadable ({type(exc).__name__}): "
                "remove it and run `sova chain deploy`"
            ) from None

    def save(self, path: Path) -> None:
        """Write atomically (temp file, fsync, rename)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(self.to_json(), fh, indent=2, sort_keys=True)
                fh.write("\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class DeployResult(NamedTuple):
    """What `deploy_all` found or did; `fresh` is True when it deployed in this call."""

    deployments: Deployments
    fresh: bool


def deployments_path(sova_home: Path, chain_id: int) -> Path:
    return Path(sova_home) / "deployments" / f"{chain_id}.json"


async def deploy_all(client: ChainClient, signer: Signer, path: Path) -> DeployResult:
    """The contracts on the client's chain, deployed now only if `path` does not already record a
    usable deployment (see the module docstring). DealEscrow's arbiter is the deployer."""
    reason = "first deployment on this chain"
    if path.exists():  # noqa: ASYNC240 - one stat, before any await that matters
        recorded = Deployments.load(path)
        if recorded.chain_id != client.chain_id:
            raise DeploymentError(
                f"deployments file {path} is for chain {recorded.chain_id} but the node at {client.url} "
                f"is chain {client.chain_id}: point chain.rpc_url at chain {recorded.chain_id} "
                "or remove the file"
            )
        problem = await _unusable(client, recorded)
        if problem is None:
            return DeployResult(recorded, False)
        reason = problem
        log.warning("redeploying contracts on chain %s: %s", client.chain_id, reason)

    first = await client.block_number()
    token, registry, anchor = await asyncio.gather(
        deploy_contract(client, signer, "TestUSD"),
        deploy_contract(client, signer, "AgentRegistry"),
        deploy_contract(client, signer, "ActionLogAnchor"),
    )
    escrow = await deploy_contract(client, signer, "DealEscrow", registry.address, signer.address)
    reputation, validation = await asyncio.gather(
        deploy_contract(client, signer, "ReputationRegistry", registry.address, escrow.address),
        deploy_contract(client, signer, "ValidationRegistry", registry.address),
    )
    contracts = {c.name: c.address for c in (token, registry, escrow, anchor, reputation, validation)}
    deployments = Deployments(
        chain_id=client.chain_id,
        contracts={name: contracts[name] for name in CONTRACT_NAMES},
        deployer=signer.address,
        block=first + 1,
        deployed_at=datetime.now(UTC).isoformat(timespec="seconds"),
        source_hashes={name: load_artifact(name).source_hash for name in CONTRACT_NAMES},
        note=reason,
    )
    deployments.save(path)
    return DeployResult(deployments, True)


async def _unusable(client: ChainClient, recorded: Deployments) -> str | None:
    """Why a recorded deployment cannot be reused on this node, or None when it can."""
    missing = [n for n in CONTRACT_NAMES if n not in recorded.contracts]
    if missing:
        return f"the deployments file lacks {', '.join(missing)}"
    codes = await client.rpc.batch(
        [("eth_getCode", [recorded.contracts[n], "latest"]) for n in CONTRACT_NAMES]
    )
    empty = [
        n
        for n, code in zip(CONTRACT_NAMES, codes, strict=True)
        if not isinstance(code, str) or code in ("0x", "")
    ]
    if empty:
        return (
            f"no code at the recorded {', '.join(empty)} address(es) "
            "(the chain was restarted without its state?): redeployed"
        )
    changed = [n for n in CONTRACT_NAMES if recorded.source_hashes.get(n, "") != load_artifact(n).source_hash]
    if changed and recorded.source_hashes:
        return f"the contracts changed since they were deployed ({', '.join(changed)}): redeployed"
    return None


def contracts_for(client: ChainClient, deployments: Deployments) -> dict[str, ContractBinding]:
    """Typed bindings of the deployed contracts, by name (TestUSD, AgentRegistry, …)."""
    if deployments.chain_id != client.chain_id:
        raise DeploymentError(
            f"the deployments are for chain {deployments.chain_id} but the node at {client.url} is chain "
            f"{client.chain_id}: point chain.rpc_url at chain {deployments.chain_id}"
        )
    return {name: bind(client, name, address) for name, address in deployments.contracts.items()}
