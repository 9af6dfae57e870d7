"""The narrow signer signs exactly the approved effects, once, never while paused, and holds no key."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from eth_account import Account
from eth_utils.crypto import keccak

from identity import IdentityKey
from runtime.executor.narrow_signer import PauseSwitch, scoped_signer
from skills import IdentityEffect, SignatureRefused, SigningPaused, TxEffect, TypedDataEffect
from tests.support.executor import CHAIN_ID, SELLER_ADDRESS, TUSD_ADDRESS, CountingSigner
from wallet.signer import Signer
from wallet.typed_data import Deal, deal_typed_data, recover_typed_data_signer, typed_data_digest

ESCROW = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
STRANGER = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"


def transfer_data(to: str, amount: int) -> bytes:
    return bytes.fromhex("a9059cbb") + bytes(12) + bytes.fromhex(to[2:]) + amount.to_bytes(32, "big")


PAY = TxEffect(TUSD_ADDRESS, transfer_data(SELLER_ADDRESS, 7_000_000), 0, CHAIN_ID, "TestUSD.transfer")


def filled(effect: TxEffect = PAY, **changes: Any) -> dict[str, Any]:
    """The transaction as the chain client hands it to a signer: filled nonce, gas and fees."""
    tx = {**effect.tx(), "data": "0x" + effect.data.hex(), "nonce": 3, "gas": 60_000}
    tx.update(maxFeePerGas=2 * 10**9, maxPriorityFeePerGas=10**9)
    tx.update(changes)
    return tx


def deal_message(amount: int = 12_500_000) -> dict[str, Any]:
    deal = Deal(
        buyer="0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
        seller=SELLER_ADDRESS,
        token=TUSD_ADDRESS,
        amount=amount,
        terms_hash=keccak(b"terms"),
        deadline=2_000_000_000,
        nonce=1,
    )
    return deal_typed_data(deal, CHAIN_ID, ESCROW)


@pytest.fixture
def real() -> CountingSigner:
    return CountingSigner()


def test_the_approved_transaction_is_signed_with_client_filled_fields(real: CountingSigner) -> None:
    signer, audit = scoped_signer(real, [PAY], pause=PauseSwitch())
    signed = signer.sign_transaction(filled())
    assert Account.recover_transaction(signed.raw) == real.address
    assert real.transactions == 1
    assert audit.signed[0]["label"] == "TestUSD.transfer"
    assert audit.tx_signed


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"to": STRANGER}, "approved target"),
        ({"data": "0x" + transfer_data(SELLER_ADDRESS, 70_000_000).hex()}, "calldata differs"),
        ({"data": "0x" + transfer_data(STRANGER, 7_000_000).hex()}, "calldata differs"),
        ({"value": 1}, "approved value is 0"),
        ({"chainId": 1}, "approved chain is 31337"),
        ({"from": STRANGER}, "not this agent's wallet"),
        ({"accessList": []}, "unexpected transaction field"),
    ],
)
def test_any_other_transaction_is_refused_and_recorded(
    real: CountingSigner, change: dict[str, Any], problem: str
) -> None:
    signer, audit = scoped_signer(real, [PAY], pause=PauseSwitch())
    with pytest.raises(SignatureRefused, match=problem):
        signer.sign_transaction(filled(**change))
    assert real.signatures == 0
    assert problem in audit.refused[0]


def test_a_second_payment_with_another_nonce_is_refused_but_a_fee_bump_is_not(real: CountingSigner) -> None:
    signer, audit = scoped_signer(real, [PAY], pause=PauseSwitch())
    signer.sign_transaction(filled())
    bumped = signer.sign_transaction(filled(maxFeePerGas=3 * 10**9, maxPriorityFeePerGas=2 * 10**9))
    assert bumped.nonce == 3
    assert audit.signed[1]["replacement"] is True
    with pytest.raises(SignatureRefused, match="second one"):
        signer.sign_transaction(filled(nonce=4))
    assert real.transactions == 2


def test_nothing_is_signed_for_an_action_approved_without_transactions(real: CountingSigner) -> None:
    signer, _ = scoped_signer(real, [], pause=PauseSwitch())
    with pytest.raises(SignatureRefused, match="no transaction was approved"):
        signer.sign_transaction(filled())
    with pytest.raises(SignatureRefused, match="was not approved"):
        signer.sign_typed_data(deal_message())
    assert real.signatures == 0


def test_typed_data_is_signed_only_for_the_approved_digest_and_only_once(real: CountingSigner) -> None:
    message = deal_message()
    effect = TypedDataEffect(typed_data_digest(message), "Deal", message)
    signer, audit = scoped_signer(real, [effect], pause=PauseSwitch())
    with pytest.raises(SignatureRefused, match="was not approved"):
        signer.sign_typed_data(deal_message(amount=99_000_000))
    signature = signer.sign_typed_data(message)
    assert recover_typed_data_signer(message, signature) == real.address
    with pytest.raises(SignatureRefused, match="signed already"):
        signer.sign_typed_data(message)
    assert real.typed == 1
    assert len(audit.refused) == 2


def test_identity_permits_are_used_once_for_the_exact_payload(real: CountingSigner) -> None:
    params = {"to": "did:key:z6Mkpeer", "type": "cfp", "thid": "t", "body": {"max": "12"}}
    signer, audit = scoped_signer(real, [IdentityEffect.of("send_message", params)], pause=PauseSwitch())
    with pytest.raises(SignatureRefused, match="was not approved"):
        signer.permit("send_message", {**params, "body": {"max": "1200"}})
    signer.permit("send_message", params)
    with pytest.raises(SignatureRefused, match="used already"):
        signer.permit("send_message", params)
    assert audit.signed == [
        {"kind": "identity", "op": "send_message", "payload_hash": audit.signed[0]["payload_hash"]}
    ]


async def test_identity_operations_outside_the_approved_list_are_refused(real: CountingSigner) -> None:
    params = {"to": "did:key:z6Mkpeer", "type": "cfp", "thid": "t", "body": {}}
    signer, _ = scoped_signer(
        real,
        [IdentityEffect.of("send_message", params)],
        pause=PauseSwitch(),
        identity_key=IdentityKey.generate(),
    )
    with pytest.raises(SignatureRefused, match="unknown identity operation"):
        await signer.identity("send_message", params)  # type: ignore[arg-type]
    signer.permit("send_message", params)  # still unused: the refusal took nothing


def test_pause_stops_the_next_signature_and_resume_lets_it_through(real: CountingSigner) -> None:
    switch = PauseSwitch()
    signer, audit = scoped_signer(real, [PAY], pause=switch)
    switch.pause("operator said stop")
    with pytest.raises(SigningPaused, match="operator said stop"):
        signer.sign_transaction(filled())
    assert real.signatures == 0
    switch.resume()
    signer.sign_transaction(filled())
    assert real.signatures == 1
    assert "paused" in audit.refused[0]


def test_no_attribute_reaches_the_key(real: CountingSigner) -> None:
    key = IdentityKey.generate()
    signer, audit = scoped_signer(real, [PAY], pause=PauseSwitch(), identity_key=key)
    secret_types = (Signer, IdentityKey, CountingSigner)
    with pytest.raises(TypeError):
        vars(signer)
    for holder in (signer, audit):
        for name in dir(holder):
            value = getattr(holder, name)
            assert not isinstance(value, secret_types), name
            assert not any(isinstance(v, secret_types) for v in getattr(value, "__dict__", {}).values()), name
            assert getattr(value, "__self__", None) in (None, holder, type(holder)) or not isinstance(
                value.__self__, secret_types
            ), name
    assert real.address in repr(signer)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(signer)
