"""Interop with the official x402 Python SDK (PyPI `x402`), on one anvil, against code nobody here wrote:

- the SDK's client (httpx transport, `exact` EVM scheme, an eth-account key) pays a Sova seller (the
  paywall, Sova's facilitator) and gets the result;
- a Sova buyer (PaidFetch through its executor and policy) pays a server protected by the SDK's
  FastAPI middleware, once with Sova's facilitator and once with the SDK's own facilitator logic.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from eth_account import Account

from runtime.chain.anvil import AnvilNode
from runtime.payments.buyer import PaidFetch
from tests.support.executor import SELLER_ADDRESS, Market, Rig, open_market
from tests.support.paths import REPO_ROOT
from tests.support.payments import facilitator, shop

PRICE = 250_000
SERVER = REPO_ROOT / "tests" / "support" / "x402_official_server.py"
POLICY = """
version: 1
rules:
  - kind: allow_skills
    skills: [pay_x402]
  - kind: spend_limit
    token: TUSD
    per_action: "1"
    per_day: "10"
  - kind: domains
    allow: [127.0.0.1]
"""


@pytest.fixture(scope="module")
def node() -> Iterator[AnvilNode]:
    found = AnvilNode().start()
    try:
        yield found
    finally:
        found.stop()


@pytest.fixture
async def market(node: AnvilNode, tmp_path: Path) -> AsyncIterator[Market]:
    m = await open_market(node.url, tmp_path)
    try:
        yield m
    finally:
        await m.client.close()


@pytest.fixture
async def buyer(market: Market, tmp_path: Path) -> AsyncIterator[Rig]:
    async with market.funded_rig(tmp_path, POLICY) as rig:
        yield rig


async def test_the_official_client_pays_a_sova_seller_and_gets_the_result(
    market: Market, tmp_path: Path
) -> None:
    from x402 import x402Client
    from x402.http import decode_payment_response_header
    from x402.http.clients.httpx import x402AsyncTransport
    from x402.mechanisms.evm.exact import register_exact_evm_client

    payer = Account.create()
    await market.fund(payer.address, usd=5)
    before = await market.balance(SELLER_ADDRESS)
    network = f"eip155:{market.client.chain_id}"
    client = register_exact_evm_client(x402Client(), payer, networks=network)
    # The SDK's own per-payment cap, which needs non-default tokens listed (TestUSD is one).
    client.set_spend_controls(
        {
            "allowed_assets": [
                {"network": network, "asset": market.token.address, "max_amount_per_payment": "1000000"}
            ]
        }
    )
    async with (
        facilitator(market, tmp_path) as (_, fac_url),
        shop(market, fac_url, SELLER_ADDRESS, PRICE) as s,
        httpx.AsyncClient(transport=x402AsyncTransport(client), timeout=30) as http,
    ):
        answer = await http.post(s.url, content=b'{"city": "Lima"}')
    assert answer.status_code == 200, answer.text
    assert answer.json()["input"] == {"city": "Lima"}
    settled = decode_payment_response_header(answer.headers["PAYMENT-RESPONSE"])
    assert settled.success
    assert settled.payer.lower() == payer.address.lower()
    assert await market.balance(SELLER_ADDRESS) == before + PRICE
    [sale] = [d for k, d in s.sink.entries if k == "x402_sale"]
    assert sale["transaction"] == settled.transaction


@asynccontextmanager
async def official_server(market: Market, node: AnvilNode, facilitator_arg: list[str]) -> AsyncIterator[str]:
    """The SDK's FastAPI middleware server as a process; its base URL."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-P", str(SERVER), "--chain-id", str(market.client.chain_id),
        "--asset", market.token.address, "--pay-to", SELLER_ADDRESS, "--amount", str(PRICE),
        "--rpc", node.url, *facilitator_arg,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO_ROOT,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        if not line.startswith("READY "):
            err = await proc.stderr.read() if proc.stderr else b""
            pytest.fail(f"the official server did not start: {line!r} {err.decode()[-2000:]}")
        yield line.split()[1]
    finally:
        proc.terminate()
        await proc.wait()


async def buy_from(server: str, buyer: Rig) -> dict[str, object]:
    fetch = PaidFetch(buyer.executor, buyer.ledger)
    try:
        result = await fetch.fetch(f"{server}/paid")
    finally:
        await fetch.close()
    assert result.status == 200, result.body
    assert result.paid
    assert "joke" in json.loads(result.body)
    return result.payment


async def test_a_sova_buyer_pays_the_official_middleware_with_sovas_facilitator(
    market: Market, node: AnvilNode, buyer: Rig, tmp_path: Path
) -> None:
    before = await market.balance(SELLER_ADDRESS)
    async with (
        facilitator(market, tmp_path) as (_, fac_url),
        official_server(market, node, ["--facilitator", fac_url]) as server,
    ):
        record = await buy_from(server, buyer)
    assert record["status"] == "paid"
    assert await market.balance(SELLER_ADDRESS) == before + PRICE


async def test_a_sova_buyer_pays_the_official_middleware_with_the_official_facilitator(
    market: Market, node: AnvilNode, buyer: Rig
) -> None:
    key = Account.create()
    await market.client.rpc.request("anvil_setBalance", [key.address, hex(10**19)])
    before = await market.balance(SELLER_ADDRESS)
    args = ["--facilitator", "official", "--facilitator-key", key.key.hex()]
    async with official_server(market, node, args) as server:
        record = await buy_from(server, buyer)
    assert record["status"] == "paid"
    assert await market.balance(SELLER_ADDRESS) == before + PRICE
    # The settlement was checked on-chain by the buyer: a Transfer from it to the seller.
    assert str(record["transaction"]).startswith("0x")
