"""Registering services on an explicit object, reading inputs and pricing them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import BaseModel

from runtime.services import BadServiceInput, PluginError, ServiceContext, Services


class Text(BaseModel):
    text: str


class Count(BaseModel):
    words: int


def per_word(text: Text) -> Decimal:
    return Decimal("0.5") * len(text.text.split())


def make(price: object = "0.5", **options: object) -> Services:
    services = Services()

    @services.service("wordcount", input=Text, output=Count, price=price, **options)  # type: ignore[arg-type]
    def wordcount(text: Text, context: ServiceContext) -> Count:
        """Counts words."""
        return Count(words=len(text.text.split()))

    return services


def test_a_decorated_handler_is_registered_under_its_name_with_its_docstring() -> None:
    services = make()
    service = services.get("wordcount")
    assert service is not None
    assert services.names() == ["wordcount"]
    assert "wordcount" in services
    assert service.description == "Counts words."
    assert service.input_schema()["properties"]["text"]["type"] == "string"
    assert service.output_schema()["required"] == ["words"]


def test_two_registries_do_not_share_services() -> None:
    assert len(make()) == 1
    assert len(Services()) == 0


def test_a_second_service_with_the_same_name_is_refused() -> None:
    services = make()
    with pytest.raises(PluginError, match="'wordcount' is registered twice"):
        services.service("wordcount", input=Text, output=Count, price="1")(lambda t, c: Count(words=0))


@pytest.mark.parametrize(
    ("price", "problem"),
    [("0", "not positive"), ("ten", "not a decimal string"), (3.5, "neither a decimal string")],
)
def test_a_service_with_a_bad_price_is_refused(price: object, problem: str) -> None:
    with pytest.raises(PluginError, match=problem):
        make(price=price)


def test_an_input_not_matching_the_schema_is_one_line_naming_the_field() -> None:
    service = make().get("wordcount")
    assert service is not None
    with pytest.raises(BadServiceInput) as caught:
        service.read_input({"txt": "a b"})
    assert str(caught.value).startswith("the input does not match wordcount's schema: text: Field required")
    assert "\n" not in str(caught.value)


def test_an_input_over_the_size_limit_is_refused_before_validation() -> None:
    service = make(max_input=64).get("wordcount")
    assert service is not None
    with pytest.raises(BadServiceInput, match="over its 64"):
        service.read_input({"text": "x" * 100})


def test_a_fixed_price_does_not_depend_on_the_input() -> None:
    service = make(price="0.5").get("wordcount")
    assert service is not None
    assert service.fixed_price() == "0.5"
    assert service.quote(Text(text="a b c")) == Decimal("0.5")


def test_a_price_function_quotes_from_the_input() -> None:
    service = make(price=per_word).get("wordcount")
    assert service is not None
    assert service.fixed_price() is None
    assert service.quote(Text(text="a b c")) == Decimal("1.5")


def test_a_price_function_giving_nothing_positive_is_a_refusal_of_the_input() -> None:
    service = make(price=per_word).get("wordcount")
    assert service is not None
    with pytest.raises(BadServiceInput, match="prices this input at 0"):
        service.quote(Text(text=""))
