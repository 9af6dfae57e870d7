"""Interop: the official x402 JS client (npm `@x402/fetch` with `@x402/evm`, viem keys) pays a Sova seller
(the paywall and Sova's facilitator) on anvil and gets the result (tools/interop/x402-pay.mjs).

Needs `npm ci` in tools/interop (make setup does it). Skipped only when node itself is missing."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from eth_account import Account

from runtime.chain.anvil import AnvilNode
from tests.support.executor import SELLER_ADDRESS, Market, open_market
from tests.support.paths import REPO_ROOT
from tests.support.payments import facilitator, shop

INTEROP = REPO_ROOT / "tools" / "interop"
NODE = shutil.which("node")
PRICE = 250_000

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")


@pytest.fixture(scope="module")
def node_chain() -> Iterator[AnvilNode]:
    if not (INTEROP / "node_modules" / "@x402" / "fetch").is_dir():
        pytest.fail(f"npm packages missing: run `npm ci` in {INTEROP} (make setup does)")
    found = AnvilNode().start()
    try:
        yield found
    finally:
        found.stop()


@pytest.fixture
async def market(node_chain: AnvilNode, tmp_path: Path) -> AsyncIterator[Market]:
    m = await open_market(node_chain.url, tmp_path)
    try:
        yield m
    finally:
        await m.client.close()


async def test_the_official_js_client_pays_a_sova_seller_and_gets_the_result(
    market: Market, tmp_path: Path
) -> None:
    payer = Account.create()
    await market.fund(payer.address, usd=5)
    before = await market.balance(SELLER_ADDRESS)
    async with (
        facilitator(market, tmp_path) as (_, fac_url),
        shop(market, fac_url, SELLER_ADDRESS, PRICE) as s,
    ):
        request = {
            "url": s.url, "method": "POST", "body": '{"city": "Quito"}', "privateKey": "0x" + payer.key.hex(),
            "network": f"eip155:{market.client.chain_id}", "asset": market.token.address,
            "maxAmount": "1000000",
        }  # fmt: skip
        proc = await asyncio.create_subprocess_exec(
            str(NODE), "x402-pay.mjs", cwd=INTEROP,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(json.dumps(request).encode()), 120)
    assert proc.returncode == 0, err.decode()[-2000:]
    answer = json.loads(out)
    assert answer["status"] == 200, answer
    assert json.loads(answer["body"])["input"] == {"city": "Quito"}
    settled = answer["paymentResponse"]
    assert settled["success"] is True
    assert settled["payer"].lower() == payer.address.lower()
    assert await market.balance(SELLER_ADDRESS) == before + PRICE
    [sale] = [d for k, d in s.sink.entries if k == "x402_sale"]
    assert sale["transaction"] == settled["transaction"]
