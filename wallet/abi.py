"""ABI encoding and decoding over eth-abi: calls, results, custom errors, events.

Decoded addresses come back checksummed (eth-abi gives lowercase), tuples as tuples, arrays as lists.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_utils.abi import collapse_if_tuple
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

_PANIC_CODES = {
    0x01: "assert failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division by zero",
    0x21: "invalid enum value",
    0x22: "bad storage byte array",
    0x31: "pop on empty array",
    0x32: "array index out of bounds",
    0x41: "out of memory",
    0x51: "call to a zero function",
}
ERROR_STRING_SELECTOR = keccak(text="Error(string)")[:4]


@functools.lru_cache(maxsize=4096)
def checksum(address: str) -> str:
    """EIP-55 form of an address, cached: the same few addresses recur in every transaction, and
    each conversion is a keccak (~20 µs)."""
    return to_checksum_address(address)


PANIC_SELECTOR = keccak(text="Panic(uint256)")[:4]


def input_types(entry: Mapping[str, Any]) -> list[str]:
    return [collapse_if_tuple(dict(i)) for i in entry.get("inputs", [])]


def signature(entry: Mapping[str, Any]) -> str:
    """`name(type,…)` with tuples spelled out, as selectors and topics hash it."""
    return f"{entry['name']}({','.join(input_types(entry))})"


def selector(entry: Mapping[str, Any]) -> bytes:
    return keccak(text=signature(entry))[:4]


def encode_args(inputs: Sequence[Mapping[str, Any]], args: Sequence[Any]) -> bytes:
    return abi_encode([collapse_if_tuple(dict(i)) for i in inputs], list(args))


def decode_values(components: Sequence[Mapping[str, Any]], data: bytes) -> tuple[Any, ...]:
    raw = abi_decode([collapse_if_tuple(dict(c)) for c in components], data)
    return tuple(normalize(v, c) for v, c in zip(raw, components, strict=True))


def normalize(value: Any, component: Mapping[str, Any]) -> Any:
    """Checksum addresses inside a decoded value of ABI `component`, at any depth."""
    typ = str(component["type"])
    if typ.endswith("]"):
        inner = dict(component, type=typ[: typ.rindex("[")])
        return [normalize(v, inner) for v in value]
    if typ == "tuple":
        return tuple(normalize(v, c) for v, c in zip(value, component.get("components", []), strict=True))
    if typ == "address":
        return checksum(value)
    return value


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, tuple | list):
        return "(" + ", ".join(_show(v) for v in value) + ")"
    if isinstance(value, str) and not value.startswith("0x"):
        return repr(value)
    return str(value)


class ErrorDecoder:
    """Turns revert data into `Name(arg, …)` for every custom error of the ABIs it was given, plus
    Solidity's `Error(string)` and `Panic(uint256)`."""

    def __init__(self) -> None:
        self._errors: dict[bytes, Mapping[str, Any]] = {}

    def add_abi(self, abi: Sequence[Mapping[str, Any]]) -> None:
        for entry in abi:
            if entry.get("type") == "error":
                self._errors[selector(entry)] = entry

    def decode(self, data: bytes) -> str | None:
        """The decoded error, or None when the selector is unknown or the data is malformed."""
        if len(data) < 4:
            return None
        head, body = data[:4], data[4:]
        try:
            if head == ERROR_STRING_SELECTOR:
                (reason,) = abi_decode(["string"], body)
                return f"Error({reason!r})"
            if head == PANIC_SELECTOR:
                (code,) = abi_decode(["uint256"], body)
                return f"Panic(0x{code:02x}: {_PANIC_CODES.get(code, 'unknown panic')})"
            entry = self._errors.get(head)
            if entry is None:
                return None
            values = decode_values(entry.get("inputs", []), body)
        except Exception:  # malformed data must not hide the revert itself
            return None
        return f"{entry['name']}({', '.join(_show(v) for v in values)})"

    def describe(self, data: bytes) -> str:
        """A short text for a message: the decoded error, else the raw data, else "no revert data"."""
        if not data:
            return "no revert data"
        return self.decode(data) or f"unknown error data 0x{data.hex()}"


def decode_event(event: Mapping[str, Any], log: Mapping[str, Any]) -> dict[str, Any] | None:
    """The arguments of `log` (a raw JSON-RPC log) if it is an `event` log, else None."""
    topics = [bytes.fromhex(str(t)[2:]) for t in log.get("topics", [])]
    if not topics or topics[0] != keccak(text=signature(event)):
        return None
    inputs = list(event.get("inputs", []))
    indexed = [i for i in inputs if i.get("indexed")]
    plain = [i for i in inputs if not i.get("indexed")]
    if len(topics) - 1 != len(indexed):
        return None
    out: dict[str, Any] = {}
    for comp, topic in zip(indexed, topics[1:], strict=True):
        typ = collapse_if_tuple(dict(comp))
        dynamic = typ in ("string", "bytes") or typ.endswith("]") or typ.startswith("(")
        # Dynamic indexed values are stored as their hash: the value itself is not in the log.
        out[comp["name"]] = topic if dynamic else decode_values([comp], topic)[0]
    data = bytes.fromhex(str(log.get("data", "0x"))[2:])
    for comp, value in zip(plain, decode_values(plain, data), strict=True):
        out[comp["name"]] = value
    return out
