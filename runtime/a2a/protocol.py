"""The agent-to-agent protocol core: signed envelopes in, signed envelopes out, per-thread order, ledger.

Transport-free: runtime/a2a/server.py feeds it what arrives over A2A (`receive`), runtime/a2a/client.py
what this agent sends (`prepare`, then `complete` or `fail`).

    receive   verify_envelope (signature, `to`, iat/exp, nonce) -> the body is an object -> the thread's
              state machine -> the handler decides -> each reply: state machine, signed -> ledger:
              `message_in` and one `message_out` per reply -> thread state saved -> replies answered
    send      state machine (checked) -> signed -> sent -> the peer accepts -> its replies go through
              the checks of `receive` -> ledger: `message_out` and one `message_in` per reply ->
              thread state saved; the peer refuses or is unreachable -> `message_out`, `message_failed`

Everything one exchange writes goes to the ledger together (one commit when the sink has `append_many`),
and the thread state moves only after that write, so the state is never ahead of the ledger. The one
gap, by design: a crash while a request travels loses the record of a message the peer may have taken
(the peer's ledger holds it, signed by this agent; the thread here did not move).

A refused incoming message changes nothing but the replay store (its nonce is spent) and writes one
entry, `rejected`, with a reason code and one line; at most `max_rejected_per_minute` of those are
written, the rest are counted in the next one (`suppressed`), so junk cannot flood the ledger.
The per-thread lock is held while the handler decides, so a thread's messages are taken one at a time;
a handler must return its replies rather than send in its own thread (that is refused, not deadlocked).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import secrets
import weakref
from dataclasses import dataclass, field
from typing import Any

from identity.envelopes import DEFAULT_TTL, Envelope, sign_envelope, verify_envelope
from identity.errors import InvalidEnvelope
from identity.keys import IdentityKey
from identity.replay import ReplayStore
from runtime.a2a.handler import NegotiationHandler, ScriptedHandler
from runtime.a2a.protocol_log import ProtocolLog, one_line
from runtime.a2a.threads import OutOfOrder, ThreadState, ThreadStore, advance
from runtime.a2a.x402_ext import PaidTasks
from runtime.errors import SovaError
from runtime.ledger.peer_heads import HEAD_FIELD, HeadSource, PeerHeads
from runtime.ledger.sink import Item, LedgerSink

__all__ = ["Delivery", "LedgerSink", "Negotiator", "Outgoing", "ProtocolError"]

log = logging.getLogger(__name__)

MAX_ENVELOPE = 60 * 1024
"""Largest envelope accepted or sent (the HTTP body limit is 64 KiB)."""
_deciding: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("deciding", default=None)


class ProtocolError(SovaError):
    """A message refused by the protocol. `reason` is a code: the envelope's (bad_signature,
    wrong_sender, wrong_recipient, expired, not_yet_valid, too_long_lived, replayed, malformed), or
    out_of_order, unknown_type, unsigned, unexpected_sender, unexpected_thread, busy_thread,
    unknown_peer, peer_rejected, unreachable."""

    def __init__(self, message: str, *, reason: str, peer_reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.peer_reason = peer_reason
        """For peer_rejected: the peer's own reason code (bad_signature, out_of_order, …)."""


@dataclass(frozen=True)
class Outgoing:
    """A signed message on its way out."""

    to: str
    type: str
    thid: str
    jws: str
    nonce: str

    def entry(self) -> Item:
        """Its `message_out` ledger entry."""
        data = {"peer": self.to, "thid": self.thid, "type": self.type, "nonce": self.nonce, "jws": self.jws}
        return "message_out", data


@dataclass
class Delivery:
    """A message the peer took: the thread's new state, the replies that verified, and (reason, why) of
    those that did not."""

    sent: Outgoing
    state: ThreadState
    replies: list[Envelope] = field(default_factory=list)
    refused_replies: list[tuple[str, str]] = field(default_factory=list)


class Negotiator:
    """One agent's side of the protocol: its key, replay store, thread store, ledger and handler."""

    def __init__(
        self,
        key: IdentityKey,
        *,
        replay: ReplayStore,
        threads: ThreadStore,
        ledger: LedgerSink,
        handler: NegotiationHandler | None = None,
        ttl: int = DEFAULT_TTL,
        max_rejected_per_minute: int = 120,
        head: HeadSource | None = None,
        peer_heads: PeerHeads | None = None,
    ) -> None:
        self._key = key
        self.head = head  # this agent's ledger head, sent in every body (runtime/ledger/peer_heads.py)
        self.peer_heads = peer_heads  # the heads peers send, kept per peer DID
        self.replay = replay
        self.threads = threads
        self.log = ProtocolLog(ledger, max_rejected_per_minute)
        self.handler: NegotiationHandler = handler or ScriptedHandler()
        self.paid_tasks: PaidTasks | None = None  # services sold per call over A2A (a2a/x402_ext.py)
        self.ttl = ttl
        self._locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock]
        self._locks = weakref.WeakValueDictionary()

    @property
    def did(self) -> str:
        """This agent's DID (the `to` of every envelope it accepts)."""
        return self._key.did

    def thread(self, peer: str, thid: str) -> ThreadState | None:
        """The state of thread `thid` with `peer`, or None."""
        return self.threads.get(peer, thid)

    # ----------------------------------------------------------------- incoming

    async def receive(self, jws: str) -> list[str]:
        """Take one incoming envelope; the signed replies to send back. Raises ProtocolError (after
        logging `rejected`) when the envelope is refused."""
        try:
            envelope = self._verify(jws)
        except ProtocolError as exc:
            await self.record_rejected(exc.reason, str(exc), jws)
            raise
        peer, thid = envelope.sender, envelope.thid
        async with self._lock(peer, thid):
            try:
                state = advance(
                    self.threads.get(peer, thid), peer=peer, thid=thid, type=envelope.type, by_us=False
                )
            except OutOfOrder as exc:
                await self.record_rejected(exc.reason, str(exc), jws)
                raise ProtocolError(str(exc), reason=exc.reason) from None
            entries: list[Item] = [_entry_in(envelope, state.state)]
            replies: list[str] = []
            token = _deciding.set((peer, thid))
            try:
                answers = list(await self.handler.on_message(envelope, state))
            except Exception:  # a broken handler must not break the protocol: the message stays accepted
                log.exception("negotiation handler failed on %s in thread %s", envelope.type, thid)
                answers = []
            finally:
                _deciding.reset(token)
            for answer in answers:
                try:
                    after = advance(state, peer=peer, thid=thid, type=answer.type, by_us=True)
                    out = self._sign(peer, answer.type, thid, answer.body)
                except (OutOfOrder, ProtocolError, AttributeError, TypeError) as exc:  # a bad Reply
                    log.warning("handler reply %r in thread %s not sent: %s", answer, thid, exc)
                    continue
                state = after
                entries.append(out.entry())
                replies.append(out.jws)
            # A barrier when signed replies leave the process right after (runtime.a2a.protocol_log).
            await self.log.write(entries, barrier=bool(replies))
            self.threads.put(state)
        return replies

    # ----------------------------------------------------------------- outgoing

    def prepare(self, to: str, type: str, thid: str, body: dict[str, Any]) -> Outgoing:
        """Check a message against its thread and sign it; nothing is written yet. Raises ProtocolError
        (out_of_order, unknown_type, malformed, busy_thread)."""
        if _deciding.get() == (to, thid):
            raise ProtocolError(
                "a handler cannot send in its own thread: return a Reply", reason="busy_thread"
            )
        try:
            advance(self.threads.get(to, thid), peer=to, thid=thid, type=type, by_us=True)
        except OutOfOrder as exc:
            raise ProtocolError(f"not sent: {exc}", reason=exc.reason) from None
        return self._sign(to, type, thid, body)

    async def complete(self, out: Outgoing, reply_jws: list[str]) -> Delivery:
        """The peer took `out` and answered `reply_jws`: check the replies, write it all to the ledger,
        move the thread. Raises ProtocolError(out_of_order) if the thread moved meanwhile."""
        async with self._lock(out.to, out.thid):
            try:
                state = advance(self.threads.get(out.to, out.thid), peer=out.to, thid=out.thid, type=out.type,
                                by_us=True)  # fmt: skip
            except OutOfOrder as exc:
                await self.fail(out, "out_of_order", f"sent, but the thread moved meanwhile: {exc}")
                raise ProtocolError(str(exc), reason="out_of_order") from None
            delivery = Delivery(sent=out, state=state)
            entries: list[Item] = [out.entry()]
            for jws in reply_jws:
                try:
                    envelope = self._verify(jws, peer=out.to, thid=out.thid)
                    state = advance(state, peer=out.to, thid=out.thid, type=envelope.type, by_us=False)
                except (ProtocolError, OutOfOrder) as exc:
                    reason = exc.reason
                    delivery.refused_replies.append((reason, str(exc)))
                    rejected = self.log.rejected(reason, str(exc), jws)
                    if rejected is not None:
                        entries.append(rejected)
                    continue
                entries.append(_entry_in(envelope, state.state))
                delivery.replies.append(envelope)
            await self.log.write(entries, barrier=False)  # `out` already left; nothing leaves on this
            self.threads.put(state)
            delivery.state = state
        return delivery

    async def fail(self, out: Outgoing, reason: str, why: str) -> None:
        """`out` did not get through (refused or unreachable): record `message_out` and `message_failed`;
        the thread does not move."""
        data = {"peer": out.to, "thid": out.thid, "type": out.type, "nonce": out.nonce, "reason": reason,
                "why": one_line(why)}  # fmt: skip
        await self.log.write([out.entry(), ("message_failed", data)], barrier=False)

    # ----------------------------------------------------------------- helpers

    def _sign(self, to: str, type: str, thid: str, body: dict[str, Any]) -> Outgoing:
        if not isinstance(body, dict):
            raise ProtocolError("not sent: the body must be a JSON object", reason="malformed")
        own = self.head.current() if self.head is not None else None
        if own is not None:
            body = {**body, HEAD_FIELD: own}
        nonce = secrets.token_urlsafe(16)
        try:
            jws = sign_envelope(self._key, type=type, thid=thid, to=to, body=body, ttl=self.ttl, nonce=nonce)
        except ValueError as exc:
            raise ProtocolError(f"not sent: {exc}", reason="malformed") from None
        if len(jws) > MAX_ENVELOPE:
            raise ProtocolError(f"not sent: the envelope is over {MAX_ENVELOPE} bytes", reason="malformed")
        return Outgoing(to=to, type=type, thid=thid, jws=jws, nonce=nonce)

    def _verify(self, jws: Any, *, peer: str | None = None, thid: str | None = None) -> Envelope:
        if not isinstance(jws, str) or not jws:
            raise ProtocolError("the message carries no signed envelope", reason="unsigned")
        if len(jws) > MAX_ENVELOPE:
            raise ProtocolError(f"the envelope is over {MAX_ENVELOPE} bytes", reason="malformed")
        try:
            envelope = verify_envelope(jws, recipient=self.did, replay=self.replay)
        except InvalidEnvelope as exc:
            raise ProtocolError(str(exc), reason=exc.reason) from None
        if peer is not None and envelope.sender != peer:
            what = f"a reply from {envelope.sender[:60]}, not from {peer[:60]}"
            raise ProtocolError(what, reason="unexpected_sender")
        if thid is not None and envelope.thid != thid:
            raise ProtocolError(
                f"a reply in thread {envelope.thid[:60]}, not {thid[:60]}", reason="unexpected_thread"
            )
        if not isinstance(envelope.body, dict):
            raise ProtocolError("the envelope body must be a JSON object", reason="malformed")
        if self.peer_heads is not None:
            self.peer_heads.seen(envelope.sender, envelope.body.get(HEAD_FIELD))
        return envelope

    async def record_rejected(self, reason: str, why: str, jws: str | None = None) -> None:
        """Write `rejected` (reason, one line, and what the message claimed, unverified), rate-limited."""
        entry = self.log.rejected(reason, why, jws)
        if entry is not None:
            await self.log.write([entry], barrier=False)

    def thread_lock(self, peer: str, thid: str) -> asyncio.Lock:
        """The lock held while a message of thread (peer, thid) is taken: hold it to change the thread's
        deal from outside a message (CancelTask), so no message of that thread runs meanwhile."""
        return self._lock(peer, thid)

    def _lock(self, peer: str, thid: str) -> asyncio.Lock:
        lock = self._locks.get((peer, thid))
        if lock is None:
            lock = self._locks[(peer, thid)] = asyncio.Lock()
        return lock


def _entry_in(envelope: Envelope, state: str) -> Item:
    return "message_in", {"peer": envelope.sender, "thid": envelope.thid, "type": envelope.type,
                          "nonce": envelope.nonce, "state": state, "jws": envelope.jws}  # fmt: skip
