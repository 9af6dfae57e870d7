"""Budgets in SQLite: parallel spends (threads and processes) never overshoot; reservations expire;
rolling 24 h windows; facts for the engine come from the same file."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from policies import (
    Budget,
    BudgetError,
    Facts,
    Intent,
    Refusal,
    Reservation,
    SpendLimits,
    TokenInfo,
    evaluate,
    parse_policy,
)
from tests.support.paths import REPO_ROOT

ROOT = REPO_ROOT
TUSD = TokenInfo(symbol="TUSD", address="0x" + "a1" * 20, decimals=6)
UNIT = 1_000_000
LIMIT_100 = SpendLimits(per_day=100 * UNIT)


class Clock:
    """A hand-moved clock, so expiry and windows are tested without sleeping."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def committed_total(path: Path) -> int:
    import sqlite3

    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT amount FROM spends WHERE state = 'committed'").fetchall()
    return sum(int(a) for (a,) in rows)


def spend_once(budget: Budget, barrier: threading.Barrier, results: list[bool]) -> None:
    barrier.wait()
    held = budget.reserve("buyer", TUSD, "did:key:z6MkSeller", 7 * UNIT, LIMIT_100)
    if isinstance(held, Reservation):
        budget.commit(held)
    results.append(isinstance(held, Reservation))


def test_200_threads_spending_7_against_100_succeed_exactly_14_times(tmp_path: Path) -> None:
    path = tmp_path / "budget.db"
    results: list[bool] = []
    with Budget(path) as budget:
        barrier = threading.Barrier(200)
        threads = [threading.Thread(target=spend_once, args=(budget, barrier, results)) for _ in range(200)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sum(results) == 14
        assert len(results) == 200
        assert budget.spent("buyer", TUSD) == 98 * UNIT
    assert committed_total(path) == 98 * UNIT


WORKER = textwrap.dedent(
    """
    import sys, threading
    from policies import Budget, Reservation, SpendLimits, TokenInfo
    tusd = TokenInfo(symbol="TUSD", address="0x" + "a1" * 20, decimals=6)
    budget = Budget(sys.argv[1])
    barrier, wins = threading.Barrier(50), []
    def go():
        barrier.wait()
        limits = SpendLimits(per_day=100_000_000)
        held = budget.reserve("buyer", tusd, "did:key:z6MkSeller", 7_000_000, limits)
        if isinstance(held, Reservation):
            budget.commit(held)
            wins.append(1)
    threads = [threading.Thread(target=go) for _ in range(50)]
    print("ready", flush=True)
    sys.stdin.readline()  # then all processes start spending together
    [t.start() for t in threads]; [t.join() for t in threads]
    print(len(wins))
    """
)


@pytest.mark.slow
def test_four_processes_of_50_threads_share_one_budget_file(tmp_path: Path) -> None:
    path = tmp_path / "budget.db"
    Budget(path).close()  # create the schema once; the workers open the same file
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(path)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for p in procs:
        assert p.stdout is not None
        assert p.stdout.readline() == "ready\n", p.stderr and p.stderr.read()
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outs]
    assert sum(int(out) for out, _ in outs) == 14
    assert committed_total(path) == 98 * UNIT


def test_reservations_count_until_released_and_expire_after_the_ttl(tmp_path: Path) -> None:
    clock = Clock()
    with Budget(tmp_path / "b.db", ttl=timedelta(seconds=60), clock=clock) as budget:
        first = budget.reserve("buyer", TUSD, None, 100 * UNIT, LIMIT_100)
        assert isinstance(first, Reservation)
        refused = budget.reserve("buyer", TUSD, None, 1, LIMIT_100)
        assert isinstance(refused, Refusal)
        assert refused.limit == "per_day"
        assert "0.000001 TUSD would pass the daily limit of 100 TUSD" in refused.message
        clock.now += 61  # the holder crashed: its reservation no longer counts
        second = budget.reserve("buyer", TUSD, None, 60 * UNIT, LIMIT_100)
        assert isinstance(second, Reservation)
        budget.release(second)
        budget.release(second)  # idempotent
        assert budget.spent("buyer", TUSD) == 0
        budget.commit(first)  # late commit after expiry: the money moved, so it counts again
        assert budget.spent("buyer", TUSD) == 100 * UNIT
        with pytest.raises(BudgetError, match="already committed"):
            budget.release(first)
        with pytest.raises(BudgetError, match="already released"):
            budget.commit(second)


def test_spends_leave_the_window_after_24_hours(tmp_path: Path) -> None:
    clock = Clock()
    with Budget(tmp_path / "b.db", clock=clock) as budget:
        held = budget.reserve("buyer", TUSD, None, 90 * UNIT, LIMIT_100)
        assert isinstance(held, Reservation)
        budget.commit(held)
        clock.now += 23 * 3600
        assert isinstance(budget.reserve("buyer", TUSD, None, 20 * UNIT, LIMIT_100), Refusal)
        clock.now += 3600 + 1
        assert isinstance(budget.reserve("buyer", TUSD, None, 20 * UNIT, LIMIT_100), Reservation)


def test_per_action_and_per_counterparty_limits_and_other_agents(tmp_path: Path) -> None:
    limits = SpendLimits(per_action=50 * UNIT, per_day=200 * UNIT, per_counterparty_day=60 * UNIT)
    with Budget(tmp_path / "b.db") as budget:
        over = budget.reserve("buyer", TUSD, "seller", 51 * UNIT, limits)
        assert isinstance(over, Refusal)
        assert over.limit == "per_action"
        assert isinstance(budget.reserve("buyer", TUSD, "seller", 50 * UNIT, limits), Reservation)
        refused = budget.reserve("buyer", TUSD, "seller", 11 * UNIT, limits)
        assert isinstance(refused, Refusal)
        assert refused.limit == "per_counterparty_day"
        assert isinstance(budget.reserve("buyer", TUSD, "other", 50 * UNIT, limits), Reservation)
        assert isinstance(budget.reserve("buyer2", TUSD, "seller", 50 * UNIT, limits), Reservation)
        with pytest.raises(BudgetError, match="positive amount"):
            budget.reserve("buyer", TUSD, None, 0, limits)


def test_facts_for_feed_the_engine(tmp_path: Path) -> None:
    clock = Clock()
    policy = parse_policy(
        """
        version: 1
        rules:
          - {kind: allow_skills, skills: [transfer_token]}
          - {kind: spend_limit, token: TUSD, per_day: "100", per_counterparty_day: "50"}
          - {kind: rate_limit, max: 2, per: 60s}
        """,
        tokens=[TUSD],
    )
    seller = "did:key:z6MkSeller"
    with Budget(tmp_path / "b.db", clock=clock) as budget:
        limits = policy.spend_limits("TUSD")
        assert limits == SpendLimits(per_day=100 * UNIT, per_counterparty_day=50 * UNIT)
        held = budget.reserve("buyer", TUSD, seller, 45 * UNIT, limits)
        assert isinstance(held, Reservation)
        budget.commit(held)
        budget.note_action("buyer")
        facts = budget.facts_for("buyer", TUSD, period=policy.rate_period)
        assert facts == Facts(
            spent_today="45",
            spent_today_with={seller: "45"},
            actions_last_period=1,
            known_counterparties=frozenset([seller]),
            now=facts.now,
        )
        intent = Intent(
            skill="transfer_token",
            agent="did:key:z6MkBuyer",
            chain_id=1,
            counterparty={"did": seller},
            token="TUSD",
            amount="6",
        )
        decision = evaluate(policy, intent, facts)
        assert decision.verdict == "deny"
        assert "per-counterparty limit of 50" in decision.reasons[1].message
        budget.note_action("buyer")
        clock.now += 1
        crowded = budget.facts_for("buyer", TUSD, period=policy.rate_period)
        assert crowded.actions_last_period == 2
        clock.now += 60
        assert budget.facts_for("buyer", TUSD, period=policy.rate_period).actions_last_period == 0


def test_a_budget_file_that_cannot_be_opened_is_a_budget_error(tmp_path: Path) -> None:
    with pytest.raises(BudgetError, match="cannot open the budget database"):
        Budget(tmp_path / "missing-dir" / "b.db")
