"""The fleet's own x402 facilitator under `sova up`: when an agent sells over x402 with
`x402: {facilitator: local}`, the supervisor runs `sova facilitator` as a process of its own (its
key `facilitator`, its policy, its ledger in `.sova/facilitator/`, its output in
`.sova/facilitator/facilitator.log`) before the agents start, restarts it when it exits (on the port
it keeps, so agents keep their URL), and stops it after the agents.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from runtime.config import AgentsFile
from runtime.errors import SovaError
from runtime.fleet.startup import last_log_line
from runtime.home import Home
from runtime.payments.local_facilitator import facilitator_dir, running_facilitator

__all__ = ["FleetFacilitator", "wants_local_facilitator"]

READY_TIMEOUT = 90.0
STOP_GRACE = 10.0
RESTART_AFTER = 2.0


def wants_local_facilitator(config: AgentsFile) -> bool:
    """Whether an agent of `config` sells over x402 through the fleet's own facilitator."""
    return any(a.x402 is not None and a.x402.local for a in config.agents)


class FleetFacilitator:
    """`sova facilitator` as a child of the supervisor; does nothing when no agent needs it."""

    def __init__(self, config: AgentsFile, config_path: Path, home: Home, out: Any, warn: Any) -> None:
        self.wanted = wants_local_facilitator(config)
        self.config_path = config_path
        self.home = home
        self.out = out
        self.warn = warn
        self.log = facilitator_dir(home.root) / "facilitator.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.next_start = 0.0

    def start(self) -> None:
        """Start the facilitator process (when wanted); `ready()` waits for it."""
        if not self.wanted:
            return
        self.log.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        command = [sys.executable, "-P", "-c", "from runtime.cli import main; main()", "facilitator"]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [*command, "-f", str(self.config_path)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )  # fmt: skip

    def ready(self) -> str | None:
        """Wait until the started facilitator serves; its URL (None when not wanted)."""
        if self.process is None:
            return None
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            url = running_facilitator(self.home.root, self.process.pid)
            if url is not None:
                self.out.print(f"x402 facilitator at {url} (log in {self.log})")
                return url
            if self.process.poll() is not None:
                raise SovaError(
                    f"the x402 facilitator exited with code {self.process.returncode} before it was "
                    f"ready: {last_log_line(self.log)} (full log: {self.log})"
                )
            time.sleep(0.2)
        raise SovaError(f"the x402 facilitator is not ready after {READY_TIMEOUT:.0f} s: see {self.log}")

    def keep(self) -> None:
        """Start the facilitator again when it has exited (checked on every supervisor tick)."""
        proc = self.process
        if proc is None or proc.poll() is None:
            return
        now = time.monotonic()
        if self.next_start == 0.0:
            self.warn(
                f"the x402 facilitator exited with code {proc.returncode} ({last_log_line(self.log)}); "
                f"restart in {RESTART_AFTER:.0f} s"
            )
            self.next_start = now + RESTART_AFTER
        elif now >= self.next_start:
            self.next_start = 0.0
            self.start()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a grace period."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            self.warn(f"the x402 facilitator did not stop in {STOP_GRACE:.0f} s: killed")
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
