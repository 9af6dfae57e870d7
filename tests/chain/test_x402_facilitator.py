"""Sova's facilitator refuses, with the protocol's reason and nothing sent, every payment that does not
pay exactly what was asked, to whom, in what, where and when — and answers bad requests with a line."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account

from runtime.chain.anvil import AnvilNode
from runtime.payments.wire import PAYMENT_SIGNATURE, PaymentPayload, Requirements
from tests.support.executor import SELLER_ADDRESS, STRANGER_ADDRESS, Market
from tests.support.payments import facilitator, requirements, shop
from wallet.eip3009 import TransferAuthorization, authorization_typed_data, new_nonce

pytestmark = pytest.mark.chain
PRICE = 100_000


@pytest.fixture
def market_anvil(module_anvil: AnvilNode) -> AnvilNode:
    return module_anvil


@pytest.fixture
async def fac(market: Market, tmp_path: Path) -> AsyncIterator[tuple[Any, str]]:
    async with facilitator(market, tmp_path) as found:
        yield found


def payment(market: Market, req: Requirements, payer: Any, **over: Any) -> PaymentPayload:
    """A payment of `req` signed by `payer` (a LocalAccount), with authorization fields overridden."""
    now = int(time.time())
    fields = {
        "payee": req.pay_to,
        "value": int(req.amount),
        "valid_after": now - 60,
        "valid_before": now + 300,
    }
    fields.update(over)
    auth = TransferAuthorization(payer.address, nonce=new_nonce(), **fields)
    data = authorization_typed_data(auth, market.client.chain_id, market.token.address, "Test USD", "1")
    signature = bytes(payer.sign_typed_data(full_message=data).signature)
    wire = {
        "from": auth.payer, "to": auth.payee, "value": str(auth.value), "validAfter": str(auth.valid_after),
        "validBefore": str(auth.valid_before), "nonce": "0x" + auth.nonce.hex(),
    }  # fmt: skip
    return PaymentPayload(
        x402_version=2, accepted=req, payload={"signature": "0x" + signature.hex(), "authorization": wire}
    )


async def verify(url: str, pay: PaymentPayload, req: Requirements) -> dict[str, Any]:
    body = {
        "x402Version": 2,
        "paymentPayload": pay.model_dump(mode="json", by_alias=True, exclude_none=True),
        "paymentRequirements": req.wire(),
    }
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{url}/verify", json=body)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_supported_names_exact_on_this_chain_and_the_signer(
    market: Market, fac: tuple[Any, str]
) -> None:
    parts, url = fac
    async with httpx.AsyncClient() as http:
        found = (await http.get(f"{url}/supported")).json()
    assert found["kinds"] == [
        {"x402Version": 2, "scheme": "exact", "network": f"eip155:{market.client.chain_id}"}
    ]
    assert found["signers"]["eip155:*"] == [parts.facilitator.address]


async def test_every_wrong_payment_is_refused_with_its_reason(market: Market, fac: tuple[Any, str]) -> None:
    _, url = fac
    payer = Account.create()
    await market.fund(payer.address, usd=1)
    req = requirements(market, SELLER_ADDRESS, PRICE)
    now = int(time.time())
    cases = {
        "invalid_exact_evm_payload_authorization_value_mismatch": payment(
            market, req, payer, value=PRICE - 1
        ),
        "invalid_exact_evm_payload_recipient_mismatch": payment(market, req, payer, payee=STRANGER_ADDRESS),
        "invalid_exact_evm_payload_authorization_valid_before": payment(market, req, payer, valid_before=now),
        "invalid_exact_evm_payload_authorization_valid_after": payment(
            market, req, payer, valid_after=now + 600
        ),
    }
    for reason, pay in cases.items():
        found = await verify(url, pay, req)
        assert (found["isValid"], found.get("invalidReason")) == (False, reason), found
    # A signature by someone else than `from`.
    forged = payment(market, req, Account.create())
    forged.payload["authorization"]["from"] = payer.address
    assert (await verify(url, forged, req))["invalidReason"] == "invalid_exact_evm_payload_signature"
    # Another network, another asset than the requirements.
    other_chain = requirements(market, SELLER_ADDRESS, PRICE, network="eip155:1")
    assert (await verify(url, payment(market, other_chain, payer), other_chain))[
        "invalidReason"
    ] == "network_mismatch"
    other_asset = requirements(market, SELLER_ADDRESS, PRICE, asset="0x" + "12" * 20)
    found = await verify(url, payment(market, other_asset, payer), other_asset)
    assert found["invalidReason"] == "invalid_exact_evm_failed_to_get_asset_info"
    # A payer without the funds.
    broke = Account.create()
    assert (await verify(url, payment(market, req, broke), req))[
        "invalidReason"
    ] == "invalid_exact_evm_insufficient_balance"
    # And the valid one is valid.
    assert (await verify(url, payment(market, req, payer), req))["isValid"] is True


async def test_bad_requests_and_headers_get_one_line_never_a_500(
    market: Market, fac: tuple[Any, str]
) -> None:
    _, url = fac
    async with httpx.AsyncClient() as http:
        for body in (b"not json", b"[]", b'{"x402Version": 2}', b"{" * 5000):
            answer = await http.post(f"{url}/settle", content=body)
            assert answer.status_code == 400, answer.text
            assert "\n" not in answer.json()["error"]
        huge = await http.post(f"{url}/verify", content=b"{" + b" " * (70 * 1024) + b"}")
        assert huge.status_code == 413
        async with shop(market, url, SELLER_ADDRESS, PRICE) as s:
            for header in ("%%%", "e30=", "W10=", "A" * 20_000):
                answer = await http.get(s.url, headers={PAYMENT_SIGNATURE: header})
                assert answer.status_code == 402
                assert answer.json()["error"].startswith("PAYMENT-SIGNATURE")
            assert s.calls == []
