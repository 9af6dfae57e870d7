"""EIP-3009 authorizations of a USDC-like token (TestUSD): the typed data a payer signs, and the
signature split that the token's (v, r, s) functions take.

An x402 `exact` payment on EVM is one `TransferWithAuthorization` signed by the payer: the facilitator
submits it, the token moves `value` from `from` to `to` once (the random 32-byte `nonce` is burnt),
only strictly between `validAfter` and `validBefore`. `ReceiveWithAuthorization` is the same message
under another type name, which only the payee may submit (no front-running from the mempool);
`CancelAuthorization` burns a nonce before anyone uses it. The EIP-712 domain is the token's: name
and version (USDC: "USD Coin"/"2"; TestUSD: "Test USD"/"1"), chain id and the token's address.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from wallet.typed_data import EIP712_DOMAIN_TYPE, to_checksum_address, typed_data_digest

__all__ = [
    "AUTHORIZATION_FIELDS",
    "CANCEL_TYPES",
    "TransferAuthorization",
    "authorization_digest",
    "authorization_typed_data",
    "cancel_typed_data",
    "new_nonce",
    "split_signature",
    "token_domain",
]

TRANSFER = "TransferWithAuthorization"
RECEIVE = "ReceiveWithAuthorization"

AUTHORIZATION_FIELDS: list[dict[str, str]] = [
    {"name": "from", "type": "address"},
    {"name": "to", "type": "address"},
    {"name": "value", "type": "uint256"},
    {"name": "validAfter", "type": "uint256"},
    {"name": "validBefore", "type": "uint256"},
    {"name": "nonce", "type": "bytes32"},
]

CANCEL_TYPES: dict[str, list[dict[str, str]]] = {
    "CancelAuthorization": [
        {"name": "authorizer", "type": "address"},
        {"name": "nonce", "type": "bytes32"},
    ]
}

_UINT256_MAX = 2**256 - 1


def new_nonce() -> bytes:
    """A fresh random 32-byte authorization nonce (EIP-3009 nonces are random, not sequential)."""
    return os.urandom(32)


@dataclass(frozen=True)
class TransferAuthorization:
    """What a payer authorizes: `value` base units from `payer` to `payee`, valid strictly between
    `valid_after` and `valid_before` (unix seconds), once (`nonce`, 32 bytes)."""

    payer: str
    payee: str
    value: int
    valid_after: int
    valid_before: int
    nonce: bytes

    def __post_init__(self) -> None:
        if len(self.nonce) != 32:
            raise ValueError(f"nonce must be 32 bytes, got {len(self.nonce)}")
        for name in ("value", "valid_after", "valid_before"):
            number = getattr(self, name)
            if not 0 <= number <= _UINT256_MAX:
                raise ValueError(f"{name} must be a uint256, got {number}")

    def message(self) -> dict[str, Any]:
        """The EIP-712 message (checksum addresses, the field names of the standard)."""
        return {
            "from": to_checksum_address(self.payer),
            "to": to_checksum_address(self.payee),
            "value": self.value,
            "validAfter": self.valid_after,
            "validBefore": self.valid_before,
            "nonce": bytes(self.nonce),
        }

    def args(self) -> tuple[str, str, int, int, int, bytes]:
        """The leading arguments of `transferWithAuthorization` / `receiveWithAuthorization`."""
        m = self.message()
        return (m["from"], m["to"], self.value, self.valid_after, self.valid_before, bytes(self.nonce))


def token_domain(chain_id: int, token: str, name: str, version: str) -> dict[str, Any]:
    """The EIP-712 domain of the token at `token` (its name and version as the token declares them)."""
    return {
        "name": name,
        "version": version,
        "chainId": chain_id,
        "verifyingContract": to_checksum_address(token),
    }


def authorization_typed_data(
    auth: TransferAuthorization,
    chain_id: int,
    token: str,
    name: str,
    version: str,
    *,
    receive: bool = False,
) -> dict[str, Any]:
    """The full EIP-712 message of `auth` (a transfer, or with `receive` a payee-only receive)."""
    primary = RECEIVE if receive else TRANSFER
    return {
        "types": {"EIP712Domain": EIP712_DOMAIN_TYPE, primary: AUTHORIZATION_FIELDS},
        "primaryType": primary,
        "domain": token_domain(chain_id, token, name, version),
        "message": auth.message(),
    }


def cancel_typed_data(
    authorizer: str, nonce: bytes, chain_id: int, token: str, name: str, version: str
) -> dict[str, Any]:
    """The full EIP-712 message cancelling `authorizer`'s unused `nonce`."""
    if len(nonce) != 32:
        raise ValueError(f"nonce must be 32 bytes, got {len(nonce)}")
    return {
        "types": {"EIP712Domain": EIP712_DOMAIN_TYPE, **CANCEL_TYPES},
        "primaryType": "CancelAuthorization",
        "domain": token_domain(chain_id, token, name, version),
        "message": {"authorizer": to_checksum_address(authorizer), "nonce": bytes(nonce)},
    }


def authorization_digest(
    auth: TransferAuthorization, chain_id: int, token: str, name: str, version: str, *, receive: bool = False
) -> bytes:
    """The 32-byte EIP-712 digest of `auth` (what the token recovers the signer from)."""
    return typed_data_digest(authorization_typed_data(auth, chain_id, token, name, version, receive=receive))


def split_signature(signature: bytes) -> tuple[int, bytes, bytes]:
    """A 65-byte (r, s, v) signature as the (v, r, s) the token's functions take (v in 27/28)."""
    if len(signature) != 65:
        raise ValueError(f"an ECDSA signature is 65 bytes, got {len(signature)}")
    v = signature[64]
    if v in (0, 1):
        v += 27
    return v, bytes(signature[:32]), bytes(signature[32:64])
