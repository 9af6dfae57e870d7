"""Amounts, tokens and durations as policies read them.

Amounts are decimal strings in token units ("25", "0.5"): a float is refused because 0.1 is not
exact in binary, and so are negative or non-finite numbers. The engine works in integer base units
(`to_base_units`), using the decimals of the token the caller registers in a `TokenRegistry`
(TUSD has 6: "25" TUSD is 25_000_000). Durations are a whole number and a unit: "60s", "10m",
"24h", "30d".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import timedelta
from decimal import Context, Decimal

from pydantic import BaseModel, ConfigDict, Field

EXACT = Context(prec=200)
"""Decimal context for amounts: the default's 28 digits would round a 30-digit amount in base units."""
_DURATION = re.compile(r"^(\d{1,9})(s|m|h|d)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


MAX_INT_DIGITS = 78
"""Digits before the point: 2**256 - 1 has 78, so no amount a token can hold needs more."""
MAX_FRACTION_DIGITS = 36
"""Digits after the point: no token has more decimals than 36 (TokenInfo refuses more)."""
_AMOUNT = re.compile(rf"[0-9]{{1,{MAX_INT_DIGITS}}}(?:\.[0-9]{{1,{MAX_FRACTION_DIGITS}}})?")


def parse_amount(value: object) -> Decimal:
    """A decimal amount ≥ 0 from a string, an int or a Decimal; floats and the rest are refused.

    A string must be plain ASCII decimal digits with an optional fraction ("12", "12.5"): no sign,
    exponent ("1e400"), separators, other scripts' digits ("٣٠") or more than 78 + 36 digits, so a
    hostile amount is refused before it is stored, logged or computed with."""
    if isinstance(value, (bool, float)):
        raise ValueError(f'amounts are decimal strings, not floats: write "{value}" in quotes')
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, str):
        text = value.strip(" \t")
        if _AMOUNT.fullmatch(text) is None:
            raise ValueError(amount_problem(text))
        return Decimal(text)
    else:
        raise ValueError(f'an amount must be a decimal string like "12.5", not {type(value).__name__}')
    if not number.is_finite():
        raise ValueError(f'amount {value!r} is not a finite number: write a number like "12.5"')
    if number < 0:
        raise ValueError(f'amount "{value}" is negative: amounts are ≥ 0, write e.g. "{-number}"')
    exponent = number.as_tuple().exponent
    if number.adjusted() >= MAX_INT_DIGITS or (isinstance(exponent, int) and -exponent > MAX_FRACTION_DIGITS):
        raise ValueError(f"amount {value} is too large or too precise for any token")
    return number


def amount_problem(text: str) -> str:
    """Why `text` is not in the amount grammar (one line, at most 40 of its characters shown): the one
    wording of every amount refusal, in policies, agents.yaml, envelopes and tool arguments."""
    shown = repr(text[:40] + ("…" if len(text) > 40 else ""))
    if text.startswith("-") and _AMOUNT.fullmatch(text[1:]):
        return f'amount "{text[:40]}" is negative: amounts are ≥ 0, write e.g. "{text[1:41]}"'
    if any(c.isdigit() and not c.isascii() for c in text):
        return f'{shown} is not a decimal amount: use the ASCII digits 0-9, like "12.5"'
    whole, _, fraction = text.partition(".")
    if whole.isascii() and whole.isdigit() and (not fraction or (fraction.isascii() and fraction.isdigit())):
        return (
            f"amount {shown} has {len(whole)} digits before the point and {len(fraction)} after: no token "
            f"holds more than {MAX_INT_DIGITS} before or {MAX_FRACTION_DIGITS} after"
        )
    return (
        f'{shown} is not a decimal amount: write plain digits like "12.5" (no sign, exponent or separators)'
    )


def to_base_units(amount: Decimal, decimals: int) -> int:
    """Token units -> integer base units; ValueError when the amount has more decimals than the token."""
    scaled = amount.scaleb(decimals, context=EXACT)
    whole = scaled.to_integral_value(context=EXACT)
    if scaled != whole:
        raise ValueError(f"{amount} has more than {decimals} decimals")
    return int(whole)


def format_units(base: int, decimals: int) -> str:
    """Integer base units -> the shortest decimal string in token units (25_500_000, 6 -> "25.5")."""
    text = format(Decimal(base).scaleb(-decimals, context=EXACT), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def parse_duration(value: object) -> timedelta:
    """'60s', '10m', '24h', '30d' -> timedelta; anything else (or zero) is a ValueError with the fix."""
    if isinstance(value, timedelta):
        if value.total_seconds() <= 0:
            raise ValueError("a duration must be longer than zero")
        return value
    match = _DURATION.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError(
            f"bad duration {value!r}: write a whole number and a unit (s, m, h, d), "
            'like "60s", "10m" or "24h"'
        )
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds == 0:
        raise ValueError(f'duration {value!r} is zero: write a positive duration like "60s"')
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """timedelta -> the largest exact unit counting at least 2: 600 s -> "10m", 60 s -> "60s"."""
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= 2 * size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def normalize_id(value: str) -> str:
    """An identifier as compared by the engine: 0x addresses lower-cased, DIDs and names as given."""
    return value.lower() if value[:2] in ("0x", "0X") else value


class TokenInfo(BaseModel):
    """A token the runtime knows: its symbol, its contract address and its decimals."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: str = Field(min_length=1, max_length=32)
    address: str = Field(pattern=ADDRESS.pattern)
    decimals: int = Field(ge=0, le=36)

    @property
    def key(self) -> str:
        """The lower-cased address: how budgets and plans key a token."""
        return self.address.lower()


class TokenRegistry:
    """The tokens a policy may name, found by symbol (exact) or by 0x address (any case)."""

    __slots__ = ("_by_ref", "_tokens")

    def __init__(self, tokens: Iterable[TokenInfo] = ()) -> None:
        self._tokens = tuple(tokens)
        self._by_ref: dict[str, TokenInfo] = {}
        for token in self._tokens:
            self._by_ref[token.symbol] = token
            self._by_ref[token.key] = token

    def find(self, ref: str) -> TokenInfo | None:
        """The token named by `ref` (symbol or address), or None."""
        return self._by_ref.get(ref) or self._by_ref.get(normalize_id(ref))

    def symbols(self) -> list[str]:
        """The registered symbols, for error messages."""
        return [t.symbol for t in self._tokens]

    def __iter__(self) -> Iterator[TokenInfo]:
        return iter(self._tokens)

    def __len__(self) -> int:
        return len(self._tokens)
