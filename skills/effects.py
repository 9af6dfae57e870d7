"""Effects: exactly what a planned action will sign or send, so that exactly that can be approved.

A skill's `plan` lists its effects next to the Intent. The policy judges the Intent; the narrow
signer the executor gives `run` signs only these effects:

- `TxEffect`: a transaction, by `to`, `data`, `value` and chain id (the client fills nonce, gas, fees);
- `TypedDataEffect`: an EIP-712 message, by its 32-byte digest;
- `IdentityEffect`: an identity-key operation (issue a credential, sign a presentation) or a message
  send, by the operation's name and the SHA-256 of its canonical (JCS) parameters.

`describe()` gives each effect as JSON for the ledger and the approval queue (hashes, never keys).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from identity.jcs import canonicalize

_TX_FILLABLE = frozenset(
    {"nonce", "gas", "maxFeePerGas", "maxPriorityFeePerGas", "gasPrice", "type", "chainId", "from"}
)
"""Transaction keys besides to/data/value that a signer may see: filled by the client, or checked."""


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


def _as_bytes(value: Any) -> bytes | None:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str) and value[:2] in ("0x", "0X"):
        try:
            return bytes.fromhex(value[2:])
        except ValueError:
            return None
    if value is None:
        return b""
    return None


@dataclass(frozen=True)
class TxEffect:
    """A transaction to `to` with calldata `data` and `value` wei on chain `chain_id`; `label` names the
    call for people ("TestUSD.transfer")."""

    to: str
    data: bytes
    value: int
    chain_id: int
    label: str = ""

    def tx(self) -> dict[str, Any]:
        """The transaction dict to hand to the chain client (which fills nonce, gas and fees)."""
        return {"to": self.to, "data": self.data, "value": self.value, "chainId": self.chain_id}

    def mismatch(self, tx: Mapping[str, Any], sender: str) -> str | None:
        """Why `tx` is not this effect (None when it is): same to, data, value, chain id and sender;
        only nonce, gas and fee fields may be added."""
        extra = sorted(set(tx) - _TX_FILLABLE - {"to", "data", "value"})
        if extra:
            return f"unexpected transaction field(s) {', '.join(extra)}"
        to = tx.get("to")
        if not isinstance(to, str) or to.lower() != self.to.lower():
            return f"'to' is {to!r}, the approved target is {self.to}"
        if _as_bytes(tx.get("data")) != self.data:
            return f"calldata differs from the approved {self.label or 'call'}"
        value = tx.get("value", 0)
        if isinstance(value, bool) or not isinstance(value, int) or value != self.value:
            return f"value is {value!r}, the approved value is {self.value}"
        chain = tx.get("chainId")
        if chain != self.chain_id:
            return f"chain id is {chain!r}, the approved chain is {self.chain_id}"
        sent_from = tx.get("from")
        if sent_from is not None and str(sent_from).lower() != sender.lower():
            return f"'from' is {sent_from}, not this agent's wallet {sender}"
        return None

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "tx",
            "label": self.label,
            "to": self.to,
            "data": _hex(self.data),
            "value": str(self.value),
            "chain_id": self.chain_id,
        }


@dataclass(frozen=True)
class TypedDataEffect:
    """An EIP-712 signature over `full_message`, whose digest is `digest`."""

    digest: bytes
    primary_type: str
    full_message: Mapping[str, Any] = field(compare=False, repr=False)

    def describe(self) -> dict[str, Any]:
        return {"kind": "typed_data", "primary_type": self.primary_type, "digest": _hex(self.digest)}


@dataclass(frozen=True)
class IdentityEffect:
    """An identity-key operation or a message send: operation `op` with parameters hashing to
    `payload_hash` (see `payload_hash`). `params` are kept for `run`; only the hash is approved."""

    op: str
    payload_hash: bytes
    params: Mapping[str, Any] = field(compare=False, repr=False)

    @classmethod
    def of(cls, op: str, params: Mapping[str, Any]) -> IdentityEffect:
        return cls(op, payload_hash(op, params), params)

    def describe(self) -> dict[str, Any]:
        return {"kind": "identity", "op": self.op, "payload_hash": _hex(self.payload_hash)}


Effect = TxEffect | TypedDataEffect | IdentityEffect


def payload_hash(op: str, params: Mapping[str, Any]) -> bytes:
    """SHA-256 over the operation name and the JCS form of its parameters (JSON values only)."""
    return hashlib.sha256(b"sova-effect\x00" + op.encode() + b"\x00" + canonicalize(dict(params))).digest()
