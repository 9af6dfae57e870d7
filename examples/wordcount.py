"""A compute service: count the words of a text, and give the SHA-256 of its UTF-8 bytes.

The demo fleet's seller sells it (agents.yaml: `plugins: [examples.wordcount]`, goal
`{kind: sell, service: wordcount}`); its price grows with the text: 9 TUSD up to 900 words, then
0.01 TUSD a word.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from sova import Plugin, ServiceContext

MIN_PRICE = Decimal("9")
PER_WORD = Decimal("0.01")


class Text(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=100_000, description="the text to count")


class Count(BaseModel):
    model_config = ConfigDict(extra="forbid")

    words: int = Field(ge=0, description="whitespace-separated words")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the text's UTF-8 bytes")


def price(text: Text) -> Decimal:
    """9 TUSD, or 0.01 TUSD a word for longer texts."""
    return max(MIN_PRICE, PER_WORD * len(text.text.split()))


def count(text: Text, context: ServiceContext) -> Count:
    """Count the words of a text and hash it."""
    return Count(words=len(text.text.split()), sha256=hashlib.sha256(text.text.encode()).hexdigest())


def register(plugin: Plugin) -> None:
    plugin.service("wordcount", input=Text, output=Count, price=price, timeout=10.0)(count)
