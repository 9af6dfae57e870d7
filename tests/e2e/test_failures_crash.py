"""Killed processes and a restarted chain, under `sova up --detach` with the demo market (real agent
processes, real anvil): a buyer SIGKILLed right after it funded an escrow, a seller SIGKILLed in the middle
of a negotiation, and the chain stopped and started again. One fleet for the module; each test waits for
the fleet to be whole again before it breaks something.

The moment to kill is read from the agents' own deal stores. To hold a buyer at "funded" long enough, the
seller is frozen (SIGSTOP) as soon as the buyer holds both signatures: the buyer opens the escrow on the
chain alone, then waits for the seller's answer to `funded`, and is killed there."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.failures import (
    agents,
    assert_ledger_whole,
    deal,
    deal_events,
    deals,
    down,
    home_of,
    outbox_rows,
    project,
    up,
    wait_for,
)

pytestmark = [pytest.mark.chain, pytest.mark.slow]

ATTEMPTS = 8


class StateWatch:
    """Fast reads of one agent's deal states and `deal` ledger events (read-only SQLite connections)."""

    def __init__(self, folder: Path) -> None:
        wait_for((folder / "deals.sqlite").exists, 60, f"{folder}/deals.sqlite")
        self.conn = sqlite3.connect((folder / "deals.sqlite").resolve().as_uri() + "?mode=ro", uri=True)
        self.ledger = sqlite3.connect((folder / "ledger.sqlite").resolve().as_uri() + "?mode=ro", uri=True)

    def logged(self, thid: str, event: str) -> bool:
        """The ledger holds the `deal` entry of `event` in thread `thid`."""
        query = (
            "SELECT count(*) FROM entries WHERE kind = 'deal' AND instr(CAST(data AS TEXT), ?) > 0 "
            "AND instr(CAST(data AS TEXT), ?) > 0"
        )
        return bool(self.ledger.execute(query, (thid, f'"event":"{event}"')).fetchone()[0])

    def state(self, thid: str) -> str | None:
        row = self.conn.execute("SELECT state FROM deals WHERE thid = ?", (thid,)).fetchone()
        return None if row is None else str(row[0])

    def first(self, state: str, skip: set[str]) -> str | None:
        rows = self.conn.execute("SELECT thid FROM deals WHERE state = ?", (state,)).fetchall()
        return next((str(r[0]) for r in rows if r[0] not in skip), None)

    def close(self) -> None:
        self.conn.close()
        self.ledger.close()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    config = project(tmp_path_factory.mktemp("crash"))
    up(config)
    try:
        yield config
    finally:
        down(config)


def whole(config: Path) -> dict[str, dict[str, object]]:
    """Wait until every agent is ready (a restarted one too); their status."""

    def ready() -> dict[str, dict[str, object]] | None:
        found = agents(config)
        return found if all(a["ready"] for a in found.values()) else None

    return wait_for(ready, 90, "every agent ready", every=0.5)


def released_after(config: Path, moment: float) -> str | None:
    """A buyer deal started after `moment` that was released."""
    found = [d for d in deals(home_of(config), "buyer") if d.state == "released" and d.started > moment]
    return found[0].thid if found else None


def test_a_buyer_killed_right_after_funding_settles_on_restart_without_funding_twice(fleet: Path) -> None:
    home = home_of(fleet)
    status = whole(fleet)
    buyer_pid, seller_pid = int(str(status["buyer"]["pid"])), int(str(status["seller"]["pid"]))
    watch = StateWatch(home.agent_dir("buyer"))
    tried: set[str] = set()
    thid = None
    try:
        for _ in range(ATTEMPTS):
            signed = wait_for(lambda: watch.first("signed", tried), 60, "a signed deal", every=0.002)
            os.kill(seller_pid, signal.SIGSTOP)
            try:
                tried.add(signed)
                if watch.state(signed) not in ("signed", "funded"):
                    continue  # it settled before the seller froze: try the next deal
                wait_for(lambda s=signed: watch.logged(s, "funded"), 20, "the escrow funded", every=0.002)
                os.kill(buyer_pid, signal.SIGKILL)
                thid = signed
                break
            finally:
                os.kill(seller_pid, signal.SIGCONT)
    finally:
        watch.close()
    assert thid is not None, f"never caught a deal between signing and funding in {ATTEMPTS} tries"
    killed = deal(home, "buyer", thid)
    assert killed is not None
    assert killed.state == "funded"
    assert [e["event"] for e in deal_events(home, "buyer", thid)][-1] == "funded"

    def ended() -> str | None:
        record = deal(home, "buyer", thid)
        return record.state if record is not None and record.state in ("released", "refunded") else None

    assert wait_for(ended, 90, "the interrupted deal to settle after the restart") == "released"
    restarted = whole(fleet)["buyer"]
    assert restarted["pid"] != buyer_pid
    record = deal(home, "buyer", thid)
    assert record is not None
    assert record.deal is not None
    # Exactly one open-escrow transaction for this deal: its calldata carries the deal's unique nonce.
    nonce = format(int(record.deal["nonce"]), "064x")
    opens = [r for r in outbox_rows(home, "DealEscrow.open") if nonce in str(r["tx"].get("data", "")).lower()]
    assert len(opens) == 1, opens
    assert (opens[0]["status"], opens[0]["receipt_status"]) == ("mined", 1)
    events = [e["event"] for e in deal_events(home, "buyer", thid)]
    assert events.count("funded") == 1, events
    assert events[-1] == "released"
    seller_side = deal(home, "seller", thid)
    assert seller_side is not None
    wait_for(lambda: (deal(home, "seller", thid) or seller_side).state == "released", 20, "the seller's view")
    for name in ("buyer", "seller"):
        assert_ledger_whole(fleet, name)


def test_a_seller_killed_mid_negotiation_ends_the_thread_and_trade_goes_on(fleet: Path) -> None:
    home = home_of(fleet)
    seller_pid = int(str(whole(fleet)["seller"]["pid"]))
    watch = StateWatch(home.agent_dir("seller"))
    tried = {d.thid for d in deals(home, "seller")}
    thid = None
    try:
        for _ in range(ATTEMPTS):
            talking = wait_for(lambda: watch.first("negotiating", tried), 60, "a negotiation", every=0.002)
            os.kill(seller_pid, signal.SIGSTOP)
            tried.add(talking)
            if watch.state(talking) == "negotiating":  # frozen after cfp/propose, before accept
                os.kill(seller_pid, signal.SIGKILL)
                thid = talking
                break
            os.kill(seller_pid, signal.SIGCONT)
    finally:
        watch.close()
    assert thid is not None, f"never caught a negotiation in progress in {ATTEMPTS} tries"
    killed_at = time.time()

    def buyer_ended() -> str | None:
        record = deal(home, "buyer", thid)
        return record.state if record is not None and record.state in ("failed", "declined") else None

    state = wait_for(buyer_ended, 30, "the buyer's interrupted thread to end")
    last = deal_events(home, "buyer", thid)[-1]
    assert last["event"] == state
    assert last["reason"], last
    assert whole(fleet)["seller"]["pid"] != seller_pid
    wait_for(lambda: released_after(fleet, killed_at), 90, "a deal released after the seller's restart")
    for name in ("buyer", "seller"):
        assert_ledger_whole(fleet, name)


def test_the_chain_stopped_and_started_again_with_its_state_and_agents_go_on(fleet: Path) -> None:
    home = home_of(fleet)
    before = whole(fleet)
    node = json.loads(home.node_file.read_text())
    os.kill(int(node["pid"]), signal.SIGTERM)  # anvil dumps its state on SIGTERM, as on `sova down`
    stopped_at = time.time()

    def restarted() -> dict[str, object] | None:
        now = json.loads(home.node_file.read_text())
        return now if now["pid"] != node["pid"] else None

    again = wait_for(restarted, 60, "the supervisor to start the chain again")
    assert again["url"] == node["url"]
    wait_for(lambda: released_after(fleet, stopped_at), 120, "a deal released after the chain restart")
    after = whole(fleet)
    crashed = [n for n in after if after[n]["pid"] != before[n]["pid"]]
    assert "buyer" not in crashed, "the buyer died with the chain"
    for name in ("issuer", "seller", "buyer"):
        assert_ledger_whole(fleet, name)
