"""A local anvil node from `tools/`, started on a free loopback port and stopped by its pid.

Used by `sova chain up` and by the test fixtures, so both run the very same node the same way.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from runtime.errors import SovaError

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # runtime/chain/anvil.py -> the checkout
TOOLS_BIN = PROJECT_ROOT / "tools" / "node_modules" / "@foundry-rs"
ANVIL_CHAIN_ID = 31337
# How often anvil dumps its --state file (s). It dumps on SIGTERM too, but a SIGKILL, an OOM kill or a
# power cut skips that: without a periodic dump the chain would restart from its last clean stop and
# lose every block since. One second bounds the loss to about a second of blocks; what does get lost
# the agents re-send from the outbox (wallet/recovery.py).
STATE_INTERVAL = 1


class AnvilError(SovaError):
    """anvil is missing, did not start, or did not answer in time."""


def anvil_binary() -> Path:
    """Path of the anvil binary installed by `npm ci` in tools/."""
    path = TOOLS_BIN / "anvil-linux-amd64" / "bin" / "anvil"
    if not path.exists():
        raise AnvilError(f"anvil not found at {path}: run `make setup` (it runs `npm ci` in tools/)")
    return path


def cast_binary() -> Path:
    """Path of Foundry's cast binary installed by `npm ci` in tools/."""
    path = TOOLS_BIN / "cast-linux-amd64" / "bin" / "cast"
    if not path.exists():
        raise AnvilError(f"cast not found at {path}: run `make setup` (it runs `npm ci` in tools/)")
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rpc_call(url: str, method: str, params: list[object], timeout: float = 5.0) -> object:
    """One JSON-RPC call (used for anvil's dev methods such as anvil_setBalance)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})  # noqa: S310
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - URL of our own node
        answer = json.loads(resp.read())
    if "error" in answer:
        raise AnvilError(f"{method} failed at {url}: {answer['error'].get('message', answer['error'])}")
    return answer["result"]


def rpc_chain_id(url: str, timeout: float = 1.0) -> int | None:
    """The chain id the node at `url` reports, or None when nothing answers there."""
    try:
        return int(str(rpc_call(url, "eth_chainId", [], timeout=timeout)), 16)
    except (OSError, urllib.error.URLError, ValueError, KeyError, AnvilError):
        return None


@dataclass
class AnvilNode:
    """One anvil process. `start()` returns once it answers JSON-RPC; `stop()` ends it by pid."""

    port: int = 0
    state_file: Path | None = None
    state_interval: int = STATE_INTERVAL
    block_time: float | None = None
    extra_args: list[str] = field(default_factory=list)
    log_file: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def command(self) -> list[str]:
        args = [str(anvil_binary()), "--host", "127.0.0.1", "--port", str(self.port), "--silent"]
        if self.state_file is not None:
            # --state loads the file when it exists and dumps to it on exit (SIGTERM / SIGINT), and
            # --state-interval every few seconds meanwhile, so a SIGKILL loses seconds, not the run.
            args += ["--state", str(self.state_file), "--state-interval", str(self.state_interval)]
        if self.block_time:
            args += ["--block-time", str(self.block_time)]
        return args + self.extra_args

    def start(self, timeout: float = 20.0) -> AnvilNode:
        if not self.port:
            self.port = free_port()
        if self.state_file is not None:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            self.command(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AnvilError(
                    f"anvil exited with code {self.process.returncode} at start on port {self.port}: "
                    "is the port taken or the state file corrupt?"
                )
            if rpc_chain_id(self.url, timeout=0.5) is not None:
                return self
            time.sleep(0.05)
        self.stop()
        raise AnvilError(f"anvil did not answer on {self.url} within {timeout:.0f} s")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (anvil dumps --state then), then SIGKILL if it does not go."""
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=timeout)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """SIGKILL, as a crash would: no state dump."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def __enter__(self) -> AnvilNode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
