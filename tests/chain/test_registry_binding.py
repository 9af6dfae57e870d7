"""The DID <-> wallet binding through AgentRegistry, checked in both directions, and revocation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest

from identity import BindingError, IdentityKey, credential_id_hash
from runtime.chain.anvil import AnvilNode, rpc_call
from runtime.chain.registry import Registry
from wallet import ChainClient, Keystore, Signer, contracts_for, deploy_all
from wallet.contracts import AgentRegistry


@dataclass
class World:
    client: ChainClient
    registry: Registry
    alice: Signer
    mallory: Signer


@pytest.fixture
async def world(anvil: AnvilNode, tmp_path: Path) -> AsyncIterator[World]:
    store = Keystore(tmp_path / "keys", scrypt_n=1024)
    signers = {}
    for name in ("operator", "alice", "mallory"):
        store.create(name, "pw")
        signers[name] = store.unlock(name, "pw")
        rpc_call(anvil.url, "anvil_setBalance", [signers[name].address, hex(10**20)])
    client = await ChainClient.connect(anvil.url)
    deployments, _ = await deploy_all(client, signers["operator"], tmp_path / "deployments.json")

    contract = cast(AgentRegistry, contracts_for(client, deployments)["AgentRegistry"])
    yield World(client, Registry(contract), signers["alice"], signers["mallory"])
    await client.close()


async def test_registered_agent_binding_verifies_both_ways(world: World) -> None:
    key = IdentityKey.generate()
    record = await world.registry.register(world.alice, key, "http://127.0.0.1:9/a2a", ["compute"])
    assert record.did == key.did
    checked = await world.registry.verify_binding(key.did, world.alice.address)
    assert checked.agent_id == record.agent_id
    assert checked.tags == ("compute",)


async def test_registering_again_with_same_did_is_idempotent(world: World) -> None:
    key = IdentityKey.generate()
    first = await world.registry.register(world.alice, key)
    again = await world.registry.register(world.alice, key)
    assert again.agent_id == first.agent_id


async def test_card_claiming_someone_elses_wallet_fails_wallet_to_did(world: World) -> None:
    alice_key, mallory_key = IdentityKey.generate(), IdentityKey.generate()
    await world.registry.register(world.alice, alice_key)
    with pytest.raises(BindingError) as info:
        await world.registry.verify_binding(mallory_key.did, world.alice.address)
    assert info.value.direction == "wallet->did"
    assert world.alice.address in str(info.value)


async def test_wallet_that_registered_a_did_without_its_key_fails_did_to_wallet(world: World) -> None:
    victim = IdentityKey.generate()
    # Mallory registers the victim's DID with a proof made by another key: the registry cannot check
    # Ed25519, so it stores it; the verifier must not accept it.
    contract = world.registry.contract
    digest = await contract.binding_digest(world.mallory.address)
    forged = IdentityKey.generate().sign(digest)
    await world.client.transact(world.mallory, contract.register_tx(victim.did, "", [], forged))
    with pytest.raises(BindingError) as info:
        await world.registry.verify_binding(victim.did, world.mallory.address)
    assert info.value.direction == "did->wallet"


async def test_revocation_is_read_from_the_issuers_registered_wallet(world: World) -> None:
    issuer = IdentityKey.generate()
    await world.registry.register(world.alice, issuer)
    assert await world.registry.is_revoked(issuer.did, "urn:uuid:1") is False
    await world.registry.revoke(world.alice, "urn:uuid:1")
    assert await world.registry.is_revoked(issuer.did, "urn:uuid:1") is True
    assert await world.registry.is_revoked(issuer.did, "urn:uuid:2") is False


async def test_revocation_by_a_stranger_does_not_count(world: World) -> None:
    issuer = IdentityKey.generate()
    await world.registry.register(world.alice, issuer)
    tx = world.registry.contract.build("revokeCredential", credential_id_hash("urn:uuid:3"))
    await world.client.transact(world.mallory, tx)
    assert await world.registry.is_revoked(issuer.did, "urn:uuid:3") is False


async def test_revocation_check_fails_closed_for_a_squatted_did(world: World) -> None:
    victim = IdentityKey.generate()
    contract = world.registry.contract
    forged = IdentityKey.generate().sign(await contract.binding_digest(world.mallory.address))
    await world.client.transact(world.mallory, contract.register_tx(victim.did, "", [], forged))
    with pytest.raises(BindingError):
        await world.registry.is_revoked(victim.did, "urn:uuid:4")


async def test_a_transferred_agent_is_bound_to_no_wallet_until_it_is_proved_again(world: World) -> None:
    key = IdentityKey.generate()
    record = await world.registry.register(world.alice, key, "http://127.0.0.1:9/a2a", ["compute"])
    contract = world.registry.contract
    assert (
        await contract.agent_uri(record.agent_id)
        == "http://127.0.0.1:9/a2a/.well-known/agent-registration.json"
    )
    await contract.transact(
        world.alice, "transferFrom", world.alice.address, world.mallory.address, record.agent_id
    )
    assert await contract.agent_wallet(record.agent_id) == "0x" + "0" * 40
    with pytest.raises(BindingError) as info:  # deals with it are refused: no wallet holds the DID
        await world.registry.verify_binding(key.did, world.alice.address)
    assert info.value.direction == "wallet->did"
    assert "transferred" in str(info.value)


async def test_the_agent_uri_serves_the_signed_registration_file_the_registry_points_at(world: World) -> None:
    from starlette.applications import Starlette
    from uvicorn import Config, Server

    from runtime.a2a.card import AgentProfile
    from runtime.a2a.registration import (
        InvalidRegistration,
        fetch_registration,
        registration_file,
        registration_routes,
        sign_registration,
        signed_registration,
        verify_registration,
    )
    from runtime.a2a.server import listen, serve_started

    key, mallory = IdentityKey.generate(), IdentityKey.generate()
    sock, url = listen()
    record = await world.registry.register(world.alice, key, url, ["compute"])
    contract = world.registry.contract
    profile = AgentProfile(
        name="alice", url=url, did=key.did, wallet=world.alice.address, chain_id=world.client.chain_id,
        registry=contract.address, agent_id=str(record.agent_id),
    )  # fmt: skip
    app = Starlette(routes=registration_routes(signed_registration(profile, key)))
    server = Server(Config(app, log_level="warning", lifespan="off", ws="none"))
    task = await serve_started(server, sock, "the registration route")
    try:
        # a reader needs only the chain: agent URI and DID from the registry, then the file
        agent_uri = await contract.agent_uri(record.agent_id)
        did = (await world.registry.record(record.agent_id)).did
        where = {"did": did, "chain_id": world.client.chain_id, "registry": contract.address}
        doc = await fetch_registration(agent_uri)
        assert verify_registration(doc, **where, agent_id=record.agent_id)["name"] == "alice"
        with pytest.raises(InvalidRegistration) as info:  # the same file read as another agent's
            verify_registration(doc, **where, agent_id=record.agent_id + 1)
        assert info.value.reason == "not_registered"
        forged = sign_registration(registration_file(profile), mallory)  # served by someone without the key
        with pytest.raises(InvalidRegistration) as info:
            verify_registration(forged, **where, agent_id=record.agent_id)
        assert info.value.reason == "bad_signature"
    finally:
        server.should_exit = True
        await task
        sock.close()
