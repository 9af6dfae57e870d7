"""The identity key: an Ed25519 key whose public half is the agent's `did:key`.

It signs credentials, presentations, envelopes and DID binding proofs. Like the wallet's Signer, it never
shows its secret: `repr` gives the DID only, pickling raises, and equality is identity.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any, NoReturn

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from identity.dids import did_key_from_public_key, verification_method_id
from identity.errors import KeyFileError


def b64url(data: bytes) -> str:
    """Base64url without padding (JOSE)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url strictly; ValueError on anything else (binascii.Error is one)."""
    raw = text.encode("ascii")  # UnicodeEncodeError is a ValueError
    if b"+" in raw or b"/" in raw or b"=" in raw:
        raise ValueError("not base64url")
    return binascii.a2b_base64(raw.translate(_FROM_URLSAFE) + b"=" * (-len(raw) % 4), strict_mode=True)


class IdentityKey:
    """An Ed25519 identity key. Create one with `generate()`, or unlock it from an `IdentityKeyStore`."""

    __slots__ = ("__did", "__jwk", "__private", "__public")

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self.__private = private_key
        self.__public = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.__did = did_key_from_public_key(self.__public)
        secret = private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        # The JWK text didkit takes; kept so that each issuance does not rebuild it.
        self.__jwk = json.dumps(
            {"kty": "OKP", "crv": "Ed25519", "x": b64url(self.__public), "d": b64url(secret)},
            separators=(",", ":"),
        )

    @classmethod
    def generate(cls) -> IdentityKey:
        """A fresh random key (from the OS CSPRNG)."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_private_bytes(cls, secret: bytes) -> IdentityKey:
        """The key of a raw 32-byte Ed25519 seed. The seed is never echoed in an error."""
        if len(secret) != 32:
            raise KeyFileError("not an Ed25519 private key: expected 32 bytes")
        return cls(Ed25519PrivateKey.from_private_bytes(secret))

    @classmethod
    def from_jwk(cls, jwk: str | Mapping[str, Any]) -> IdentityKey:
        """The key of a private OKP/Ed25519 JWK (as didkit's `generate_ed25519_key` gives)."""
        try:
            data = json.loads(jwk) if isinstance(jwk, str) else dict(jwk)
            if data.get("kty") != "OKP" or data.get("crv") != "Ed25519":
                raise ValueError
            key = cls.from_private_bytes(b64url_decode(data["d"]))
            if "x" in data and b64url_decode(data["x"]) != key.public_key_bytes:
                raise ValueError
        except (ValueError, KeyError, TypeError, KeyFileError):
            raise KeyFileError(
                "not a private Ed25519 JWK: expected {kty: OKP, crv: Ed25519, x, d} with x matching d"
            ) from None
        return key

    @property
    def did(self) -> str:
        """The key's `did:key:z6Mk…`."""
        return self.__did

    @property
    def verification_method(self) -> str:
        """The DID URL of the key's verification method, `did:key:z…#z…` (the `kid` of its JWS)."""
        return verification_method_id(self.__did)

    @property
    def public_key_bytes(self) -> bytes:
        """The raw 32-byte public key."""
        return self.__public

    @property
    def public_jwk(self) -> dict[str, str]:
        """The public JWK `{kty: OKP, crv: Ed25519, x}`."""
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url(self.__public)}

    def sign(self, data: bytes) -> bytes:
        """The 64-byte Ed25519 signature of `data`."""
        return self.__private.sign(data)

    def _private_jwk(self) -> str:
        """The private JWK text, for didkit and the key file only (inside identity/)."""
        return self.__jwk

    def _private_bytes(self) -> bytes:
        """The raw 32-byte seed, for the key file only (inside identity/)."""
        return self.__private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())

    def __repr__(self) -> str:
        return f"IdentityKey({self.__did})"

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        raise TypeError("an IdentityKey holds a private key and cannot be pickled or copied: unlock it again")

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)
