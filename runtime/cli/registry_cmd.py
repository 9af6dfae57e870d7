"""`sova registry show NAME|AGENT_ID|0xWALLET|DID`: an agent as ERC-8004's registries describe it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import typer

from runtime.cli.common import DEFAULT_CONFIG, ConfigOption, JsonOption, out, print_json
from runtime.errors import SovaError

app = typer.Typer(help="What the agent registries (ERC-8004) say of an agent.", no_args_is_help=True)


@app.command("show")
def show(agent: str, file: ConfigOption = DEFAULT_CONFIG, as_json: JsonOption = False) -> None:
    """An agent's id, owner, agentWallet, URI, DID, tags, DID binding, reputation and validations.
    AGENT: an agent name of agents.yaml, an agent id, a 0x wallet or a DID."""
    from runtime.cli.common import load

    config, home = load(file)
    ref = agent.strip()
    if not ref:
        raise SovaError("name an agent: an agent name of agents.yaml, an agent id, a 0x wallet or a DID")
    if not (ref.isdigit() or ref.startswith(("0x", "did:"))):
        ref = _wallet_of(config, home, file, ref)
    view = asyncio.run(_view(config, home, ref))
    if as_json:
        print_json(view)
        return
    for line in lines(view):
        out.print(line)


def _wallet_of(config: Any, home: Any, file: Path, name: str) -> str:
    from wallet import Keystore

    names = [a.name for a in config.agents]
    if name not in names:
        raise SovaError(
            f"unknown agent {name!r}: give an agent name of {file} ({', '.join(names) or 'none'}), "
            "an agent id, a 0x wallet or a DID"
        )
    try:
        return Keystore(home.keys_dir(config, file.parent)).info(name).address
    except FileNotFoundError:
        raise SovaError(f"{name} has no wallet key yet: start the fleet once with `sova up`") from None


async def _view(config: Any, home: Any, ref: str) -> dict[str, Any]:
    from runtime.chain.agent_view import agent_view, find_agent_id
    from runtime.chain.session import chain_session

    async with chain_session(config, home) as session:
        return await agent_view(session.contracts, await find_agent_id(session.registry, ref))


def lines(view: dict[str, Any]) -> list[str]:
    """The human lines of an agent view."""
    rows = [
        ("agent id", str(view["agent_id"])),
        ("owner", view["owner"]),
        ("wallet", view["agent_wallet"] or "none (not proved since a transfer)"),
        ("uri", view["uri"] or "-"),
        ("did", view["did"]),
        ("endpoint", view["endpoint"] or "-"),
        ("tags", ", ".join(view["tags"]) or "-"),
        ("binding", view["binding"]),
    ]
    rep = view.get("reputation")
    if rep is not None:
        said = f"{rep['value']} over {rep['count']} paid feedback" if rep["count"] else "no paid feedback yet"
        rows.append(
            ("reputation", f"{said} from {rep['clients']} client(s); {rep['settled_deals']} settled deal(s)")
        )
    val = view.get("validations")
    if val is not None:
        rows.append(
            ("validations", f"{val['answered']} answered of {val['requests']}, average {val['average']}")
        )
        rows += [
            ("", f"{v['request_hash'][:18]}… by {v['validator']}: {v['response']} {v['tag']}".rstrip())
            for v in val["latest"]
        ]
    return [f"{k:<12}{v}" for k, v in rows]
