"""The EIP-712 encoding cache in wallet/typed_data.py: the same message is encoded once, and messages that
differ in any value or type never share an encoding."""

from __future__ import annotations

import copy
from typing import Any

from eth_account.messages import encode_typed_data

from wallet import typed_data
from wallet.typed_data import Deal, deal_typed_data, signable_typed_data, typed_data_digest

ESCROW = "0x" + "cd" * 20
DEAL = Deal(buyer="0x" + "11" * 20, seller="0x" + "22" * 20, token="0x" + "33" * 20, amount=34_000_000,
            terms_hash=bytes(range(32)), deadline=1_900_000_000, nonce=7)  # fmt: skip


def _message() -> dict[str, Any]:
    return deal_typed_data(DEAL, 31337, ESCROW)


def test_the_same_message_is_encoded_once() -> None:
    first = signable_typed_data(_message())
    assert signable_typed_data(_message()) is first
    assert first == encode_typed_data(full_message=_message())


def test_messages_that_differ_in_any_value_get_their_own_digest() -> None:
    base = _message()
    variants = []
    for field, value in [("amount", 34_000_001), ("nonce", 8), ("deadline", 1_900_000_001),
                         ("termsHash", bytes(31) + b"\x01"), ("seller", "0x" + "44" * 20)]:  # fmt: skip
        changed = copy.deepcopy(base)
        changed["message"][field] = value
        variants.append(changed)
    other_chain = copy.deepcopy(base)
    other_chain["domain"]["chainId"] = 1
    variants.append(other_chain)
    digests = {typed_data_digest(m) for m in [base, *variants]}
    assert len(digests) == len(variants) + 1
    for m in [base, *variants]:  # each equals what eth-account computes without the cache
        signable = encode_typed_data(full_message=m)
        assert signable_typed_data(m) == signable


def test_values_equal_in_python_but_of_another_type_do_not_share_a_key() -> None:
    assert typed_data._content_key({"a": 1}) != typed_data._content_key({"a": True})
    assert typed_data._content_key({"a": [1]}) != typed_data._content_key({"a": (1,)})
    assert typed_data._content_key({"a": "0x01"}) != typed_data._content_key({"a": b"\x01"})


def test_a_mutated_message_is_not_answered_from_the_cache() -> None:
    message = _message()
    before = typed_data_digest(message)
    message["message"]["amount"] = 1
    assert typed_data_digest(message) != before
    assert typed_data_digest(message) == typed_data_digest(copy.deepcopy(message))
