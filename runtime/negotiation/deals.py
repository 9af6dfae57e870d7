"""The deals one agent takes part in, in a SQLite file per agent (mode 0600): what the negotiation agreed
and how far settlement went. The protocol's thread store says which messages may come next; this store
keeps what they meant: the price, the signed `Deal`, the escrow transactions, and why a deal ended.

    state       negotiating -> agreed -> signed -> funded -> delivered -> released
                any step    -> declined (no deal: the reason says why)
                (seller) negotiating / agreed -> canceled (CancelTask, or the buyer's reject)
                funded / delivered past the deadline -> refunded
                negotiating / agreed / signed (no escrow) past the deadline -> expired (expiry.py)
                a delivery that does not match the terms -> disputed
                (seller) funded -> failed: the service had no output; refunded once the refund is made

Keyed like threads: (peer DID, thid). Each call is one small statement (tens of microseconds), fine to
make from asyncio code. Thread safe; close() when done.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from identity.sqlite_migrate import Step
from runtime.negotiation.payloads import INLINE_MAX, Payloads
from runtime.sqlite_store import SqliteStore

if TYPE_CHECKING:
    from runtime.ledger.sink import LedgerSink

Role = Literal["buyer", "seller"]
REFUNDABLE: Final = ("funded", "delivered", "disputed")
"""States whose escrow a buyer may take back once the deadline has passed."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deals (
    peer       TEXT    NOT NULL,
    thid       TEXT    NOT NULL,
    role       TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    item       TEXT    NOT NULL,
    token      TEXT    NOT NULL,
    price      TEXT    NOT NULL,
    terms_hash TEXT    NOT NULL,
    deal       TEXT    NOT NULL,
    deal_id    TEXT    NOT NULL,
    deadline   INTEGER NOT NULL,
    txs        TEXT    NOT NULL,
    reason     TEXT    NOT NULL,
    started    REAL    NOT NULL,
    updated    REAL    NOT NULL,
    PRIMARY KEY (peer, thid)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS deals_state ON deals (state, deadline);
"""
WORK_COLUMNS: Final = ("quote", "input", "input_hash", "output", "output_hash")
"""The service's side of a deal (runtime/negotiation/payloads.py), added to the table in this one place:
the service's price for the input, the input and output as canonical JSON text when inline (empty when
kept as a file beside the store, or not there yet), and their keccak256 hashes."""
MIGRATIONS: tuple[Step, ...] = (
    ("deals", _SCHEMA),
    (
        "service inputs and outputs",
        "".join(f"ALTER TABLE deals ADD COLUMN {c} TEXT NOT NULL DEFAULT '';" for c in WORK_COLUMNS),
    ),
)
"""The schema's versions (identity.sqlite_migrate); append a step to change it."""
_COLUMNS = (
    "peer, thid, role, state, item, token, price, terms_hash, deal, deal_id, deadline, txs, reason, started, "
    "updated, " + ", ".join(WORK_COLUMNS)
)
_SELECT = f"SELECT {_COLUMNS} FROM deals"  # noqa: S608 - constants only
_MARKS = ",".join("?" * (15 + len(WORK_COLUMNS)))


@dataclass(frozen=True)
class DealRecord:
    """One deal from this agent's side. `price` is the agreed price once agreed, before that the last
    offer this agent made (a decimal string in token units); `deal` the DealTerms both sign (the
    `sign_deal` skill's arguments); `txs` escrow transaction hashes by step (approve, open, release,
    refund)."""

    peer: str
    thid: str
    role: Role
    state: str = "negotiating"
    item: str = ""
    token: str = "TUSD"
    price: str = ""
    terms_hash: str = ""
    deal: dict[str, Any] | None = None
    deal_id: str = ""
    deadline: int = 0
    txs: dict[str, str] = field(default_factory=dict)
    reason: str = ""
    started: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    quote: str = ""
    input: str = ""
    input_hash: str = ""
    output: str = ""
    output_hash: str = ""


class DealStore(SqliteStore):
    """Deal records in the SQLite file `path`."""

    def __init__(self, path: str | os.PathLike[str], *, inline_max: int = INLINE_MAX) -> None:
        super().__init__(path, "deal store", MIGRATIONS)
        self.payloads = Payloads(Path(path).parent / "deal-payloads", inline_max)
        """Inputs and outputs: inline in a row up to `inline_max` bytes, else files beside the store."""

    def get(self, peer: str, thid: str) -> DealRecord | None:
        """The deal in thread (peer, thid), or None."""
        with self._lock:
            row = self._db().execute(f"{_SELECT} WHERE peer = ? AND thid = ?", (peer, thid)).fetchone()
        return None if row is None else _record(row)

    def put(self, record: DealRecord) -> DealRecord:
        """Insert or replace a record (its `updated` set to now); the record as stored."""
        record = replace(record, updated=time.time())
        row = (
            record.peer, record.thid, record.role, record.state, record.item, record.token, record.price,
            record.terms_hash, json.dumps(record.deal), record.deal_id, record.deadline,
            json.dumps(record.txs, sort_keys=True), record.reason[:500], record.started, record.updated,
            record.quote, record.input, record.input_hash, record.output, record.output_hash,
        )  # fmt: skip
        with self._lock:
            self._db().execute(
                f"INSERT OR REPLACE INTO deals ({_COLUMNS}) VALUES ({_MARKS})",  # noqa: S608
                row,
            )
        return record

    def update(self, peer: str, thid: str, **changes: Any) -> DealRecord:
        """Change some fields of an existing record (`txs` given is merged into the old ones)."""
        current = self.get(peer, thid)
        if current is None:
            raise KeyError(f"no deal in thread {thid[:60]} with {peer[:60]}")
        if "txs" in changes:
            changes["txs"] = {**current.txs, **changes["txs"]}
        return self.put(replace(current, **changes))

    async def advance(
        self,
        ledger: LedgerSink | None,
        record: DealRecord,
        event: str,
        changes: Mapping[str, Any] | None = None,
        /,
        **data: Any,
    ) -> DealRecord:
        """One deal step, the one way a deal moves on: the record's `changes` stored (as `update`; none:
        left as it is), then the ledger's `deal` entry for `event` with `data` as its details. The
        record as stored. The store is written first: a crash in between leaves a step the ledger
        has not heard of, never a ledger entry for a step the store lost."""
        if changes:
            record = self.update(record.peer, record.thid, **changes)
        if ledger is not None:
            entry = {"thid": record.thid, "peer": record.peer, "role": record.role, "event": event, **data}
            # bookkeeping: the message that leaves next carries its own barrier
            await ledger.append_async("deal", entry, barrier=False)
        return record

    def all(self) -> list[DealRecord]:
        """Every deal, most recently updated first."""
        with self._lock:
            rows = self._db().execute(f"{_SELECT} ORDER BY updated DESC").fetchall()
        return [_record(r) for r in rows]

    def with_peer(self, peer: str, role: Role) -> list[DealRecord]:
        """This agent's deals with `peer` in `role`, most recently updated first (the primary key's
        prefix: one index range)."""
        query = f"{_SELECT} WHERE peer = ? AND role = ? ORDER BY updated DESC"
        with self._lock:
            rows = self._db().execute(query, (peer, role)).fetchall()
        return [_record(r) for r in rows]

    def in_states(self, role: Role, states: tuple[str, ...]) -> list[DealRecord]:
        """This agent's deals in `role` whose state is one of `states`, oldest update first."""
        marks = ",".join("?" * len(states))
        query = f"{_SELECT} WHERE role = ? AND state IN ({marks}) ORDER BY updated"
        with self._lock:
            rows = self._db().execute(query, (role, *states)).fetchall()
        return [_record(r) for r in rows]

    def refundable(self, now: int) -> list[DealRecord]:
        """This agent's deals as buyer whose escrow is open and whose deadline is before `now`."""
        marks = ",".join("?" * len(REFUNDABLE))
        query = f"{_SELECT} WHERE role = 'buyer' AND state IN ({marks}) AND deadline > 0 AND deadline < ?"
        with self._lock:
            rows = self._db().execute(query, (*REFUNDABLE, now)).fetchall()
        return [_record(r) for r in rows]


def _record(row: tuple[Any, ...]) -> DealRecord:
    peer, thid, role, state, item, token, price, terms_hash, deal, deal_id, deadline, txs, reason = row[:13]
    started, updated, quote, input_, input_hash, output, output_hash = row[13:]
    return DealRecord(
        peer=str(peer), thid=str(thid), role="buyer" if role == "buyer" else "seller", state=str(state),
        item=str(item), token=str(token), price=str(price), terms_hash=str(terms_hash), deal=json.loads(deal),
        deal_id=str(deal_id), deadline=int(deadline), txs=dict(json.loads(txs)), reason=str(reason),
        started=float(started), updated=float(updated), quote=str(quote), input=str(input_),
        input_hash=str(input_hash), output=str(output), output_hash=str(output_hash),
    )  # fmt: skip
