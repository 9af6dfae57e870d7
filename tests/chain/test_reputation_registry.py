"""ReputationRegistry: ERC-8004's feedback interface, and feedback only from a client that paid the agent
in a released DealEscrow deal, once per deal (never paid, refunded, twice, another agent's deal, self)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from runtime.chain.anvil import AnvilNode
from tests.support.contracts import (
    CHAIN_ID,
    USD,
    Contracts,
    advance_time,
    deploy_all,
    dev_account,
    now,
    random_hash,
    reverts_with,
    send,
    sign_deal,
)
from wallet.typed_data import Deal, deal_digest

pytestmark = pytest.mark.chain

# The reference ReputationRegistry 2.0.0's functions and events (int128 value + uint8 decimals version).
ERC8004_FUNCTIONS = (
    "giveFeedback(uint256,int128,uint8,string,string,string,string,bytes32)",
    "revokeFeedback(uint256,uint64)",
    "appendResponse(uint256,address,uint64,string,bytes32)",
    "getSummary(uint256,address[],string,string)",
    "readFeedback(uint256,address,uint64)",
    "readAllFeedback(uint256,address[],string,string,bool)",
    "getResponseCount(uint256,address,uint64,address[])",
    "getClients(uint256)",
    "getLastIndex(uint256,address)",
    "getIdentityRegistry()",
    "getVersion()",
)
ERC8004_EVENTS = (
    "NewFeedback(uint256,address,uint64,int128,uint8,string,string,string,string,string,bytes32)",
    "FeedbackRevoked(uint256,address,uint64)",
    "ResponseAppended(uint256,address,uint64,address,string,bytes32)",
)


@dataclass
class Market:
    c: Contracts
    seller: LocalAccount
    buyer: LocalAccount
    other: LocalAccount
    agent_id: int

    def deal(self, buyer: LocalAccount | None = None, seller: LocalAccount | None = None) -> Deal:
        buyer, seller = buyer or self.buyer, seller or self.seller
        return Deal(
            buyer=buyer.address, seller=seller.address, token=self.c.usd.address, amount=5 * USD,
            terms_hash=random_hash(), deadline=now(self.c.w3) + 600, nonce=int.from_bytes(random_hash()[:8]),
        )  # fmt: skip

    def id_of(self, deal: Deal) -> bytes:
        return deal_digest(deal, CHAIN_ID, self.c.escrow.address)

    def opened(self, deal: Deal, buyer: LocalAccount, seller: LocalAccount) -> Deal:
        escrow = self.c.escrow
        sigs = sign_deal(deal, buyer, escrow.address), sign_deal(deal, seller, escrow.address)
        send(escrow.functions.open(deal.as_tuple(), *sigs), buyer.address)
        return deal

    def released(self, buyer: LocalAccount | None = None, seller: LocalAccount | None = None) -> Deal:
        buyer, seller = buyer or self.buyer, seller or self.seller
        deal = self.opened(self.deal(buyer, seller), buyer, seller)
        send(self.c.escrow.functions.release(deal.as_tuple()), buyer.address)
        return deal

    def record(self, deal: Deal, agent_id: int | None = None) -> Any:
        return send(
            self.c.reputation.functions.recordSettledDeal(agent_id or self.agent_id, deal.as_tuple()),
            self.other.address,
        )

    def rate(self, value: int, who: LocalAccount | None = None, tag1: str = "", decimals: int = 0) -> Any:
        fn = self.c.reputation.functions.giveFeedback(
            self.agent_id, value, decimals, tag1, "", "", "", b"\0" * 32
        )
        return fn.transact({"from": (who or self.buyer).address})


@pytest.fixture
def m(module_anvil: AnvilNode) -> Market:
    c = deploy_all(module_anvil.url)
    seller, buyer, other = dev_account(1), dev_account(2), dev_account(3)
    for who in (buyer, other):
        send(c.usd.functions.mint(who.address, 100 * USD), c.operator.address)
        send(c.usd.functions.approve(c.escrow.address, 2**256 - 1), who.address)
    send(
        c.registry.functions.register("did:key:z6MkSeller", "http://seller", ["compute"], b"\1" * 64),
        seller.address,
    )
    return Market(c, seller, buyer, other, agent_id=1)


def _signature(entry: dict[str, Any]) -> str:
    return f"{entry['name']}({','.join(i['type'] for i in entry.get('inputs', []))})"


def test_the_abi_has_every_erc8004_reputation_function_and_event(m: Market) -> None:
    ours = {_signature(e) for e in m.c.reputation.abi if e["type"] in ("function", "event")}
    assert [f for f in (*ERC8004_FUNCTIONS, *ERC8004_EVENTS) if f not in ours] == []
    assert m.c.reputation.functions.getIdentityRegistry().call() == m.c.registry.address


def test_a_paying_client_rates_once_per_released_deal(m: Market) -> None:
    deal = m.released()
    receipt = m.record(deal)
    (recorded,) = m.c.reputation.events.SettledDealRecorded().process_receipt(receipt)
    assert (recorded.args.agentId, recorded.args.client) == (1, m.buyer.address)
    receipt = m.c.w3.eth.wait_for_transaction_receipt(m.rate(87, tag1="starred"))
    (event,) = m.c.reputation.events.NewFeedback().process_receipt(receipt)
    assert (event.args.clientAddress, event.args.feedbackIndex, event.args.value) == (m.buyer.address, 1, 87)
    assert m.c.reputation.functions.feedbackDeal(1, m.buyer.address, 1).call() == recorded.args.dealId
    assert m.c.reputation.functions.readFeedback(1, m.buyer.address, 1).call() == [
        87,
        0,
        "starred",
        "",
        False,
    ]
    with reverts_with(m.c.reputation, "NoSettledDeal", m.buyer.address, 1):  # one deal, one feedback
        m.rate(100)


def test_feedback_from_an_address_that_never_paid_is_refused(m: Market) -> None:
    with reverts_with(m.c.reputation, "NoSettledDeal", m.other.address, 1):
        m.rate(100, who=m.other)


def test_a_deal_counts_once(m: Market) -> None:
    deal = m.released()
    dealt = m.record(deal)
    (recorded,) = m.c.reputation.events.SettledDealRecorded().process_receipt(dealt)
    with reverts_with(m.c.reputation, "DealAlreadyRecorded", recorded.args.dealId):
        m.record(deal)
    assert m.c.reputation.functions.settledDeals(1).call() == 1


def test_an_open_or_refunded_deal_gives_no_feedback(m: Market) -> None:
    still_open = m.opened(m.deal(), m.buyer, m.seller)
    with reverts_with(m.c.reputation, "DealNotReleased", m.id_of(still_open)):
        m.record(still_open)
    cancelled = m.opened(m.deal(), m.buyer, m.seller)
    send(m.c.escrow.functions.cancel(cancelled.as_tuple()), m.seller.address)
    with reverts_with(m.c.reputation, "DealNotReleased", m.id_of(cancelled)):
        m.record(cancelled)
    assert m.c.reputation.functions.unratedDeals(1, m.buyer.address).call() == 0
    assert m.c.reputation.functions.settledDeals(1).call() == 0


def test_a_deal_with_another_seller_gives_no_feedback_on_this_agent(m: Market) -> None:
    with_other = m.released(seller=m.other)
    with reverts_with(m.c.reputation, "NotTheAgentsDeal"):
        m.record(with_other)


def test_the_agent_cannot_rate_itself_even_with_a_deal_it_paid(m: Market) -> None:
    send(m.c.usd.functions.mint(m.seller.address, 10 * USD), m.c.operator.address)
    send(m.c.usd.functions.approve(m.c.escrow.address, 2**256 - 1), m.seller.address)
    m.record(m.released(buyer=m.seller, seller=m.seller))
    with reverts_with(m.c.reputation, "SelfFeedback", m.seller.address, 1):
        m.rate(100, who=m.seller)


def test_summary_averages_unrevoked_paid_feedback_and_revoke_and_responses_work(m: Market) -> None:
    for _ in range(2):
        m.record(m.released())
    m.record(m.released(buyer=m.other))
    for value, who in ((80, m.buyer), (100, m.buyer), (30, m.other)):
        m.c.w3.eth.wait_for_transaction_receipt(m.rate(value, who=who))
    summary = m.c.reputation.functions.getSummary
    assert summary(1, [], "", "").call() == [3, 70, 0]  # no list: every (paying) client
    assert summary(1, [m.buyer.address], "", "").call() == [2, 90, 0]
    send(m.c.reputation.functions.revokeFeedback(1, 2), m.buyer.address)
    assert summary(1, [], "", "").call() == [2, 55, 0]
    with reverts_with(m.c.reputation, "AlreadyRevoked", 2):
        m.c.reputation.functions.revokeFeedback(1, 2).transact({"from": m.buyer.address})
    receipt = send(
        m.c.reputation.functions.appendResponse(1, m.other.address, 1, "ipfs://refund", keccak(b"r")),
        m.seller.address,
    )
    (response,) = m.c.reputation.events.ResponseAppended().process_receipt(receipt)
    assert (response.args.responder, response.args.responseURI) == (m.seller.address, "ipfs://refund")
    assert m.c.reputation.functions.getResponseCount(1, m.other.address, 1, []).call() == 1
    assert m.c.reputation.functions.getClients(1).call() == [m.buyer.address, m.other.address]
    clients, indexes, values, _, _, _, revoked = m.c.reputation.functions.readAllFeedback(
        1, [], "", "", True
    ).call()
    assert list(zip(clients, indexes, values, revoked, strict=True)) == [
        (m.buyer.address, 1, 80, False),
        (m.buyer.address, 2, 100, True),
        (m.other.address, 1, 30, False),
    ]
    with reverts_with(m.c.reputation, "BadIndex", 9):
        m.c.reputation.functions.appendResponse(1, m.other.address, 9, "x", b"\0" * 32).transact(
            {"from": m.seller.address}
        )


def test_a_deal_past_its_deadline_and_refunded_still_gives_no_feedback(m: Market) -> None:
    deal = m.opened(m.deal(), m.buyer, m.seller)
    advance_time(m.c.w3, 700)
    send(m.c.escrow.functions.refund(deal.as_tuple()), m.other.address)
    with reverts_with(m.c.reputation, "DealNotReleased", m.id_of(deal)):
        m.record(deal)
