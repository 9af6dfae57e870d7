"""The narrow signer: what a skill's `run` signs with. It signs the approved effects of one action and
nothing else, each once, and never while the agent is paused.

- A transaction is signed when its `to`, `data`, `value`, `chainId` (and `from`, if given) equal an
  approved TxEffect's; the client may fill nonce, gas and fees. The first signature fixes the nonce: a
  re-signature with the same nonce (a fee bump replacing a stuck transaction) is allowed, because only
  one of the two can be mined; another nonce would be a second payment and is refused.
- Typed data is signed when its EIP-712 digest equals an approved TypedDataEffect's.
- An identity operation (issue a credential, sign a presentation) or a message permit is performed
  when (op, SHA-256 of its canonical parameters) equals an approved IdentityEffect's.
- The pause switch is read before every signature, so a pause stops the next signature even in the
  middle of a running skill.

Refusals raise SignatureRefused (SigningPaused when paused) and are recorded in the `SigningAudit`
the executor logs. The real signer and the identity key live only in closures of `scoped_signer`: the
object a skill gets has no attribute that holds either.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn

from skills import IdentityEffect, SignatureRefused, SigningPaused, TxEffect, TypedDataEffect, payload_hash
from skills.effects import Effect

if TYPE_CHECKING:
    from identity.keys import IdentityKey
    from skills.signing import IdentityOp
    from wallet.signer import SignedTransaction, SignerLike

log = logging.getLogger(__name__)


class PauseSwitch:
    """The executor's pause flag, shared with every narrow signer it hands out."""

    __slots__ = ("_reason",)

    def __init__(self) -> None:
        self._reason: str | None = None

    @property
    def paused(self) -> bool:
        return self._reason is not None

    @property
    def reason(self) -> str | None:
        return self._reason

    def pause(self, reason: str) -> None:
        self._reason = reason or "paused by the operator"

    def resume(self) -> None:
        self._reason = None


@dataclass
class SigningAudit:
    """What one narrow signer signed and refused: JSON-ready lines for the ledger, no key material."""

    signed: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    @property
    def tx_signed(self) -> bool:
        """True once a transaction was signed (its money may have moved)."""
        return any(s.get("kind") == "tx" for s in self.signed)


class ScopedSigner:
    """A narrow signer (skills.signing.NarrowSigner). Build it with `scoped_signer`."""

    __slots__ = ("_identity", "_permit", "_sign_td", "_sign_tx", "address")

    def __init__(
        self,
        address: str,
        sign_tx: Callable[[dict[str, Any]], SignedTransaction],
        sign_td: Callable[[dict[str, Any]], bytes],
        identity: Callable[[str, Mapping[str, Any]], Any],
        permit: Callable[[str, Mapping[str, Any]], None],
    ) -> None:
        self.address = address
        self._sign_tx, self._sign_td, self._identity, self._permit = sign_tx, sign_td, identity, permit

    def sign_transaction(self, tx: dict[str, Any]) -> SignedTransaction:
        return self._sign_tx(tx)

    def sign_typed_data(self, full_message: dict[str, Any]) -> bytes:
        return self._sign_td(full_message)

    async def identity(self, op: IdentityOp, params: Mapping[str, Any]) -> Any:
        return await self._identity(op, params)

    def permit(self, op: str, params: Mapping[str, Any]) -> None:
        self._permit(op, params)

    def __repr__(self) -> str:
        return f"ScopedSigner({self.address})"

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        raise TypeError("a narrow signer cannot be pickled or copied")


def scoped_signer(  # noqa: C901 - one closure per signing method (see tools/check_sizes.py)
    real: SignerLike,
    effects: Sequence[Effect],
    *,
    pause: PauseSwitch,
    identity_key: IdentityKey | None = None,
) -> tuple[ScopedSigner, SigningAudit]:
    """A narrow signer for `effects`, and the audit of what it does."""
    audit = SigningAudit()
    txs = [e for e in effects if isinstance(e, TxEffect)]
    nonces: dict[int, int] = {}
    typed = [e for e in effects if isinstance(e, TypedDataEffect)]
    typed_used: set[int] = set()
    ids = [e for e in effects if isinstance(e, IdentityEffect)]
    ids_used: set[int] = set()

    def refuse(message: str, paused: bool = False) -> NoReturn:
        audit.refused.append(message)
        log.warning("narrow signer of %s refused: %s", real.address, message)
        raise (SigningPaused if paused else SignatureRefused)(message)

    def gate() -> None:
        if pause.paused:
            refuse(f"the agent is paused ({pause.reason}): no signature until it is resumed", paused=True)

    def sign_tx(tx: dict[str, Any]) -> SignedTransaction:
        gate()
        nonce = tx.get("nonce")
        if isinstance(nonce, bool) or not isinstance(nonce, int):
            refuse("a transaction to sign needs an integer nonce")
        problems = []
        for i, effect in enumerate(txs):
            why = effect.mismatch(tx, real.address)
            if why is None and nonces.get(i, nonce) != nonce:
                why = (
                    f"{effect.label} was signed with nonce {nonces[i]} already: {nonce} would be a second one"
                )
            if why is not None:
                problems.append(why)
                continue
            replacement = i in nonces
            nonces[i] = nonce
            signed = real.sign_transaction(tx)
            audit.signed.append(
                {
                    "kind": "tx",
                    "label": effect.label,
                    "nonce": nonce,
                    "tx_hash": signed.hash_hex,
                    "replacement": replacement,
                }
            )
            return signed
        if not txs:
            refuse(f"no transaction was approved for this action (to {tx.get('to')})")
        refuse("not the approved transaction: " + "; ".join(problems))

    def sign_td(full_message: dict[str, Any]) -> bytes:
        gate()
        from wallet.typed_data import typed_data_digest

        try:
            digest = typed_data_digest(full_message)
        except Exception as exc:
            refuse(f"typed data that cannot be hashed ({type(exc).__name__}) is never signed")
        for i, effect in enumerate(typed):
            if effect.digest == digest and i not in typed_used:
                typed_used.add(i)
                signature = real.sign_typed_data(full_message)
                audit.signed.append({"kind": "typed_data", "digest": "0x" + digest.hex()})
                return signature
        refuse(f"typed data with digest 0x{digest.hex()} was not approved (or was signed already)")

    def take(op: str, params: Mapping[str, Any]) -> IdentityEffect:
        gate()
        try:
            digest = payload_hash(op, params)
        except ValueError as exc:
            refuse(f"{op} parameters are not plain JSON ({exc})")
        for i, effect in enumerate(ids):
            if effect.op == op and effect.payload_hash == digest and i not in ids_used:
                ids_used.add(i)
                audit.signed.append({"kind": "identity", "op": op, "payload_hash": "0x" + digest.hex()})
                return effect
        return refuse(f"{op} with payload hash 0x{digest.hex()} was not approved (or was used already)")

    async def identity(op: str, params: Mapping[str, Any]) -> Any:
        if op not in ("issue_credential", "present"):
            refuse(f"unknown identity operation {op!r}")
        take(op, params)
        if identity_key is None:
            raise SignatureRefused("this agent has no identity key to sign with")
        if op == "issue_credential":
            from identity.issuance import issue_credential

            expires = params.get("expires")
            return await issue_credential(
                identity_key,
                params["subject"],
                params["type"],
                params.get("claims") or {},
                format=params.get("format", "ldp"),
                expires=datetime.fromisoformat(expires) if isinstance(expires, str) else None,
            )
        from identity.presentations import present

        credentials, challenge, domain = list(params["credentials"]), params["challenge"], params["domain"]
        if params.get("format") == "ldp":
            return await present(identity_key, credentials, challenge, domain, format="ldp")
        return await present(identity_key, credentials, challenge, domain)  # a JWT VP

    def permit(op: str, params: Mapping[str, Any]) -> None:
        take(op, params)

    return ScopedSigner(real.address, sign_tx, sign_td, identity, permit), audit


def binding_prover(identity_key: IdentityKey, chain_id: int, wallet: str) -> Callable[[str], bytes]:
    """`SkillContext.binding_proof`: signs only the DID binding of `wallet` on `chain_id` for a registry
    address (the digest AgentRegistry.bindingDigest(wallet) gives), nothing else."""

    def prove(registry: str) -> bytes:
        from identity.binding import binding_proof
        from wallet.typed_data import binding_digest

        return binding_proof(identity_key, binding_digest(registry, chain_id, wallet))

    return prove
