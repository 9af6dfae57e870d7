"""x402 end to end on one anvil: a Sova buyer (PaidFetch through its executor) pays a Sova seller
(the paywall) through Sova's facilitator; and what each side does with a payment that is too much,
replayed, refused, unsettled, or lied about."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from runtime.chain.anvil import AnvilNode
from runtime.payments.buyer import PaidFetch
from runtime.payments.errors import PaymentError, SettlementUnproven
from runtime.payments.wire import PAYMENT_RESPONSE, PAYMENT_SIGNATURE, SettleResponse, encode_header
from tests.support.executor import SELLER_ADDRESS, Market, Rig
from tests.support.payments import facilitator, serving, shop

pytestmark = pytest.mark.chain

POLICY = """
version: 1
rules:
  - kind: allow_skills
    skills: [pay_x402]
  - kind: spend_limit
    token: TUSD
    per_action: "1"
    per_day: "5"
  - kind: domains
    allow: [127.0.0.1]
"""
PRICE = 250_000  # 0.25 TUSD


@pytest.fixture
def market_anvil(module_anvil: AnvilNode) -> AnvilNode:
    return module_anvil


@pytest.fixture
async def buyer(market: Market, tmp_path: Path) -> AsyncIterator[Rig]:
    async with market.funded_rig(tmp_path, POLICY) as rig:
        yield rig


@pytest.fixture
async def fac(market: Market, tmp_path: Path) -> AsyncIterator[tuple[object, str]]:
    async with facilitator(market, tmp_path) as found:
        yield found


def ledger(rig: Rig, kind: str) -> list[dict[str, object]]:
    return rig.entries(kind)


async def test_a_sova_buyer_pays_a_sova_seller_once_and_both_ledgers_show_it(
    market: Market, buyer: Rig, fac: tuple[object, str]
) -> None:
    parts, fac_url = fac
    before = await market.balance(SELLER_ADDRESS)
    async with shop(market, fac_url, SELLER_ADDRESS, PRICE) as s:
        fetch = PaidFetch(buyer.executor, buyer.ledger)
        try:
            result = await fetch.fetch(s.url, method="POST", body=b'{"city": "Oslo"}')
        finally:
            await fetch.close()
    assert result.status == 200
    assert result.paid
    assert b'"forecast": "sunny"' in result.body
    assert await market.balance(SELLER_ADDRESS) == before + PRICE
    [paid] = ledger(buyer, "x402_payment")
    assert paid["status"] == "paid"
    tx = paid["transaction"]
    [sale] = [d for k, d in s.sink.entries if k == "x402_sale"]
    assert sale["transaction"] == tx
    assert sale["payer"] == buyer.signer.address
    assert str(sale["input_sha256"]).startswith("0x")
    assert str(sale["output_sha256"]).startswith("0x")
    assert len(s.calls) == 1
    settles = [e.data for e in parts.ledger.entries(2) if e.kind == "x402_settle"]  # type: ignore[attr-defined]
    assert settles[-1]["ok"] is True
    assert settles[-1]["transaction"] == tx


async def test_one_payment_buys_one_call_even_replayed_or_sent_twice_at_once(
    market: Market, buyer: Rig, fac: tuple[object, str]
) -> None:
    _, fac_url = fac
    before = await market.balance(SELLER_ADDRESS)
    async with shop(market, fac_url, SELLER_ADDRESS, PRICE) as s:
        outcome = await buyer.executor.execute(
            "pay_x402", {"resource": s.url, "accepted": s.offer.requirements.wire()}, "operator"
        )
        assert outcome.ok, outcome.reasons
        from runtime.payments.wire import PaymentPayload

        header = encode_header(
            PaymentPayload(x402_version=2, accepted=s.offer.requirements, payload=outcome.result["payload"])
        )
        async with httpx.AsyncClient(timeout=30) as http:
            answers = await asyncio.gather(
                *(http.post(s.url, content=b"{}", headers={PAYMENT_SIGNATURE: header}) for _ in range(3))
            )
            again = await http.post(s.url, content=b"{}", headers={PAYMENT_SIGNATURE: header})
    assert sorted(a.status_code for a in answers) == [200, 402, 402]
    assert again.status_code == 402
    assert "nonce" in again.json()["error"] or "used" in again.json()["error"]
    assert await market.balance(SELLER_ADDRESS) == before + PRICE
    assert len([k for k, _ in s.sink.entries if k == "x402_sale"]) == 1


async def test_a_402_over_the_policy_is_refused_before_anything_is_signed(
    market: Market, buyer: Rig, fac: tuple[object, str]
) -> None:
    _, fac_url = fac
    async with shop(market, fac_url, SELLER_ADDRESS, 2_000_000) as s:
        fetch = PaidFetch(buyer.executor, buyer.ledger)
        with pytest.raises(PaymentError, match="payment not made"):
            await fetch.fetch(s.url)
        await fetch.close()
        assert s.calls == []
    assert buyer.signer.signatures == 0
    [record] = ledger(buyer, "x402_payment")
    assert record["status"] == "not_paid"


async def test_a_failed_handler_settles_nothing_and_the_buyer_ledger_says_so(
    market: Market, buyer: Rig, fac: tuple[object, str]
) -> None:
    _, fac_url = fac

    async def broken(body: bytes) -> tuple[int, bytes, str]:
        return 500, b'{"error": "the model is down"}', "application/json"

    before = await market.balance(buyer.signer.address)
    async with shop(market, fac_url, SELLER_ADDRESS, PRICE, broken) as s:
        fetch = PaidFetch(buyer.executor, buyer.ledger)
        result = await fetch.fetch(s.url)
        await fetch.close()
    assert result.status == 500
    assert not result.paid
    assert await market.balance(buyer.signer.address) == before
    [record] = ledger(buyer, "x402_payment")
    assert record["status"] == "failed"


async def test_a_merchant_claiming_a_settlement_the_chain_does_not_show_is_caught(
    market: Market, buyer: Rig, fac: tuple[object, str]
) -> None:
    _, fac_url = fac
    async with shop(market, fac_url, SELLER_ADDRESS, PRICE) as honest:
        offer = honest.offer

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from runtime.payments.paywall import Paywall

    async def liar(request: Request) -> Response:
        if PAYMENT_SIGNATURE not in request.headers:
            return Paywall(None, None).payment_required(offer)  # type: ignore[arg-type]
        fake = SettleResponse(
            success=True,
            payer=buyer.signer.address,
            transaction="0x" + os.urandom(32).hex(),
            network=offer.requirements.network,
        )
        return Response(b"{}", headers={PAYMENT_RESPONSE: encode_header(fake)})

    async with serving(Starlette(routes=[Route("/weather", liar)])) as url:
        fetch = PaidFetch(buyer.executor, buyer.ledger)
        with pytest.raises(SettlementUnproven, match="no successful transaction"):
            await fetch.fetch(f"{url}/weather")
        await fetch.close()
    [record] = ledger(buyer, "x402_payment")
    assert record["status"] == "unproven"


async def test_a_facilitator_that_is_down_means_no_result_and_no_settlement(
    market: Market, buyer: Rig
) -> None:
    async with shop(market, "http://127.0.0.1:9", SELLER_ADDRESS, PRICE) as s:
        fetch = PaidFetch(buyer.executor, buyer.ledger)
        result = await fetch.fetch(s.url)
        await fetch.close()
        assert s.calls == []
    assert result.status == 402
    [record] = ledger(buyer, "x402_payment")
    assert record["status"] == "refused"
    assert "could not be verified" in str(record["error"])


async def test_sova_fetch_pays_as_a_running_agent_through_its_operator_api(
    market: Market, buyer: Rig, fac: tuple[object, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json
    import shutil

    from runtime.cli import run
    from runtime.config import load_config
    from runtime.home import Home
    from tests.support.operator import serve
    from tests.support.paths import REPO_ROOT

    config_path = tmp_path / "agents.yaml"
    shutil.copy(REPO_ROOT / "agents.yaml", config_path)
    shutil.copytree(REPO_ROOT / "policies" / "presets", tmp_path / "policies" / "presets")
    home = Home.for_config(config_path, load_config(config_path))
    _, fac_url = fac
    before = await market.balance(SELLER_ADDRESS)
    async with serve(buyer) as served, shop(market, fac_url, SELLER_ADDRESS, PRICE) as s:
        home.ready_file("buyer").parent.mkdir(parents=True, exist_ok=True)
        home.ready_file("buyer").write_text(json.dumps({"operator_url": served.url, "pid": os.getpid()}))
        (home.root / "operator.token").write_text(served.token)
        (home.root / "operator.token").chmod(0o600)
        argv = ["fetch", s.url, "--as", "buyer", "--max-amount", "0.3", "-f", str(config_path), "--json"]
        assert await asyncio.to_thread(run, argv) == 0
        answer = json.loads(capsys.readouterr().out)
        assert (answer["status"], answer["paid"]) == (200, True)
        assert "sunny" in answer["body"]
        assert await asyncio.to_thread(run, argv[:-1]) == 0  # text: what was paid, to whom, the tx
        assert f"paid 0.25 TUSD to {SELLER_ADDRESS} (tx 0x" in capsys.readouterr().out
        # Over the --max-amount: nothing paid, exit 2 with one line.
        assert await asyncio.to_thread(run, [*argv[:4], "--max-amount", "0.2", *argv[6:]]) == 2
        assert "over the maximum of 0.2" in capsys.readouterr().err
    assert await market.balance(SELLER_ADDRESS) == before + 2 * PRICE


async def test_a_lying_or_slow_facilitator_gets_no_result_handed_over(market: Market, buyer: Rig) -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def verify(request: Request) -> JSONResponse:
        return JSONResponse({"isValid": True})

    async def settle(request: Request) -> JSONResponse:
        # Says it settled, with a transaction the chain never saw.
        return JSONResponse(
            {"success": True, "transaction": "0x" + os.urandom(32).hex(), "network": "eip155:31337"}
        )

    async def slow(request: Request) -> JSONResponse:
        await asyncio.sleep(5)
        return JSONResponse({"isValid": True})

    liar = Starlette(
        routes=[Route("/verify", verify, methods=["POST"]), Route("/settle", settle, methods=["POST"])]
    )
    sleepy = Starlette(routes=[Route("/verify", slow, methods=["POST"])])
    before = await market.balance(SELLER_ADDRESS)
    async with serving(liar) as liar_url, serving(sleepy) as sleepy_url:
        for url, wait, why in (
            (liar_url, 10.0, "not on-chain"),
            (sleepy_url, 0.5, "did not answer within"),
        ):
            async with shop(market, url, SELLER_ADDRESS, PRICE, wait=wait, check_chain=True) as s:
                fetch = PaidFetch(buyer.executor, buyer.ledger)
                result = await fetch.fetch(s.url)
                await fetch.close()
                assert result.status == 402
                assert not result.paid
                assert b"sunny" not in result.body
                [refused] = [d for k, d in s.sink.entries if k == "x402_refused"]
                assert why in str(refused["reason"])
                assert [k for k, _ in s.sink.entries if k == "x402_sale"] == []
    assert await market.balance(SELLER_ADDRESS) == before


async def test_a_merchant_that_takes_the_payment_and_answers_an_error_is_recorded_so(
    market: Market, buyer: Rig, fac: tuple[object, str]
) -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from runtime.payments.facilitator_client import FacilitatorClient
    from runtime.payments.paywall import Paywall
    from runtime.payments.wire import PaymentPayload, decode_header

    _, fac_url = fac
    async with shop(market, fac_url, SELLER_ADDRESS, PRICE) as honest:
        offer = honest.offer
    client = FacilitatorClient(fac_url)

    async def greedy(request: Request) -> Response:
        header = request.headers.get(PAYMENT_SIGNATURE)
        if header is None:
            return Paywall(client, None).payment_required(offer)  # type: ignore[arg-type]
        settled = await client.settle(
            decode_header(PAYMENT_SIGNATURE, header, PaymentPayload), offer.requirements
        )
        return Response(
            b'{"error": "oops"}', status_code=500, headers={PAYMENT_RESPONSE: encode_header(settled)}
        )

    before = await market.balance(SELLER_ADDRESS)
    async with serving(Starlette(routes=[Route("/weather", greedy)])) as url:
        fetch = PaidFetch(buyer.executor, buyer.ledger)
        result = await fetch.fetch(f"{url}/weather")
        await fetch.close()
    await client.close()
    assert result.status == 500
    assert result.body == b'{"error": "oops"}'  # the error as answered: no result is made up
    assert await market.balance(SELLER_ADDRESS) == before + PRICE
    [record] = ledger(buyer, "x402_payment")
    assert record["status"] == "paid_but_failed"
    assert str(record["transaction"]).startswith("0x")


async def test_a_payer_without_funds_gets_no_result_and_its_ledger_says_refused(
    market: Market, fac: tuple[object, str], tmp_path: Path
) -> None:
    from tests.support.executor import make_rig

    with make_rig(
        tmp_path / "broke", POLICY, contracts=market.contracts, chain=market.client, tokens=(market.token,)
    ) as broke:
        assert await market.balance(broke.signer.address) == 0
        _, fac_url = fac
        async with shop(market, fac_url, SELLER_ADDRESS, PRICE) as s:
            fetch = PaidFetch(broke.executor, broke.ledger)
            try:
                result = await fetch.fetch(s.url)
            finally:
                await fetch.close()
            assert s.calls == []  # the handler never ran
            [refused] = [d for k, d in s.sink.entries if k == "x402_refused"]
            assert "insufficient_balance" in str(refused["reason"])
            assert [k for k, _ in s.sink.entries if k == "x402_sale"] == []
        assert result.status == 402
        assert not result.paid
        [record] = broke.entries("x402_payment")
        assert record["status"] == "refused"
        assert "insufficient_balance" in str(record["error"])
