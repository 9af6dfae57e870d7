"""An ERC-8004 implementation nobody here wrote — the Agent0 SDK (`agent0-sdk` on PyPI) — reads a Sova
agent from the local chain: its registration (agent URI, the signed registration file Sova serves, the
wallet and owner) and the feedback its paying buyer gave in ReputationRegistry."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.applications import Starlette
from uvicorn import Config, Server

from identity import IdentityKey, binding_proof
from runtime.a2a.card import AgentProfile
from runtime.a2a.card_services import ServiceSpec
from runtime.a2a.registration import registration_routes, signed_registration
from runtime.a2a.server import listen, serve_started
from runtime.chain.anvil import AnvilNode
from tests.support.contracts import CHAIN_ID, USD, deploy_all, dev_account, now, random_hash, send, sign_deal
from wallet.metadata import registration_uri, sova_metadata
from wallet.typed_data import Deal, binding_digest

agent0_sdk = pytest.importorskip("agent0_sdk")


async def test_agent0_sdk_loads_a_sova_agent_and_its_paid_feedback(anvil: AnvilNode) -> None:
    c = deploy_all(anvil.url)
    seller, buyer = dev_account(1), dev_account(2)
    key = IdentityKey.generate()
    sock, url = listen()
    proof = binding_proof(key, binding_digest(c.registry.address, CHAIN_ID, seller.address))
    entries = sova_metadata(key.did, url, ["translation"], proof)
    send(c.registry.functions.register(registration_uri(url), entries), seller.address)
    profile = AgentProfile(
        name="seller", url=url, did=key.did, wallet=seller.address, chain_id=CHAIN_ID,
        registry=c.registry.address, agent_id="1", services=(ServiceSpec("translation"),),
    )  # fmt: skip
    server = Server(Config(Starlette(routes=registration_routes(signed_registration(profile, key))),
                           log_level="warning", lifespan="off", ws="none"))  # fmt: skip
    task = await serve_started(server, sock, "the registration route")
    try:
        _pay_and_rate(c, buyer, seller, value=90)
        sdk = agent0_sdk.SDK(
            chainId=CHAIN_ID,
            rpcUrl=anvil.url,
            registryOverrides={
                CHAIN_ID: {
                    "IDENTITY": c.registry.address,
                    "REPUTATION": c.reputation.address,
                    "VALIDATION": c.validation.address,
                }
            },
        )
        # agent0-sdk is synchronous (requests, web3): off the loop that serves the file
        agent = await asyncio.to_thread(sdk.loadAgent, f"{CHAIN_ID}:1")
        feedback = await asyncio.to_thread(sdk.getFeedback, f"{CHAIN_ID}:1", buyer.address, 1)
    finally:
        server.should_exit = True
        await task
        sock.close()
    assert agent.name == "seller"
    file = agent.registration_file
    assert file.agentURI == registration_uri(url)
    endpoints = {e.type.value: e for e in file.endpoints}
    assert endpoints["A2A"].value == f"{url}/.well-known/agent-card.json"
    assert endpoints["A2A"].meta["a2aSkills"] == ["translation"]
    assert endpoints["DID"].value == key.did
    assert (file.walletAddress, file.owners) == (seller.address, [seller.address])
    assert [str(getattr(t, "value", t)) for t in file.trustModels] == ["reputation"]
    assert file.x402support is False
    assert file.active is True
    assert feedback.value == 90
    assert feedback.tags[:1] == ["starred"]


def _pay_and_rate(c: Any, buyer: Any, seller: Any, value: int) -> None:
    """A released DealEscrow deal from `buyer` to `seller`, recorded, then the buyer's feedback."""
    send(c.usd.functions.mint(buyer.address, 10 * USD), c.operator.address)
    send(c.usd.functions.approve(c.escrow.address, 10 * USD), buyer.address)
    deal = Deal(buyer.address, seller.address, c.usd.address, 5 * USD, random_hash(), now(c.w3) + 600, 1)
    sigs = sign_deal(deal, buyer, c.escrow.address), sign_deal(deal, seller, c.escrow.address)
    send(c.escrow.functions.open(deal.as_tuple(), *sigs), buyer.address)
    send(c.escrow.functions.release(deal.as_tuple()), buyer.address)
    send(c.reputation.functions.recordSettledDeal(1, deal.as_tuple()), buyer.address)
    rate = c.reputation.functions.giveFeedback(1, value, 0, "starred", "translation", "", "", b"\0" * 32)
    send(rate, buyer.address)
