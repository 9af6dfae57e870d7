"""DID syntax and the offline DID helpers that need no resolver.

- `parse_did` / `split_did_url`: the DID-core syntax (`did:<method>:<method-specific-id>`), with clear
  errors for anything else.
- `did_key_from_public_key` / `public_key_from_did_key`: Ed25519 `did:key` ⇄ raw public key, decoded here
  (multibase base58btc, multicodec 0xed01) with a small cache, so hot paths (envelopes) never call didkit.
- `did_pkh`: the wallet's `did:pkh:eip155:<chain>:<address>` as a pure string function (EIP-55 address).
"""

from __future__ import annotations

import re
from functools import lru_cache

import base58
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from eth_hash.auto import keccak

from identity.errors import MalformedDid, UnsupportedKeyType

ED25519_MULTICODEC = b"\xed\x01"
SECP256K1_MULTICODEC = b"\xe7\x01"

_IDCHAR = r"(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2})"
_DID_RE = re.compile(rf"did:([a-z0-9]+):((?:{_IDCHAR}*:)*{_IDCHAR}+)")
_ADDRESS_RE = re.compile(r"0x[0-9a-fA-F]{40}")
_FIX = "a DID looks like did:<method>:<id>, e.g. did:key:z6Mk…"


def _shown(text: str) -> str:
    """A bounded, one-line rendering of untrusted input for error messages."""
    short = text if len(text) <= 80 else text[:77] + "..."
    return repr(short)


def parse_did(did: str) -> tuple[str, str]:
    """Split a DID into (method, method-specific id); MalformedDid when it is not a DID."""
    if not isinstance(did, str):
        raise MalformedDid(f"malformed DID: expected a string, got {type(did).__name__}; {_FIX}")
    return _parse_did(did)


@lru_cache(maxsize=4096)
def _parse_did(did: str) -> tuple[str, str]:
    match = _DID_RE.fullmatch(did)
    if match is None:
        raise MalformedDid(f"malformed DID {_shown(did)}: {_FIX}")
    return match.group(1), match.group(2)


def split_did_url(did_url: str) -> tuple[str, str | None]:
    """Split a DID URL `did:…#fragment` into (DID, fragment or None); MalformedDid when the DID part is bad.

    Paths and queries are not used by Sova and are refused.
    """
    did, hash_sign, fragment = did_url.partition("#")
    if any(c in did for c in "/?"):
        raise MalformedDid(f"malformed DID URL {_shown(did_url)}: Sova uses only did:…#fragment URLs")
    parse_did(did)
    if hash_sign and not fragment:
        raise MalformedDid(f"malformed DID URL {_shown(did_url)}: empty fragment after '#'")
    return did, (fragment if hash_sign else None)


def did_key_from_public_key(public_key: bytes) -> str:
    """The `did:key` of a raw 32-byte Ed25519 public key."""
    if len(public_key) != 32:
        raise ValueError(f"an Ed25519 public key has 32 bytes, got {len(public_key)}")
    return "did:key:z" + base58.b58encode(ED25519_MULTICODEC + public_key).decode("ascii")


def verification_method_id(did_key: str) -> str:
    """The DID URL of a did:key's only verification method: `did:key:z…#z…`."""
    return f"{did_key}#{did_key.removeprefix('did:key:')}"


@lru_cache(maxsize=4096)
def public_key_from_did_key(did: str) -> Ed25519PublicKey:
    """The Ed25519 public key of a `did:key` (cached). MalformedDid / UnsupportedKeyType otherwise."""
    method, msid = parse_did(did)
    if method != "key":
        raise UnsupportedKeyType(f"{_shown(did)} is not a did:key: Sova signs with Ed25519 did:keys")
    if not msid.startswith("z"):
        raise MalformedDid(f"malformed did:key {_shown(did)}: the id must be base58btc multibase ('z…')")
    try:
        raw = base58.b58decode(msid[1:])
    except ValueError:
        raise MalformedDid(f"malformed did:key {_shown(did)}: the id is not valid base58btc") from None
    if raw[:2] != ED25519_MULTICODEC:
        kind = "secp256k1" if raw[:2] == SECP256K1_MULTICODEC else f"multicodec 0x{raw[:2].hex()}"
        raise UnsupportedKeyType(
            f"did:key {_shown(did)} holds a {kind} key: Sova identity keys are Ed25519 (did:key:z6Mk…)"
        )
    if len(raw) != 34:
        raise MalformedDid(
            f"malformed did:key {_shown(did)}: an Ed25519 key has 32 bytes, not {len(raw) - 2}"
        )
    return Ed25519PublicKey.from_public_bytes(raw[2:])


def checksum_address(address: str) -> str:
    """The EIP-55 checksum form of a 0x address; ValueError if malformed or a mixed-case checksum is wrong."""
    if not isinstance(address, str) or _ADDRESS_RE.fullmatch(address) is None:
        raise ValueError(f"not an Ethereum address {_shown(str(address))}: expected 0x and 40 hex digits")
    lower = address[2:].lower()
    digest = keccak(lower.encode("ascii")).hex()
    checked = "0x" + "".join(c.upper() if int(digest[i], 16) >= 8 else c for i, c in enumerate(lower))
    body = address[2:]
    if body != body.lower() and body != body.upper() and checked != address:
        raise ValueError(f"address {address} has a wrong EIP-55 checksum: check for a typo")
    return checked


def did_pkh(chain_id: int, address: str) -> str:
    """The wallet's DID: `did:pkh:eip155:<chain_id>:<EIP-55 address>` (CAIP-10 account id)."""
    if isinstance(chain_id, bool) or not isinstance(chain_id, int) or chain_id <= 0:
        raise ValueError(f"chain id must be a positive integer, got {chain_id!r}")
    return f"did:pkh:eip155:{chain_id}:{checksum_address(address)}"
