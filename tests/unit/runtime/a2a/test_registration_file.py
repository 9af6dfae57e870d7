"""The ERC-8004 registration file: its shape, its signature by the DID key, and every way a reader
refuses a file that is not the one the registry points at."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from identity import IdentityKey
from runtime.a2a.card import AgentProfile
from runtime.a2a.card_services import ServiceSpec
from runtime.a2a.registration import (
    REGISTRATION_TYPE,
    InvalidRegistration,
    fetch_registration,
    registration_file,
    sign_registration,
    signed_registration,
    verify_registration,
)
from wallet.metadata import REGISTRATION_PATH, registration_uri

KEY = IdentityKey.generate()
REGISTRY = "0x" + "cd" * 20
PROFILE = AgentProfile(
    name="seller", url="http://127.0.0.1:9999", did=KEY.did, wallet="0x" + "ab" * 20, chain_id=31337,
    registry=REGISTRY, agent_id="7", service_tags=("translation",),
    services=(ServiceSpec("translation"), ServiceSpec("wordcount")),
)  # fmt: skip
WHERE = {"did": KEY.did, "chain_id": 31337, "registry": REGISTRY, "agent_id": 7}


def test_the_file_has_erc8004s_registration_v1_shape() -> None:
    doc = registration_file(PROFILE)
    assert doc["type"] == REGISTRATION_TYPE == "https://eips.ethereum.org/EIPS/eip-8004#registration-v1"
    assert (doc["name"], doc["active"], doc["x402Support"]) == ("seller", True, False)
    assert isinstance(doc["description"], str)
    assert doc["description"]
    services = {s["name"]: s for s in doc["services"]}
    assert set(services) == {"A2A", "DID", "wallet"}  # only names other ERC-8004 readers know
    assert services["A2A"]["endpoint"] == "http://127.0.0.1:9999/.well-known/agent-card.json"
    assert services["A2A"]["a2aSkills"] == ["translation", "wordcount"]
    assert services["DID"]["endpoint"] == KEY.did
    assert services["wallet"]["endpoint"] == "eip155:31337:0x" + "ab" * 20
    assert doc["registrations"] == [{"agentId": 7, "agentRegistry": f"eip155:31337:{REGISTRY}"}]
    assert doc["supportedTrust"] == ["reputation"]
    assert registration_file(PROFILE, x402_support=True)["x402Support"] is True


def test_the_agent_uri_is_the_files_well_known_path() -> None:
    assert registration_uri(PROFILE.url) == PROFILE.url + REGISTRATION_PATH
    assert REGISTRATION_PATH == "/.well-known/agent-registration.json"


def test_a_signed_file_verifies_against_the_registrys_did_and_entry() -> None:
    doc = signed_registration(PROFILE, KEY)
    assert verify_registration(doc, **WHERE) is doc
    assert verify_registration(doc, **{**WHERE, "registry": REGISTRY.upper().replace("0X", "0x")}) is doc


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d.update(name="mallory"),
        lambda d: d["services"][0].update(endpoint="http://evil.example/.well-known/agent-card.json"),
        lambda d: d.update(x402Support=True),
    ],
    ids=["name", "a2a endpoint", "x402"],
)
def test_any_edit_of_a_signed_file_is_refused(edit: Any) -> None:
    doc = signed_registration(PROFILE, KEY)
    edit(doc)
    with pytest.raises(InvalidRegistration) as err:
        verify_registration(doc, **WHERE)
    assert err.value.reason == "bad_signature"


def test_a_file_signed_by_another_did_than_the_registry_holds_is_refused() -> None:
    mallory = IdentityKey.generate()
    forged = sign_registration(registration_file(PROFILE), mallory)
    with pytest.raises(InvalidRegistration, match="registry holds") as err:
        verify_registration(forged, **WHERE)
    assert err.value.reason == "bad_signature"


@pytest.mark.parametrize(
    "where",
    [{"agent_id": 8}, {"registry": "0x" + "ee" * 20}, {"chain_id": 1}],
    ids=["another agent id", "another registry", "another chain"],
)
def test_a_file_whose_registrations_name_another_entry_is_refused(where: dict[str, Any]) -> None:
    doc = signed_registration(PROFILE, KEY)
    with pytest.raises(InvalidRegistration, match="not the file this registry entry points at") as err:
        verify_registration(doc, **{**WHERE, **where})
    assert err.value.reason == "not_registered"


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        ({"type": "something else"}, "malformed"),
        ([1, 2], "malformed"),
        (registration_file(PROFILE), "unsigned"),
        ({**registration_file(PROFILE), "signatures": [{"protected": 1}]}, "bad_signature"),
        ({**registration_file(PROFILE), "signatures": ["x"]}, "bad_signature"),
    ],
    ids=["wrong type", "not an object", "unsigned", "bad signature entry", "signature not an object"],
)
def test_a_malformed_or_unsigned_file_is_refused_in_one_line(doc: Any, reason: str) -> None:
    with pytest.raises(InvalidRegistration) as err:
        verify_registration(doc, **WHERE)
    assert err.value.reason == reason
    assert "\n" not in str(err.value)


def test_a_file_cannot_be_signed_for_someone_elses_did() -> None:
    with pytest.raises(ValueError, match="the registration names"):
        signed_registration(PROFILE, IdentityKey.generate())


@pytest.mark.parametrize(
    ("uri", "status", "body", "reason"),
    [
        ("ipfs://bafy", 200, b"{}", "unreachable"),
        ("http://agent.test/r.json", 404, b"no", "unreachable"),
        ("http://agent.test/r.json", 200, b"<html>", "malformed"),
        ("http://agent.test/r.json", 200, b"[" * 100_000 + b"]" * 100_000, "malformed"),
        ("http://agent.test/r.json", 200, b'{"n": "' + b"x" * 300_000 + b'"}', "malformed"),
    ],
    ids=["not http", "404", "not json", "deep", "huge"],
)
async def test_fetching_a_bad_file_fails_with_a_reason(
    uri: str, status: int, body: bytes, reason: str
) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, content=body))
    async with httpx.AsyncClient(transport=transport) as http:
        with pytest.raises(InvalidRegistration) as err:
            await fetch_registration(uri, http=http)
    assert err.value.reason == reason
