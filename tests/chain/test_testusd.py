"""TestUSD: 6-decimal ERC-20 with EIP-2612 permit, minted by its owner only."""

from __future__ import annotations

import pytest

from runtime.chain.anvil import AnvilNode
from tests.support.contracts import CHAIN_ID, USD, Contracts, deploy_all, dev_account, now, reverts_with, send

pytestmark = pytest.mark.chain


@pytest.fixture
def c(module_anvil: AnvilNode) -> Contracts:
    return deploy_all(module_anvil.url)


def test_token_metadata_is_test_usd_with_six_decimals(c: Contracts) -> None:
    assert c.usd.functions.name().call() == "Test USD"
    assert c.usd.functions.symbol().call() == "TUSD"
    assert c.usd.functions.decimals().call() == 6
    assert c.usd.functions.owner().call() == c.operator.address
    assert c.usd.functions.totalSupply().call() == 0


def test_owner_mints_and_holders_transfer(c: Contracts) -> None:
    alice, bob = dev_account(1), dev_account(2)
    send(c.usd.functions.mint(alice.address, 100 * USD), c.operator.address)
    send(c.usd.functions.transfer(bob.address, 30 * USD), alice.address)
    assert c.usd.functions.balanceOf(alice.address).call() == 70 * USD
    assert c.usd.functions.balanceOf(bob.address).call() == 30 * USD
    assert c.usd.functions.totalSupply().call() == 100 * USD


def test_only_owner_can_mint(c: Contracts) -> None:
    stranger = dev_account(3)
    with reverts_with(c.usd, "OwnableUnauthorizedAccount", stranger.address):
        c.usd.functions.mint(stranger.address, USD).transact({"from": stranger.address})
    assert c.usd.functions.totalSupply().call() == 0


def test_permit_signature_sets_allowance_without_a_transaction_by_the_holder(c: Contracts) -> None:
    holder, spender, relayer = dev_account(4), dev_account(5), dev_account(6)
    send(c.usd.functions.mint(holder.address, 50 * USD), c.operator.address)
    deadline = now(c.w3) + 3600
    value = 20 * USD
    permit = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "Permit": [
                {"name": "owner", "type": "address"},
                {"name": "spender", "type": "address"},
                {"name": "value", "type": "uint256"},
                {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint256"},
            ],
        },
        "primaryType": "Permit",
        "domain": {
            "name": "Test USD",
            "version": "1",
            "chainId": CHAIN_ID,
            "verifyingContract": c.usd.address,
        },
        "message": {
            "owner": holder.address,
            "spender": spender.address,
            "value": value,
            "nonce": c.usd.functions.nonces(holder.address).call(),
            "deadline": deadline,
        },
    }
    sig = holder.sign_typed_data(full_message=permit)
    v, r, s = sig.v, sig.r.to_bytes(32, "big"), sig.s.to_bytes(32, "big")
    send(
        c.usd.functions.permit(holder.address, spender.address, value, deadline, v, r, s),
        relayer.address,
    )
    assert c.usd.functions.allowance(holder.address, spender.address).call() == value
    assert c.usd.functions.nonces(holder.address).call() == 1
    send(c.usd.functions.transferFrom(holder.address, spender.address, value), spender.address)
    assert c.usd.functions.balanceOf(spender.address).call() == value

    # The same permit cannot be used twice: the nonce moved on, so the signer no longer matches.
    with reverts_with(c.usd, "ERC2612InvalidSigner"):
        c.usd.functions.permit(holder.address, spender.address, value, deadline, v, r, s).transact(
            {"from": relayer.address}
        )
