"""What the protocol writes to the agent's ledger, and the limit on `rejected` entries.

Kinds: `message_in` / `message_out` (peer, thid, type, nonce, the full JWS, and for `message_in` the
thread's new state), `message_failed` (a message that did not get through: reason, one line) and
`rejected` (an incoming message refused: reason code, one line, and what it claimed to be — type, thid,
from, nonce — unverified; never its content). Everything of one exchange is written together, in one
commit (`LedgerSink.append_many_async`).

Durability (runtime.ledger.sync): a write is fsynced before it returns only when it is a barrier, which
`receive` asks for when it returns signed replies (they leave the process right after). A `message_in`
alone, `rejected`, and what `complete` / `fail` write for a message already sent are not barriers: they
reach the disk with the next barrier — at the latest the executor's decision before the next
`send_message` — or within a second.

Refusals cost the sender nothing, so their entries are rate-limited: at most `max_per_minute` are written,
the rest are counted and the count goes into the next one written (`suppressed`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from identity.keys import b64url_decode
from identity.untrusted_json import loads_untrusted
from runtime.ledger.sink import Item, LedgerSink

_MAX_CLAIMS = 256 * 1024


class ProtocolLog:
    """Writes protocol entries to a sink; builds rate-limited `rejected` entries."""

    def __init__(
        self,
        sink: LedgerSink,
        max_rejected_per_minute: int = 120,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sink = sink
        self.max_rejected_per_minute = max_rejected_per_minute
        self.clock = clock
        self._window = 0.0
        self._in_window = 0
        self._suppressed = 0

    async def write(self, entries: list[Item], *, barrier: bool = True) -> None:
        """Write `entries` in order, in one commit; returns once written, and fsynced when `barrier`."""
        if len(entries) == 1:
            await self.sink.append_async(*entries[0], barrier=barrier)
        elif entries:
            await self.sink.append_many_async(entries, barrier=barrier)

    def rejected(self, reason: str, why: str, jws: Any = None) -> Item | None:
        """The `rejected` entry for a refused message, or None when over the rate limit (then counted)."""
        now = self.clock()
        if now - self._window >= 60.0:
            self._window, self._in_window = now, 0
        if self._in_window >= self.max_rejected_per_minute:
            self._suppressed += 1
            return None
        self._in_window += 1
        data: dict[str, Any] = {"reason": reason, "why": one_line(why)}
        claims = _claims(jws) if isinstance(jws, str) else {}
        for name in ("type", "thid", "from", "nonce"):
            if isinstance(claims.get(name), str):
                data[f"claimed_{name}"] = claims[name][:128]
        if self._suppressed:
            data["suppressed"], self._suppressed = self._suppressed, 0
        return "rejected", data


def one_line(text: str) -> str:
    """`text` on one line, at most 300 characters."""
    return " ".join(text.split())[:300]


def _claims(jws: str) -> dict[str, Any]:
    """The payload of a compact JWS, unverified (for logging only); {} when it cannot be read."""
    parts = jws.split(".")
    if len(parts) != 3 or len(parts[1]) > _MAX_CLAIMS:
        return {}
    try:
        payload = loads_untrusted(b64url_decode(parts[1]))
    except (ValueError, RecursionError):
        return {}
    return payload if isinstance(payload, dict) else {}
