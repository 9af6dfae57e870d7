"""What a Sova agent writes into AgentRegistry (ERC-8004) besides its token: the agent URI of its
registration file and the reserved metadata entries Sova's lookups are kept from."""

from __future__ import annotations

from collections.abc import Sequence

from wallet.errors import ChainError

__all__ = ["REGISTRATION_PATH", "registration_uri", "sova_metadata"]

REGISTRATION_PATH = "/.well-known/agent-registration.json"
"""Where an agent serves its ERC-8004 registration file, under its A2A base URL."""


def registration_uri(endpoint: str) -> str:
    """The agent URI of an agent serving at `endpoint` (its registration file), "" for no endpoint."""
    return endpoint.rstrip("/") + REGISTRATION_PATH if endpoint else ""


def sova_metadata(did: str, endpoint: str, tags: Sequence[str], did_proof: bytes) -> list[tuple[str, bytes]]:
    """AgentRegistry's reserved metadata entries of a Sova agent: `did`, `endpoint`, `serviceTags`
    (joined by commas) and `didProof` (see contracts/AgentRegistry.sol)."""
    bad = [tag for tag in tags if not tag or len(tag.encode()) > 64 or "," in tag]
    if bad:
        raise ChainError(f"service tag {bad[0]!r} is not 1-64 bytes without a comma: rename the service")
    return [
        ("did", did.encode()),
        ("endpoint", endpoint.encode()),
        ("serviceTags", ",".join(tags).encode()),
        ("didProof", bytes(did_proof)),
    ]
