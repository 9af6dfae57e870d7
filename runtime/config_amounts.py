"""The amount grammar of agents.yaml: plain decimal strings a token can hold, refused otherwise.

An amount is ASCII digits with an optional fraction ("12", "0.25"): no sign, exponent ("1e400"),
separators or other scripts' digits ("٣٠"), at most as many decimals as its token has (TUSD: 6,
ETH: 18), and at most 2**256 - 1 in base units (what an ERC-20 balance can hold). A whole number
written unquoted in YAML is exact and accepted; a float is refused (0.1 is not exact in binary).

Every refusal is one line saying what is wrong and how to write it instead, and shows at most 40
characters of what was given, so a hostile value is never echoed in full.
"""

from __future__ import annotations

import re

from policies.units import amount_problem

UINT256_MAX = 2**256 - 1
_PLAIN = re.compile(r"([0-9]+)(?:\.([0-9]+))?")  # [0-9], not \d: \d also matches "٣"
_SHOWN = 40


def check_amount(value: object, *, decimals: int, unit: str) -> str:
    """`value` as the amount string it stands for; ValueError (one line, with the fix) when it is not
    a plain decimal amount of `unit`, a token with `decimals` decimals."""
    if isinstance(value, bool | float):
        raise ValueError(
            f'amounts are decimal strings, not floats: write "{value}" in quotes '
            "(a float such as 0.1 is not exact)"
        )
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f'amount {value} is negative: amounts are ≥ 0, write e.g. "{-value}"')
        if value > UINT256_MAX // 10**decimals:
            raise ValueError(_too_large(f"amount {_shown(str(value))}", decimals, unit))
        return str(value)
    if not isinstance(value, str):
        raise ValueError(f'an amount must be a decimal string like "12.5", got {type(value).__name__}')
    text = value.strip(" \t")
    shown = _shown(text)
    match = _PLAIN.fullmatch(text)
    if match is None:
        raise ValueError(amount_problem(text))
    whole, fraction = match.group(1), match.group(2) or ""
    if len(fraction) > decimals:
        raise ValueError(
            f"amount {shown} has {len(fraction)} decimals, but {unit} has {decimals}: "
            f"round it to at most {decimals}"
        )
    # Compare digit counts first, so a 100,000-digit string is never turned into an int.
    if len(whole.lstrip("0")) > len(str(UINT256_MAX)) or (
        int(whole + fraction.ljust(decimals, "0")) > UINT256_MAX
    ):
        raise ValueError(_too_large(f"amount {shown}", decimals, unit))
    return text


def _shown(text: str) -> str:
    return repr(text[:_SHOWN] + ("…" if len(text) > _SHOWN else ""))


def _too_large(what: str, decimals: int, unit: str) -> str:
    most = UINT256_MAX // 10**decimals
    return (
        f"{what} is too large: no {unit} amount is over 2**256 - 1 base units "
        f"(about {len(str(most))} digits before the point)"
    )
