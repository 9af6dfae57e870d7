"""Intents, facts and amounts: exact decimal amounts in, integer base units inside, bad input refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from policies import Facts, Intent, TokenInfo, TokenRegistry, format_units, parse_amount, to_base_units
from policies.units import format_duration, parse_duration

BASE = {"skill": "transfer_token", "agent": "did:key:z6MkA", "chain_id": 31337, "token": "TUSD"}


def test_amounts_convert_to_base_units_exactly() -> None:
    assert to_base_units(Decimal("25"), 6) == 25_000_000
    assert to_base_units(Decimal("0.000001"), 6) == 1
    assert to_base_units(Decimal("1.5"), 18) == 1_500_000_000_000_000_000
    with pytest.raises(ValueError, match="more than 6 decimals"):
        to_base_units(Decimal("0.0000001"), 6)
    assert format_units(25_500_000, 6) == "25.5"
    assert format_units(0, 6) == "0"
    assert format_units(10**24, 18) == "1000000"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0.1, 'amounts are decimal strings, not floats: write "0.1" in quotes'),
        (True, "not floats"),
        ("-1", "is negative"),
        ("NaN", "is not a decimal amount"),
        ("1e400", "no sign, exponent or separators"),
        ("\u0663\u0660", "use the ASCII digits 0-9"),
        ("ten", "is not a decimal amount"),
        ([1], "an amount must be a decimal string"),
    ],
)
def test_bad_amounts_are_refused_with_the_fix(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_amount(value)


def test_an_intent_refuses_float_and_negative_amounts_and_an_amount_without_token() -> None:
    assert Intent.model_validate({**BASE, "amount": "12.5"}).amount == Decimal("12.5")
    assert Intent.model_validate({**BASE, "amount": 12}).amount == Decimal(12)
    for bad in ({"amount": 12.5}, {"amount": "-1"}, {"token": None, "amount": "1"}, {"extra": 1}):
        with pytest.raises(ValidationError):
            Intent.model_validate({**BASE, **bad})
    with pytest.raises(ValidationError, match="needs a did or an address"):
        Intent.model_validate({**BASE, "counterparty": {"name": "seller"}})


def test_an_intent_is_frozen_and_round_trips_as_json() -> None:
    intent = Intent.model_validate({**BASE, "amount": "0.5", "counterparty": {"address": "0x" + "1" * 40}})
    with pytest.raises(ValidationError):
        intent.skill = "other"  # type: ignore[misc]
    assert Intent.model_validate_json(intent.model_dump_json()) == intent
    assert '"amount":"0.5"' in intent.model_dump_json()


def test_facts_default_to_zero_usage_and_now() -> None:
    facts = Facts()
    assert facts.spent_today == 0
    assert facts.actions_last_period == 0
    assert not facts.known_counterparties
    assert abs(facts.now - datetime.now(UTC)) < timedelta(seconds=5)


def test_facts_need_a_timezone_and_refuse_float_usage() -> None:
    with pytest.raises(ValidationError):
        Facts.model_validate({"now": "2026-11-22T12:00:00"})
    with pytest.raises(ValidationError, match="not floats"):
        Facts.model_validate({"spent_today": 1.5})
    assert Facts.model_validate({"now": "2026-11-22T14:00:00+02:00"}).now.hour == 12


@pytest.mark.parametrize(("text", "seconds"), [("60s", 60), ("10m", 600), ("24h", 86400), ("30d", 2592000)])
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["10 parsecs", "60", 60, "1.5h", "0s", "-1m", ""])
def test_bad_durations_are_refused(text: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_durations_print_in_the_unit_written() -> None:
    assert [format_duration(timedelta(seconds=s)) for s in (60, 600, 90, 7200, 86400)] == [
        "60s",
        "10m",
        "90s",
        "2h",
        "24h",
    ]


def test_tokens_are_found_by_symbol_or_address_in_any_case() -> None:
    tusd = TokenInfo(symbol="TUSD", address="0x" + "aB" * 20, decimals=6)
    tokens = TokenRegistry([tusd])
    assert tokens.find("TUSD") is tusd
    assert tokens.find("0x" + "AB" * 20) is tusd
    assert tokens.find("tusd") is None
    with pytest.raises(ValidationError):
        TokenInfo(symbol="X", address="0x12", decimals=6)
