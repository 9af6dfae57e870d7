"""Compiled contract artifacts shipped in `wallet/artifacts/` (written by `make contracts`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from wallet.errors import ArtifactError

CONTRACT_NAMES = (
    "AgentRegistry",
    "DealEscrow",
    "ActionLogAnchor",
    "TestUSD",
    "ReputationRegistry",
    "ValidationRegistry",
)


@dataclass(frozen=True)
class Artifact:
    """One compiled contract: ABI, creation and runtime bytecode (0x hex), and its source hash."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    source_hash: str


def load_artifact(name: str) -> Artifact:
    """Read `wallet/artifacts/<name>.json`; raise ArtifactError when it is missing or unreadable."""
    filename = f"{name}.json"
    try:
        text = resources.files("wallet").joinpath("artifacts", filename).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ArtifactError(
            f"contract artifact wallet/artifacts/{filename} is missing or unreadable "
            f"({type(exc).__name__}): run `make contracts`"
        ) from exc
    try:
        data = json.loads(text)
        return Artifact(
            name=str(data["contractName"]),
            abi=list(data["abi"]),
            bytecode=str(data["bytecode"]),
            deployed_bytecode=str(data["deployedBytecode"]),
            source_hash=str(data["sourceHash"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(
            f"contract artifact wallet/artifacts/{filename} is not a valid artifact "
            f"({type(exc).__name__}: {exc}): run `make contracts`"
        ) from exc
