"""The agents of agents.yaml are known by name to an agent's skills (`to: seller`) before any deal."""

from __future__ import annotations

from runtime.agent.parts import fleet_parties
from runtime.negotiation.peers import PeerBook

DID = "did:key:z6MkSeller"
WALLET = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"


def test_each_other_agent_is_found_by_its_name_did_and_wallet() -> None:
    names = {"buyer": ("did:key:z6MkBuyer", "0x" + "11" * 20), "seller": (DID, WALLET)}
    book = PeerBook(fleet_parties(names, "buyer"))
    found = book.lookup("seller")
    assert found is not None
    assert (found.did, found.address, found.name) == (DID, WALLET, "seller")
    assert book.lookup(WALLET.lower()) == found
    assert book.lookup("buyer") is None  # not itself


def test_an_agent_with_only_a_wallet_is_known_by_it() -> None:
    (party,) = fleet_parties({"payee": (WALLET,)}, "buyer")
    assert (party.did, party.address, party.name) == (None, WALLET, "payee")
