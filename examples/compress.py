"""A compute service: compress the buyer's bytes with zlib, and hash them.

The buyer sends base64 bytes (checked before anything is signed); the seller returns them compressed
(base64, zlib level 9), both sizes and the SHA-256 of the original, so the buyer can check the result
by decompressing it. The work runs on a worker thread (a sync handler), off the agent's event loop.
Price: 1 TUSD for each started 8 KiB.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sova import Plugin, ServiceContext

CHUNK = 8 * 1024


class Blob(BaseModel):
    """What a buyer sends: {"data": "<base64>"}."""

    model_config = ConfigDict(extra="forbid")

    data: str = Field(max_length=24_000, description="the bytes to compress, base64 (RFC 4648)")

    @field_validator("data")
    @classmethod
    def _base64(cls, value: str) -> str:
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("data is not base64 (RFC 4648, with padding)") from None
        return value

    def raw(self) -> bytes:
        return base64.b64decode(self.data, validate=True)


class Compressed(BaseModel):
    """What the buyer gets back."""

    model_config = ConfigDict(extra="forbid")

    zlib: str = Field(description="the bytes compressed with zlib, base64")
    size: int = Field(ge=0, description="bytes in")
    compressed_size: int = Field(ge=0, description="bytes out")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the bytes in")


def price(blob: Blob) -> Decimal:
    """1 TUSD for each started 8 KiB (at least 1)."""
    return Decimal(max(1, -(-len(blob.raw()) // CHUNK)))


def compress(blob: Blob, context: ServiceContext) -> Compressed:
    """Compress the buyer's bytes with zlib and hash them."""
    raw = blob.raw()
    packed = zlib.compress(raw, level=9)
    return Compressed(zlib=base64.b64encode(packed).decode("ascii"), size=len(raw),
                      compressed_size=len(packed), sha256=hashlib.sha256(raw).hexdigest())  # fmt: skip


def register(plugin: Plugin) -> None:
    plugin.service("compress", input=Blob, output=Compressed, price=price, timeout=10.0)(compress)
