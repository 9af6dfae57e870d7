"""DealEscrow: deals open only with both EIP-712 signatures; release, refund, replay and pause checks."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from web3.logs import DISCARD

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
from wallet.typed_data import Deal, deal_digest, deal_typed_data, recover_typed_data_signer

pytestmark = pytest.mark.chain

OPEN, RELEASED, REFUNDED = 1, 2, 3


@dataclass
class Setup:
    c: Contracts
    buyer: LocalAccount
    seller: LocalAccount
    stranger: LocalAccount

    def deal(self, amount: int = 25 * USD, ttl: int = 3600, nonce: int = 1) -> Deal:
        return Deal(
            buyer=self.buyer.address,
            seller=self.seller.address,
            token=self.c.usd.address,
            amount=amount,
            terms_hash=random_hash(),
            deadline=now(self.c.w3) + ttl,
            nonce=nonce,
        )

    def sigs(self, deal: Deal) -> tuple[bytes, bytes]:
        esc = self.c.escrow.address
        return sign_deal(deal, self.buyer, esc), sign_deal(deal, self.seller, esc)

    def open(self, deal: Deal) -> bytes:
        receipt = send(self.c.escrow.functions.open(deal.as_tuple(), *self.sigs(deal)), self.stranger.address)
        (event,) = self.c.escrow.events.DealOpened().process_receipt(receipt, errors=DISCARD)
        return bytes(event.args.id)

    def try_open(self, deal: Deal, buyer_sig: bytes, seller_sig: bytes) -> None:
        """Submit `open` from the stranger (expected to revert)."""
        self.c.escrow.functions.open(deal.as_tuple(), buyer_sig, seller_sig).transact(
            {"from": self.stranger.address}
        )

    def balance(self, who: LocalAccount | str) -> int:
        address = who if isinstance(who, str) else who.address
        return int(self.c.usd.functions.balanceOf(address).call())

    def state(self, deal: Deal) -> int:
        return int(self.c.escrow.functions.stateOf(deal_digest(deal, CHAIN_ID, self.c.escrow.address)).call())


@pytest.fixture
def s(module_anvil: AnvilNode) -> Setup:
    c = deploy_all(module_anvil.url)
    setup = Setup(c, dev_account(1), dev_account(2), dev_account(3))
    send(c.usd.functions.mint(setup.buyer.address, 1000 * USD), c.operator.address)
    send(c.usd.functions.approve(c.escrow.address, 2**256 - 1), setup.buyer.address)
    return setup


def test_deal_digest_equals_on_chain_deal_id_and_recovers_the_signer(s: Setup) -> None:
    deal = s.deal()
    digest = deal_digest(deal, CHAIN_ID, s.c.escrow.address)
    assert len(digest) == 32
    assert s.c.escrow.functions.dealId(deal.as_tuple()).call() == digest
    buyer_sig, _ = s.sigs(deal)
    message = deal_typed_data(deal, CHAIN_ID, s.c.escrow.address)
    assert recover_typed_data_signer(message, buyer_sig) == s.buyer.address


def test_open_with_both_signatures_escrows_the_buyers_tokens(s: Setup) -> None:
    deal = s.deal(amount=40 * USD)
    receipt = send(s.c.escrow.functions.open(deal.as_tuple(), *s.sigs(deal)), s.stranger.address)
    (event,) = s.c.escrow.events.DealOpened().process_receipt(receipt, errors=DISCARD)
    assert bytes(event.args.id) == deal_digest(deal, CHAIN_ID, s.c.escrow.address)
    assert (event.args.buyer, event.args.seller, event.args.token) == (deal.buyer, deal.seller, deal.token)
    assert (event.args.amount, event.args.deadline) == (deal.amount, deal.deadline)
    assert s.state(deal) == OPEN
    assert s.balance(s.buyer) == 960 * USD
    assert s.balance(s.c.escrow.address) == 40 * USD


def test_release_by_the_buyer_pays_the_seller(s: Setup) -> None:
    deal = s.deal(amount=40 * USD)
    deal_id = s.open(deal)
    receipt = send(s.c.escrow.functions.release(deal.as_tuple()), s.buyer.address)
    (event,) = s.c.escrow.events.DealReleased().process_receipt(receipt, errors=DISCARD)
    assert bytes(event.args.id) == deal_id
    assert s.state(deal) == RELEASED
    assert s.balance(s.seller) == 40 * USD
    assert s.balance(s.c.escrow.address) == 0


def test_release_by_the_arbiter_pays_the_seller(s: Setup) -> None:
    deal = s.deal()
    s.open(deal)
    send(s.c.escrow.functions.release(deal.as_tuple()), s.c.arbiter.address)
    assert s.state(deal) == RELEASED
    assert s.balance(s.seller) == deal.amount


def test_release_by_the_seller_or_a_stranger_is_rejected(s: Setup) -> None:
    deal = s.deal()
    s.open(deal)
    for who in (s.seller, s.stranger):
        with reverts_with(s.c.escrow, "NotAuthorized"):
            s.c.escrow.functions.release(deal.as_tuple()).transact({"from": who.address})
    assert s.state(deal) == OPEN


def test_release_twice_is_rejected(s: Setup) -> None:
    deal = s.deal()
    s.open(deal)
    send(s.c.escrow.functions.release(deal.as_tuple()), s.buyer.address)
    with reverts_with(s.c.escrow, "NotOpen"):
        s.c.escrow.functions.release(deal.as_tuple()).transact({"from": s.buyer.address})
    assert s.balance(s.seller) == deal.amount


def test_release_of_a_deal_never_opened_is_rejected(s: Setup) -> None:
    with reverts_with(s.c.escrow, "NotOpen"):
        s.c.escrow.functions.release(s.deal().as_tuple()).transact({"from": s.buyer.address})


def test_refund_after_the_deadline_pays_the_buyer_back(s: Setup) -> None:
    deal = s.deal(ttl=600)
    deal_id = s.open(deal)
    advance_time(s.c.w3, 601)
    receipt = send(s.c.escrow.functions.refund(deal.as_tuple()), s.stranger.address)  # anyone may
    (event,) = s.c.escrow.events.DealRefunded().process_receipt(receipt, errors=DISCARD)
    assert bytes(event.args.id) == deal_id
    assert s.state(deal) == REFUNDED
    assert s.balance(s.buyer) == 1000 * USD
    assert s.balance(s.c.escrow.address) == 0


def test_refund_before_the_deadline_is_rejected(s: Setup) -> None:
    deal = s.deal(ttl=600)
    s.open(deal)
    advance_time(s.c.w3, 300)
    with reverts_with(s.c.escrow, "TooEarly"):
        s.c.escrow.functions.refund(deal.as_tuple()).transact({"from": s.buyer.address})
    assert s.state(deal) == OPEN


def test_refund_after_release_is_rejected(s: Setup) -> None:
    deal = s.deal(ttl=600)
    s.open(deal)
    send(s.c.escrow.functions.release(deal.as_tuple()), s.buyer.address)
    advance_time(s.c.w3, 601)
    with reverts_with(s.c.escrow, "NotOpen"):
        s.c.escrow.functions.refund(deal.as_tuple()).transact({"from": s.buyer.address})
    assert s.balance(s.seller) == deal.amount


def test_release_after_refund_is_rejected(s: Setup) -> None:
    deal = s.deal(ttl=600)
    s.open(deal)
    advance_time(s.c.w3, 601)
    send(s.c.escrow.functions.refund(deal.as_tuple()), s.buyer.address)
    with reverts_with(s.c.escrow, "NotOpen"):
        s.c.escrow.functions.release(deal.as_tuple()).transact({"from": s.buyer.address})


def test_replayed_deal_signature_is_rejected(s: Setup) -> None:
    deal = s.deal()
    buyer_sig, seller_sig = s.sigs(deal)
    send(s.c.escrow.functions.open(deal.as_tuple(), buyer_sig, seller_sig), s.stranger.address)
    with reverts_with(s.c.escrow, "DealExists"):
        s.try_open(deal, buyer_sig, seller_sig)
    send(s.c.escrow.functions.release(deal.as_tuple()), s.buyer.address)
    with reverts_with(s.c.escrow, "DealExists"):  # also once the deal is settled
        s.try_open(deal, buyer_sig, seller_sig)
    assert s.balance(s.buyer) == 1000 * USD - deal.amount


def test_deal_signed_by_the_wrong_buyer_key_is_rejected(s: Setup) -> None:
    deal = s.deal()
    forged = sign_deal(deal, s.stranger, s.c.escrow.address)
    _, seller_sig = s.sigs(deal)
    with reverts_with(s.c.escrow, "BadSignature", s.buyer.address):
        s.try_open(deal, forged, seller_sig)


def test_deal_signed_by_the_wrong_seller_key_is_rejected(s: Setup) -> None:
    deal = s.deal()
    buyer_sig, _ = s.sigs(deal)
    forged = sign_deal(deal, s.stranger, s.c.escrow.address)
    with reverts_with(s.c.escrow, "BadSignature", s.seller.address):
        s.try_open(deal, buyer_sig, forged)


def test_signatures_swapped_between_buyer_and_seller_are_rejected(s: Setup) -> None:
    deal = s.deal()
    buyer_sig, seller_sig = s.sigs(deal)
    with reverts_with(s.c.escrow, "BadSignature", s.buyer.address):
        s.try_open(deal, seller_sig, buyer_sig)


def test_signature_over_different_terms_is_rejected(s: Setup) -> None:
    deal = s.deal()
    buyer_sig, seller_sig = s.sigs(deal)
    cheaper = replace(deal, amount=deal.amount - 1)
    with reverts_with(s.c.escrow, "BadSignature", s.buyer.address):
        s.try_open(cheaper, buyer_sig, seller_sig)


def test_signature_for_another_escrow_contract_is_rejected(s: Setup) -> None:
    deal = s.deal()
    other = s.c.anchor.address  # any other verifyingContract gives another EIP-712 domain
    sigs = sign_deal(deal, s.buyer, other), sign_deal(deal, s.seller, other)
    with reverts_with(s.c.escrow, "BadSignature", s.buyer.address):
        s.try_open(deal, *sigs)


def test_malformed_signature_is_rejected_as_bad_signature(s: Setup) -> None:
    deal = s.deal()
    buyer_sig, seller_sig = s.sigs(deal)
    with reverts_with(s.c.escrow, "BadSignature", s.seller.address):
        s.try_open(deal, buyer_sig, seller_sig[:64])


def test_deal_past_its_deadline_is_rejected(s: Setup) -> None:
    deal = s.deal(ttl=600)
    buyer_sig, seller_sig = s.sigs(deal)
    advance_time(s.c.w3, 601)
    with reverts_with(s.c.escrow, "DealExpired"):
        s.try_open(deal, buyer_sig, seller_sig)
    assert s.state(deal) == 0


def test_deal_with_zero_amount_is_rejected(s: Setup) -> None:
    deal = s.deal(amount=0)
    with reverts_with(s.c.escrow, "ZeroAmount"):
        s.c.escrow.functions.open(deal.as_tuple(), *s.sigs(deal)).transact({"from": s.stranger.address})


def test_opening_a_deal_with_a_paused_buyer_is_rejected(s: Setup) -> None:
    deal = s.deal()
    send(s.c.registry.functions.pause(s.buyer.address), s.c.operator.address)
    with reverts_with(s.c.escrow, "AgentPaused", s.buyer.address):
        s.c.escrow.functions.open(deal.as_tuple(), *s.sigs(deal)).transact({"from": s.stranger.address})
    send(s.c.registry.functions.unpause(s.buyer.address), s.c.operator.address)
    s.open(deal)  # the same signed deal opens once the kill switch is lifted
    assert s.state(deal) == OPEN


def test_opening_a_deal_with_a_paused_seller_is_rejected(s: Setup) -> None:
    deal = s.deal()
    send(s.c.registry.functions.pause(s.seller.address), s.c.operator.address)
    with reverts_with(s.c.escrow, "AgentPaused", s.seller.address):
        s.c.escrow.functions.open(deal.as_tuple(), *s.sigs(deal)).transact({"from": s.stranger.address})
    assert s.balance(s.buyer) == 1000 * USD


def test_open_without_allowance_fails_in_the_token_transfer(s: Setup) -> None:
    send(s.c.usd.functions.approve(s.c.escrow.address, 0), s.buyer.address)
    deal = s.deal()
    with reverts_with(s.c.usd, "ERC20InsufficientAllowance", s.c.escrow.address, 0, deal.amount):
        s.c.escrow.functions.open(deal.as_tuple(), *s.sigs(deal)).transact({"from": s.stranger.address})
    assert s.state(deal) == 0


# cancel: the seller's (or the arbiter's) refund of an open deal, at once, whatever the deadline.


def cancel(s: Setup, deal: Deal, who: LocalAccount | str) -> Any:
    """`who` cancels `deal`; the DealCancelled event of the (successful) receipt."""
    sender = who if isinstance(who, str) else who.address
    receipt = send(s.c.escrow.functions.cancel(deal.as_tuple()), sender)
    (event,) = s.c.escrow.events.DealCancelled().process_receipt(receipt, errors=DISCARD)
    assert s.c.escrow.events.DealRefunded().process_receipt(receipt, errors=DISCARD) == ()
    return event


def test_cancel_by_the_seller_refunds_the_buyer_at_once(s: Setup) -> None:
    deal = s.deal(amount=40 * USD, ttl=3600)
    deal_id = s.open(deal)
    event = cancel(s, deal, s.seller)  # long before the deadline
    assert (bytes(event.args.id), event.args.by) == (deal_id, s.seller.address)
    assert s.state(deal) == REFUNDED
    assert s.balance(s.buyer) == 1000 * USD
    assert (s.balance(s.seller), s.balance(s.c.escrow.address)) == (0, 0)


def test_cancel_by_the_arbiter_refunds_the_buyer(s: Setup) -> None:
    deal = s.deal()
    deal_id = s.open(deal)
    event = cancel(s, deal, s.c.arbiter.address)
    assert (bytes(event.args.id), event.args.by) == (deal_id, s.c.arbiter.address)
    assert s.state(deal) == REFUNDED
    assert s.balance(s.buyer) == 1000 * USD


def test_cancel_after_the_deadline_still_refunds_the_buyer(s: Setup) -> None:
    deal = s.deal(ttl=600)
    s.open(deal)
    advance_time(s.c.w3, 601)
    cancel(s, deal, s.seller)
    assert s.state(deal) == REFUNDED
    assert s.balance(s.buyer) == 1000 * USD


def test_cancel_by_the_buyer_or_a_stranger_is_rejected(s: Setup) -> None:
    deal = s.deal()
    s.open(deal)
    for who in (s.buyer, s.stranger):
        with reverts_with(s.c.escrow, "NotAuthorized"):
            s.c.escrow.functions.cancel(deal.as_tuple()).transact({"from": who.address})
    assert s.state(deal) == OPEN
    assert s.balance(s.c.escrow.address) == deal.amount


def test_a_stranger_naming_itself_the_seller_of_a_copy_of_the_deal_is_rejected(s: Setup) -> None:
    deal = s.deal()
    s.open(deal)
    forged = replace(deal, seller=s.stranger.address)  # passes the caller check, but is another deal id
    with reverts_with(s.c.escrow, "NotOpen"):
        s.c.escrow.functions.cancel(forged.as_tuple()).transact({"from": s.stranger.address})
    assert s.state(deal) == OPEN
    assert s.balance(s.c.escrow.address) == deal.amount


def test_cancel_with_a_larger_amount_than_escrowed_is_rejected(s: Setup) -> None:
    deal = s.deal(amount=10 * USD)
    other = s.deal(amount=30 * USD, nonce=2)
    s.open(deal)
    s.open(other)
    inflated = replace(deal, amount=40 * USD)  # would drain the other deal's tokens
    with reverts_with(s.c.escrow, "NotOpen"):
        s.c.escrow.functions.cancel(inflated.as_tuple()).transact({"from": s.seller.address})
    assert s.balance(s.c.escrow.address) == 40 * USD


def test_cancel_twice_is_rejected_and_pays_the_buyer_once(s: Setup) -> None:
    deal = s.deal(amount=10 * USD)
    other = s.deal(amount=30 * USD, nonce=2)  # tokens a second payout would take
    s.open(deal)
    s.open(other)
    cancel(s, deal, s.seller)
    with reverts_with(s.c.escrow, "NotOpen"):
        s.c.escrow.functions.cancel(deal.as_tuple()).transact({"from": s.seller.address})
    assert s.balance(s.buyer) == 970 * USD
    assert s.balance(s.c.escrow.address) == 30 * USD
    assert s.state(other) == OPEN


def test_cancel_of_a_deal_never_opened_is_rejected(s: Setup) -> None:
    with reverts_with(s.c.escrow, "NotOpen"):
        s.c.escrow.functions.cancel(s.deal().as_tuple()).transact({"from": s.seller.address})


def test_cancel_after_release_is_rejected(s: Setup) -> None:
    deal = s.deal()
    s.open(deal)
    send(s.c.escrow.functions.release(deal.as_tuple()), s.buyer.address)
    with reverts_with(s.c.escrow, "NotOpen"):
        s.c.escrow.functions.cancel(deal.as_tuple()).transact({"from": s.seller.address})
    assert s.state(deal) == RELEASED
    assert s.balance(s.seller) == deal.amount


def test_cancel_after_a_deadline_refund_is_rejected(s: Setup) -> None:
    deal = s.deal(ttl=600)
    s.open(deal)
    advance_time(s.c.w3, 601)
    send(s.c.escrow.functions.refund(deal.as_tuple()), s.stranger.address)
    with reverts_with(s.c.escrow, "NotOpen"):
        s.c.escrow.functions.cancel(deal.as_tuple()).transact({"from": s.seller.address})
    assert s.balance(s.buyer) == 1000 * USD


def test_release_or_refund_after_cancel_is_rejected(s: Setup) -> None:
    deal = s.deal(ttl=600)
    s.open(deal)
    cancel(s, deal, s.seller)
    with reverts_with(s.c.escrow, "NotOpen"):
        s.c.escrow.functions.release(deal.as_tuple()).transact({"from": s.buyer.address})
    advance_time(s.c.w3, 601)
    with reverts_with(s.c.escrow, "NotOpen"):
        s.c.escrow.functions.refund(deal.as_tuple()).transact({"from": s.buyer.address})
    assert (s.balance(s.buyer), s.balance(s.seller)) == (1000 * USD, 0)


def test_a_cancelled_deal_cannot_be_opened_again(s: Setup) -> None:
    deal = s.deal()
    buyer_sig, seller_sig = s.sigs(deal)
    s.open(deal)
    cancel(s, deal, s.seller)
    with reverts_with(s.c.escrow, "DealExists"):
        s.try_open(deal, buyer_sig, seller_sig)
    assert s.balance(s.buyer) == 1000 * USD


@pytest.mark.parametrize("paused", ["seller", "buyer"])
def test_cancel_ignores_the_pause_flag_since_the_money_goes_back_to_the_buyer(s: Setup, paused: str) -> None:
    deal = s.deal()
    s.open(deal)
    send(s.c.registry.functions.pause(getattr(s, paused).address), s.c.operator.address)
    cancel(s, deal, s.seller)
    assert s.state(deal) == REFUNDED
    assert s.balance(s.buyer) == 1000 * USD
