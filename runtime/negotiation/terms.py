"""What a signed Deal commits to when it buys a service: its `termsHash`.

    termsHash = keccak256(JCS({"input": <input hash>, "price": <price>, "service": <name>}))

`input hash` is keccak256 of the input's JCS (RFC 8785) canonical JSON, 0x and 64 lower-case hex digits;
`price` is the agreed price in token units as a plain decimal string without exponent or trailing zeros
("12", "9.5"); `service` the service's name. Both sides compute it from what they agreed, so a Deal
signed for another service, input or price does not match and is refused before the seller signs.
An output's hash (kept in the ledger and the deal store) is keccak256 of its JCS bytes too.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from eth_hash.auto import keccak

from identity.jcs import canonicalize
from runtime.brains.rules import price_text

__all__ = ["canonical", "payload_hash", "terms_hash"]


def canonical(data: Any) -> bytes:
    """The JCS bytes of JSON `data` (what is hashed, stored and compared); ValueError when it is not
    plain JSON (e.g. an integer over 2**53)."""
    try:
        return canonicalize(data)
    except TypeError as exc:
        raise ValueError(str(exc)) from None


def payload_hash(raw: bytes) -> str:
    """keccak256 of `raw`, 0x hex."""
    return "0x" + bytes(keccak(raw)).hex()


def terms_hash(service: str, input_hash: str, price: str | Decimal) -> str:
    """The termsHash of a deal for `service` on the input hashing to `input_hash`, at `price`."""
    preimage = {"input": input_hash.lower(), "price": price_text(Decimal(price)), "service": service}
    return payload_hash(canonicalize(preimage))
