"""`sova console [AGENT]` — the console's chat in the terminal, through the running `sova up`.

It talks to the console server of this fleet (its URL is in `.sova/supervisor.json`, the token in
`.sova/operator.token`), so `pause`, `resume`, `approve N` and `reject N` are done exactly as from the
web page: on-chain pause and operator-signed decisions. Lines that start with `/` are the terminal's
own: `/use NAME` switches agent, `/agents` lists them, `/quit` ends (so does Ctrl-D).
"""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated, Any

import typer

from runtime.cli.common import DEFAULT_CONFIG, ConfigOption, load, out
from runtime.errors import SovaError

HELP = "/use NAME switches agent, /agents lists them, /quit ends; anything else goes to the agent (try help)"


def console(
    agent: Annotated[str | None, typer.Argument(help="the agent to talk to; default: the first one")] = None,
    file: ConfigOption = DEFAULT_CONFIG,
    command: Annotated[
        list[str] | None,
        typer.Option("--command", "-c", help="say this and exit (repeatable); no interactive prompt"),
    ] = None,
) -> None:
    """Chat with an agent of the running fleet: status, budget, deals, approve 3, pause, help…"""
    from runtime.operator.token import read_token
    from runtime.pidfile import running_supervisor

    config, home = load(file)
    record = running_supervisor(home)
    url = record.get("console") if record else None
    if not isinstance(url, str):
        raise SovaError(f"no running console for {file}: start the fleet with `sova up` first")
    token = read_token(home)
    if not token:
        raise SovaError(
            f"no operator token in {home.root / 'operator.token'}: start the fleet with `sova up`"
        )
    name = agent or config.agents[0].name
    config.agent(name)  # an unknown name is one clear line, before any prompt
    asyncio.run(_session(url, token, name, command))


async def _session(url: str, token: str, name: str, commands: list[str] | None) -> None:
    from runtime.operator.client import OperatorClient

    async with OperatorClient(url, token, timeout=150, label="the console") as client:
        if commands:
            for line in commands:
                name = await _handle(client, name, line)
            return
        interactive = sys.stdin.isatty()
        if interactive:
            out.print(f"talking to {name} — {HELP}")
        while True:
            try:
                line = await asyncio.to_thread(input, f"{name}> " if interactive else "")
            except EOFError:
                return
            if line.strip() in ("/quit", "/exit"):
                return
            name = await _handle(client, name, line)


async def _handle(client: Any, name: str, line: str) -> str:
    """Do one line; the agent talked to afterwards."""
    from runtime.operator.client import OperatorApiError

    text = line.strip()
    if not text:
        return name
    try:
        if text == "/agents":
            for a in (await client.get("/api/agents"))["agents"]:
                paused = " paused" if a.get("paused") else ""
                out.print(f"{a['name']:<10} {a['role']:<8} {a['state']}{paused}")
            return name
        if text.startswith("/use"):
            wanted = text.removeprefix("/use").strip()
            names = [a["name"] for a in (await client.get("/api/agents"))["agents"]]
            if wanted not in names:
                out.print(f"no agent {wanted!r}: agents are {', '.join(names)}")
                return name
            out.print(f"talking to {wanted}")
            return wanted
        if text.startswith("/"):
            out.print(HELP)
            return name
        answer = await client.post(f"/api/agents/{name}/chat", {"text": text})
        out.print(str(answer.get("reply", answer)))
    except OperatorApiError as exc:
        out.print(f"error: {exc}")
    return name
