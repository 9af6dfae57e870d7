"""An agent's services sold per call over x402 on anvil: the price from the input, the handler run only
once the payment is verified, the output returned with PAYMENT-RESPONSE, and the sale in the seller's
ledger with the settlement transaction and the hashes of input and output."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from identity.jcs import canonicalize
from runtime.chain.anvil import AnvilNode
from runtime.ledger.sink import MemorySink
from runtime.payments.buyer import PaidFetch
from runtime.payments.facilitator_client import FacilitatorClient
from runtime.payments.paywall import Paywall
from runtime.payments.sales import Seller, sales_app
from runtime.services.offering import Shop
from runtime.services.service import Requirement, ServiceContext, Services
from tests.support.executor import SELLER_ADDRESS, Market, Rig
from tests.support.payments import facilitator, serving

pytestmark = pytest.mark.chain

POLICY = """
version: 1
rules:
  - kind: allow_skills
    skills: [pay_x402]
  - kind: spend_limit
    token: TUSD
    per_action: "1"
    per_day: "10"
"""


class Text(BaseModel):
    text: str


class Count(BaseModel):
    words: int


def services() -> Services:
    found = Services()

    @found.service("wordcount", input=Text, output=Count, price=lambda t: f"0.0{min(9, len(t.text.split()))}")
    async def wordcount(value: Text, context: ServiceContext) -> Count:
        if value.text == "boom":
            raise RuntimeError("the counter broke")
        return Count(words=len(value.text.split()))

    @found.service("vip", input=Text, output=Count, price="0.5", requires=(Requirement("VerifiedBuyer"),))
    async def vip(value: Text, context: ServiceContext) -> Count:
        return Count(words=0)

    return found


@pytest.fixture
def market_anvil(module_anvil: AnvilNode) -> AnvilNode:
    return module_anvil


@pytest.fixture
async def buyer(market: Market, tmp_path: Path) -> AsyncIterator[Rig]:
    async with market.funded_rig(tmp_path, POLICY) as rig:
        yield rig


@pytest.fixture
async def store(market: Market, tmp_path: Path) -> AsyncIterator[tuple[str, MemorySink]]:
    sink = MemorySink()
    shop = Shop(services(), ServiceContext("seller", "did:key:z6MkSeller", tmp_path), lambda refs: ())
    async with facilitator(market, tmp_path) as (_, fac_url):
        client = FacilitatorClient(fac_url)
        holder: dict[str, Any] = {}

        async def app(scope: Any, receive: Any, send: Any) -> None:
            await holder["app"](scope, receive, send)

        async with serving(app) as base:
            holder["app"] = sales_app(
                shop,
                Seller(SELLER_ADDRESS, market.token, market.client.chain_id, base),
                Paywall(client, sink),
            )
            yield base, sink
        await client.close()


async def test_a_service_is_sold_per_call_at_its_input_derived_price(
    market: Market, buyer: Rig, store: tuple[str, MemorySink]
) -> None:
    base, sink = store
    before = await market.balance(SELLER_ADDRESS)
    body = b'{"text": "one two three"}'
    fetch = PaidFetch(buyer.executor, buyer.ledger)
    result = await fetch.fetch(f"{base}/x402/services/wordcount", method="POST", body=body)
    await fetch.close()
    assert result.status == 200
    assert result.body == canonicalize({"words": 3})
    assert await market.balance(SELLER_ADDRESS) == before + 30_000  # 0.03 TUSD for three words
    [sale] = [d for k, d in sink.entries if k == "x402_sale"]
    assert sale["input_sha256"] == "0x" + hashlib.sha256(body).hexdigest()
    assert sale["output_sha256"] == "0x" + hashlib.sha256(result.body).hexdigest()
    assert sale["transaction"] == result.payment["transaction"]
    assert sale["amount"] == "30000"


async def test_bad_input_unknown_or_credentialed_services_and_failures_take_no_money(
    market: Market, buyer: Rig, store: tuple[str, MemorySink]
) -> None:
    base, sink = store
    before = await market.balance(buyer.signer.address)
    async with httpx.AsyncClient(timeout=30) as http:
        listed = (await http.get(f"{base}/x402/services")).json()
        assert [s["name"] for s in listed["services"]] == ["wordcount"]
        bad = await http.post(f"{base}/x402/services/wordcount", content=b'{"txt": 1}')
        assert bad.status_code == 400
        assert "bad input for wordcount" in bad.json()["error"]
        assert (await http.post(f"{base}/x402/services/nope", content=b"{}")).status_code == 404
        vip = await http.post(f"{base}/x402/services/vip", content=b'{"text": "a"}')
        assert vip.status_code == 403
    fetch = PaidFetch(buyer.executor, buyer.ledger)
    broken = await fetch.fetch(f"{base}/x402/services/wordcount", method="POST", body=b'{"text": "boom"}')
    await fetch.close()
    assert broken.status == 500
    assert "the counter broke" in broken.body.decode()
    assert await market.balance(buyer.signer.address) == before
    assert [k for k, _ in sink.entries if k == "x402_sale"] == []
