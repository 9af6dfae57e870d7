"""The supervisor's periodic looks beyond its processes: a chain that went back (runtime/chain/health.py)
and each agent's ledger head, witnessed outside the agent (runtime/ledger/witness.py).

`tick` is called from the supervisor's loop (every 0.3 s) and looks only when each look is due; it
returns the warnings to print, each problem once until it changes, so a truncated ledger does not
fill the terminal every five seconds.
"""

from __future__ import annotations

import time

from runtime.chain.health import HEALTH_FILE, ChainWatch
from runtime.home import Home
from runtime.ledger.witness import WITNESS_EVERY, advance


class Lookout:
    def __init__(self, home: Home, url: str, names: list[str]) -> None:
        self.home = home
        self.names = names
        self.chain = ChainWatch(home.chain_dir / HEALTH_FILE, url)
        self.next_witness = 0.0
        self.told: dict[str, str] = {}

    def tick(self, now: float | None = None) -> list[str]:
        now = time.monotonic() if now is None else now
        warnings = []
        back = self.chain.tick(now)
        if back is not None:
            warnings.append(f"the chain went back ({back}): the agents re-send what it lost from the outbox")
        if now >= self.next_witness:
            self.next_witness = now + WITNESS_EVERY
            warnings += self.witness()
        return warnings

    def witness(self) -> list[str]:
        """Move every agent's witness forward; a ledger behind its witness is told once."""
        warnings = []
        for name in self.names:
            problem = advance(self.home.witness(name), self.home.ledger(name))
            if problem is not None and self.told.get(name) != problem:
                warnings.append(f"agent {name}: {problem} (see `sova log verify {name}`)")
            self.told[name] = problem or ""
        return warnings
