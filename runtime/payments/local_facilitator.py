"""Where a fleet's own facilitator (`sova facilitator`, started by `sova up` when an agent sells over x402
with `facilitator: local`) keeps its files, and how the agents find it.

    <sova home>/facilitator/port               its loopback port, chosen once and kept across runs
    <sova home>/facilitator/facilitator.json   {"pid", "url"} while it serves (0600)
    <sova home>/facilitator/ledger.sqlite      its ledger (and budget.sqlite)

The port is kept so a restarted facilitator answers where the agents already send their payments.
"""

from __future__ import annotations

import json
from pathlib import Path

from runtime.chain.anvil import free_port
from runtime.pidfile import pid_alive
from runtime.secrets import write_private

__all__ = ["clear_record", "facilitator_dir", "kept_port", "running_facilitator", "write_record"]


def facilitator_dir(root: Path) -> Path:
    """The facilitator's folder under the sova home `root`."""
    return root / "facilitator"


def kept_port(root: Path) -> int:
    """The facilitator's port: the one kept in `<folder>/port`, chosen free and written the first time."""
    path = facilitator_dir(root) / "port"
    try:
        return int(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        port = free_port()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_text(f"{port}\n", encoding="utf-8")
        return port


def write_record(root: Path, pid: int, url: str) -> None:
    """Say that facilitator process `pid` serves at `url`."""
    write_private(facilitator_dir(root) / "facilitator.json", json.dumps({"pid": pid, "url": url}) + "\n")


def clear_record(root: Path, pid: int) -> None:
    """Remove the record of `pid` (not one a newer facilitator wrote)."""
    path = facilitator_dir(root) / "facilitator.json"
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == pid:
            path.unlink()
    except (OSError, ValueError, AttributeError):
        return


def running_facilitator(root: Path, pid: int | None = None) -> str | None:
    """The URL of the facilitator serving for this home (of process `pid` when given), or None."""
    try:
        data = json.loads((facilitator_dir(root) / "facilitator.json").read_text(encoding="utf-8"))
        found, url = int(data["pid"]), data["url"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if (pid is not None and found != pid) or not isinstance(url, str) or not pid_alive(found):
        return None
    return url
