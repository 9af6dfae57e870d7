"""How `sova up` starts a fleet and reports an agent that failed: the order of the start, and the
line of an agent's log a user needs to see."""

from __future__ import annotations

from pathlib import Path

from runtime.config import AgentsFile, BuyGoal

__all__ = ["last_log_line", "waves"]


def waves(config: AgentsFile) -> list[list[str]]:
    """The agents in the order `sova up` starts them: those without a buy goal, then the buyers."""
    buys = {a.name for a in config.agents if any(isinstance(g, BuyGoal) for g in a.goals)}
    first = [a.name for a in config.agents if a.name not in buys]
    return [wave for wave in (first, [a.name for a in config.agents if a.name in buys]) if wave]


def last_log_line(log: Path) -> str:
    """The last line of a log that has words (what a user needs to see of a crash)."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "no log"
    # Skip rich's box-drawing borders: the message is on the last line that has words.
    lines = [ln.strip(" │╭╮╰╯─") for ln in text.splitlines() if any(c.isalnum() for c in ln)]
    if not lines:
        return "no output"
    line = lines[-1].strip()
    while line.lower().startswith("error:"):  # the caller's own message says it is an error
        line = line[len("error:") :].strip()
    return line[:300]
