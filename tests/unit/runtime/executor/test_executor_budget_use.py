"""How each action takes budget: a buyer's deal signature holds, a seller's does not, an approval of the
escrow holds nothing while one of a stranger is a spend, and the model sees no signature."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from policies import Counterparty
from runtime.brains.tools import WITHHELD, model_view
from skills import default_catalog
from skills.escrow import hold_key
from tests.support.executor import (
    SELLER_ADDRESS,
    TUSD,
    Peers,
    Rig,
    SlowSign,
    deal,
    make_rig,
    seller_party,
)

POLICY = """
version: 1
rules:
  - kind: allow_skills
    skills: [sign_deal, approve_token, slow_sign]
  - kind: spend_limit
    token: TUSD
    per_action: "50"
    per_day: "100"
  - kind: spenders
    allow: [DealEscrow, seller]
"""
SKILLS = ["sign_deal", "approve_token", "slow_sign"]
BUYER_SELLER = "0x" + "77" * 20


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    catalog = default_catalog()
    catalog.skill(SlowSign)
    with make_rig(tmp_path, POLICY, catalog=catalog, skills=SKILLS) as r:
        yield r


def spent(rig: Rig, party: str | None = None) -> int:
    return rig.budget.spent(rig.context.agent_did, TUSD, party)


async def test_a_buyers_signature_holds_the_deal_amount_under_its_id(rig: Rig) -> None:
    outcome = await rig.executor.execute("sign_deal", deal(rig, "12"), "rules-brain")
    assert outcome.status == "done", outcome.reasons
    assert outcome.result is not None
    assert spent(rig, SELLER_ADDRESS) == 12_000_000
    digest = bytes.fromhex(outcome.result["deal_id"][2:])
    again = rig.budget.reserve(
        rig.context.agent_did, TUSD, SELLER_ADDRESS, 12_000_000, rig.executor.policy.spend_limits("TUSD"),
        key=hold_key(digest),
    )  # fmt: skip
    assert not isinstance(again, str)
    assert spent(rig) == 12_000_000  # the same key: held once


async def test_a_sellers_signature_holds_nothing(tmp_path: Path) -> None:
    buyer = Counterparty(did="did:key:z6MkBuyer", address=BUYER_SELLER, name="buyer")
    with make_rig(tmp_path, POLICY, peers=Peers(seller_party(), buyer), skills=SKILLS) as rig:
        terms = {**deal(rig, "12"), "buyer": BUYER_SELLER, "seller": rig.signer.address}
        outcome = await rig.executor.execute("sign_deal", terms, "peer:did:key:z6MkBuyer")
        assert outcome.status == "done", outcome.reasons
        assert spent(rig) == 0


async def test_a_signature_stopped_before_signing_gives_its_hold_back(rig: Rig) -> None:
    slow = rig.executor.catalog["slow_sign"]
    assert isinstance(slow, SlowSign)
    slow.gate, slow.started = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(rig.executor.execute("slow_sign", deal(rig, "12"), "rules-brain"))
    await asyncio.wait_for(slow.started.wait(), 2)
    assert spent(rig) == 12_000_000  # held while it runs
    rig.executor.pause("stop now")
    slow.gate.set()
    assert (await task).status == "denied"
    assert spent(rig) == 0


def spends(rig: Rig) -> list[tuple[str | None, str, str]]:
    with sqlite3.connect(rig.budget.path) as db:
        return db.execute("SELECT counterparty, amount, state FROM spends").fetchall()


async def test_an_escrow_approval_holds_nothing_a_strangers_is_a_spend(rig: Rig) -> None:
    # No chain in this rig: each approval is judged and admitted, and fails before it signs.
    escrow = await rig.executor.execute("approve_token", {"token": "TUSD", "amount": "40"}, "llm")
    assert escrow.status == "failed", escrow.reasons
    assert spends(rig) == []
    paid = await rig.executor.execute(
        "approve_token", {"spender": SELLER_ADDRESS, "token": "TUSD", "amount": "40"}, "llm"
    )
    assert paid.status == "failed", paid.reasons
    assert spends(rig) == [(SELLER_ADDRESS.lower(), "40000000", "released")]  # reserved, nothing signed
    [decision] = [d for d in rig.entries("decision") if d["intent"].get("spender") == SELLER_ADDRESS]
    assert (decision["intent"]["spend"], decision["verdict"]) == (True, "allow")


def test_the_model_view_withholds_every_signature_and_signed_document() -> None:
    result: dict[str, Any] = {
        "deal_id": "0x" + "ab" * 32,
        "signature": "0x" + "cd" * 65,
        "nested": [{"buyer_signature": "0x" + "ef" * 65}, "0x" + "12" * 65],
        "presentation": {"proof": {"jws": "x"}},
        "jwt": "eyJhbGciOiJFZERTQSJ9.eyJpc3MiOiJkaWQ6a2V5In0." + "A" * 86,
        "tx_hash": "0x" + "34" * 32,
    }
    view = model_view(result)
    assert view == {
        "deal_id": "0x" + "ab" * 32,
        "signature": WITHHELD,
        "nested": [{"buyer_signature": WITHHELD}, WITHHELD],
        "presentation": WITHHELD,
        "jwt": WITHHELD,
        "tx_hash": "0x" + "34" * 32,
    }
