"""Holds and admission: a deal signature holds its amount while it can be used, an escrow open takes the
hold over, and `admit` checks a rate limit and takes a spend in one step, also against racing threads."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

from policies import (
    ActionRate,
    Admitted,
    Budget,
    Refusal,
    Reservation,
    Spend,
    SpendLimits,
    TokenInfo,
)

TUSD = TokenInfo(symbol="TUSD", address="0x" + "a1" * 20, decimals=6)
UNIT = 1_000_000
SELLER = "0x" + "b2" * 20
LIMITS = SpendLimits(per_action=50 * UNIT, per_day=200 * UNIT, per_counterparty_day=100 * UNIT)
DAY = 86_400.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def hold(
    budget: Budget, key: str, amount: int = 12 * UNIT, until: float | None = None
) -> Reservation | Refusal:
    return budget.reserve("buyer", TUSD, SELLER, amount, LIMITS, key=key, until=until)


def test_a_hold_counts_until_its_end_even_past_a_day(tmp_path: Path) -> None:
    clock = Clock()
    with Budget(tmp_path / "b.sqlite", clock=clock) as budget:
        assert isinstance(hold(budget, "deal:1", until=clock.now + 3 * DAY), Reservation)
        clock.now += 2 * DAY  # a plain reservation would have lapsed twice over
        assert budget.spent("buyer", TUSD) == 12 * UNIT
        clock.now += 1.01 * DAY  # the deal's deadline passed: its signature opens nothing now
        assert budget.spent("buyer", TUSD) == 0


def test_the_same_deal_is_held_once(tmp_path: Path) -> None:
    with Budget(tmp_path / "b.sqlite") as budget:
        first = hold(budget, "deal:1")
        again = hold(budget, "deal:1")
        assert isinstance(first, Reservation)
        assert isinstance(again, Reservation)
        assert first.id == again.id == "deal:1"
        assert budget.spent("buyer", TUSD) == 12 * UNIT


def test_distinct_deals_are_held_until_the_counterparty_limit(tmp_path: Path) -> None:
    with Budget(tmp_path / "b.sqlite") as budget:
        held = [hold(budget, f"deal:{n}") for n in range(9)]
        assert [isinstance(h, Reservation) for h in held] == [True] * 8 + [False]
        refusal = held[-1]
        assert isinstance(refusal, Refusal)
        assert refusal.limit == "per_counterparty_day"
        assert "96 TUSD spent or held" in refusal.message


def test_an_open_takes_the_hold_and_commits_it_without_counting_twice(tmp_path: Path) -> None:
    with Budget(tmp_path / "b.sqlite") as budget:
        signed = hold(budget, "deal:1", until=2e9)
        opened = hold(budget, "deal:1")  # the escrow open asks for the same key
        assert isinstance(signed, Reservation)
        assert isinstance(opened, Reservation)
        budget.commit(opened)
        assert budget.spent("buyer", TUSD) == 12 * UNIT
        facts = budget.facts_for("buyer", TUSD, exclude="deal:1")
        assert facts.spent_today == 0  # the open is judged without its own hold


def test_a_hold_for_another_amount_under_the_same_key_is_refused(tmp_path: Path) -> None:
    import pytest

    from policies import BudgetError

    with Budget(tmp_path / "b.sqlite") as budget:
        hold(budget, "deal:1")
        with pytest.raises(BudgetError, match="another agent, token or amount"):
            hold(budget, "deal:1", amount=13 * UNIT)


def test_admit_counts_the_action_and_takes_the_spend_together(tmp_path: Path) -> None:
    rate = ActionRate(2, timedelta(seconds=60))
    with Budget(tmp_path / "b.sqlite") as budget:
        spend = Spend(TUSD, SELLER, 150 * UNIT, LIMITS)  # over per_action: refused, and not counted
        refused = budget.admit("buyer", rates=[rate], spend=spend)
        assert isinstance(refused, Refusal)
        assert refused.limit == "per_action"
        ok = [budget.admit("buyer", rates=[rate], spend=Spend(TUSD, SELLER, UNIT, LIMITS)) for _ in range(3)]
        assert [isinstance(a, Admitted) for a in ok] == [True, True, False]
        last = ok[-1]
        assert isinstance(last, Refusal)
        assert last.limit == "rate_limit"
        assert "2 actions in the last 60s: the limit is 2 per 60s" in last.message
        assert budget.spent("buyer", TUSD) == 2 * UNIT  # the refused third holds nothing


def test_racing_threads_never_pass_a_rate_limit_together(tmp_path: Path) -> None:
    rate = ActionRate(120, timedelta(seconds=60))
    barrier = threading.Barrier(26)
    results: list[bool] = []

    with Budget(tmp_path / "b.sqlite") as budget:

        def race() -> None:
            barrier.wait()
            for _ in range(5):
                results.append(isinstance(budget.admit("buyer", rates=[rate]), Admitted))

        threads = [threading.Thread(target=race) for _ in range(26)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(results) == 130
    assert results.count(True) == 120
