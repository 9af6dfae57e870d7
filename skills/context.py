"""The skill context: what `plan` and `run` may use, and nothing more (no key: see skills.signing).

`plan` reads the agent's identity (DID, address, name), the chain id, the tokens, the contract
bindings (to encode calldata), the peers directory (who a counterparty is, with the credentials it
presented and the runtime verified) and the credential store. `run` also uses the chain client and the
messenger. The one identity-key operation in the context is `binding_proof`: a narrow callable that
can only sign this wallet's DID binding for a registry, which by itself does nothing. `anchor_range`
reads the ledger's next anchor, so that no caller can choose what gets anchored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from policies import Counterparty, Intent, TokenInfo, TokenRegistry
from policies.units import EXACT
from skills.errors import PlanError, SkillUnavailable

if TYPE_CHECKING:
    from identity.credential import Credential
    from wallet.chain import ChainClient
    from wallet.contracts import ContractBinding

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_PKH = re.compile(r"^did:pkh:eip155:(\d+):(0x[0-9a-fA-F]{40})$")


class Messenger(Protocol):
    """Sends one signed agent-to-agent message (the A2A transport, runtime/a2a/protocol.py, implements it
    and signs the envelope); the peer's answer as a dict."""

    async def send(
        self, to_did: str, envelope_type: str, thid: str, body: dict[str, Any]
    ) -> dict[str, Any]: ...


class PeerDirectory(Protocol):
    """Known agents: a DID, 0x address or agent name -> the Counterparty (DID, address, name and the
    credentials it presented that the runtime verified), or None."""

    def lookup(self, ref: str) -> Counterparty | None: ...


class CredentialSource(Protocol):
    """The agent's credentials (identity.CredentialStore fits)."""

    def get(self, credential_id: str) -> Credential | None: ...

    def find(
        self,
        *,
        type: str | None = None,
        issuer: str | None = None,
        subject: str | None = None,
        role: Any = None,
    ) -> list[Credential]: ...


@dataclass(frozen=True)
class SkillContext:
    """Everything skills may see of the agent. Build one per agent; it is shared by all actions."""

    agent_did: str
    agent_address: str
    chain_id: int
    tokens: TokenRegistry
    agent_name: str | None = None
    contracts: Mapping[str, ContractBinding] = field(default_factory=dict)
    """Bindings by contract name: TestUSD, DealEscrow, ActionLogAnchor, AgentRegistry."""
    chain: ChainClient | None = None
    messenger: Messenger | None = None
    peers: PeerDirectory | None = None
    credentials: CredentialSource | None = None
    binding_proof: Callable[[str], bytes] | None = None
    """registry address -> the DID key's proof binding this wallet (AgentRegistry.bindingDigest)."""
    anchor_range: Callable[[], tuple[bytes, int, int] | None] | None = None
    """The ledger's next anchor, computed from the ledger itself: (Merkle root, from_seq, to_seq), or
    None when every entry is anchored (runtime.ledger.anchor.next_anchor)."""
    tx_timeout: float = 120.0

    def intent(self, skill: str, **fields: Any) -> Intent:
        """An Intent of this agent on this chain."""
        return Intent(skill=skill, agent=self.agent_did, chain_id=self.chain_id, **fields)

    def contract(self, name: str) -> ContractBinding:
        """The binding of contract `name`; PlanError when this agent has none."""
        found = self.contracts.get(name)
        if found is None:
            known = ", ".join(sorted(self.contracts)) or "none"
            raise PlanError(f"no {name} contract is deployed for this agent (known: {known})")
        return found

    def token(self, ref: str) -> TokenInfo:
        """The token named by symbol or address; PlanError naming the known ones."""
        found = self.tokens.find(ref)
        if found is None:
            known = ", ".join(self.tokens.symbols()) or "none"
            raise PlanError(f"unknown token {ref!r}: use a known symbol or address (known: {known})")
        return found

    def token_binding(self, token: TokenInfo) -> tuple[str, ContractBinding]:
        """The contract name (or address) an intent names for `token`, and an ERC-20 binding of it."""
        for name, binding in self.contracts.items():
            if binding.address.lower() == token.key:
                return name, binding
        if self.chain is None:
            raise PlanError(f"no binding for token {token.symbol} at {token.address} and no chain client")
        from wallet.contracts import bind

        return token.address, bind(self.chain, "TestUSD", token.address)  # any ERC-20 ABI will do

    def counterparty(self, ref: str) -> Counterparty:
        """Who `ref` (DID, 0x address or agent name) is: from the peers directory when known (with its
        verified credentials), else the bare DID or address; PlanError for an unknown name."""
        if self.peers is not None:
            known = self.peers.lookup(ref)
            if known is not None:
                return known
        if _ADDRESS.match(ref):
            return Counterparty(address=ref)
        pkh = _PKH.match(ref)
        if pkh is not None and int(pkh.group(1)) == self.chain_id:
            return Counterparty(did=ref, address=pkh.group(2))
        if ref.startswith("did:"):
            return Counterparty(did=ref)
        raise PlanError(f"unknown agent {ref!r}: give a DID, a 0x address or the name of a known agent")

    def wallet_of(self, party: Counterparty, ref: str) -> str:
        """The wallet address of `party`; PlanError when none is known."""
        if party.address is None:
            raise PlanError(f"no wallet address is known for {ref}: give its 0x address")
        return party.address

    def require_chain(self) -> ChainClient:
        if self.chain is None:
            raise SkillUnavailable("this agent has no chain client: it cannot send transactions")
        return self.chain


def base_units(amount: Decimal, token: TokenInfo) -> int:
    """`amount` token units in base units; PlanError when it has more decimals than the token."""
    scaled = amount.scaleb(token.decimals, context=EXACT)
    if scaled != scaled.to_integral_value(context=EXACT):
        raise PlanError(f"{amount:f} {token.symbol} has more than the token's {token.decimals} decimals")
    return int(scaled)
