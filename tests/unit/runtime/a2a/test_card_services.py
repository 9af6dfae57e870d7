"""Services in the signed agent card: A2A skills, with their JSON Schemas under the signature."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from a2a.server.request_handlers.response_helpers import agent_card_to_dict

from identity import IdentityKey
from runtime.a2a.card import AgentProfile, InvalidCard, signed_card, verify_card
from runtime.services import load_plugins
from runtime.services.loading import card_services

KEY = IdentityKey.generate()


def served(card: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(agent_card_to_dict(card)))
    return data


def profile(tmp_path: Path) -> AgentProfile:
    services = card_services(load_plugins(["examples.wordcount"], tmp_path))
    return AgentProfile(name="seller", url="http://127.0.0.1:9", did=KEY.did, wallet="0x" + "ab" * 20,
                        service_tags=("wordcount",), services=services)  # fmt: skip


def test_each_service_is_an_a2a_skill_and_its_schemas_verify_with_the_card(tmp_path: Path) -> None:
    data = served(signed_card(profile(tmp_path), KEY))
    assert [s["id"] for s in data["skills"]] == ["sova-negotiation", "wordcount"]
    card = verify_card(data)
    spec = card.services["wordcount"]
    assert spec.input_schema["properties"]["text"]["type"] == "string"
    assert set(spec.output_schema["required"]) == {"words", "sha256"}
    assert spec.price == ""  # priced per input


def test_a_card_whose_output_schema_was_edited_does_not_verify(tmp_path: Path) -> None:
    data = served(signed_card(profile(tmp_path), KEY))
    for ext in data["capabilities"]["extensions"]:
        if "services" in ext.get("params", {}):
            ext["params"]["services"]["wordcount"]["outputSchema"] = {"type": "object"}
    with pytest.raises(InvalidCard, match="forged or altered"):
        verify_card(data)


def test_a_card_without_services_lists_none(tmp_path: Path) -> None:
    card = verify_card(served(signed_card(replace(profile(tmp_path), services=()), KEY)))
    assert card.services == {}
