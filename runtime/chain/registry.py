"""AgentRegistry from the runtime's side: register an agent with its DID binding, check an agent's
binding in both directions, and answer "is this credential revoked?" from the chain.

Registration is ERC-8004's `register(agentURI, metadata)`: the agent URI is the agent's registration
file (`<endpoint>/.well-known/agent-registration.json`) and the metadata entries `did`, `endpoint`,
`serviceTags` and `didProof` feed the registry's lookups by wallet, DID and tag. The wallet is the
agent's `agentWallet`; a transfer of the agent's token clears it, and until the new owner proves a
wallet again (`setAgentWallet`) no wallet is bound to the DID, so every deal with it is refused.

Direction wallet->DID: the registry stores the DID under the wallet that sent `register`, so a
record read by wallet address proves the wallet claimed that DID. Direction DID->wallet: the stored
proof must be the DID key's Ed25519 signature over `bindingDigest(wallet)`, checked here off-chain.
A DID registered by a wallet that cannot show a valid proof is treated as unbound: revocations
under that wallet are not trusted, and the check fails closed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from identity import BindingError, IdentityKey, binding_proof, credential_id_hash, verify_binding
from runtime.errors import SovaError

if TYPE_CHECKING:
    from wallet import Signer
    from wallet.contracts import AgentRegistry
    from wallet.trust import ReputationRegistry

DIRECTION_WALLET_TO_DID = "wallet->did"


class RegistryError(SovaError):
    """An agent is not registered, or its record does not hold together."""


@dataclass(frozen=True)
class AgentRecord:
    """One AgentRegistry entry."""

    agent_id: int
    wallet: str
    did: str
    endpoint: str
    tags: tuple[str, ...]
    did_proof: bytes
    registered_at: int


class Registry:
    """AgentRegistry operations the runtime needs, over one typed binding; `reputation` (when the
    chain has a ReputationRegistry) ranks the sellers a buyer finds."""

    def __init__(self, contract: AgentRegistry, reputation: ReputationRegistry | None = None) -> None:
        self.contract = contract
        self.reputation = reputation

    async def record(self, agent_id: int) -> AgentRecord:
        wallet, did, endpoint, tags, proof, registered_at = await self.contract.call("getAgent", agent_id)
        return AgentRecord(
            agent_id, str(wallet), str(did), str(endpoint), tuple(tags), bytes(proof), int(registered_at)
        )

    async def by_wallet(self, wallet: str) -> AgentRecord | None:
        agent_id = await self.contract.agent_id_of(wallet)
        return await self.record(agent_id) if agent_id else None

    async def by_did(self, did: str) -> AgentRecord | None:
        agent_id = int(await self.contract.call("agentIdOfDid", did))
        return await self.record(agent_id) if agent_id else None

    async def register(
        self, signer: Signer, key: IdentityKey, endpoint: str = "", tags: list[str] | None = None
    ) -> AgentRecord:
        """Register `signer`'s wallet with `key`'s DID and the binding proof; idempotent when the
        same DID is registered already, an error when the wallet holds another DID."""
        existing = await self.by_wallet(signer.address)
        if existing is not None:
            if existing.did != key.did:
                raise RegistryError(
                    f"wallet {signer.address} is registered with {existing.did}, not {key.did}: "
                    "use the agent's own wallet key, or a new wallet for this DID"
                )
            return existing
        digest = await self.contract.binding_digest(signer.address)
        tx = self.contract.register_sova_tx(key.did, endpoint, list(tags or []), binding_proof(key, digest))
        await self.contract.client.transact(signer, tx, purpose=f"register {key.did}")
        record = await self.by_wallet(signer.address)
        assert record is not None, "register succeeded but the record is missing"
        return record

    async def update(self, signer: Signer, key: IdentityKey, endpoint: str, tags: list[str]) -> AgentRecord:
        """Replace the endpoint and tags of `signer`'s record (with a fresh binding proof by `key`)."""
        digest = await self.contract.binding_digest(signer.address)
        tx = self.contract.build("update", endpoint, list(tags), binding_proof(key, digest))
        await self.contract.client.transact(signer, tx, purpose=f"update {key.did}")
        record = await self.by_wallet(signer.address)
        assert record is not None, "update succeeded but the record is missing"
        return record

    async def verify_binding(self, did: str, wallet: str) -> AgentRecord:
        """Check that `wallet` registered `did` (wallet->did) and that `did` signed for `wallet`
        (did->wallet). Raises BindingError naming the direction that fails."""
        record = await self.by_wallet(wallet)
        if record is None or record.did != did:
            claimed = "nothing" if record is None else record.did
            raise BindingError(
                f"wallet {wallet} did not register {did} in AgentRegistry {self.contract.address} "
                f"(it is the agentWallet of {claimed}; a transferred agent has none until it is proved "
                "again) (direction wallet->did): the peer's claim is false",
                direction=DIRECTION_WALLET_TO_DID,
            )
        verify_binding(did, await self.contract.binding_digest(wallet), record.did_proof)
        return record

    async def is_revoked(self, issuer_did: str, credential_id: str) -> bool:
        """Revocation checker for `identity.verify_credential`: reads `isRevoked(issuerWallet, id)`.

        An issuer that never registered has no on-chain revocation list: nothing is revoked. A
        registered issuer whose binding does not verify raises (the check fails closed)."""
        record = await self.by_did(issuer_did)
        if record is None:
            return False
        verify_binding(issuer_did, await self.contract.binding_digest(record.wallet), record.did_proof)
        return bool(await self.contract.call("isRevoked", record.wallet, credential_id_hash(credential_id)))

    async def revoke(self, signer: Signer, credential_id: str) -> Any:
        """Revoke `credential_id` under the signer's wallet (the issuer's namespace)."""
        tx = self.contract.build("revokeCredential", credential_id_hash(credential_id))
        return await self.contract.client.transact(signer, tx, purpose=f"revoke {credential_id}")
