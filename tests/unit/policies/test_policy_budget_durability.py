"""The budget's cheap paths (policies/budget.py): the rate-limit count commits without an fsync and prunes
at most once a minute, reads take no write lock; the limits they feed still hold."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

from policies import Budget, Intent, Reservation, SpendLimits, TokenInfo, evaluate, parse_policy
from policies.budget import DAY, PRUNE_EVERY

TUSD = TokenInfo(symbol="TUSD", address="0x" + "a1" * 20, decimals=6)
UNIT = 1_000_000


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def _action_rows(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT COUNT(*) FROM actions").fetchone()[0])


def test_rate_limit_counts_still_limit(tmp_path: Path) -> None:
    policy = parse_policy(
        """
        version: 1
        rules:
          - {kind: allow_skills, skills: [send_message]}
          - {kind: rate_limit, max: 3, per: 60s}
        """,
        tokens=[TUSD],
    )
    intent = Intent(skill="send_message", agent="did:key:z6MkBuyer", chain_id=1)
    clock = Clock()
    with Budget(tmp_path / "b.db", clock=clock) as budget:
        verdicts = []
        for _ in range(4):
            facts = budget.facts_for("buyer", period=policy.rate_period)
            verdicts.append(evaluate(policy, intent, facts).verdict)
            if verdicts[-1] == "allow":
                budget.note_action("buyer")
            clock.now += 1
        assert verdicts == ["allow", "allow", "allow", "deny"]
        clock.now += 60
        facts = budget.facts_for("buyer", period=policy.rate_period)
        assert evaluate(policy, intent, facts).verdict == "allow"


def test_day_old_action_rows_are_dropped_at_most_once_a_minute(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "b.db"
    start = clock.now
    with Budget(path, clock=clock) as budget:
        budget.note_action("buyer")  # row A; this Budget's first count purges
        clock.now = start + DAY - 10
        budget.note_action("buyer")  # row B; purges, but A is 10 s short of a day old
        clock.now = start + DAY + 20
        budget.note_action("buyer")  # row C; A is day-old now, but the last purge was 30 s ago
        assert _action_rows(path) == 3
        assert budget.facts_for("buyer", period=timedelta(days=1)).actions_last_period == 2  # not A
        clock.now = start + DAY - 10 + PRUNE_EVERY
        budget.note_action("buyer")  # row D; a minute since the last purge: A goes
        assert _action_rows(path) == 3


def test_an_action_count_survives_reopening(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "b.db"
    with Budget(path, clock=clock) as budget:
        budget.note_action("buyer")
    with Budget(path, clock=clock) as budget:
        assert budget.facts_for("buyer", period=timedelta(minutes=1)).actions_last_period == 1


def test_reads_need_no_write_lock(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    with Budget(path, busy_timeout=0.2) as budget:
        held = budget.reserve("buyer", TUSD, "did:key:z6MkSeller", 5 * UNIT, SpendLimits(per_day=100 * UNIT))
        assert isinstance(held, Reservation)
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # another process is mid-write
            assert budget.spent("buyer", TUSD) == 5 * UNIT
            assert str(budget.facts_for("buyer", TUSD).spent_today) == "5"
            other.execute("ROLLBACK")
        finally:
            other.close()
