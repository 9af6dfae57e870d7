"""The termsHash of a service deal, where a deal's input and output are kept, and the buyer's check of
a delivered output."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from eth_hash.auto import keccak

from runtime.brains.rules import priced
from runtime.config import RuleBrain
from runtime.negotiation.deals import DealRecord, DealStore
from runtime.negotiation.results import check_delivery
from runtime.negotiation.terms import canonical, payload_hash, terms_hash

SCHEMA = {
    "type": "object",
    "properties": {"words": {"type": "integer", "minimum": 0}},
    "required": ["words"],
    "additionalProperties": False,
}


def test_terms_hash_is_keccak_of_the_jcs_of_service_input_hash_and_price() -> None:
    input_hash = "0x" + bytes(keccak(b'{"text":"a b c"}')).hex()
    assert input_hash == payload_hash(canonical({"text": "a b c"}))
    preimage = f'{{"input":"{input_hash}","price":"9.5","service":"wordcount"}}'.encode()
    assert terms_hash("wordcount", input_hash, "9.50") == "0x" + bytes(keccak(preimage)).hex()
    assert terms_hash("wordcount", input_hash.upper().replace("0X", "0x"), Decimal("9.5")) == terms_hash(
        "wordcount", input_hash, "9.5"
    )


@pytest.mark.parametrize(
    "other",
    [
        ("translate", "0x" + "00" * 32, "9.5"),
        ("wordcount", "0x" + "11" * 32, "9.5"),
        ("wordcount", "0x" + "00" * 32, "9.6"),
    ],
)
def test_another_service_input_or_price_is_another_terms_hash(other: tuple[str, str, str]) -> None:
    assert terms_hash(*other) != terms_hash("wordcount", "0x" + "00" * 32, "9.5")


def test_a_small_payload_stays_inline_and_a_large_one_goes_to_a_file(tmp_path: Path) -> None:
    with DealStore(tmp_path / "deals.sqlite", inline_max=32) as store:
        small, big = canonical({"text": "a"}), canonical({"text": "a" * 100})
        inline, digest = store.payloads.keep(small)
        assert (inline, digest) == (small.decode(), payload_hash(small))
        inline, digest = store.payloads.keep(big)
        assert inline == ""
        path = tmp_path / "deal-payloads" / f"{digest[2:]}.json"
        assert path.read_bytes() == big
        assert path.stat().st_mode & 0o777 == 0o600
        assert store.payloads.load("", digest) == {"text": "a" * 100}
        path.write_text('{"text":"edited"}')
        assert store.payloads.load("", digest) is None  # a file not matching its hash is not trusted


def test_a_deal_store_written_before_services_gains_the_columns_and_keeps_its_deals(tmp_path: Path) -> None:
    path = tmp_path / "deals.sqlite"
    with DealStore(path) as store:
        store.put(DealRecord(peer="did:key:z", thid="t1", role="buyer", state="released", price="9"))
    db = sqlite3.connect(path)  # back to what a store of schema version 1 (before services) is
    for column in ("quote", "input", "input_hash", "output", "output_hash"):
        db.execute(f"ALTER TABLE deals DROP COLUMN {column}")
    db.execute("DELETE FROM sova_migrations WHERE version = 2")
    db.execute("PRAGMA user_version=1")
    db.commit()
    db.close()
    with DealStore(path) as store:  # migration step 2 adds them
        old = store.get("did:key:z", "t1")
        assert old is not None
        assert (old.state, old.price, old.input_hash, old.output) == ("released", "9", "", "")
        store.update("did:key:z", "t1", output='{"words":3}', output_hash="0x" + "aa" * 32)
        assert json.loads(store.all()[0].output) == {"words": 3}


def record(deal_id: str = "0x" + "12" * 32) -> DealRecord:
    return DealRecord(peer="did:key:z", thid="t", role="buyer", item="wordcount", deal_id=deal_id)


def delivery(output: object, **extra: object) -> dict[str, object]:
    return {
        "deal_id": "0x" + "12" * 32,
        "output": output,
        "output_hash": payload_hash(canonical(output)),
        **extra,
    }


def test_an_output_that_fits_the_cards_schema_is_taken_with_its_bytes() -> None:
    output, raw = check_delivery(record(), delivery({"words": 3}), SCHEMA)
    assert (output, raw) == ({"words": 3}, b'{"words":3}')


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (
            delivery({"words": -1}),
            "the output does not match wordcount's output schema: words: -1 is less than",
        ),
        (
            delivery({"words": 3, "x": 1}),
            "the output does not match wordcount's output schema: output: Additional",
        ),
        (delivery({"words": 3}, deal_id="0x" + "34" * 32), "the delivery names deal 0x3434"),
        ({"deal_id": "0x" + "12" * 32}, "the delivery carries no output"),
        (delivery({"words": 3}, output_hash="0x" + "00" * 32), "the output hashes to 0x"),
        (delivery({"words": "x" * 2000}), "the output is 2012 bytes, over the 1024 this buyer takes"),
    ],
)
def test_a_delivery_not_to_pay_for_is_one_line(body: dict[str, object], said: str) -> None:
    with pytest.raises(ValueError) as caught:
        check_delivery(record(), body, SCHEMA, max_bytes=1024)
    assert str(caught.value).startswith(said), str(caught.value)
    assert "\n" not in str(caught.value)


def test_without_an_output_schema_nothing_is_taken() -> None:
    with pytest.raises(ValueError, match="gives no output schema for 'wordcount'"):
        check_delivery(record(), delivery({"words": 3}), None)


def test_a_sellers_rules_take_the_quote_as_reservation_and_keep_their_ratio() -> None:
    brain = RuleBrain(strategy="boulware", target="14", reservation="9", rounds=10)
    assert priced(brain, None) is brain
    scaled = priced(brain, Decimal("18"))
    assert (scaled.target, scaled.reservation) == ("28", "18")
    assert priced(brain, Decimal("0.000007")).target == "0.000011"  # rounded up to the micro-unit


def test_an_invalid_output_schema_in_the_card_takes_no_output() -> None:
    with pytest.raises(ValueError, match=r"output schema: the schema itself is invalid \(12 is not valid"):
        check_delivery(record(), delivery({"words": 3}), {"type": 12})
