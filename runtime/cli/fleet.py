"""`sova up|down|status` — the whole fleet: chain, contracts, keys, funds and one process per agent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from runtime.cli.common import (
    DEFAULT_CONFIG,
    ConfigOption,
    JsonOption,
    check_services,
    load,
    out,
    print_json,
    warn,
)
from runtime.config import AgentsFile
from runtime.errors import SovaError
from runtime.home import Home

DETACH_TIMEOUT = 180.0
BALANCE_OF = "0x70a08231"  # balanceOf(address)


def up(
    file: ConfigOption = DEFAULT_CONFIG,
    detach: Annotated[bool, typer.Option("--detach", help="return once every agent is ready")] = False,
) -> None:
    """Start the chain (or attach), deploy once, create keys, fund, and run one process per agent."""
    from runtime.config_check import check_config
    from runtime.fleet.startup import last_log_line
    from runtime.fleet.supervisor import DETACHED_ENV, Supervisor
    from runtime.pidfile import running_supervisor

    check_config(file)  # skills, names and policy files too, before any process starts
    config, home = load(file)
    check_services(config, file)
    if not detach:
        raise typer.Exit(Supervisor(config, file, home, out, warn).run())
    if running_supervisor(home) is not None:
        out.print("the fleet is already running")
        _print_status(_status(config, file, home), console=False)
        _print_console(home)
        return
    home.ensure()
    log_path = home.root / "sova-up.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            detached_command(file),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, DETACHED_ENV: "1"},  # its log gets no token; we print the link below
        )
    deadline = time.monotonic() + DETACH_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SovaError(
                f"sova up stopped with code {proc.returncode}: {last_log_line(log_path)} (log: {log_path})"
            )
        status = _status(config, file, home)
        if status["supervisor"] and all(a["ready"] for a in status["agents"]):
            _print_status(status, console=False)
            _print_console(home)
            out.print(f"running in the background (log: {log_path}); stop with `sova down`")
            return
        time.sleep(0.5)
    raise SovaError(f"the fleet was not ready within {DETACH_TIMEOUT:.0f} s: see {log_path}")


def detached_command(file: Path) -> list[str]:
    """The background `sova up`: the same interpreter; `-P` so that a folder of the project (its
    `policies/`, say) never shadows one of Sova's packages."""
    return [
        sys.executable,
        "-P",
        "-c",
        "from runtime.cli import main; main()",
        "up",
        "-f",
        str(file.resolve()),
    ]


def down(file: ConfigOption = DEFAULT_CONFIG) -> None:
    """Stop the agents and the chain `sova up` started; everything is saved."""
    from runtime.pidfile import running_supervisor, stop_and_wait

    _, home = load(file)
    record = running_supervisor(home)
    if record is None:
        out.print("the fleet is not running")
        return
    pid = int(record["pid"])
    if not stop_and_wait(pid, timeout=60):
        raise SovaError(
            f"the supervisor (pid {pid}) did not stop within 60 s: kill it, then run `sova up` again"
        )
    out.print("stopped: agents and chain down, state saved")


def status(file: ConfigOption = DEFAULT_CONFIG, as_json: JsonOption = False) -> None:
    """Agents, pids, ports, DIDs, addresses, balances and deals."""
    config, home = load(file)
    info = _status(config, file, home)
    if as_json:
        print_json(info)
    else:
        _print_status(info)


def _status(config: AgentsFile, file: Path, home: Home) -> dict[str, Any]:
    from runtime.chain.health import HEALTH_FILE, chain_health
    from runtime.chain.ops import chain_url
    from runtime.pidfile import pid_alive, read_ready, running_supervisor

    sup = running_supervisor(home)
    try:
        url: str | None = chain_url(config, home)
    except SovaError:
        url = None
    token = _tusd(home, url)
    agents = []
    for agent in config.agents:
        ready = read_ready(home, agent.name) or {}
        alive = bool(ready) and pid_alive(int(ready.get("pid", 0)))
        address = ready.get("address") or _address(home, config, file, agent.key_name)
        agents.append(
            {
                "name": agent.name,
                "role": agent.role,
                "ready": alive,
                "pid": ready.get("pid") if alive else None,
                "url": ready.get("url") if alive else None,
                "port": _port(ready.get("url")) if alive else None,
                "did": ready.get("did") or _did(home, config, file, agent.key_name),
                "address": address,
                "eth": _eth(url, address),
                "tusd": _erc20(url, token, address),
                "deals": _deals(home.deals(agent.name)),
            }
        )
    console = sup.get("console") if sup else None
    health = chain_health(home.chain_dir / HEALTH_FILE, url)
    return {
        "supervisor": sup["pid"] if sup else None,
        "chain": url,
        "chain_health": health,
        "console": console,
        "agents": agents,
    }


def _print_status(info: dict[str, Any], console: bool = True) -> None:
    out.print(f"supervisor: {'pid ' + str(info['supervisor']) if info['supervisor'] else 'not running'}")
    out.print(f"chain: {info['chain'] or 'not running'}")
    if info.get("chain_health"):
        from runtime.chain.health import describe

        out.print(f"chain health: {describe(info['chain_health'])}")
    if console and info.get("console"):  # `up` prints the link with the token instead
        out.print(f"console: {info['console']} (token in .sova/operator.token)")
    for a in info["agents"]:
        state = f"pid {a['pid']} {a['url']}" if a["ready"] else "stopped"
        deals = ", ".join(f"{k} {v}" for k, v in sorted(a["deals"].items())) or "no deals"
        out.print(f"  {a['name']:<8} {a['role']:<7} {state:<36} {a['tusd'] or '?'} TUSD  {deals}")
        out.print(f"  {'':<8} {a['did'] or 'DID: not ready yet'}  {a['address'] or 'no wallet key yet'}")


def _print_console(home: Home) -> None:
    """The console link with the token in its fragment, for the operator's own terminal."""
    from runtime.fleet.supervisor import console_link
    from runtime.operator.token import read_token
    from runtime.pidfile import running_supervisor

    record = running_supervisor(home) or {}
    url, token = record.get("console"), read_token(home)
    if isinstance(url, str) and token:
        out.print(f"console: {console_link(url, token)}")


def _port(url: str | None) -> int | None:
    try:
        return int(str(url).rsplit(":", 1)[1].split("/")[0])
    except (IndexError, ValueError):
        return None


def _did(home: Home, config: AgentsFile, file: Path, key: str) -> str | None:
    """The did:key of the agent's identity key (read from its file, not unlocked), or None."""
    from identity import IdentityKeyStore

    try:
        return IdentityKeyStore(home.keys_dir(config, file.parent)).did(key)
    except Exception:  # no key yet, or an unreadable file: status shows what it can
        return None


def _address(home: Home, config: AgentsFile, file: Path, key: str) -> str | None:
    try:
        data = json.loads((home.keys_dir(config, file.parent) / f"{key}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    address = data.get("address")
    return None if not isinstance(address, str) else (address if address.startswith("0x") else "0x" + address)


def _tusd(home: Home, url: str | None) -> str | None:
    from runtime.chain.anvil import rpc_chain_id

    chain_id = rpc_chain_id(url) if url else None
    if chain_id is None:
        return None
    try:
        data = json.loads(home.deployments(chain_id).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    token = data.get("contracts", {}).get("TestUSD")
    return token if isinstance(token, str) else None


def _eth(url: str | None, address: str | None) -> str | None:
    from runtime.chain.anvil import rpc_call

    if not url or not address:
        return None
    try:
        return str(int(str(rpc_call(url, "eth_getBalance", [address, "latest"], timeout=2)), 16) / 10**18)
    except (OSError, ValueError, SovaError):
        return None


def _erc20(url: str | None, token: str | None, address: str | None) -> str | None:
    from decimal import Decimal

    from runtime.chain.anvil import rpc_call

    if not url or not token or not address:
        return None
    data = BALANCE_OF + address.lower().removeprefix("0x").rjust(64, "0")
    try:
        raw = rpc_call(url, "eth_call", [{"to": token, "data": data}, "latest"], timeout=2)
        return str(Decimal(int(str(raw), 16)) / Decimal(10**6))
    except (OSError, ValueError, SovaError):
        return None


def _deals(path: Path) -> dict[str, int]:
    if not path.exists():
        return {}
    from runtime.negotiation.deals import DealStore

    store = DealStore(path)
    try:
        counts: dict[str, int] = {}
        for record in store.all():
            counts[record.state] = counts.get(record.state, 0) + 1
        return counts
    finally:
        close = getattr(store, "close", None)
        if callable(close):
            close()
