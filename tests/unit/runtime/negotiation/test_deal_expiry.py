"""Deals that died before any money moved end as `expired` at their deadline, through the deal store's one
path, with a `deal` entry in the (real) ledger; deals with an escrow, or still in time, are left alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from identity import IdentityKey
from runtime.ledger.ledger import Ledger
from runtime.negotiation.deals import DealRecord, DealStore
from runtime.negotiation.expiry import expire_deals

WALLET = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
NOW = 1_800_000_000  # chain time of the round
DEAL_ID = "0x" + "ab" * 32


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DealStore]:
    deals = DealStore(tmp_path / "deals.sqlite")
    try:
        yield deals
    finally:
        deals.close()


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger.open(tmp_path / "ledger.sqlite", IdentityKey.generate(), WALLET) as opened:
        yield opened


def deal(store: DealStore, thid: str, state: str, **fields: Any) -> None:
    store.put(
        DealRecord(**{"peer": "did:key:zPeer", "thid": thid, "role": "buyer", "state": state, **fields})
    )


async def no_escrow(deal_id: str) -> int:
    return 0  # DealEscrow.State.None


async def open_escrow(deal_id: str) -> int:
    return 1  # DealEscrow.State.Open


async def test_a_deal_agreed_past_its_deadline_expires_and_says_so_in_the_ledger(
    store: DealStore, ledger: Ledger
) -> None:
    deal(store, "t-agreed", "agreed", deadline=NOW - 1)

    [ended] = await expire_deals(store, ledger, NOW, no_escrow)

    assert (ended.thid, ended.state) == ("t-agreed", "expired")
    stored = store.get("did:key:zPeer", "t-agreed")
    assert stored is not None
    assert stored.state == "expired"
    assert "deadline" in stored.reason
    entry = ledger.last()
    assert entry.kind == "deal"
    assert (entry.data["event"], entry.data["was"], entry.data["thid"]) == ("expired", "agreed", "t-agreed")
    assert await expire_deals(store, ledger, NOW + 100, no_escrow) == []  # once only


async def test_deals_in_time_or_holding_money_are_left_alone(store: DealStore, ledger: Ledger) -> None:
    deal(store, "in-time", "agreed", deadline=NOW + 60)
    deal(store, "funded", "funded", deadline=NOW - 60)  # the deadline watch refunds it
    deal(store, "fresh-talk", "negotiating", role="seller")  # no deadline yet, just updated
    before = ledger.last().seq

    assert await expire_deals(store, ledger, NOW, no_escrow) == []

    assert {d.thid: d.state for d in store.all()} == {
        "in-time": "agreed",
        "funded": "funded",
        "fresh-talk": "negotiating",
    }
    assert ledger.last().seq == before


async def test_a_signed_deal_expires_only_when_the_chain_never_saw_its_escrow(
    store: DealStore, ledger: Ledger
) -> None:
    deal(store, "signed", "signed", deadline=NOW - 1, deal_id=DEAL_ID)

    async def chain_away(deal_id: str) -> int:
        raise ConnectionError("anvil restarting")

    assert await expire_deals(store, ledger, NOW, open_escrow) == []  # the resumer's
    assert await expire_deals(store, ledger, NOW, None) == []  # no chain: wait
    assert await expire_deals(store, ledger, NOW, chain_away) == []
    [ended] = await expire_deals(store, ledger, NOW, no_escrow)
    assert ended.state == "expired"
    assert ledger.last().data["deal_id"] == DEAL_ID


async def test_a_negotiation_silent_for_too_long_expires_without_a_deadline(
    store: DealStore, ledger: Ledger
) -> None:
    deal(store, "gone", "negotiating", role="seller")
    stored = store.get("did:key:zPeer", "gone")
    assert stored is not None

    later = stored.updated + 301
    [ended] = await expire_deals(store, ledger, NOW, no_escrow, now=later)

    assert ended.role == "seller"
    assert "no step for 301 s in state negotiating" in ended.reason
