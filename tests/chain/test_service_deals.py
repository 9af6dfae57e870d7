"""Deals for a service with real inputs and results, on a real anvil over real HTTP: the buyer sends its
input with the cfp, the signed Deal commits to it, the seller runs the handler once the escrow holds the
money and delivers its output, the buyer checks it against the card's schema and releases. Each bad
input: one line, nothing signed or paid for nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import AsyncExitStack
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from identity import issue_credential
from identity.envelopes import Envelope
from runtime.a2a.handler import Reply
from runtime.a2a.threads import ThreadState
from runtime.chain.anvil import AnvilNode
from runtime.negotiation.buyer import Buyer, Seller
from runtime.negotiation.terms import canonical, payload_hash, terms_hash
from runtime.services import Requirement, ServiceContext
from tests.support.executor import Market
from tests.support.settlement import (
    BUYER_BRAIN,
    INPUT,
    USD,
    Pair,
    Text,
    Translation,
    escrow_of,
    make_pair,
    translation,
)

pytestmark = pytest.mark.chain


@pytest.fixture
def market_anvil(module_anvil: AnvilNode) -> AnvilNode:
    return module_anvil


def events(side: Any) -> list[str]:
    return [d["event"] for d in side.entries("deal")]


def escrow_held(pair: Pair, record: Any) -> int:
    return int(Decimal(record.price) * USD)


async def test_the_buyer_gets_the_handlers_output_and_the_deal_commits_to_the_input(
    market: Market, tmp_path: Path
) -> None:
    async with AsyncExitStack() as stack:
        pair = await make_pair(stack, market, tmp_path)
        record = await pair.buyer_brain.buy(pair.seller.server.url, "translation", input=INPUT)
        assert record.state == "released", record.reason
        output = pair.buyer.deals.payloads.load(record.output, record.output_hash)
        assert output == {"text": "bonjour le monde (hello world)", "words": 2}
        input_hash = payload_hash(canonical(INPUT))
        assert record.input_hash == input_hash
        assert record.deal is not None
        assert record.deal["terms_hash"] == terms_hash("translation", input_hash, record.price)
        theirs = pair.seller.deals.get(pair.buyer.key.did, record.thid)
        assert theirs is not None
        assert (theirs.state, theirs.output_hash, theirs.input_hash) == (
            "released",
            record.output_hash,
            input_hash,
        )
        delivered = [d for d in pair.seller.entries("deal") if d["event"] == "delivered"]
        assert delivered[0]["output_hash"] == record.output_hash == payload_hash(canonical(output))
        agreed = [d for d in pair.buyer.entries("deal") if d["event"] == "agreed"]
        assert agreed[0]["input_hash"] == input_hash
        assert next(d for d in pair.buyer.entries("deal") if d["event"] == "released")["output_hash"] == (
            record.output_hash
        )


@pytest.mark.parametrize(
    ("data", "options", "said"),
    [
        ({"txt": "hello"}, {}, "the input does not match translation's schema: text: Field required"),
        ({"text": "x" * 300}, {"max_input": 256}, "the input to translation is 311 bytes, over its 256"),
    ],
)
async def test_an_input_the_service_does_not_take_is_refused_before_any_signature(
    market: Market, tmp_path: Path, data: dict[str, Any], options: dict[str, Any], said: str
) -> None:
    async with AsyncExitStack() as stack:
        pair = await make_pair(stack, market, tmp_path, services=translation(**options))
        record = await pair.buyer_brain.buy(pair.seller.server.url, "translation", input=data)
        assert record.state == "declined"
        assert record.reason == f"the seller rejected: {said}"
        theirs = pair.seller.deals.get(pair.buyer.key.did, record.thid)
        assert theirs is not None
        assert (theirs.state, theirs.reason) == ("declined", said)
        assert pair.seller.signer.signatures == pair.buyer.signer.signatures == 0
        assert not pair.seller.entries("effect")  # not even its DID-auth presentation
        assert await market.balance(pair.buyer.address) == 100 * USD


async def fails(text: Text, context: ServiceContext) -> Translation:
    raise RuntimeError("the model is down")


async def hangs(text: Text, context: ServiceContext) -> Translation:
    await asyncio.sleep(30)
    raise AssertionError("not reached")


def too_long(text: Text, context: ServiceContext) -> Translation:
    return Translation(text="x" * 500, words=1)


@pytest.mark.parametrize(
    ("handler", "why", "said"),
    [
        (fails, "raised", "translation failed: RuntimeError: the model is down"),
        (hangs, "timeout", "translation did not finish within 0.5s"),
        (too_long, "too_large", "translation's output is 521 bytes, over its limit of 256"),
    ],
)
async def test_a_service_without_an_output_refunds_the_buyer_at_once(
    market: Market, tmp_path: Path, handler: Any, why: str, said: str
) -> None:
    async with AsyncExitStack() as stack:
        services = translation(handler, timeout=0.5, max_output=256)
        pair = await make_pair(stack, market, tmp_path, services=services)
        before = await market.balance(pair.buyer.signer.address)
        record = await pair.buyer_brain.buy(pair.seller.server.url, "translation", input=INPUT)
        assert record.state == "refunded", record.reason
        theirs = pair.seller.deals.get(pair.buyer.key.did, record.thid)
        assert theirs is not None
        assert theirs.state == "refunded"
        failed = [d for d in pair.seller.entries("deal") if d["event"] == "service_failed"]
        assert (failed[0]["why"], failed[0]["reason"]) == (why, theirs.reason)
        # The seller refunded at once (DealEscrow.cancel, its refund_escrow skill), not at the deadline.
        asked = [e for e in pair.seller.entries("decision") if e["intent"]["skill"] == "refund_escrow"]
        assert [e["verdict"] for e in asked] == ["allow"]
        escrow = escrow_of(market)
        assert await market.balance(escrow.address) == 0
        assert await escrow.state_of(bytes.fromhex(record.deal_id[2:])) == 3  # Refunded
        assert await market.balance(pair.buyer.signer.address) == before  # the money is back
        assert pair.buyer.signer.transactions == 2  # approve, open: no release


class Tampering:
    """Wraps the seller's handler: its `deliver` is changed by `edit` (body -> body)."""

    def __init__(self, inner: Seller, edit: Any) -> None:
        self.inner, self.edit = inner, edit

    async def on_message(self, envelope: Envelope, thread: ThreadState) -> Sequence[Reply]:
        replies = list(await self.inner.on_message(envelope, thread))
        return [Reply(r.type, self.edit(dict(r.body))) if r.type == "deliver" else r for r in replies]


def rehashed(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "output_hash": payload_hash(canonical(body["output"]))}


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        (lambda b: rehashed({**b, "output": {"text": "hi"}}),
         "the output does not match translation's output schema: output: 'words' is a required property"),
        (lambda b: rehashed({**b, "output": {"text": "hi", "words": "two"}}),
         "the output does not match translation's output schema: words: 'two' is not of type 'integer'"),
        (lambda b: {**b, "deal_id": "0x" + "ab" * 32},
         "the delivery names deal 0x" + "ab" * 32 + ", this thread's deal is "),
        (lambda b: {**b, "output": {"text": "other", "words": 1}}, "the output hashes to 0x"),
    ],
)  # fmt: skip
async def test_a_delivery_that_is_not_the_result_is_disputed_and_never_released(
    market: Market, tmp_path: Path, edit: Any, said: str
) -> None:
    async with AsyncExitStack() as stack:
        pair = await make_pair(stack, market, tmp_path)
        pair.seller.negotiator.handler = Tampering(pair.seller_brain, edit)
        record = await pair.buyer_brain.buy(pair.seller.server.url, "translation", input=INPUT)
        assert record.state == "disputed"
        assert record.reason.startswith(said), record.reason
        assert record.output_hash == ""  # nothing kept as the result
        assert events(pair.buyer)[-1] == "disputed"
        assert pair.buyer.signer.transactions == 2  # approve, open: no release
        assert await market.balance(escrow_of(market).address) == escrow_held(pair, record)


CHECKED: list[tuple[Any, Any]] = []


def long_enough(data: Any, output: Any) -> bool:
    """The buyer's accept check: a translation of at least five words."""
    CHECKED.append((data, output))
    return bool(output["words"] >= 5)


async def test_a_delivery_the_buyers_accept_check_refuses_is_disputed_and_never_released(
    market: Market, tmp_path: Path
) -> None:
    async with AsyncExitStack() as stack:
        pair = await make_pair(stack, market, tmp_path)
        buyer = Buyer(
            executor=pair.buyer.executor, messenger=pair.buyer.messenger, deals=pair.buyer.deals,
            brain=BUYER_BRAIN, peers=pair.buyer.peers, cap=Decimal("50"), trusted_issuers=[pair.issuer.did],
            registry=pair.registry, ledger=pair.buyer.sink, accept={"translation": long_enough},
        )  # fmt: skip
        pair.buyer.negotiator.handler = buyer
        CHECKED.clear()
        record = await buyer.buy(pair.seller.server.url, "translation", input=INPUT)
        assert CHECKED == [(INPUT, {"text": "bonjour le monde (hello world)", "words": 2})]  # schema-valid
        said = "the buyer's accept check long_enough refused the output (it returned False)"
        assert (record.state, record.reason, record.output_hash) == ("disputed", said, "")
        assert (
            pair.buyer.entries("deal")[-1] | {"event": "disputed", "reason": said}
            == (pair.buyer.entries("deal")[-1])
        )
        assert pair.buyer.signer.transactions == 2  # approve, open: no release
        assert await market.balance(escrow_of(market).address) == escrow_held(pair, record)
        theirs = pair.seller.deals.get(pair.buyer.key.did, record.thid)
        assert theirs is not None
        assert theirs.state != "released"
        # A longer text passes the same check: the deal is released.
        record = await buyer.buy(
            pair.seller.server.url, "translation", input={"text": "one two three four five"}
        )
        assert record.state == "released", record.reason


async def test_a_buyer_without_the_credential_a_service_requires_is_declined_before_signing(
    market: Market, tmp_path: Path
) -> None:
    async with AsyncExitStack() as stack:
        services = translation(requires=(Requirement("VerifiedSupplier"),))
        pair = await make_pair(stack, market, tmp_path, services=services)
        record = await pair.buyer_brain.buy(pair.seller.server.url, "translation", input=INPUT)
        assert record.state == "declined"
        said = "translation requires the buyer to present VerifiedSupplier: it presented none"
        assert record.reason == f"the seller rejected: {said}"
        assert pair.seller.signer.signatures == pair.buyer.signer.signatures == 0
        assert not [e for e in pair.seller.entries("effect") if e["status"] == "done"]
        # With the credential, from the issuer the seller trusts, the same purchase goes through.
        # (identity/ knows the types Operator and VerifiedSupplier: this service sells to suppliers only.)
        vc = await issue_credential(
            pair.issuer, pair.buyer.key.did, "VerifiedSupplier", {"service": "resale"}
        )
        pair.buyer.credentials.add(vc)
        record = await pair.buyer_brain.buy(pair.seller.server.url, "translation", input=INPUT)
        assert record.state == "released", record.reason


async def test_a_large_input_and_output_are_kept_as_files_beside_the_deal_store(
    market: Market, tmp_path: Path
) -> None:
    async with AsyncExitStack() as stack:
        pair = await make_pair(stack, market, tmp_path)
        pair.buyer.deals.payloads.inline_max = 64
        big = {"text": "word " * 200}
        record = await pair.buyer_brain.buy(pair.seller.server.url, "translation", input=big)
        assert record.state == "released", record.reason
        assert (record.input, record.output) == ("", "")  # neither inline
        assert pair.buyer.deals.payloads.load("", record.input_hash) == big
        output = pair.buyer.deals.payloads.load("", record.output_hash)
        assert output["words"] == 200
        files = sorted(p.name for p in (tmp_path / "buyer" / "deal-payloads").iterdir())
        assert files == sorted(
            h.removeprefix("0x") + ".json" for h in (record.input_hash, record.output_hash)
        )
