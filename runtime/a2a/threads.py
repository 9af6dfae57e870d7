"""The per-thread state machine of Sova negotiations, and the SQLite store of thread states.

A thread is one negotiation with one peer, keyed by (peer DID, thid): a thid alone is chosen by whoever
opens the thread, so a third party reusing it gets a thread of its own. Roles are fixed by the first
message: the sender of a `cfp` is the buyer, the sender of an opening `propose` is the seller.

    type            sent by         allowed in (state)                     -> new state
    cfp             buyer           (new thread)                           -> open
    propose         seller          (new thread), open                     -> offered
    counter         either          offered, by whoever did not make it    -> offered
    accept          either          offered, by whoever did not make it    -> accepted
    reject          either          open, offered, accepted, signed        -> rejected   (final)
    deal_signature  either, once    accepted                               -> accepted, or signed once both
    funded          buyer           signed; funded, delivered (re-sent)    -> funded
    deliver         seller          funded                                 -> delivered
    released        buyer           delivered                              -> released   (final)
    dispute         either          funded, delivered                      -> disputed   (final)

A `funded` may come again once the escrow is open: a buyer that restarted after funding does not know
whether the seller's delivery reached it, so it asks again and the seller delivers again
(runtime/negotiation/resume.py). Nothing else may repeat.

`advance` is pure: it returns the next state or raises `OutOfOrder`; the caller persists what it accepts.
The same table checks what this agent sends and what it receives, so both sides hold the same state.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Final, Literal

from identity.sqlite_migrate import Step
from runtime.errors import SovaError
from runtime.sqlite_store import SqliteStore

Role = Literal["buyer", "seller"]

MESSAGE_TYPES: Final = (
    "cfp", "propose", "counter", "accept", "reject", "deal_signature", "funded", "deliver", "released",
    "dispute",
)  # fmt: skip
FINAL_STATES: Final = frozenset({"released", "rejected", "disputed"})
_OPENERS: Final[dict[str, Role]] = {"cfp": "buyer", "propose": "seller"}
_ONLY_BY: Final[dict[str, Role]] = {
    "cfp": "buyer", "propose": "seller", "funded": "buyer", "deliver": "seller", "released": "buyer",
}  # fmt: skip
_FROM: Final[dict[str, frozenset[str]]] = {
    "propose": frozenset({"open"}),
    "counter": frozenset({"offered"}),
    "accept": frozenset({"offered"}),
    "reject": frozenset({"open", "offered", "accepted", "signed"}),
    "deal_signature": frozenset({"accepted"}),
    "funded": frozenset({"signed", "funded", "delivered"}),  # re-sent after a buyer restart
    "deliver": frozenset({"funded"}),
    "released": frozenset({"delivered"}),
    "dispute": frozenset({"funded", "delivered"}),
}
_TO: Final[dict[str, str]] = {
    "cfp": "open", "propose": "offered", "counter": "offered", "accept": "accepted", "reject": "rejected",
    "funded": "funded", "deliver": "delivered", "released": "released", "dispute": "disputed",
}  # fmt: skip


class OutOfOrder(SovaError):
    """A message that the thread's state does not allow (`reason` is "out_of_order" or "unknown_type")."""

    def __init__(self, message: str, *, reason: str = "out_of_order") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class ThreadState:
    """Where one negotiation stands. `role` is this agent's role; `offer_by` the role whose offer is on
    the table ("" when none); `signed` the roles whose deal signature came in."""

    peer: str
    thid: str
    role: Role
    state: str
    offer_by: str = ""
    signed: tuple[str, ...] = ()
    last_type: str = ""
    messages: int = 0
    updated: float = 0.0

    @property
    def final(self) -> bool:
        """True once nothing more may be sent in this thread."""
        return self.state in FINAL_STATES

    @property
    def peer_role(self) -> Role:
        """The counterparty's role."""
        return "seller" if self.role == "buyer" else "buyer"


def _other(role: Role) -> Role:
    return "seller" if role == "buyer" else "buyer"


def advance(current: ThreadState | None, *, peer: str, thid: str, type: str, by_us: bool) -> ThreadState:
    """The thread state after a message of `type` sent by this agent (`by_us`) or by `peer`.

    `current` is None for a thread not seen before. Raises OutOfOrder when the message is not allowed.
    """
    if type not in MESSAGE_TYPES:
        raise OutOfOrder(f"unknown message type {type[:40]!r}: expected one of {', '.join(MESSAGE_TYPES)}",
                         reason="unknown_type")  # fmt: skip
    if current is None:
        opener = _OPENERS.get(type)
        if opener is None:
            raise OutOfOrder(f"`{type}` cannot open thread {thid[:60]}: a thread starts with cfp or propose")
        role: Role = opener if by_us else _other(opener)
        current = ThreadState(peer=peer, thid=thid, role=role, state="new")
        allowed: frozenset[str] = frozenset({"new"})
    else:
        allowed = _FROM.get(type, frozenset())
    sender: Role = current.role if by_us else current.peer_role
    who = "this agent" if by_us else "the peer"
    if current.final:
        raise OutOfOrder(f"thread {thid[:60]} is closed ({current.state}): `{type}` refused")
    if current.state not in allowed:
        raise OutOfOrder(f"`{type}` is out of order in thread {thid[:60]} (state {current.state})")
    only = _ONLY_BY.get(type)
    if only is not None and only != sender:
        raise OutOfOrder(f"`{type}` comes from the {only}, but {who} is the {sender} in thread {thid[:60]}")
    if type in ("counter", "accept") and current.offer_by == sender:
        raise OutOfOrder(f"`{type}` by the {sender}, whose own offer is on the table in thread {thid[:60]}")
    new_state = _TO.get(type, current.state)
    offer_by = sender if type in ("propose", "counter") else current.offer_by
    signed = current.signed
    if type == "deal_signature":
        if sender in signed:
            raise OutOfOrder(f"the {sender} already sent its deal signature in thread {thid[:60]}")
        signed = tuple(sorted({*signed, sender}))
        new_state = "signed" if len(signed) == 2 else "accepted"
    return replace(
        current, state=new_state, offer_by=offer_by, signed=signed, last_type=type,
        messages=current.messages + 1, updated=time.time(),
    )  # fmt: skip


_SCHEMA = """
CREATE TABLE IF NOT EXISTS threads (
    peer      TEXT    NOT NULL,
    thid      TEXT    NOT NULL,
    role      TEXT    NOT NULL,
    state     TEXT    NOT NULL,
    offer_by  TEXT    NOT NULL,
    signed    TEXT    NOT NULL,
    last_type TEXT    NOT NULL,
    messages  INTEGER NOT NULL,
    updated   REAL    NOT NULL,
    PRIMARY KEY (peer, thid)
) WITHOUT ROWID;
"""
MIGRATIONS: tuple[Step, ...] = (("threads", _SCHEMA),)
"""The schema's versions (identity.sqlite_migrate); append a step to change it."""
_COLUMNS = "peer, thid, role, state, offer_by, signed, last_type, messages, updated"
_SELECT = f"SELECT {_COLUMNS} FROM threads"  # noqa: S608 - constants only


class ThreadStore(SqliteStore):
    """Thread states in the SQLite file `path` (mode 0600, WAL), the recent ones also cached in memory
    (this process is the file's only writer). Each call is at most one small statement (tens of
    microseconds), fine to make from asyncio code. Thread safe; close() when done."""

    def __init__(self, path: str | os.PathLike[str], *, cache_size: int = 4096) -> None:
        super().__init__(path, "thread store", MIGRATIONS)
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, str], ThreadState] = OrderedDict()

    def get(self, peer: str, thid: str) -> ThreadState | None:
        """The state of thread (peer, thid), or None when it was never opened."""
        key = (peer, thid)
        with self._lock:
            state = self._cache.get(key)
            if state is not None:
                self._cache.move_to_end(key)
                return state
            row = self._db().execute(f"{_SELECT} WHERE peer = ? AND thid = ?", key).fetchone()
            if row is None:
                return None
            state = _state(row)
            self._remember(state)
        return state

    def put(self, state: ThreadState) -> None:
        """Insert or replace a thread's state (committed before it returns)."""
        row = (
            state.peer, state.thid, state.role, state.state, state.offer_by, ",".join(state.signed),
            state.last_type, state.messages, state.updated,
        )  # fmt: skip
        with self._lock:
            self._db().execute(f"INSERT OR REPLACE INTO threads ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)", row)  # noqa: S608
            self._remember(state)

    def _remember(self, state: ThreadState) -> None:
        self._cache[(state.peer, state.thid)] = state
        self._cache.move_to_end((state.peer, state.thid))
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def all(self) -> list[ThreadState]:
        """Every thread, most recently updated first."""
        with self._lock:
            rows = self._db().execute(f"{_SELECT} ORDER BY updated DESC").fetchall()
        return [_state(r) for r in rows]


def _state(row: tuple[object, ...]) -> ThreadState:
    peer, thid, role, state, offer_by, signed, last_type, messages, updated = row
    return ThreadState(
        peer=str(peer), thid=str(thid), role="buyer" if role == "buyer" else "seller", state=str(state),
        offer_by=str(offer_by), signed=tuple(s for s in str(signed).split(",") if s),
        last_type=str(last_type), messages=int(str(messages)), updated=float(str(updated)),
    )  # fmt: skip
