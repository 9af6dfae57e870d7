"""The amount grammar of agents.yaml (runtime/config_amounts.py), as properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.config_amounts import UINT256_MAX, check_amount

DECIMALS = 6
MOST = UINT256_MAX  # base units


def in_units(base: int, decimals: int) -> str:
    """Base units as a decimal string of token units, exactly (Decimal would round past 28 digits)."""
    digits = str(base).rjust(decimals + 1, "0")
    whole, fraction = digits[: len(digits) - decimals], digits[len(digits) - decimals :]
    return f"{whole}.{fraction}" if decimals else whole


@given(base=st.integers(0, MOST), decimals=st.sampled_from([0, 6, 18]))
def test_every_amount_a_token_can_hold_is_accepted_as_written(base: int, decimals: int) -> None:
    text = in_units(base, decimals)
    assert check_amount(text, decimals=decimals, unit="T") == text
    whole, _, fraction = text.partition(".")
    assert int(whole + fraction.ljust(decimals, "0")) == base


@given(base=st.integers(MOST + 1, 10 * MOST))
def test_one_base_unit_over_uint256_is_refused(base: int) -> None:
    text = in_units(base, DECIMALS)
    with pytest.raises(ValueError, match="too large"):
        check_amount(text, decimals=DECIMALS, unit="TUSD")


@given(whole=st.integers(0, 10**9), fraction=st.text("0123456789", min_size=DECIMALS + 1, max_size=40))
def test_more_decimals_than_the_token_has_are_refused(whole: int, fraction: str) -> None:
    with pytest.raises(ValueError, match=f"has {len(fraction)} decimals, but TUSD has {DECIMALS}"):
        check_amount(f"{whole}.{fraction}", decimals=DECIMALS, unit="TUSD")


@given(text=st.text(max_size=30))
def test_anything_but_ascii_digits_and_one_point_is_refused(text: str) -> None:
    stripped = text.strip(" \t")
    whole, point, fraction = stripped.partition(".")
    plain = whole.isascii() and whole.isdigit() and (not point or (fraction.isascii() and fraction.isdigit()))
    if plain and len(fraction) <= DECIMALS:
        assert check_amount(text, decimals=DECIMALS, unit="TUSD") == stripped
    else:
        with pytest.raises(ValueError):
            check_amount(text, decimals=DECIMALS, unit="TUSD")


@pytest.mark.parametrize("value", [0.5, True, float("inf"), None, [], {"a": 1}])
def test_non_strings_other_than_whole_numbers_are_refused(value: object) -> None:
    with pytest.raises(ValueError):
        check_amount(value, decimals=DECIMALS, unit="TUSD")


def test_a_hundred_thousand_digits_are_refused_without_converting_them() -> None:
    with pytest.raises(ValueError, match="too large") as info:
        check_amount("9" * 100_000, decimals=DECIMALS, unit="TUSD")
    assert len(str(info.value)) < 200
