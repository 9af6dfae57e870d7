"""Spend budgets in SQLite: reserve -> commit / release, so parallel spends can never overshoot.

A spend first takes a `Reservation` (`Budget.reserve`), which counts against the limits at once; the
executor then commits it when the money moved, or releases it when nothing was sent. Limits are rolling
24 h windows counted from committed spends plus live reservations. A reservation neither committed nor
released within the TTL stops counting (a crashed process cannot block a budget forever); committing
it later still records the spend, because the money did move.

A *hold* is a reservation with a key and its own end (`Spend.key`, `Spend.until`): what a buyer's deal
signature commits. It counts for as long as it is live — past 24 h too, while the signature can still be
used — and the same key is held once: signing one deal twice holds its amount once, and the escrow open
that funds the deal takes the same key and commits it.

`admit` is the executor's one step before an effect: it checks and counts the action against the rate
limits and holds its spend in one transaction, so concurrent callers (one model turn's parallel tool
calls, several turns, several processes) can never pass a limit together. `reserve` and `note_action`
are its two halves, for callers that need only one.

Each reserve is one `BEGIN IMMEDIATE` transaction on a WAL database, so reservers in many threads and
processes sharing the file serialize on SQLite's write lock. Amounts are integers in base units, stored
as text (18-decimal tokens overflow SQLite's 64-bit integers) and summed in Python.

Durability (decision): reserve / commit / release commit with synchronous=FULL (fsynced: money limits
must survive a power cut). `note_action`, the rate-limit count run before every action, commits with
synchronous=NORMAL: the row is in the WAL before it returns, so a killed process loses nothing, and a
power cut loses at most the counts of the last moments before it (the next FULL commit or checkpoint
syncs them) — an under-count of a few recent actions for one rate window, never money. It drops rows
older than a day at most once a minute, not on every call. Reads (`facts_for`, `spent`) run in a
deferred transaction: one consistent snapshot, no write lock, nothing to commit.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from policies.errors import BudgetError
from policies.intent import Facts
from policies.spending import (
    DAY,
    ActionRate,
    Admitted,
    Refusal,
    Reservation,
    Spend,
    SpendLimits,
    hold,
    over_rate,
    token_key,
    window,
)
from policies.sqlite_migrate import Step, migrate
from policies.units import TokenInfo, format_units, normalize_id

PRUNE_EVERY = 60.0  # seconds between two purges of an agent's day-old action rows
__all__ = ["ActionRate", "Admitted", "Budget", "Refusal", "Reservation", "Spend", "SpendLimits"]
_SCHEMA = """
CREATE TABLE IF NOT EXISTS spends (
    id TEXT PRIMARY KEY, agent TEXT NOT NULL, token TEXT NOT NULL, counterparty TEXT,
    amount TEXT NOT NULL, state TEXT NOT NULL CHECK (state IN ('reserved', 'committed', 'released')),
    at REAL NOT NULL, expires_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS spends_window ON spends (agent, token, at);
CREATE TABLE IF NOT EXISTS actions (agent TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS actions_at ON actions (agent, at);
"""
# Holds are counted while live, past 24 h (issue 16): the window's second half reads them by state and end.
_HOLDS_INDEX = "CREATE INDEX IF NOT EXISTS spends_held ON spends (agent, token, state, expires_at);"
MIGRATIONS: tuple[Step, ...] = (
    ("spends and actions", _SCHEMA),
    ("index of live holds", _HOLDS_INDEX),
)  # policies.sqlite_migrate; append to change


class Budget:
    """Spend budgets and action counts of the agents sharing one SQLite file."""

    def __init__(
        self,
        path: str | Path,
        *,
        ttl: timedelta = timedelta(minutes=5),
        clock: Callable[[], float] = time.time,
        busy_timeout: float = 60.0,
    ) -> None:
        if not timedelta(0) < ttl <= timedelta(days=1):
            raise BudgetError("a reservation TTL must be between 0 and 24 h")
        self.path = Path(path)
        self._ttl, self._clock, self._busy = ttl.total_seconds(), clock, busy_timeout
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._pruned: dict[str, float] = {}  # agent -> when its old action rows were last dropped
        migrate(self._db(), MIGRATIONS, f"budget database {self.path}", BudgetError)

    # --- connections ---------------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            try:
                db = sqlite3.connect(
                    self.path, timeout=self._busy, isolation_level=None, check_same_thread=False
                )
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=FULL")
            except sqlite3.Error as exc:
                raise BudgetError(f"cannot open the budget database {self.path}: {exc}") from None
            self._local.db, self._local.full = db, True
            with self._lock:
                self._all.append(db)
        return db

    @contextmanager
    def _tx(self, *, durable: bool = True, write: bool = True) -> Iterator[sqlite3.Connection]:
        """One transaction on this thread's connection. `write`: BEGIN IMMEDIATE (the write lock from
        the start, so a check and its insert are atomic); else a deferred read (one snapshot, no lock).
        `durable`: the commit is fsynced (synchronous=FULL) or not (NORMAL; see the module docstring)."""
        db = self._db()
        try:
            if write and self._local.full is not durable:
                db.execute("PRAGMA synchronous=FULL" if durable else "PRAGMA synchronous=NORMAL")
                self._local.full = durable
            db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except sqlite3.Error as exc:
            raise BudgetError(f"budget database {self.path} is busy or broken: {exc}") from None
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        """Close every connection this Budget opened (in any thread)."""
        with self._lock:
            for db in self._all:
                db.close()
            self._all.clear()
        self._local = threading.local()

    def __enter__(self) -> Budget:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- spending ------------------------------------------------------------------------------

    def reserve(
        self,
        agent: str,
        token: TokenInfo | str,
        counterparty: str | None,
        amount: int,
        limits: SpendLimits,
        *,
        key: str | None = None,
        until: float | None = None,
    ) -> Reservation | Refusal:
        """Hold `amount` base units of `token` for `agent` if the limits allow, atomically across
        threads and processes; a Refusal says which limit stopped it. `key`/`until`: see `Spend`."""
        found = self._admit(agent, (), Spend(token, counterparty, amount, limits, key, until), count=False)
        return found if isinstance(found, Refusal) else _held(found)

    def admit(
        self, agent: str, *, rates: Iterable[ActionRate] = (), spend: Spend | None = None
    ) -> Admitted | Refusal:
        """Count one action of `agent` under `rates` and hold its `spend`, in one transaction: both or
        neither. The Refusal names the limit that stopped it."""
        return self._admit(agent, tuple(rates), spend, count=True)

    def _admit(
        self, agent: str, rates: tuple[ActionRate, ...], spend: Spend | None, *, count: bool
    ) -> Admitted | Refusal:
        if spend is not None:
            amount = spend.amount
            if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
                raise BudgetError(f"a reservation needs a positive amount in base units, got {amount!r}")
            per_action = spend.limits.per_action
            if per_action is not None and amount > per_action:
                _, show = token_key(spend.token)
                return Refusal(
                    "per_action", f"{show(amount)} is over the per-action limit of {show(per_action)}"
                )
        now = self._clock()
        prune = False
        if count:
            with self._lock:
                prune = now - self._pruned.get(agent, -PRUNE_EVERY) >= PRUNE_EVERY
                if prune:
                    self._pruned[agent] = now
        # An action that spends nothing commits without fsync (see the module docstring).
        with self._tx(durable=spend is not None) as db:
            now = self._clock()
            over = over_rate(db, agent, rates, now)
            if over is not None:
                return over
            reservation = None
            if spend is not None:
                held = hold(db, agent, spend, now, self._ttl)
                if isinstance(held, Refusal):
                    return held
                reservation = held
            if count:
                if prune:
                    db.execute("DELETE FROM actions WHERE agent = ? AND at < ?", (agent, now - DAY))
                db.execute("INSERT INTO actions VALUES (?, ?)", (agent, now))
        return Admitted(reservation)

    def commit(self, reservation: Reservation) -> None:
        """Record the reserved spend as done (also after the TTL: the money moved). Idempotent."""
        self._finish(reservation, "committed")

    def release(self, reservation: Reservation) -> None:
        """Give the reserved amount back (nothing was sent). Idempotent; refused after a commit."""
        self._finish(reservation, "released")

    def _finish(self, reservation: Reservation, state: str) -> None:
        with self._tx() as db:
            row = db.execute("SELECT state FROM spends WHERE id = ?", (reservation.id,)).fetchone()
            if row is None:
                raise BudgetError(f"no reservation {reservation.id} in {self.path}")
            if row[0] == state:
                return
            if row[0] != "reserved":
                raise BudgetError(f"reservation {reservation.id} was already {row[0]}; it cannot be {state}")
            db.execute(
                "UPDATE spends SET state = ?, at = ? WHERE id = ?", (state, self._clock(), reservation.id)
            )

    def spent(self, agent: str, token: TokenInfo | str, counterparty: str | None = None) -> int:
        """Base units committed or held in the last 24 h, in all or with one counterparty."""
        key, _ = token_key(token)
        with self._tx(write=False) as db:
            rows = window(db, agent, key, self._clock())
        party = None if counterparty is None else normalize_id(counterparty)
        return sum(int(a) for c, a in rows if counterparty is None or c == party)

    # --- actions and facts ---------------------------------------------------------------------

    def note_action(self, agent: str) -> None:
        """Count one action of `agent` now, for rate limits, checking none. Not fsynced (see the module
        docstring); rows older than a day are dropped at most every PRUNE_EVERY seconds (counts only
        look back a rate period of at most a day, so a few stale rows change nothing)."""
        self._admit(agent, (), None, count=True)

    def facts_for(
        self,
        agent: str,
        token: TokenInfo | None = None,
        *,
        period: timedelta | None = None,
        known: Iterable[str] = (),
        exclude: str | None = None,
    ) -> Facts:
        """Facts for `evaluate`: 24 h usage of `token` (committed + held), per counterparty too, actions
        in `period` (Policy.rate_period), counterparties ever paid plus `known`, and now. `exclude`: a
        hold left out of the usage (the escrow open that takes a deal's hold is judged without it)."""
        now = self._clock()
        with self._tx(write=False) as db:
            rows = window(db, agent, token.key, now, exclude) if token is not None else []
            actions = 0
            if period is not None:
                since = now - period.total_seconds()
                (actions,) = db.execute(
                    "SELECT COUNT(*) FROM actions WHERE agent = ? AND at > ?", (agent, since)
                ).fetchone()
            paid = db.execute(
                "SELECT DISTINCT counterparty FROM spends WHERE agent = ? AND state = 'committed' "
                "AND counterparty IS NOT NULL",
                (agent,),
            ).fetchall()
        decimals = token.decimals if token is not None else 0
        per_party: dict[str, int] = {}
        for party, amount in rows:
            if party is not None:
                per_party[party] = per_party.get(party, 0) + int(amount)
        return Facts(
            spent_today=format_units(sum(int(a) for _, a in rows), decimals),
            spent_today_with={p: format_units(v, decimals) for p, v in per_party.items()},
            actions_last_period=actions,
            known_counterparties=frozenset([p for (p,) in paid] + list(known)),
            now=datetime.fromtimestamp(now, UTC),
        )


def _held(admitted: Admitted) -> Reservation:
    assert admitted.reservation is not None
    return admitted.reservation
