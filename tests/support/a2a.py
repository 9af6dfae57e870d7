"""Helpers for the A2A protocol tests: agents with real replay/thread stores on disk, a list-backed or a
real ledger, and their servers on free loopback ports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from identity import IdentityKey, ReplayStore
from runtime.a2a.card import AgentProfile
from runtime.a2a.client import A2AMessenger
from runtime.a2a.handler import NegotiationHandler, ScriptedHandler
from runtime.a2a.protocol import Negotiator
from runtime.a2a.server import AgentServer, listen
from runtime.a2a.threads import ThreadStore
from runtime.ledger.ledger import Ledger
from runtime.ledger.sink import MemorySink

ListLedger = MemorySink
"""A LedgerSink that keeps (kind, data) in a list."""


@dataclass
class Agent:
    """One agent's protocol side, its stores in `home`."""

    name: str
    home: Path
    key: IdentityKey
    negotiator: Negotiator
    handler: Any
    ledger: Any
    real_ledger: Ledger | None = None
    closers: list[Any] = field(default_factory=list)

    @property
    def did(self) -> str:
        return self.key.did

    def ledger_kinds(self) -> list[str]:
        if self.real_ledger is not None:
            return [e.kind for e in self.real_ledger.entries()]
        return list(self.ledger.kinds())

    def close(self) -> None:
        for closer in reversed(self.closers):
            closer()


WALLET = "0x" + "ab" * 20


def make_agent(
    home: Path,
    name: str,
    handler: NegotiationHandler | None = None,
    *,
    key: IdentityKey | None = None,
    real_ledger: bool = False,
    ttl: int = 120,
) -> Agent:
    """An agent whose replay store, thread store (and ledger, if real) live under home/name."""
    key = key or IdentityKey.generate()
    folder = home / name
    replay = ReplayStore(folder / "replay.sqlite")
    threads = ThreadStore(folder / "threads.sqlite")
    closers: list[Any] = [replay.close, threads.close]
    ledger: Any
    real: Ledger | None = None
    if real_ledger:
        real = Ledger.open(folder / "ledger.sqlite", key, WALLET)
        closers.append(real.close)
        ledger = real
    else:
        ledger = ListLedger()
    handler = handler if handler is not None else ScriptedHandler()
    negotiator = Negotiator(key, replay=replay, threads=threads, ledger=ledger, handler=handler, ttl=ttl)
    return Agent(name, home, key, negotiator, handler, ledger, real, closers)


@asynccontextmanager
async def serving(agent: Agent, **profile: Any) -> AsyncIterator[AgentServer]:
    """The agent's A2A server on a free 127.0.0.1 port, stopped afterwards."""
    sock, url = listen()
    prof = AgentProfile(name=agent.name, url=url, did=agent.did, wallet=WALLET, **profile)
    server = AgentServer(agent.negotiator, agent.key, prof, sock=sock)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
        sock.close()


@asynccontextmanager
async def messenger(agent: Agent) -> AsyncIterator[A2AMessenger]:
    """The agent's messenger, closed afterwards."""
    m = A2AMessenger(agent.negotiator)
    try:
        yield m
    finally:
        await m.close()
