"""Chain health: has the chain gone back since it was last seen?

A checkpoint — the number and hash of the head block — is kept in `.sova/chain/health.json`. The
chain is whole while it still has that block; a head below it, or another block at that height, means
the chain went back: a node restarted from an older state file, or a reorg. The supervisor looks every
few seconds (`ChainWatch.tick`) and records such an event there with when and how far; `sova status`
reads the file and compares the checkpoint with the chain once more (`chain_health`).

Recovering is the agents' part (runtime/chain/rollback.py: each re-sends from the outbox what the
chain lost of its own transactions); the event is kept so a user sees that it happened and when.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.chain.anvil import AnvilError, rpc_call
from runtime.secrets import write_private

HEALTH_FILE = "health.json"
WATCH_EVERY = 2.0  # s between the supervisor's looks


@dataclass(frozen=True)
class Block:
    number: int
    hash: str


def head(url: str) -> Block | None:
    """The chain's latest block, or None when the node does not answer."""
    return block_at(url, "latest")


def block_at(url: str, number: int | str) -> Block | None:
    tag = hex(number) if isinstance(number, int) else number
    try:
        raw = rpc_call(url, "eth_getBlockByNumber", [tag, False], timeout=2.0)
    except (OSError, ValueError, AnvilError):
        return None
    if not isinstance(raw, dict):
        return None
    return Block(int(str(raw["number"]), 16), str(raw["hash"]))


def went_back(url: str, checkpoint: Block) -> str | None:
    """Why the chain at `url` no longer has `checkpoint` (None: it has it, or the node is silent)."""
    now = head(url)
    if now is None:
        return None
    if now.number < checkpoint.number:
        return f"the head is block {now.number}, below block {checkpoint.number} seen before"
    there = block_at(url, checkpoint.number)
    if there is not None and there.hash != checkpoint.hash:
        return f"block {checkpoint.number} has another hash ({there.hash[:10]}…, was {checkpoint.hash[:10]}…)"
    return None


def read_health(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class ChainWatch:
    """The supervisor's look at the chain: keeps the checkpoint and the last rollback in `path`."""

    def __init__(self, path: Path, url: str) -> None:
        self.path = path
        self.url = url
        self.data = read_health(path)
        self.next_look = 0.0

    def tick(self, now: float | None = None) -> str | None:
        """Look when it is time; the rollback found (one line), else None."""
        now = time.monotonic() if now is None else now
        if now < self.next_look:
            return None
        self.next_look = now + WATCH_EVERY
        return self.look()

    def look(self) -> str | None:
        current = head(self.url)
        if current is None:
            return None  # a silent node is the supervisor's restart to handle, not a rollback
        seen = self.data.get("checkpoint")
        found = None
        if isinstance(seen, dict):
            found = went_back(self.url, Block(int(seen["number"]), str(seen["hash"])))
        if found is not None:
            self.data["last_rollback"] = {"at": time.time(), "from": seen, "to": current.number, "why": found}
            self.data["rollbacks"] = int(self.data.get("rollbacks", 0)) + 1
        self.data["checkpoint"] = {"number": current.number, "hash": current.hash, "at": time.time()}
        write_private(self.path, json.dumps(self.data) + "\n")
        return found


def chain_health(path: Path, url: str | None) -> dict[str, Any]:
    """What `sova status` shows: state (ok | went_back | unreachable | not running), the head, and the
    last rollback the supervisor saw (with when), from `path` and one more look at the chain."""
    data = read_health(path)
    info: dict[str, Any] = {"state": "not running", "head": None, "last_rollback": data.get("last_rollback")}
    if url is None:
        return info
    now = head(url)
    if now is None:
        return {**info, "state": "unreachable"}
    info.update(state="ok", head=now.number)
    seen = data.get("checkpoint")
    if isinstance(seen, dict):
        why = went_back(url, Block(int(seen["number"]), str(seen["hash"])))
        if why is not None:
            info.update(state="went_back", detail=why)
    return info


def describe(info: dict[str, Any]) -> str:
    """One line for `sova status`."""
    state = info.get("state")
    text = {
        "ok": f"ok at block {info.get('head')}",
        "went_back": f"went back: {info.get('detail')}; the agents re-send what it lost",
        "unreachable": "not answering (the supervisor restarts a local chain it started)",
    }.get(str(state), "not running")
    last = info.get("last_rollback")
    if isinstance(last, dict):
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(last.get("at", 0))))
        text += f"; last went back at {when} ({last.get('why')})"
    return text
