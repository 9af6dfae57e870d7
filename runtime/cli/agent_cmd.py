"""`sova agent run NAME` — one agent in the foreground, what `sova up` spawns for each agent."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from runtime.cli.common import DEFAULT_CONFIG, ConfigOption, load
from runtime.config import AgentsFile
from runtime.home import Home

app = typer.Typer(help="Run one agent process.", no_args_is_help=True)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@app.callback()
def _group() -> None:
    """Run one agent process."""


@app.command("run")
def run(
    name: Annotated[str, typer.Argument(help="the agent's name in agents.yaml")],
    file: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Run agent NAME until SIGTERM or Ctrl-C: serve A2A, pursue its goals, anchor its log.

    It writes <home>/agents/NAME/agent.json once ready and removes it when it stops. Its keys, gas
    money and the contracts must exist already (`sova up` makes them)."""
    config, home = load(file)
    pin_ports(config, home, name)
    asyncio.run(serve(config, file, name))


def pin_ports(config: AgentsFile, home: Home, name: str) -> None:
    """Run by hand (not by `sova up`, which sets them): the ports `sova up` keeps for agent `name`
    (`.sova/agents/NAME/port`, `operator-port`), so the agent serves at the endpoint it registered
    on-chain, where peers and the console find it."""
    from runtime.fleet.ports import pinned_operator_port, pinned_port

    spec = next((a for a in config.agents if a.name == name), None)
    if spec is None:
        return  # the agent says so itself, in one line
    if not os.environ.get("SOVA_AGENT_PORT"):
        os.environ["SOVA_AGENT_PORT"] = str(pinned_port(home, name, spec.port))
    if not os.environ.get("SOVA_OPERATOR_PORT"):
        os.environ["SOVA_OPERATOR_PORT"] = str(pinned_operator_port(home, name))


async def serve(config: AgentsFile, config_path: Path, name: str) -> None:
    """Start the agent, wait for SIGTERM/SIGINT, stop it cleanly."""
    from runtime.a2a.quiet_log import quiet_sdk_logs
    from runtime.agent.agent import Agent

    quiet_sdk_logs()  # bad requests: one line each kind a minute in agent.log, no a2a-sdk traceback
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def catch() -> None:
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, stop.set)

    catch()
    from runtime.key_handoff import receive

    agent = Agent(config, config_path, name, keys=receive())
    await agent.start()
    # The A2A server (uvicorn) installs its own handlers while it serves: take the signals back.
    catch()
    try:
        await stop.wait()
        agent.say(f"agent {name} stopping")
    finally:
        await agent.stop()
        catch()  # uvicorn restored the default handlers when it stopped
    agent.say(f"agent {name} stopped")


def main() -> None:
    """`python -m runtime.cli.agent_cmd run NAME`: this group alone, errors as one line like `sova`."""
    from runtime.errors import user_message

    code = 0
    try:
        app(sys.argv[1:], prog_name="sova agent")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Exception as exc:
        if os.environ.get("SOVA_DEBUG"):
            raise
        text, code = user_message(exc)
        sys.stderr.write(f"error: {text}\n")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
