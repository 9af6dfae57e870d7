"""Peers a buyer must not deal with, met by a real buyer process under `sova up --detach`: a seller that
holds no credential (the issuer of this fleet issues to nobody), a registered peer whose endpoint does
not answer, and fake sellers registered in AgentRegistry (each from its own funded wallet, with its own
DID) whose cards, served by small real HTTP servers on loopback, claim what they do not control: the
real seller's card copied, a card naming the real seller's DID signed by another key, and a card naming
the real seller's wallet. Each is declined with its reason in the buyer's ledger, and the buyer goes on
to the next seller and the next round."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from a2a.server.request_handlers.response_helpers import agent_card_to_dict

from identity import IdentityKey
from runtime.a2a.card import AgentProfile, build_card, sign_card, signed_card
from runtime.chain.anvil import free_port
from runtime.chain.ops import fund_local
from runtime.chain.registry import Registry
from runtime.home import Home
from tests.support.failures import (
    agents,
    assert_ledger_whole,
    deal_events,
    down,
    home_of,
    ledger,
    project,
    up,
    wait_for,
)

pytestmark = [pytest.mark.chain, pytest.mark.slow]

ISSUE = "    goals:\n      - {kind: issue, type: VerifiedSupplier, to: [seller], valid_for: 30d}\n"


def no_credentials(text: str) -> str:
    """The demo fleet, but its issuer issues to nobody: the seller holds no VerifiedSupplier."""
    assert ISSUE in text
    return text.replace(ISSUE, "    goals: []\n")


class CardServer:
    """A small real HTTP server on loopback that serves one agent card and answers nothing else."""

    def __init__(self, card: dict[str, Any]) -> None:
        body = json.dumps(card).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                found = self.path == "/.well-known/agent-card.json"
                self.send_response(200 if found else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body if found else b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Fake:
    """A peer registered in AgentRegistry under its own wallet and DID, and what the buyer must say."""

    did: str
    endpoint: str
    reason: str


async def register(home: Home, url: str, endpoint: str, key: IdentityKey) -> None:
    """Register `key`'s DID with tag `wordcount` (the demo seller's service) at `endpoint`, from a fresh
    funded wallet of its own."""
    from wallet import ChainClient, Deployments, Signer, contracts_for
    from wallet.contracts import AgentRegistry

    signer = Signer.from_private_key(os.urandom(32))
    await asyncio.to_thread(fund_local, url, signer.address, Decimal(1))
    client = await ChainClient.connect(url)
    try:
        contract = contracts_for(client, Deployments.load(home.deployments(client.chain_id)))["AgentRegistry"]
        assert isinstance(contract, AgentRegistry)
        await Registry(contract).register(signer, key, endpoint, ["wordcount"])
    finally:
        await client.close()


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Fake]]]:
    config = project(tmp_path_factory.mktemp("peers"), no_credentials)
    servers: list[CardServer] = []
    up(config)
    try:
        home = home_of(config)
        chain = json.loads(home.node_file.read_text())["url"]
        seller = json.loads(home.ready_file("seller").read_text())
        real_card = httpx.get(seller["url"] + "/.well-known/agent-card.json", timeout=10).json()
        fakes: dict[str, Fake] = {}

        offline = f"http://127.0.0.1:{free_port()}"  # registered, but nothing listens there
        key = IdentityKey.generate()
        asyncio.run(register(home, chain, offline, key))
        fakes["offline"] = Fake(key.did, offline, "is not dealt with (unreachable)")

        copy = CardServer(real_card)  # the real seller's own signed card, served by someone else
        servers.append(copy)
        key = IdentityKey.generate()
        asyncio.run(register(home, chain, copy.url, key))
        fakes["copied card"] = Fake(key.did, copy.url, f"names {seller['did']}, but AgentRegistry lists")

        mallory = IdentityKey.generate()  # a card naming the real seller's DID, signed by another key
        forged_profile = AgentProfile(name="seller", url="http://127.0.0.1:1", did=seller["did"],
                                      wallet=seller["address"], service_tags=("wordcount",))  # fmt: skip
        forged = CardServer(agent_card_to_dict(sign_card(build_card(forged_profile), mallory)))
        servers.append(forged)
        key = IdentityKey.generate()
        asyncio.run(register(home, chain, forged.url, key))
        fakes["forged DID"] = Fake(key.did, forged.url, "is not dealt with (bad_signature)")

        thief = IdentityKey.generate()  # its own DID, but the real seller's wallet on its card
        url = f"http://127.0.0.1:{free_port()}"
        profile = AgentProfile(name="thief", url=url, did=thief.did, wallet=seller["address"],
                               service_tags=("wordcount",))  # fmt: skip
        stolen = CardServer(agent_card_to_dict(signed_card(profile, thief)))
        servers.append(stolen)
        asyncio.run(register(home, chain, stolen.url, thief))
        fakes["foreign wallet"] = Fake(thief.did, stolen.url, "DID and wallet are not bound in AgentRegistry")
        yield config, fakes
    finally:
        down(config)
        for server in servers:
            server.close()


def declines(home: Home, peer: str) -> list[tuple[int, str]]:
    """(seq, reason) of the buyer's `declined` deal entries with `peer`."""
    return [
        (e.seq, str(e.data.get("reason", "")))
        for e in ledger(home, "buyer")
        if e.kind == "deal" and e.data.get("peer") == peer and e.data.get("event") == "declined"
    ]


def test_a_seller_without_the_required_credential_is_declined(market: tuple[Path, dict[str, Fake]]) -> None:
    config, _ = market
    home = home_of(config)
    seller_did = json.loads(home.ready_file("seller").read_text())["did"]
    found = wait_for(lambda: declines(home, seller_did), 60, "the credential-less seller declined")
    assert "presented no VerifiedSupplier credential" in found[0][1], found
    assert not [e for e in deal_events(home, "buyer") if e["event"] in ("signed", "funded", "released")]


@pytest.mark.parametrize("kind", ["offline", "copied card", "forged DID", "foreign wallet"])
def test_a_peer_offline_or_claiming_what_it_does_not_control_is_declined(
    market: tuple[Path, dict[str, Fake]], kind: str
) -> None:
    config, fakes = market
    home = home_of(config)
    fake = fakes[kind]
    found = wait_for(lambda: declines(home, fake.did), 60, f"the {kind} peer declined")
    assert fake.reason in found[0][1], found
    # Nothing was ever sent to it: a peer that fails the card checks gets no cfp.
    sent = [e for e in ledger(home, "buyer") if e.kind == "message_out" and e.data.get("peer") == fake.did]
    assert sent == []


def test_the_buyer_goes_on_past_a_dead_peer_to_the_next_seller_and_round(
    market: tuple[Path, dict[str, Fake]],
) -> None:
    config, fakes = market
    home = home_of(config)
    pid = agents(config)["buyer"]["pid"]
    offline, after = fakes["offline"], fakes["foreign wallet"]  # registered in this order
    wait_for(lambda: len(declines(home, offline.did)) >= 2, 60, "a second round past the offline peer")
    first_offline = declines(home, offline.did)[0][0]
    assert any(seq > first_offline for seq, _ in declines(home, after.did))
    status = agents(config)["buyer"]
    assert status["ready"]
    assert status["pid"] == pid, "the buyer restarted"
    assert_ledger_whole(config, "buyer")
