"""The ports `sova up` keeps per agent across runs (`.sova/agents/<name>/port`, `operator-port`), so a
restarted agent keeps the endpoint registered on-chain and the console finds it where it was."""

from __future__ import annotations

from pathlib import Path

from runtime.chain.anvil import free_port
from runtime.home import Home

__all__ = ["kept_port", "pinned_operator_port", "pinned_port", "read_port"]


def kept_port(home: Home, name: str, file: str) -> int:
    """The port kept in `.sova/agents/<name>/<file>`, chosen free and written there the first time."""
    path = home.agent_dir(name) / file
    try:
        return int(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        port = free_port()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{port}\n", encoding="utf-8")
        return port


def pinned_port(home: Home, name: str, configured: int) -> int:
    """The agent's port: the configured one, or one chosen on the first `sova up` and kept in
    `.sova/agents/<name>/port`, so restarts keep the endpoint registered on-chain."""
    return configured or kept_port(home, name, "port")


def pinned_operator_port(home: Home, name: str) -> int:
    """The agent's operator API port, chosen on the first `sova up` and kept in
    `.sova/agents/<name>/operator-port`, so the console finds a restarted agent where it was."""
    return kept_port(home, name, "operator-port")


def read_port(path: Path) -> int:
    """The port written in `path`, or 0 when there is none."""
    try:
        return int(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return 0
