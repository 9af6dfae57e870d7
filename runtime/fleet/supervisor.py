"""`sova up`: the chain, the contracts, the keys and funds, and one OS process per agent, kept alive.

Each agent runs as `sova agent run NAME` in its own process group (so Ctrl-C reaches only the
supervisor, which then stops the agents in order), with its output in
`.sova/agents/<name>/agent.log`. An agent is ready when it has written its `agent.json`. A crashed
agent is restarted with exponential backoff (1 s doubling to 30 s); the backoff resets after a
minute of health. A local chain this supervisor started that exits is started again on the same
port from its saved state (`_keep_chain`); the chain's health and the agents' ledger heads are
watched (`Lookout`). On SIGINT/SIGTERM the agents get SIGTERM (SIGKILL after 10 s), then the chain
is stopped if this supervisor started it (anvil saves its state).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.chain.anvil import AnvilNode
from runtime.chain.ops import running_local_node, start_local_node
from runtime.config import AgentsFile, LocalChain
from runtime.errors import SovaError
from runtime.fleet.facilitator import FleetFacilitator
from runtime.fleet.lookout import Lookout
from runtime.fleet.ports import pinned_operator_port, pinned_port, read_port
from runtime.fleet.prepare import prepare
from runtime.fleet.startup import last_log_line, waves
from runtime.home import Home
from runtime.pidfile import read_ready, running_supervisor
from runtime.secrets import write_private

if TYPE_CHECKING:
    from runtime.fleet.console_server import ConsoleThread
    from runtime.key_handoff import AgentKeys
    from wallet import Signer

READY_TIMEOUT = 90.0
DETACHED_ENV = "SOVA_UP_DETACHED"
MAX_BACKOFF = 30.0
HEALTHY_AFTER = 60.0
STOP_GRACE = 10.0
CHAIN_RETRY = 5.0


class SupervisorError(SovaError):
    """An agent could not be started, or another supervisor runs already."""


@dataclass
class AgentProcess:
    """One agent's OS process and its restart bookkeeping."""

    name: str
    log: Path
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    backoff: float = 1.0
    started_at: float = 0.0
    next_start: float = 0.0
    ready: dict[str, Any] = field(default_factory=dict)
    log_offset: int = 0


def agent_command(name: str, config_path: Path) -> list[str]:
    """The command `sova up` spawns for one agent: the same interpreter, so the same install. `-P`: the
    working directory is not put on the import path, where a project's own `policies/` folder would
    hide the `policies` package."""
    return [
        sys.executable,
        "-P",
        "-c",
        "from runtime.cli import main; main()",
        "agent",
        "run",
        name,
        "-f",
        str(config_path),
    ]


class Supervisor:
    """Runs the fleet in the foreground until a signal."""

    def __init__(self, config: AgentsFile, config_path: Path, home: Home, out: Any, warn: Any) -> None:
        self.config = config
        self.config_path = config_path.resolve()
        self.home = home
        self.out = out
        self.warn = warn
        self.node: AnvilNode | None = None
        self.agents = {
            a.name: AgentProcess(a.name, home.agent_dir(a.name) / "agent.log") for a in config.agents
        }
        self.ports = {a.name: pinned_port(home, a.name, a.port) for a in config.agents}
        self.operator_ports = {a.name: pinned_operator_port(home, a.name) for a in config.agents}
        self.stopping = False
        self.console: ConsoleThread | None = None
        self.console_token = ""
        self.chain_next_start = 0.0
        self.keys: dict[str, AgentKeys] = {}
        self.lookout: Lookout | None = None  # a chain that went back, ledger heads (fleet/lookout.py)
        self.facilitator = FleetFacilitator(config, self.config_path, home, out, warn)  # x402: local

    def run(self) -> int:
        if running_supervisor(self.home) is not None:
            raise SupervisorError(
                f"a supervisor already runs for {self.home.root} (see {self.home.supervisor_file}): "
                "use `sova status`, or `sova down` first"
            )
        self.home.ensure()
        url = self._chain()
        self.lookout = Lookout(self.home, url, list(self.agents))
        try:
            operator = asyncio.run(prepare(self.config, self.config_path, self.home, url, self.warn))
            self.facilitator.start()
            console_url = self._start_console(operator)
            self.out.print(f"unlocking the keys of {len(self.agents)} agents (handed to each through a pipe)")
            self.keys = self._unlock_agents()
            record = {"pid": os.getpid(), "chain": url, "console": console_url}
            write_private(self.home.supervisor_file, json.dumps(record) + "\n")
            signal.signal(signal.SIGINT, self._on_signal)
            signal.signal(signal.SIGTERM, self._on_signal)
            # Buyers last, once the sellers and issuers are ready (registered): a buyer's first round
            # then finds its sellers instead of waiting a whole period for its second.
            self.facilitator.ready()
            for wave in waves(self.config):
                for name in wave:
                    self._spawn(self.agents[name])
                self._wait_ready(wave)
            self._print_ready(url)
            self._watch()
        finally:
            self._stop_all()
        return 0

    def _chain(self) -> str:
        from runtime.chain.ops import chain_url

        if not isinstance(self.config.chain, LocalChain):
            return chain_url(self.config, self.home)
        record = running_local_node(self.home)
        if record is not None:
            self.out.print(f"attached to the running local chain at {record.url}")
            return record.url
        self.node = start_local_node(self.home, self.config.chain)
        self.out.print(f"started the local chain at {self.node.url} (state in {self.home.chain_state})")
        return self.node.url

    def _unlock_agents(self) -> dict[str, AgentKeys]:
        """Each agent's keys, unlocked once here and handed to every start of it through a pipe, so
        an agent (re)starts without its ~1.7 CPU-s of scrypt (runtime/key_handoff.py)."""
        from runtime.chain.provision import key_passphrase
        from runtime.key_handoff import unlock_agent_keys

        keys_dir = self.home.keys_dir(self.config, self.config_path.parent)
        secret = key_passphrase(self.config, self.home)
        unlocked = unlock_agent_keys(keys_dir, [a.key_name for a in self.config.agents], secret)
        return {a.name: unlocked[a.key_name] for a in self.config.agents}

    def _spawn(self, proc: AgentProcess) -> None:
        from runtime.key_handoff import KEY_FD_ENV, handoff_fd

        proc.log.parent.mkdir(parents=True, exist_ok=True)
        self.home.ready_file(proc.name).unlink(missing_ok=True)
        if proc.restarts == 0 and proc.log.exists():
            proc.log_offset = proc.log.stat().st_size  # earlier runs' lines are not news
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "SOVA_AGENT_PORT": str(self.ports[proc.name]),
            "SOVA_OPERATOR_PORT": str(self.operator_ports[proc.name]),
        }
        keys, fd = self.keys.get(proc.name), None
        log = open(proc.log, "ab")  # noqa: SIM115 - handed to the child, closed right after
        try:
            if keys is not None:
                fd = handoff_fd(keys)
                # The agent gets its keys, not the passphrase that opens every key of the fleet.
                env.pop(self.config.keys.passphrase_env, None)
                env[KEY_FD_ENV] = str(fd)
            proc.process = subprocess.Popen(
                agent_command(proc.name, self.config_path),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=env,
                pass_fds=() if fd is None else (fd,),
            )
        finally:
            log.close()
            if fd is not None:
                os.close(fd)
        proc.started_at = time.monotonic()
        proc.ready = {}

    def _wait_ready(self, names: list[str]) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while not self.stopping and time.monotonic() < deadline:
            self._poll_ready()
            if all(self.agents[n].ready for n in names):
                return
            for proc in (self.agents[n] for n in names):
                if proc.process is not None and proc.process.poll() is not None and not proc.ready:
                    raise SupervisorError(
                        f"agent {proc.name} exited with code {proc.process.returncode} before it was ready: "
                        f"{last_log_line(proc.log)} (full log: {proc.log})"
                    )
            time.sleep(0.2)
        if not self.stopping:
            late = ", ".join(n for n in names if not self.agents[n].ready)
            raise SupervisorError(
                f"agents not ready after {READY_TIMEOUT:.0f} s: {late}; see their agent.log"
            )

    def _poll_ready(self) -> None:
        for proc in self.agents.values():
            if not proc.ready and proc.process is not None:
                data = read_ready(self.home, proc.name)
                if data and data.get("pid") == proc.process.pid:
                    proc.ready = data

    def _print_ready(self, url: str) -> None:
        self.out.print(f"chain at {url}")
        for proc in self.agents.values():
            r = proc.ready
            self.out.print(f"  {proc.name:<8} {r.get('url', '?'):<26} pid {r.get('pid')}  {r.get('did', '')}")
        if self.console is not None:
            # Detached (`sova up --detach`), this output goes to a log file: the token stays out of it,
            # and the detaching command prints the link to the terminal instead.
            link = (
                self.console.url
                if os.environ.get(DETACHED_ENV)
                else console_link(self.console.url, self.console_token)
            )
            self.out.print(f"console: {link}  (logs in .sova/agents/*/agent.log)")
        self.out.print("all agents ready — Ctrl-C (or `sova down`) stops everything, nothing is lost")

    def _watch(self) -> None:
        while not self.stopping:
            now = time.monotonic()
            for proc in self.agents.values():
                p = proc.process
                if p is not None and p.poll() is None:
                    if now - proc.started_at > HEALTHY_AFTER:
                        proc.backoff = 1.0
                    continue
                if p is not None and proc.next_start == 0.0:
                    proc.restarts += 1
                    proc.next_start = now + proc.backoff
                    self.warn(
                        f"agent {proc.name} exited with code {p.returncode} ({last_log_line(proc.log)}); "
                        f"restart {proc.restarts} in {proc.backoff:.0f} s"
                    )
                    proc.backoff = min(proc.backoff * 2, MAX_BACKOFF)
                if proc.next_start and now >= proc.next_start:
                    proc.next_start = 0.0
                    self._spawn(proc)
            self._keep_chain()
            self.facilitator.keep()
            for warning in self.lookout.tick() if self.lookout else []:
                self.warn(warning)
            self._poll_ready()
            self._echo_logs()
            time.sleep(0.3)

    def _keep_chain(self) -> None:
        """Start again, on the same port and from its saved state, the local chain this supervisor
        started when it has exited: agents keep their RPC URL and their clients retry meanwhile."""
        node = self.node
        if node is None or node.process is None or node.process.poll() is None:
            return
        now = time.monotonic()
        if now < self.chain_next_start:
            return
        self.warn(f"the local chain (pid {node.pid}) exited with code {node.process.returncode}; "
                  f"starting it again on port {node.port} from {self.home.chain_state}")  # fmt: skip
        assert isinstance(self.config.chain, LocalChain)
        try:
            self.node = start_local_node(self.home, self.config.chain.model_copy(update={"port": node.port}))
        except SovaError as exc:
            self.chain_next_start = now + CHAIN_RETRY
            self.warn(f"the local chain did not start again ({exc}); next try in {CHAIN_RETRY:.0f} s")
            return
        self.out.print(f"the local chain runs again at {self.node.url}")

    def _echo_logs(self) -> None:
        """Show what the agents say (deals, registrations, problems) in the supervisor's terminal."""
        for proc in self.agents.values():
            try:
                with open(proc.log, "rb") as log:
                    log.seek(proc.log_offset)
                    chunk = log.read()
            except OSError:
                continue
            complete = chunk.rfind(b"\n") + 1  # only whole lines; the rest comes next time
            proc.log_offset += complete
            for line in chunk[:complete].decode("utf-8", "replace").splitlines():
                if line.strip():
                    self.out.print(f"{proc.name:>8} | {line}")

    def _on_signal(self, signum: int, frame: object) -> None:
        self.stopping = True

    def _start_console(self, operator: Signer) -> str:
        """Serve the operator console (its own thread and loop) with the operator key; its URL."""
        from runtime.fleet.console_fleet import ConsoleFleet
        from runtime.fleet.console_server import ConsoleThread, build_app, loopback_warning
        from runtime.operator.token import ensure_token

        host = self.config.console.host
        warning = loopback_warning(host)
        if warning:
            self.warn(warning)
        self.console_token = ensure_token(self.home)  # before the agents start: they serve the same one
        fleet = ConsoleFleet(
            self.config, self.config_path, self.home, self.console_token, operator, self.agent_states
        )
        app = build_app(fleet, self.console_token)
        remembered = self.home.root / "console.port"
        port = self.config.console.port or read_port(remembered)
        try:
            self.console = ConsoleThread(app, host, port)
        except OSError as exc:
            if self.config.console.port:
                raise SupervisorError(
                    f"the console cannot listen on {host}:{port} ({exc.strerror}): "
                    "free that port or change console.port in agents.yaml"
                ) from None
            self.console = ConsoleThread(app, host, 0)  # the remembered port is taken: any free one
        remembered.write_text(f"{self.console.port}\n", encoding="utf-8")
        return self.console.start()

    def agent_states(self) -> dict[str, str]:
        """Each agent's state for the console: ready, starting, crashed (waiting to restart), stopped."""
        states = {}
        for name, proc in self.agents.items():
            p = proc.process
            if p is None:
                states[name] = "stopped"
            elif p.poll() is not None:
                states[name] = "stopped" if self.stopping else "crashed"
            else:
                states[name] = "ready" if proc.ready else "starting"
        return states

    def _stop_all(self) -> None:
        if self.console is not None:
            self.console.stop()
            self.console = None
        for proc in self.agents.values():
            if proc.process is not None and proc.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.process.pid, signal.SIGTERM)
        for proc in self.agents.values():
            if proc.process is None:
                continue
            try:
                proc.process.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                self.warn(f"agent {proc.name} did not stop in {STOP_GRACE:.0f} s: killed")
                os.killpg(proc.process.pid, signal.SIGKILL)
                proc.process.wait()
        self.facilitator.stop()
        if self.node is not None:
            self.node.stop()
            self.home.node_file.unlink(missing_ok=True)
        self.home.supervisor_file.unlink(missing_ok=True)
        if self.stopping:
            self.out.print("stopped: agents and chain down, state saved in " + str(self.home.root))


def console_link(url: str, token: str) -> str:
    """The link that opens the console logged in: the token in the fragment, which browsers keep
    to themselves (never sent to a server, nor in a Referer)."""
    return f"{url}#token={token}"
