"""x402 headers as Sova reads them: base64 JSON under a size cap, one line per refusal; the cheapest
payable offer chosen, and why each other one is not."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

import pytest

from policies import TokenInfo, TokenRegistry
from runtime.payments.buyer import choose_offer
from runtime.payments.errors import BadPaymentHeader, NoPayableOffer
from runtime.payments.wire import MAX_HEADER, PaymentRequired, decode_header, encode_header

TUSD = TokenInfo(symbol="TUSD", address="0x" + "a1" * 20, decimals=6)


def entry(**over: Any) -> dict[str, Any]:
    found = {
        "scheme": "exact", "network": "eip155:31337", "asset": TUSD.address, "amount": "250000",
        "payTo": "0x" + "b2" * 20, "maxTimeoutSeconds": 60, "extra": {"name": "Test USD", "version": "1"},
    }  # fmt: skip
    found.update(over)
    return found


def header(data: Any) -> str:
    return base64.b64encode(json.dumps(data).encode()).decode()


def test_a_payment_required_header_round_trips_and_keeps_fields_it_does_not_know() -> None:
    required = {
        "x402Version": 2,
        "accepts": [entry(bonus={"tier": "gold"})],
        "resource": {"url": "https://a.io"},
    }
    found = decode_header("PAYMENT-REQUIRED", header(required), PaymentRequired)
    assert found.accepts[0].wire()["bonus"] == {"tier": "gold"}
    assert "bonus" not in found.accepts[0].standard()
    again = decode_header("PAYMENT-REQUIRED", encode_header(found), PaymentRequired)
    assert again == found


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("%%%not base64", "is not base64 of JSON"),
        (base64.b64encode(b"\xff\xfe").decode(), "is not base64 of JSON"),
        (header([1, 2]), "is a JSON list, not an object"),
        (header({"x402Version": 2}), "accepts"),
        (header({"x402Version": 2, "accepts": [entry(amount="-1")]}), "accepts.0.amount"),
        (header({"x402Version": 2, "accepts": [entry(amount="1.5")]}), "accepts.0.amount"),
        ("A" * (MAX_HEADER + 1), f"at most {MAX_HEADER} are read"),
    ],
)
def test_a_bad_header_is_one_line_naming_it(value: str, why: str) -> None:
    with pytest.raises(BadPaymentHeader) as info:
        decode_header("PAYMENT-REQUIRED", value, PaymentRequired)
    text = str(info.value)
    assert text.startswith("PAYMENT-REQUIRED")
    assert why in text
    assert "\n" not in text


def test_the_cheapest_payable_offer_is_chosen_and_the_others_say_why_not() -> None:
    offers = [
        entry(scheme="upto", amount="1"),
        entry(network="eip155:1", amount="2"),
        entry(asset="0x" + "cc" * 20, amount="3"),
        entry(amount="900000"),
        entry(amount="300000"),
    ]
    required = PaymentRequired.model_validate({"x402Version": 2, "accepts": offers})
    chosen = choose_offer(required, 31337, TokenRegistry([TUSD]), Decimal("0.5"))
    assert chosen.amount == "300000"
    with pytest.raises(NoPayableOffer) as info:
        choose_offer(required, 31337, TokenRegistry([TUSD]), Decimal("0.1"))
    text = str(info.value)
    for why in (
        "scheme upto",
        "network eip155:1",
        "not a token this agent knows",
        "0.3 TUSD (over the maximum",
    ):
        assert why in text, text
