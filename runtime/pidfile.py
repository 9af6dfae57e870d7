"""The process files under `.sova/`: an agent's ready file, the supervisor's record, and whether the
process they name still runs.

They sit on the floor because the supervisor, the console and the CLI all read them, and the
console must not import the supervisor that serves it (that was an import circle).
"""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Any

from runtime.home import Home

__all__ = ["pid_alive", "read_ready", "running_supervisor", "stop_and_wait"]


def read_ready(home: Home, name: str) -> dict[str, Any] | None:
    try:
        data = json.loads(home.ready_file(name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def running_supervisor(home: Home) -> dict[str, Any] | None:
    """The supervisor record of this home, if its process still runs."""
    try:
        data = json.loads(home.supervisor_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and pid_alive(int(data.get("pid", 0))) else None


def stop_and_wait(pid: int, timeout: float, poll: float = 0.2) -> bool:
    """SIGTERM to `pid`, then wait up to `timeout` seconds for it to end; whether it did."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(poll)
    return not pid_alive(pid)
