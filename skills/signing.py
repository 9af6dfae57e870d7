"""What `run` signs with: the narrow signer the executor hands it (implemented in runtime/).

It signs only the effects the action was approved for (skills.effects), each once, and only while the
agent is not paused; anything else raises SignatureRefused (SigningPaused when paused) and is logged.
It fits `wallet.signer.SignerLike`, so it can be passed to `ChainClient.send` / `transact`. It holds no
key a skill could reach.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from wallet.signer import SignedTransaction

IdentityOp = Literal["issue_credential", "present"]
"""Identity-key operations a narrow signer performs: `issue_credential` params {subject, type, claims,
expires (ISO or None), format}; `present` params {credentials (texts), challenge, domain, optional
format: "jwt" (default, a compact JWT VP) or "ldp" (an LD-proof VP object)}."""


class NarrowSigner(Protocol):
    """Signs the approved effects of one action, nothing else."""

    @property
    def address(self) -> str:
        """The agent's wallet address."""
        ...

    def sign_transaction(self, tx: dict[str, Any]) -> SignedTransaction:
        """Sign `tx` if it is an approved TxEffect (nonce, gas and fees may be filled in)."""
        ...

    def sign_typed_data(self, full_message: dict[str, Any]) -> bytes:
        """Sign EIP-712 `full_message` if its digest is an approved TypedDataEffect's."""
        ...

    async def identity(self, op: IdentityOp, params: Mapping[str, Any]) -> Any:
        """Run identity-key operation `op` if (op, params) is an approved IdentityEffect; its result
        (an `identity.Credential` for issue_credential, the presentation for present: a JWT VP string,
        or an LD-proof VP dict)."""
        ...

    def permit(self, op: str, params: Mapping[str, Any]) -> None:
        """Use up the approved IdentityEffect (op, params) of an effect that is not a signature made
        here (a message the messenger sends and signs); raises like a refused signature."""
        ...
