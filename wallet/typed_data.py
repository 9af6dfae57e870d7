"""EIP-712 typed data of DealEscrow deals and the AgentRegistry DID-binding digest.

`deal_digest` equals `DealEscrow.dealId(deal)` and `binding_digest` equals
`AgentRegistry.bindingDigest(wallet)`; tests check both against the deployed contracts.

Encoding typed data (eth-account) costs ~0.5-1 ms of CPU, and one deal's `Deal` is encoded about nine
times (planned, checked by the narrow signer, signed, the peer's signature recovered, escrow opened and
released). `signable_typed_data` keeps the last encodings, keyed by the message's exact content (types
included, so no two different messages share a key); the encoding is a pure function of that content.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from eth_hash.auto import keccak
from eth_utils.address import to_checksum_address as _to_checksum_address

ESCROW_NAME = "SovaDealEscrow"
ESCROW_VERSION = "1"

DEAL_TYPES: dict[str, list[dict[str, str]]] = {
    "Deal": [
        {"name": "buyer", "type": "address"},
        {"name": "seller", "type": "address"},
        {"name": "token", "type": "address"},
        {"name": "amount", "type": "uint256"},
        {"name": "termsHash", "type": "bytes32"},
        {"name": "deadline", "type": "uint64"},
        {"name": "nonce", "type": "uint256"},
    ]
}

EIP712_DOMAIN_TYPE: list[dict[str, str]] = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]

_CACHE_SIZE = 256
_signables: OrderedDict[Any, SignableMessage] = OrderedDict()
_signables_lock = threading.Lock()


@lru_cache(maxsize=1024)
def to_checksum_address(address: str) -> str:
    """EIP-55 checksum address (cached: a deal checksums the same few addresses dozens of times)."""
    return str(_to_checksum_address(address))


BINDING_TYPEHASH = keccak(b"SovaDidBinding(address registry,uint256 chainId,address wallet)")


@dataclass(frozen=True)
class Deal:
    """A deal both parties sign; `amount` in token base units, `deadline` in unix seconds."""

    buyer: str
    seller: str
    token: str
    amount: int
    terms_hash: bytes
    deadline: int
    nonce: int

    def __post_init__(self) -> None:
        if len(self.terms_hash) != 32:
            raise ValueError(f"terms_hash must be 32 bytes, got {len(self.terms_hash)}")
        if self.amount < 0 or self.deadline < 0 or self.nonce < 0:
            raise ValueError("amount, deadline and nonce must not be negative")

    def message(self) -> dict[str, Any]:
        """The EIP-712 `Deal` message (camelCase field names, checksum addresses)."""
        return {
            "buyer": to_checksum_address(self.buyer),
            "seller": to_checksum_address(self.seller),
            "token": to_checksum_address(self.token),
            "amount": self.amount,
            "termsHash": bytes(self.terms_hash),
            "deadline": self.deadline,
            "nonce": self.nonce,
        }

    def as_tuple(self) -> tuple[str, str, str, int, bytes, int, int]:
        """The deal as the ABI tuple that DealEscrow's functions take."""
        m = self.message()
        return (
            m["buyer"],
            m["seller"],
            m["token"],
            self.amount,
            bytes(self.terms_hash),
            self.deadline,
            self.nonce,
        )


def escrow_domain(chain_id: int, escrow_address: str) -> dict[str, Any]:
    """The EIP-712 domain of the DealEscrow at `escrow_address` on `chain_id`."""
    return {
        "name": ESCROW_NAME,
        "version": ESCROW_VERSION,
        "chainId": chain_id,
        "verifyingContract": to_checksum_address(escrow_address),
    }


def deal_typed_data(deal: Deal, chain_id: int, escrow_address: str) -> dict[str, Any]:
    """The full EIP-712 message for `sign_typed_data(full_message=...)`."""
    return {
        "types": {"EIP712Domain": EIP712_DOMAIN_TYPE, **DEAL_TYPES},
        "primaryType": "Deal",
        "domain": escrow_domain(chain_id, escrow_address),
        "message": deal.message(),
    }


def signable_typed_data(full_message: dict[str, Any]) -> SignableMessage:
    """`eth_account.messages.encode_typed_data(full_message=...)`, from the cache when the very same
    message (same structure, types and values) was encoded lately."""
    try:
        key = _content_key(full_message)
    except TypeError:  # a value of a type the key does not cover: encode without the cache
        return encode_typed_data(full_message=full_message)
    with _signables_lock:
        found = _signables.get(key)
        if found is not None:
            _signables.move_to_end(key)
            return found
    signable = encode_typed_data(full_message=full_message)
    with _signables_lock:
        _signables[key] = signable
        while len(_signables) > _CACHE_SIZE:
            _signables.popitem(last=False)
    return signable


def _content_key(value: Any) -> Any:
    """A hashable key equal for two values only when they have the same structure, types and values."""
    kind = type(value)
    if kind is dict:
        return ("dict", tuple((k, _content_key(v)) for k, v in value.items()))
    if kind is list or kind is tuple:
        return (kind.__name__, tuple(_content_key(v) for v in value))
    if kind in (str, int, bool, bytes, float) or value is None:
        return (kind.__name__, value)
    raise TypeError(f"no content key for {kind.__name__}")


def typed_data_digest(full_message: dict[str, Any]) -> bytes:
    """The 32-byte EIP-712 digest keccak256(0x1901 || domainSeparator || hashStruct(message))."""
    signable = signable_typed_data(full_message)
    return bytes(keccak(b"\x19" + signable.version + signable.header + signable.body))


def deal_digest(deal: Deal, chain_id: int, escrow_address: str) -> bytes:
    """The deal's EIP-712 digest, equal to `DealEscrow.dealId(deal)`."""
    return typed_data_digest(deal_typed_data(deal, chain_id, escrow_address))


def recover_typed_data_signer(full_message: dict[str, Any], signature: bytes | str) -> str:
    """The checksum address that signed `full_message` with `signature`."""
    signer: str = Account.recover_message(signable_typed_data(full_message), signature=signature)
    return signer


def binding_digest(registry_address: str, chain_id: int, wallet: str) -> bytes:
    """The digest the DID key signs to bind a DID to `wallet`, equal to `AgentRegistry.bindingDigest`."""
    encoded = abi_encode(
        ["bytes32", "address", "uint256", "address"],
        [BINDING_TYPEHASH, to_checksum_address(registry_address), chain_id, to_checksum_address(wallet)],
    )
    return bytes(keccak(encoded))


AGENT_WALLET_SET_TYPES = [
    {"name": "agentId", "type": "uint256"},
    {"name": "newWallet", "type": "address"},
    {"name": "owner", "type": "address"},
    {"name": "deadline", "type": "uint256"},
]


def agent_wallet_typed_data(
    registry_address: str, chain_id: int, agent_id: int, new_wallet: str, owner: str, deadline: int
) -> dict[str, Any]:
    """ERC-8004 `AgentWalletSet` under domain ERC8004IdentityRegistry / 1: what `new_wallet` signs to
    become agent `agent_id`'s `agentWallet` (AgentRegistry.setAgentWallet; deadline at most 5 min ahead)."""
    return {
        "types": {"EIP712Domain": EIP712_DOMAIN_TYPE, "AgentWalletSet": AGENT_WALLET_SET_TYPES},
        "primaryType": "AgentWalletSet",
        "domain": {
            "name": "ERC8004IdentityRegistry",
            "version": "1",
            "chainId": chain_id,
            "verifyingContract": to_checksum_address(registry_address),
        },
        "message": {
            "agentId": agent_id,
            "newWallet": to_checksum_address(new_wallet),
            "owner": to_checksum_address(owner),
            "deadline": deadline,
        },
    }
