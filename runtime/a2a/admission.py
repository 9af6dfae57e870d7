"""Admission control: who may open a negotiation thread with this agent, before anything is written.

A message in a thread that exists already is let through (the protocol checks it). A message that
would open a thread (`cfp`, `propose`) is first checked, from its signature alone (so a forged `from`
cannot spend another peer's budget), against:

    per peer    at most `new_threads_per_peer_per_minute` new threads a minute, and at most
                `open_threads_per_peer` threads it opened recently still not final;
    strangers   a peer with no AgentRegistry entry for its DID (a freshly made did:key costs nothing,
                a registry entry costs a transaction) shares, with every other stranger, a budget of
                `stranger_threads_per_minute` new threads a minute and `stranger_threads_per_day` a
                day (so what strangers add to the ledger is bounded per day, not only per minute),
                and its opening envelope may be at most `stranger_envelope_bytes` long (a known peer:
                the protocol's 60 KiB).

A refused message writes nothing to the ledger and spends nothing: it is answered with reason `busy`
(the peer may try again later) and counted in `refused`; agent.log gets at most one line a minute per
refusal class. Registry answers are cached (known: for the process's life; unknown: for a minute), and
at most `lookups_per_minute` lookups are made, so a flood of fresh DIDs cannot flood the chain node
either: past that budget an unknown DID counts as a stranger.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from identity.envelopes import signed_claims
from identity.keys import b64url_decode
from identity.untrusted_json import loads_untrusted
from runtime.a2a.protocol import ProtocolError
from runtime.a2a.threads import ThreadStore

__all__ = ["Admission", "AdmissionLimits", "Known", "Refused", "registered"]

log = logging.getLogger(__name__)

Known = Callable[[str], Awaitable[bool]]
"""Whether a DID has an AgentRegistry entry (raises on a chain error: then it counts as a stranger)."""

_OPENERS = frozenset({"cfp", "propose"})
_IN_FLIGHT = 10.0
"""Seconds a thread admitted here may take to reach the thread store before it counts as refused."""


@dataclass(frozen=True)
class AdmissionLimits:
    """The budgets of admission control (see the module docstring)."""

    new_threads_per_peer_per_minute: int = 600
    open_threads_per_peer: int = 64
    stranger_threads_per_minute: int = 10
    stranger_threads_per_day: int = 500
    stranger_envelope_bytes: int = 8 * 1024
    lookups_per_minute: int = 60


class Refused(ProtocolError):
    """A message refused by admission control (reason `busy`): `kind` names the class (for logs)."""

    def __init__(self, kind: str, why: str) -> None:
        super().__init__(f"not admitted: {why}", reason="busy")
        self.kind = kind


class _Window:
    """A count of events in the current window of `period` seconds (a minute unless said)."""

    def __init__(self, limit: int, clock: Callable[[], float], period: float = 60.0) -> None:
        self.limit = limit
        self.clock = clock
        self.period = period
        self.start = -1e18
        self.used = 0

    def take(self) -> bool:
        now = self.clock()
        if now - self.start >= self.period:
            self.start, self.used = now, 0
        if self.used >= self.limit:
            return False
        self.used += 1
        return True


class Admission:
    """The admission check of one agent's A2A endpoint: `await admit(jws)` raises Refused or returns."""

    def __init__(
        self,
        threads: ThreadStore,
        known: Known | None = None,
        limits: AdmissionLimits | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_peers: int = 4096,
    ) -> None:
        self.threads = threads
        self.known = known
        self.limits = limits or AdmissionLimits()
        self.clock = clock
        self.max_peers = max_peers
        self.refused: dict[str, int] = {}
        """Refused messages by class, since start."""
        self._strangers = _Window(self.limits.stranger_threads_per_minute, clock)
        self._strangers_today = _Window(self.limits.stranger_threads_per_day, clock, 86400.0)
        self._lookups = _Window(self.limits.lookups_per_minute, clock)
        self._peers: OrderedDict[str, tuple[_Window, dict[str, float]]] = OrderedDict()
        self._verdicts: OrderedDict[str, tuple[bool, float]] = OrderedDict()
        self._logged: dict[str, float] = {}

    async def admit(self, jws: str) -> None:
        """Let the envelope through, or raise Refused (nothing is written either way)."""
        # Most messages continue a thread: their claimed type (unverified, cheap) lets them through to
        # the protocol, which verifies everything. Only an opening message costs a signature check here.
        if _claimed_type(jws) not in _OPENERS:
            return
        claims = signed_claims(jws)
        if claims is None:  # unreadable or forged: the protocol refuses it with its own reason
            return
        peer, type, thid = claims
        if type not in _OPENERS or self.threads.get(peer, thid) is not None:
            return
        window, opened = self._peer(peer)
        self._forget_closed(peer, opened)
        if len(opened) >= self.limits.open_threads_per_peer:
            self._refuse("open_threads", f"{self.limits.open_threads_per_peer} threads with this agent "
                          "are still open: finish or reject one first")  # fmt: skip
        if not window.take():
            self._refuse("peer_rate", f"more than {self.limits.new_threads_per_peer_per_minute} new "
                         "threads a minute from one peer: try again in a minute")  # fmt: skip
        if not await self._is_known(peer):
            if len(jws) > self.limits.stranger_envelope_bytes:
                self._refuse("stranger_size", f"an opening envelope from a peer not in AgentRegistry is "
                             f"at most {self.limits.stranger_envelope_bytes} bytes")  # fmt: skip
            if not self._strangers.take():
                self._refuse("strangers", "too many new threads from peers not in AgentRegistry this "
                             "minute: register the agent, or try again in a minute")  # fmt: skip
            if not self._strangers_today.take():
                self._refuse("strangers_today", "too many new threads from peers not in AgentRegistry "
                             "today: register the agent, or try again tomorrow")  # fmt: skip
        opened[thid] = self.clock()

    def _forget_closed(self, peer: str, opened: dict[str, float]) -> None:
        """Drop from `opened` the threads now final, and those the protocol never stored (refused)
        once a few seconds old (younger ones may still be on their way to the thread store)."""
        now = self.clock()
        for thid, at in list(opened.items()):
            state = self.threads.get(peer, thid)
            if (state is not None and state.final) or (state is None and now - at > _IN_FLIGHT):
                del opened[thid]

    def _peer(self, peer: str) -> tuple[_Window, dict[str, float]]:
        entry = self._peers.get(peer)
        if entry is None:
            window = _Window(self.limits.new_threads_per_peer_per_minute, self.clock)
            entry = self._peers[peer] = (window, {})
            if len(self._peers) > self.max_peers:
                self._peers.popitem(last=False)
        self._peers.move_to_end(peer)
        return entry

    async def _is_known(self, peer: str) -> bool:
        if self.known is None:
            return True
        now = self.clock()
        cached = self._verdicts.get(peer)
        if cached is not None and (cached[0] or now - cached[1] < 60.0):
            return cached[0]
        if not self._lookups.take():
            return False
        try:
            verdict = await self.known(peer)
        except Exception as exc:  # a chain error: a stranger for now, asked again next time
            self._log("lookup", f"AgentRegistry lookup failed ({type(exc).__name__}: {exc})"[:300])
            return False
        self._verdicts[peer] = (verdict, now)
        if len(self._verdicts) > self.max_peers:
            self._verdicts.popitem(last=False)
        return verdict

    def _refuse(self, kind: str, why: str) -> None:
        self.refused[kind] = self.refused.get(kind, 0) + 1
        self._log(kind, f"admission: refused a new thread ({kind}): {why}")
        raise Refused(kind, why)

    def _log(self, kind: str, line: str) -> None:
        now = self.clock()
        if now - self._logged.get(kind, -1e18) < 60.0:
            return
        self._logged[kind] = now
        total = self.refused.get(kind, 0)
        log.warning("%s (%d so far; at most one such line a minute)", line, total)


def registered(registry: Any) -> Known:
    """`Known` from AgentRegistry: a DID is known when the registry holds an agent for it. `registry`
    is a runtime.chain.registry.Registry (not imported: the a2a layer does not depend on the chain's)."""

    async def known(did: str) -> bool:
        return int(await registry.contract.call("agentIdOfDid", did)) != 0

    return known


def _claimed_type(jws: Any) -> object:
    """The `type` an envelope claims (unverified), or None when it cannot be read."""
    parts = jws.split(".") if isinstance(jws, str) else ()
    if len(parts) != 3:
        return None
    try:
        payload = loads_untrusted(b64url_decode(parts[1]))
    except (ValueError, RecursionError):
        return None
    return payload.get("type") if isinstance(payload, dict) else None
