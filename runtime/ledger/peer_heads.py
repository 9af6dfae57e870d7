"""Ledger heads witnessed by peers: every deal message carries its sender's latest durable ledger head,
and each receiver keeps, per peer DID, the highest head it has seen, in its own folder.

Sent: `HeadSource.current()` — the ledger's newest entry that is fsynced (seq, entry hash, and the
agent's signature over that hash), read from what the ledger keeps in memory: no read, no extra fsync.
Only a durable head is sent, so a power cut cannot make an honest ledger shorter than a head a peer
holds. The protocol puts it in the signed envelope body as `ledger_head` (runtime/a2a/protocol.py).

Kept: `PeerHeads.seen(did, value)` for the verified sender `did` of an envelope. The value is the
peer's claim about its own ledger, trusted for nothing but witnessing: anything that is not
{seq: 1..2^63-1, hash: 0x + 64 hex, sig: 0x + 128 hex} is ignored (one log line a minute at most), a
lower or equal seq leaves the kept head as it is, and at most `MAX_PEERS` peers are kept (the least
recently heard from goes first). The file `<agent folder>/peer-heads.json` (0600) is rewritten on a
timer thread at most once a second, never on the message's path; its signature is checked only when
`sova log verify` reads it (`runtime.ledger.witness.check_peer_witnesses`): a peer can spoil the
witness of its own ledger only, never accuse another's.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import OrderedDict
from dataclasses import asdict
from pathlib import Path
from typing import Any, Final

from runtime.home import Home
from runtime.ledger.ledger import Ledger
from runtime.ledger.sync import FlushTimer
from runtime.ledger.witness import Witness
from runtime.secrets import write_private

__all__ = [
    "HEAD_FIELD",
    "MAX_PEERS",
    "PEER_HEADS_FILE",
    "HeadSource",
    "PeerHeads",
    "fleet_witnesses",
    "parse_head",
    "read_peer_heads",
]

log = logging.getLogger(__name__)

HEAD_FIELD: Final = "ledger_head"
"""The envelope body member that carries the sender's ledger head."""
PEER_HEADS_FILE: Final = "peer-heads.json"
MAX_PEERS: Final = 1024
MAX_SEQ: Final = 2**63 - 1  # SQLite's largest integer
MAX_FILE: Final = 4 << 20  # bytes of a peer-heads file read back (1024 heads are ~300 KB)
_HASH = re.compile(r"0x[0-9a-f]{64}")
_SIG = re.compile(r"0x[0-9a-f]{128}")
_MAX_DID = 256
_LOG_EVERY = 60.0


class HeadSource:
    """The head an agent sends: its ledger's newest fsynced entry, as a JSON object."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._head: dict[str, Any] | None = None
        self._seq = 0

    def current(self) -> dict[str, Any] | None:
        """{seq, hash, sig} of the newest durable entry seen (None before one was). The last entry is
        read before `synced_seq`, so a last entry at or below it is on disk."""
        last = self._ledger.last()
        if last.seq != self._seq and last.seq <= self._ledger.synced_seq:
            self._head = {"seq": last.seq, "hash": "0x" + last.hash.hex(), "sig": "0x" + last.sig.hex()}
            self._seq = last.seq
        return self._head


def parse_head(value: Any, at: float = 0.0) -> Witness | None:
    """A peer's `ledger_head` as a Witness, or None when it is not well formed."""
    if not isinstance(value, dict):
        return None
    seq, digest, sig = value.get("seq"), value.get("hash"), value.get("sig")
    if type(seq) is not int or not 1 <= seq <= MAX_SEQ:
        return None
    if not isinstance(digest, str) or not isinstance(sig, str):
        return None
    if not _HASH.fullmatch(digest) or not _SIG.fullmatch(sig):
        return None
    return Witness(seq, digest, sig, at)


def read_peer_heads(path: Path, limit: int = MAX_PEERS) -> dict[str, Witness]:
    """The heads kept in `path` by peer DID ({} when there is no readable file); entries that are not
    well formed are left out, and at most `limit` are read."""
    try:
        if path.stat().st_size > MAX_FILE:
            return {}
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    heads: dict[str, Witness] = {}
    for did, value in list(data.items())[-limit:]:
        at = value.get("at") if isinstance(value, dict) else None
        head = parse_head(value, float(at) if isinstance(at, int | float) else 0.0)
        if head is not None and len(did) <= _MAX_DID:
            heads[did] = head
    return heads


class PeerHeads:
    """The highest ledger head seen per peer DID, kept in `path` (see the module docstring)."""

    def __init__(self, path: Path, *, max_peers: int = MAX_PEERS, flush_every: float = 1.0) -> None:
        self.path = path
        self.max_peers = max_peers
        self._heads: OrderedDict[str, Witness] = OrderedDict(read_peer_heads(path, max_peers))
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._dirty = False
        self._timer = FlushTimer(flush_every, self.flush)
        self._ignored = 0
        self._logged = -_LOG_EVERY

    def seen(self, did: str, value: Any) -> None:
        """Keep `value` as `did`'s head when it is well formed and higher than the one kept."""
        if value is None:
            return
        head = parse_head(value, time.time())
        if head is None or len(did) > _MAX_DID:
            self._ignore(did)
            return
        with self._lock:
            kept = self._heads.get(did)
            if kept is not None:
                self._heads.move_to_end(did)
                if kept.seq >= head.seq:
                    return
            self._heads[did] = head
            while len(self._heads) > self.max_peers:
                self._heads.popitem(last=False)
            self._dirty = True
        self._timer.arm()

    def get(self, did: str) -> Witness | None:
        """The head kept for `did`."""
        with self._lock:
            return self._heads.get(did)

    def flush(self) -> None:
        """Write the kept heads to the file now, when they changed since the last write."""
        with self._write_lock:
            with self._lock:
                if not self._dirty:
                    return
                snapshot = {did: asdict(head) for did, head in self._heads.items()}
                self._dirty = False
            try:
                write_private(self.path, json.dumps(snapshot, separators=(",", ":")) + "\n")
            except OSError as exc:  # a full disk must not stop the deals: the heads stay in memory
                log.warning("peer ledger heads not saved to %s: %s", self.path, exc)

    def close(self) -> None:
        """Stop the timer and write what is pending."""
        self._timer.cancel()
        self.flush()

    def _ignore(self, did: str) -> None:
        self._ignored += 1
        now = time.monotonic()
        if now - self._logged >= _LOG_EVERY:
            self._logged = now
            log.warning(
                "ignored %d malformed ledger heads (last from %s): want {seq, hash, sig} as integer and hex",
                self._ignored, did[:80],
            )  # fmt: skip
            self._ignored = 0


def fleet_witnesses(home: Home, did: str, skip: str | None = None) -> list[tuple[str, Witness]]:
    """The heads of `did`'s ledger that the agents of `home` (but `skip`) were sent: (agent, head)."""
    found = []
    folder = home.root / "agents"
    names = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    for name in names:
        head = read_peer_heads(home.peer_heads(name)).get(did) if name != skip else None
        if head is not None:
            found.append((name, head))
    return found
