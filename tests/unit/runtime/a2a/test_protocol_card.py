"""The signed agent card: what it carries, that a2a-sdk's own verifier accepts it, what breaks it."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from a2a.client.card_resolver import parse_agent_card
from a2a.server.request_handlers.response_helpers import agent_card_to_dict
from a2a.utils.signing import create_signature_verifier

from identity import IdentityKey, public_key_from_did_key
from runtime.a2a.card import (
    IDENTITY_EXTENSION,
    NEGOTIATION_EXTENSION,
    AgentProfile,
    InvalidCard,
    build_card,
    fetch_card,
    sign_card,
    signed_card,
    verify_card,
)
from runtime.a2a.threads import MESSAGE_TYPES

KEY = IdentityKey.generate()
PROFILE = AgentProfile(
    name="seller", url="http://127.0.0.1:9999", did=KEY.did, wallet="0x" + "ab" * 20, chain_id=31337,
    registry="0x" + "cd" * 20, agent_id="7", tokens=("TUSD",), service_tags=("translation", "fr-en"),
)  # fmt: skip


def served(card: Any) -> dict[str, Any]:
    """The JSON the card route serves (a2a-sdk adds v0.3 compatibility fields)."""
    data: dict[str, Any] = json.loads(json.dumps(agent_card_to_dict(card)))
    return data


def test_a_signed_card_verifies_and_exposes_the_sova_fields() -> None:
    card = verify_card(served(signed_card(PROFILE, KEY)))
    assert (card.did, card.wallet, card.chain_id, card.registry, card.agent_id) == (
        KEY.did, PROFILE.wallet, 31337, PROFILE.registry, "7",
    )  # fmt: skip
    assert card.endpoint == "http://127.0.0.1:9999/"
    assert card.message_types == MESSAGE_TYPES
    assert card.tokens == ("TUSD",)
    assert card.service_tags == ("translation", "fr-en")
    uris = [e.uri for e in card.card.capabilities.extensions]
    assert uris == [IDENTITY_EXTENSION, NEGOTIATION_EXTENSION]


def test_a2a_sdks_own_signature_verifier_accepts_the_card() -> None:
    def key_of(kid: str | None, jku: str | None) -> Any:
        assert kid is not None
        return public_key_from_did_key(kid.split("#")[0])

    verifier = create_signature_verifier(key_of, ["EdDSA"])
    verifier(parse_agent_card(served(signed_card(PROFILE, KEY))))


@pytest.mark.parametrize(
    "edit",
    [
        lambda c: c.update(name="mallory"),
        lambda c: c["supportedInterfaces"][0].update(url="http://evil.example/"),
        lambda c: c["capabilities"]["extensions"][0]["params"].update(wallet="0x" + "ee" * 20),
        lambda c: c["capabilities"]["extensions"][1]["params"].update(tokens=["SCAM"]),
    ],
    ids=["name", "endpoint", "wallet", "tokens"],
)
def test_any_change_to_a_signed_card_breaks_its_signature(edit: Any) -> None:
    data = served(signed_card(PROFILE, KEY))
    edit(data)
    with pytest.raises(InvalidCard) as err:
        verify_card(data)
    assert err.value.reason == "bad_signature"


def test_a_card_signed_by_another_key_than_its_did_is_refused() -> None:
    mallory = IdentityKey.generate()
    with pytest.raises(InvalidCard) as err:
        verify_card(served(sign_card(build_card(PROFILE), mallory)))
    assert err.value.reason == "bad_signature"


def test_an_unsigned_card_is_refused() -> None:
    with pytest.raises(InvalidCard) as err:
        verify_card(served(build_card(PROFILE)))
    assert err.value.reason == "unsigned"


def test_a_card_without_the_identity_extension_is_malformed() -> None:
    data = served(signed_card(PROFILE, KEY))
    del data["capabilities"]["extensions"][0]
    with pytest.raises(InvalidCard) as err:
        verify_card(data)
    assert err.value.reason == "malformed"


@pytest.mark.parametrize("garbage", [{"name": 5}, {"capabilities": "x"}, {}])
def test_garbage_is_not_a_card(garbage: dict[str, Any]) -> None:
    with pytest.raises(InvalidCard) as err:
        verify_card(garbage)
    assert err.value.reason == "malformed"


def test_a_card_cannot_be_signed_for_someone_elses_did() -> None:
    with pytest.raises(ValueError, match="the card names"):
        signed_card(PROFILE, IdentityKey.generate())


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (404, b"not here", "unreachable"),
        (200, b"<html>", "malformed"),
        (200, b"[" * 100_000 + b"]" * 100_000, "malformed"),
        (200, b'{"name": "' + b"x" * 300_000 + b'"}', "malformed"),
        (200, b"[1, 2]", "malformed"),
    ],
    ids=["404", "not json", "deep", "huge", "not an object"],
)
async def test_fetching_a_bad_card_fails_with_a_reason(status: int, body: bytes, reason: str) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, content=body))
    async with httpx.AsyncClient(transport=transport) as http:
        with pytest.raises(InvalidCard) as err:
            await fetch_card("http://agent.test", http=http)
    assert err.value.reason == reason


async def test_fetch_card_reads_the_well_known_path() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json=served(signed_card(PROFILE, KEY)))

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        card = await fetch_card("http://agent.test/", http=http)
    assert seen == ["http://agent.test/.well-known/agent-card.json"]
    assert card.did == KEY.did
