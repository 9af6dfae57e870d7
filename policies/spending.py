"""What a spend is made of (limits, reservations, holds, refusals) and the checks `Budget` runs inside
its write transaction: rate counts (`over_rate`), holds (`hold`) and the usage that counts now
(`window`). policies/budget.py owns the file and its transactions; the rules are in its docstring.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta

from policies.errors import BudgetError
from policies.units import TokenInfo, format_duration, format_units, normalize_id

DAY = 86_400.0


def _tighter(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


@dataclass(frozen=True)
class SpendLimits:
    """Limits in integer base units; None means no limit of that kind."""

    per_action: int | None = None
    per_day: int | None = None
    per_counterparty_day: int | None = None

    def tighten(
        self, per_action: int | None, per_day: int | None, per_counterparty_day: int | None
    ) -> SpendLimits:
        """The stricter of these limits and the given ones."""
        return SpendLimits(
            _tighter(self.per_action, per_action),
            _tighter(self.per_day, per_day),
            _tighter(self.per_counterparty_day, per_counterparty_day),
        )


@dataclass(frozen=True)
class Reservation:
    """Base units held for one spend until committed, released or `expires_at` (unix seconds)."""

    id: str
    agent: str
    token: str
    counterparty: str | None
    amount: int
    expires_at: float


@dataclass(frozen=True)
class Spend:
    """What an action takes from a budget: `amount` base units of `token` with `counterparty`, under
    `limits`. `key` makes it a hold (held once per key; an existing live hold is taken as it is) and
    `until` (unix seconds) ends it instead of the TTL."""

    token: TokenInfo | str
    counterparty: str | None
    amount: int
    limits: SpendLimits
    key: str | None = None
    until: float | None = None


@dataclass(frozen=True)
class ActionRate:
    """At most `max` actions per `per`."""

    max: int
    per: timedelta


@dataclass(frozen=True)
class Admitted:
    """An action `admit` counted, with the reservation of its spend (None when it spends nothing)."""

    reservation: Reservation | None


@dataclass(frozen=True)
class Refusal:
    """Why an action or a reservation was refused: the limit (`per_action`, `per_day`,
    `per_counterparty_day`, `rate_limit`) and a line for the user."""

    limit: str
    message: str


def over_rate(db: sqlite3.Connection, agent: str, rates: Iterable[ActionRate], now: float) -> Refusal | None:
    """The Refusal of the first rate limit `agent` has reached, counted in the open transaction `db`."""
    for rate in rates:
        since = now - rate.per.total_seconds()
        (done,) = db.execute(
            "SELECT COUNT(*) FROM actions WHERE agent = ? AND at > ?", (agent, since)
        ).fetchone()
        if done >= rate.max:
            per = format_duration(rate.per)
            return Refusal(
                "rate_limit", f"{done} actions in the last {per}: the limit is {rate.max} per {per}"
            )
    return None


def hold(db: sqlite3.Connection, agent: str, spend: Spend, now: float, ttl: float) -> Reservation | Refusal:
    """Hold `spend` in the open write transaction `db` (see `Spend`): an existing live hold of its key
    as it is, else a new reservation if the limits allow."""
    key, show = token_key(spend.token)
    party = None if spend.counterparty is None else normalize_id(spend.counterparty)
    expires = now + ttl if spend.until is None else max(spend.until, now + ttl)
    if spend.key is not None:
        row = db.execute(
            "SELECT agent, token, counterparty, amount, state, expires_at FROM spends WHERE id = ?",
            (spend.key,),
        ).fetchone()
        if row is not None and (row[4] == "committed" or (row[4] == "reserved" and row[5] > now)):
            if (row[0], row[1], row[3]) != (agent, key, str(spend.amount)):
                raise BudgetError(f"hold {spend.key} is for another agent, token or amount")
            return Reservation(spend.key, agent, key, row[2], int(row[3]), float(row[5]))
    limits, amount = spend.limits, spend.amount
    rows = window(db, agent, key, now)
    day = sum(int(a) for _, a in rows)
    if limits.per_day is not None and day + amount > limits.per_day:
        return Refusal(
            "per_day",
            f"{show(day)} spent or held in the last 24 h + {show(amount)} would pass the daily "
            f"limit of {show(limits.per_day)}",
        )
    with_ = sum(int(a) for c, a in rows if c == party)
    if limits.per_counterparty_day is not None and with_ + amount > limits.per_counterparty_day:
        return Refusal(
            "per_counterparty_day",
            f"{show(with_)} spent or held with {spend.counterparty} in the last 24 h + {show(amount)} "
            f"would pass the per-counterparty limit of {show(limits.per_counterparty_day)}",
        )
    reservation = Reservation(spend.key or uuid.uuid4().hex, agent, key, party, amount, expires)
    db.execute(
        "INSERT OR REPLACE INTO spends VALUES (?, ?, ?, ?, ?, 'reserved', ?, ?)",
        (reservation.id, agent, key, party, str(amount), now, expires),
    )
    return reservation


def window(
    db: sqlite3.Connection, agent: str, token: str, now: float, exclude: str | None = None
) -> list[tuple[str | None, str]]:
    """(counterparty, amount) of what counts now: spends committed in the last 24 h, and every live
    reservation, however old (a hold lasts while its signature can be used)."""
    return db.execute(
        "SELECT counterparty, amount FROM spends WHERE agent = ? AND token = ? AND at > ? "
        "AND state = 'committed' AND id IS NOT ? "
        "UNION ALL SELECT counterparty, amount FROM spends WHERE agent = ? AND token = ? "
        "AND state = 'reserved' AND expires_at > ? AND id IS NOT ?",
        (agent, token, now - DAY, exclude, agent, token, now, exclude),
    ).fetchall()


def token_key(token: TokenInfo | str) -> tuple[str, Callable[[int], str]]:
    if isinstance(token, TokenInfo):
        return token.key, lambda v: f"{format_units(v, token.decimals)} {token.symbol}"
    return normalize_id(token), lambda v: f"{v} base units"
