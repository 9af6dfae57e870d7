"""What `sova buy`, `POST /v1/buy`, the chat's `buy` and a model's `buy_service` refuse before anything
is sent or signed: JSON that does not parse, a max price that is not an amount, unknown fields, input
that does not match the seller's schema, a max price over the agent's policy cap (it can only lower
the cap). Each a one-line answer; the registry is never asked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from runtime.operator.buy_models import BuyRequest, BuyResult, max_price_problem, parse_input
from runtime.operator.purchase import Purchaser, input_problem, policy_cap
from tests.support.executor import make_rig, policy
from tests.support.operator import POLICY, Served, serve

WORDCOUNT_INPUT = {
    "type": "object", "additionalProperties": False, "required": ["text"],
    "properties": {"text": {"type": "string", "maxLength": 100}},
}  # fmt: skip
CAPS = (
    {"kind": "deal_price", "token": "TUSD", "max": "12"},
    {"kind": "deal_price", "token": "TUSD", "max": "20"},
)


def test_a_max_price_must_be_a_positive_amount() -> None:
    assert max_price_problem(None) is None
    assert max_price_problem("12.5") is None
    for bad, words in (("abc", "not a decimal amount"), ("-3", "negative"), ("1e5", "not a decimal"),
                       ("0", "over 0"), ("١٢", "ASCII digits")):  # fmt: skip
        problem = max_price_problem(bad)
        assert problem is not None
        assert words in problem, (bad, problem)
        assert "\n" not in problem


def test_input_json_that_does_not_parse_says_where() -> None:
    assert parse_input('{"text": "a b c"}') == {"text": "a b c"}
    with pytest.raises(ValueError, match=r"--input is not JSON \(Expecting property name .* column 2\)"):
        parse_input("{text: 1}")


def test_a_buy_request_refuses_unknown_fields_and_bounds_its_wait() -> None:
    with pytest.raises(ValidationError, match="approved"):
        BuyRequest.model_validate({"service": "wordcount", "approved": True})
    with pytest.raises(ValidationError, match="timeout"):
        BuyRequest(service="wordcount", timeout=3600)
    with pytest.raises(ValidationError, match="service"):
        BuyRequest.model_validate({"input": {}})


def test_input_not_matching_the_schema_is_named_with_its_place() -> None:
    assert input_problem(WORDCOUNT_INPUT, {"text": "a b"}, "wordcount") is None
    wrong = input_problem(WORDCOUNT_INPUT, {"text": 3}, "wordcount")
    assert wrong is not None
    assert wrong.startswith("the input does not match wordcount's input schema: text:")
    missing = input_problem(WORDCOUNT_INPUT, {}, "wordcount")
    assert missing is not None
    assert "'text' is a required property" in missing
    extra = input_problem(WORDCOUNT_INPUT, {"txt": "a"}, "wordcount")
    assert extra is not None
    assert "'txt' was unexpected" in extra
    assert input_problem({}, {"anything": 1}, "free") is None


def test_the_policy_cap_is_the_lowest_deal_price_of_the_token(tmp_path: Path) -> None:
    assert policy_cap(policy(POLICY, extra_rules=CAPS), "TUSD") == Decimal("12")
    assert policy_cap(policy(POLICY), "TUSD") is None
    assert policy_cap(policy(POLICY, extra_rules=CAPS), "ETH") is None


def test_a_result_is_ok_only_when_released() -> None:
    assert BuyResult(state="released", service="s", output={"words": 3}).ok
    no = BuyResult(state="declined", service="wordcount", reason="the seller made no offer")
    assert not no.ok
    assert no.line() == "no deal for wordcount: the seller made no offer"


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Served]:
    with make_rig(tmp_path, POLICY) as rig:
        rig.executor.policy = policy(POLICY, extra_rules=CAPS)
        # No registry, messenger or deal store: every test here must be answered before they are needed.
        none: Any = None
        purchaser = Purchaser(make_buyer=none, policy=rig.executor.policy, registry=none, messenger=none,
                              deals=none, own_wallet=rig.signer.address)  # fmt: skip
        async with serve(rig, purchaser=purchaser) as served:
            yield served


async def test_post_buy_refuses_bad_requests_in_one_line(api: Served) -> None:
    for body, status, words in (
        ({"service": "wordcount", "max_price": "cheap"}, 400, "not a decimal amount"),
        ({"service": "wordcount", "approved": True}, 400, "approved"),
        ({"input": {"text": "a"}}, 400, "service"),
        ({"service": "wordcount", "seller": "mallory"}, 400, "neither a DID nor an agent of this fleet"),
    ):
        response = await api.client.post("/v1/buy", json=body)
        assert response.status_code == status, response.text
        assert words in response.json()["error"]
    assert api.rig.entries("decision") == []


async def test_a_max_price_over_the_policy_cap_is_no_deal(api: Served) -> None:
    response = await api.client.post("/v1/buy", json={"service": "wordcount", "max_price": "13"})
    assert response.status_code == 200, response.text
    result = BuyResult.model_validate(response.json())
    assert result.state == "no deal"
    assert not result.ok
    assert "the max price 13 TUSD is over this agent's policy cap of 12 TUSD" in result.reason
    assert api.rig.entries("decision") == []


async def test_the_chat_buy_command_answers_bad_input_in_one_line(api: Served) -> None:
    async def say(text: str) -> str:
        response = await api.client.post("/v1/chat", json={"text": text})
        assert response.status_code == 200, response.text
        return str(response.json()["reply"])

    assert "buy SERVICE {json input}" in await say("buy")
    assert (await say("buy wordcount {text: 1}")).startswith("not bought: the input is not JSON")
    assert "neither a DID" not in await say('buy wordcount {"text": "a"} ')  # reaches the purchaser
    assert api.rig.entries("decision") == []


async def test_without_a_purchaser_post_buy_is_409(tmp_path: Path) -> None:
    with make_rig(tmp_path, POLICY) as rig:
        async with serve(rig) as served:
            response = await served.client.post("/v1/buy", json={"service": "wordcount"})
    assert response.status_code == 409
    assert "cannot buy" in response.json()["error"]
