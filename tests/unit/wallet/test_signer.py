"""The signer: transactions and EIP-712 that others can verify; a key that does not leak."""

from __future__ import annotations

import copy
import pickle

import pytest
from eth_account import Account
from eth_utils.crypto import keccak

from wallet.errors import InvalidKeyMaterial
from wallet.signer import Signer
from wallet.typed_data import Deal, deal_typed_data, recover_typed_data_signer

ESCROW = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


@pytest.fixture
def signer() -> Signer:
    return Signer.from_private_key(Account.create().key)


def _deal(buyer: str, nonce: int = 1) -> Deal:
    return Deal(
        buyer=buyer,
        seller="0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        token="0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
        amount=12_500_000,
        terms_hash=keccak(b"one unit"),
        deadline=2_000_000_000,
        nonce=nonce,
    )


def test_signed_transaction_recovers_to_the_signer(signer: Signer) -> None:
    tx = {
        "chainId": 31337,
        "nonce": 7,
        "to": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        "value": 5,
        "gas": 21000,
        "maxFeePerGas": 2 * 10**9,
        "maxPriorityFeePerGas": 10**9,
    }
    signed = signer.sign_transaction(tx)
    assert signed.nonce == 7
    assert signed.hash == keccak(signed.raw)
    assert signed.raw[0] == 2  # EIP-1559 envelope
    assert Account.recover_transaction(signed.raw) == signer.address
    assert signed.hash_hex == "0x" + signed.hash.hex()


def test_eip712_deal_signature_recovers(signer: Signer) -> None:
    message = deal_typed_data(_deal(signer.address), 31337, ESCROW)
    signature = signer.sign_typed_data(message)
    assert len(signature) == 65
    assert signature == signer.sign_typed_data(message)  # deterministic (RFC 6979)
    assert recover_typed_data_signer(message, signature) == signer.address
    other = deal_typed_data(_deal(signer.address, nonce=2), 31337, ESCROW)
    assert recover_typed_data_signer(other, signature) != signer.address


def test_eip712_signature_equals_eth_account() -> None:
    acct = Account.create()
    message = deal_typed_data(_deal(acct.address), 31337, ESCROW)
    expected = Account.sign_typed_data(acct.key, full_message=message).signature
    assert Signer.from_private_key(acct.key).sign_typed_data(message) == bytes(expected)


def test_signature_depends_on_chain_and_contract(signer: Signer) -> None:
    deal = _deal(signer.address)
    sig = signer.sign_typed_data(deal_typed_data(deal, 31337, ESCROW))
    assert recover_typed_data_signer(deal_typed_data(deal, 1, ESCROW), sig) != signer.address


def test_repr_shows_only_the_address(signer: Signer) -> None:
    assert repr(signer) == f"Signer({signer.address})"


def test_signer_cannot_be_pickled_or_copied(signer: Signer) -> None:
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(signer)
    with pytest.raises(TypeError):
        copy.copy(signer)
    with pytest.raises(TypeError):
        copy.deepcopy(signer)


def test_invalid_key_is_refused_without_echo() -> None:
    for bad in ("0x" + "00" * 32, "0x1234", "zz" * 32):
        with pytest.raises(InvalidKeyMaterial) as err:
            Signer.from_private_key(bad)
        assert bad.removeprefix("0x") not in str(err.value)
        assert err.value.__cause__ is None
