"""TestUSD's EIP-3009 authorizations (what x402 `exact` pays with), attacked on a real anvil: replay,
expiry, not-yet-valid, wrong signer, tampered amount, front-run receive, cancellation, both signature
forms. Typed data comes from wallet.eip3009, so a wrong encoding there fails here too."""

from __future__ import annotations

import time
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3.contract import Contract
from web3.logs import DISCARD

from runtime.chain.anvil import AnvilNode
from tests.support.contracts import CHAIN_ID, USD, Contracts, deploy_all, dev_account, now, reverts_with, send
from tests.support.executor import Market
from wallet.eip3009 import (
    TransferAuthorization,
    authorization_digest,
    authorization_typed_data,
    cancel_typed_data,
    new_nonce,
    split_signature,
)
from wallet.errors import TransactionReverted

pytestmark = pytest.mark.chain


@pytest.fixture
def c(module_anvil: AnvilNode) -> Contracts:
    return deploy_all(module_anvil.url)


def funded(c: Contracts, index: int, amount: int = 100 * USD) -> LocalAccount:
    account = dev_account(index)
    send(c.usd.functions.mint(account.address, amount), c.operator.address)
    return account


def authorize(
    c: Contracts, payer: LocalAccount, payee: str, value: int, *, after: int = 0, before: int | None = None
) -> TransferAuthorization:
    return TransferAuthorization(
        payer.address, payee, value, after, now(c.w3) + 3600 if before is None else before, new_nonce()
    )


def sign(c: Contracts, signer: LocalAccount, auth: TransferAuthorization, *, receive: bool = False) -> bytes:
    data = authorization_typed_data(auth, CHAIN_ID, c.usd.address, "Test USD", "1", receive=receive)
    return bytes(signer.sign_typed_data(full_message=data).signature)


def transfer_fn(usd: Contract, auth: TransferAuthorization, signature: bytes) -> Any:
    return usd.functions.transferWithAuthorization(*auth.args(), *split_signature(signature))


def test_token_declares_the_eip712_domain_x402_reads_from_extra(c: Contracts) -> None:
    assert c.usd.functions.version().call() == "1"
    fields = c.usd.functions.eip712Domain().call()
    assert (fields[1], fields[2], fields[3], fields[4]) == ("Test USD", "1", CHAIN_ID, c.usd.address)


def test_anyone_submits_a_signed_transfer_once_and_the_nonce_is_burnt(c: Contracts) -> None:
    payer, payee, relayer = funded(c, 1), dev_account(2), dev_account(3)
    auth = authorize(c, payer, payee.address, 7 * USD)
    sig = sign(c, payer, auth)
    assert not c.usd.functions.authorizationState(payer.address, auth.nonce).call()
    receipt = send(transfer_fn(c.usd, auth, sig), relayer.address)
    assert c.usd.functions.balanceOf(payee.address).call() == 7 * USD
    assert c.usd.functions.balanceOf(payer.address).call() == 93 * USD
    assert c.usd.functions.authorizationState(payer.address, auth.nonce).call()
    used = c.usd.events.AuthorizationUsed().process_receipt(receipt, errors=DISCARD)  # the Transfer log too
    assert used[0]["args"]["authorizer"] == payer.address
    assert used[0]["args"]["nonce"] == auth.nonce

    # Replayed (by anyone, in either signature form): the nonce is used.
    with reverts_with(c.usd, "ERC3009UsedAuthorization", payer.address, auth.nonce):
        transfer_fn(c.usd, auth, sig).transact({"from": relayer.address})
    with reverts_with(c.usd, "ERC3009UsedAuthorization", payer.address, auth.nonce):
        c.usd.functions.transferWithAuthorization(*auth.args(), sig).transact({"from": payee.address})
    assert c.usd.functions.balanceOf(payee.address).call() == 7 * USD


def test_expired_and_not_yet_valid_authorizations_are_refused(c: Contracts) -> None:
    payer, payee = funded(c, 1), dev_account(2)
    t = now(c.w3)
    expired = authorize(c, payer, payee.address, USD, before=t)
    with reverts_with(c.usd, "ERC3009InvalidAuthorizationTime", 0, t):
        transfer_fn(c.usd, expired, sign(c, payer, expired)).transact({"from": payee.address})
    early = authorize(c, payer, payee.address, USD, after=t + 600, before=t + 3600)
    with reverts_with(c.usd, "ERC3009InvalidAuthorizationTime", t + 600, t + 3600):
        transfer_fn(c.usd, early, sign(c, payer, early)).transact({"from": payee.address})
    assert c.usd.functions.balanceOf(payee.address).call() == 0
    # A refused authorization did not burn its nonce.
    assert not c.usd.functions.authorizationState(payer.address, early.nonce).call()


def test_a_signature_by_anyone_but_the_payer_or_over_other_terms_is_refused(c: Contracts) -> None:
    payer, payee, thief = funded(c, 1), dev_account(2), dev_account(4)
    auth = authorize(c, payer, payee.address, 5 * USD)
    with reverts_with(c.usd, "ERC3009InvalidSignature"):
        transfer_fn(c.usd, auth, sign(c, thief, auth)).transact({"from": thief.address})
    # The payer's signature with the amount or the payee changed after signing.
    sig = sign(c, payer, auth)
    more = TransferAuthorization(
        auth.payer, auth.payee, 50 * USD, auth.valid_after, auth.valid_before, auth.nonce
    )
    with reverts_with(c.usd, "ERC3009InvalidSignature"):
        transfer_fn(c.usd, more, sig).transact({"from": thief.address})
    redirected = TransferAuthorization(
        auth.payer, thief.address, auth.value, auth.valid_after, auth.valid_before, auth.nonce
    )
    with reverts_with(c.usd, "ERC3009InvalidSignature"):
        transfer_fn(c.usd, redirected, sig).transact({"from": thief.address})
    # Signed for another chain: another domain, another digest.
    other = authorization_typed_data(auth, CHAIN_ID + 1, c.usd.address, "Test USD", "1")
    with reverts_with(c.usd, "ERC3009InvalidSignature"):
        transfer_fn(c.usd, auth, bytes(payer.sign_typed_data(full_message=other).signature)).transact(
            {"from": thief.address}
        )
    assert c.usd.functions.balanceOf(payer.address).call() == 100 * USD


def test_a_receive_authorization_cannot_be_front_run_by_anyone_but_the_payee(c: Contracts) -> None:
    payer, payee, watcher = funded(c, 1), dev_account(2), dev_account(5)
    auth = authorize(c, payer, payee.address, 3 * USD)
    sig = sign(c, payer, auth, receive=True)
    v, r, s = split_signature(sig)
    # A watcher of the mempool copies the call: refused, it is not the payee.
    with reverts_with(c.usd, "ERC20InvalidReceiver", payee.address):
        c.usd.functions.receiveWithAuthorization(*auth.args(), v, r, s).transact({"from": watcher.address})
    # Nor can it replay the receive signature as a transfer (another type, another digest).
    with reverts_with(c.usd, "ERC3009InvalidSignature"):
        transfer_fn(c.usd, auth, sig).transact({"from": watcher.address})
    send(c.usd.functions.receiveWithAuthorization(*auth.args(), v, r, s), payee.address)
    assert c.usd.functions.balanceOf(payee.address).call() == 3 * USD


def test_a_cancelled_authorization_can_never_be_used_and_a_used_one_not_cancelled(c: Contracts) -> None:
    payer, payee = funded(c, 1), dev_account(2)
    auth = authorize(c, payer, payee.address, 2 * USD)
    sig = sign(c, payer, auth)
    cancel = cancel_typed_data(payer.address, auth.nonce, CHAIN_ID, c.usd.address, "Test USD", "1")
    cancel_sig = bytes(payer.sign_typed_data(full_message=cancel).signature)
    # Only the authorizer's signature cancels.
    stranger_sig = bytes(dev_account(6).sign_typed_data(full_message=cancel).signature)
    with reverts_with(c.usd, "ERC3009InvalidSignature"):
        c.usd.functions.cancelAuthorization(payer.address, auth.nonce, stranger_sig).transact(
            {"from": payee.address}
        )
    send(
        c.usd.functions.cancelAuthorization(payer.address, auth.nonce, *split_signature(cancel_sig)),
        payee.address,
    )
    with reverts_with(c.usd, "ERC3009UsedAuthorization", payer.address, auth.nonce):
        transfer_fn(c.usd, auth, sig).transact({"from": payee.address})
    assert c.usd.functions.balanceOf(payee.address).call() == 0

    used = authorize(c, payer, payee.address, USD)
    send(transfer_fn(c.usd, used, sign(c, payer, used)), payee.address)
    late = cancel_typed_data(payer.address, used.nonce, CHAIN_ID, c.usd.address, "Test USD", "1")
    with reverts_with(c.usd, "ERC3009UsedAuthorization", payer.address, used.nonce):
        c.usd.functions.cancelAuthorization(
            payer.address, used.nonce, bytes(payer.sign_typed_data(full_message=late).signature)
        ).transact({"from": payee.address})


def test_the_bytes_signature_form_pays_like_usdc_and_needs_the_funds(c: Contracts) -> None:
    payer, payee = funded(c, 1, 4 * USD), dev_account(2)
    auth = authorize(c, payer, payee.address, 4 * USD)
    send(c.usd.functions.transferWithAuthorization(*auth.args(), sign(c, payer, auth)), payee.address)
    assert c.usd.functions.balanceOf(payee.address).call() == 4 * USD
    broke = authorize(c, payer, payee.address, USD)
    with reverts_with(c.usd, "ERC20InsufficientBalance", payer.address, 0, USD):
        c.usd.functions.transferWithAuthorization(*broke.args(), sign(c, payer, broke)).transact(
            {"from": payee.address}
        )


def test_the_python_digest_is_the_one_the_token_recovers(c: Contracts) -> None:
    payer = funded(c, 1)
    auth = authorize(c, payer, dev_account(2).address, USD)
    digest = authorization_digest(auth, CHAIN_ID, c.usd.address, "Test USD", "1")
    signed = payer.unsafe_sign_hash(digest)
    sig = signed.r.to_bytes(32, "big") + signed.s.to_bytes(32, "big") + bytes([signed.v])
    send(transfer_fn(c.usd, auth, sig), payer.address)
    assert c.usd.functions.authorizationState(payer.address, auth.nonce).call()


@pytest.fixture
def market_anvil(module_anvil: AnvilNode) -> AnvilNode:
    return module_anvil


async def test_the_wallet_bindings_submit_receive_and_cancel_authorizations(market: Market) -> None:
    from wallet.contracts import TestUSD
    from wallet.signer import Signer

    usd = market.contracts["TestUSD"]
    assert isinstance(usd, TestUSD)
    payer, payee = Account.create(), Signer.from_private_key(Account.create().key)
    await market.fund(payer.address, usd=5)
    await market.fund(payee.address, usd=0)
    now = int(time.time())
    auth = TransferAuthorization(payer.address, payee.address, USD, now - 60, now + 600, new_nonce())
    data = authorization_typed_data(auth, CHAIN_ID, usd.address, "Test USD", "1", receive=True)
    signature = bytes(payer.sign_typed_data(full_message=data).signature)
    await market.client.transact(payee, usd.receive_with_authorization_tx(auth, signature))
    assert await usd.authorization_state(payer.address, auth.nonce)
    assert await usd.balance_of(payee.address) == USD
    unused = new_nonce()
    cancel = cancel_typed_data(payer.address, unused, CHAIN_ID, usd.address, "Test USD", "1")
    cancel_sig = bytes(payer.sign_typed_data(full_message=cancel).signature)
    await market.client.transact(payee, usd.cancel_authorization_tx(payer.address, unused, cancel_sig))
    assert await usd.authorization_state(payer.address, unused)
    later = TransferAuthorization(payer.address, payee.address, USD, now - 60, now + 600, unused)
    later_sig = bytes(
        payer.sign_typed_data(
            full_message=authorization_typed_data(later, CHAIN_ID, usd.address, "Test USD", "1")
        ).signature
    )
    with pytest.raises(TransactionReverted) as info:
        await market.client.transact(payee, usd.transfer_with_authorization_tx(later, later_sig))
    assert "ERC3009UsedAuthorization" in str(info.value.error)
