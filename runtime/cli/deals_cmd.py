"""`sova deals list|show` — an agent's deals with their service, input, result, price, state,
counterparty and transaction hashes, read from its deal store (`<home>/agents/<name>/deals.sqlite`, and
`deal-payloads/` beside it for inputs and results kept as files). Read-only: nothing is sent or signed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from runtime.cli.common import DEFAULT_CONFIG, ConfigOption, JsonOption, load, out, print_json
from runtime.errors import SovaError

if TYPE_CHECKING:
    from runtime.negotiation.deals import DealRecord, DealStore

app = typer.Typer(help="Show an agent's deals: service, input, result, price, state.", no_args_is_help=True)

NameArg = Annotated[str, typer.Argument(help="agent name from agents.yaml")]
DealArg = Annotated[str, typer.Argument(help="deal id (0x…), or the thread id `deals list` shows")]


@app.command("list")
def list_deals(name: NameArg, file: ConfigOption = DEFAULT_CONFIG, as_json: JsonOption = False) -> None:
    """Every deal of agent NAME, most recent first."""
    store, names = _open(name, file)
    try:
        deals = [_view(store, r, names) for r in store.all()]
    finally:
        store.close()
    if as_json:
        print_json(deals)
        return
    if not deals:
        out.print(f"{name} has no deals yet")
    for d in deals:
        result = json.dumps(d["result"], sort_keys=True) if d["result"] is not None else "-"
        price = f"{d['price'] or '-'} {d['token']}"
        out.print(f"{d['thid'][:12]}  {d['state']:<9} {d['service']:<12} {price:>12}  "
                  f"{d['role']} with {d['counterparty']}  result {_short(result)}")  # fmt: skip


@app.command("show")
def show_deal(
    name: NameArg, deal: DealArg, file: ConfigOption = DEFAULT_CONFIG, as_json: JsonOption = False
) -> None:
    """One deal of agent NAME, in full."""
    store, names = _open(name, file)
    try:
        wanted = deal.lower()
        found = next((r for r in store.all() if wanted in (r.deal_id.lower(), r.thid.lower())), None)
        if found is None:
            found = next((r for r in store.all() if r.thid.lower().startswith(wanted)), None)
        if found is None:
            raise SovaError(f"{name} has no deal {deal!r}: see `sova deals list {name}`")
        view = _view(store, found, names)
    finally:
        store.close()
    if as_json:
        print_json(view)
        return
    view["price"] = f"{view['price'] or '-'} {view['token']}"
    for key in ("thid", "deal_id", "state", "reason", "role", "counterparty", "service", "price", "quote",
                "terms_hash", "input", "input_hash", "result", "output_hash", "txs"):  # fmt: skip
        value = view[key]
        text = json.dumps(value, sort_keys=True) if isinstance(value, dict | list) or value is None else value
        out.print(f"{key + ':':<13} {text}")


def _open(name: str, file: Path) -> tuple[DealStore, dict[str, str]]:
    """The deal store of agent `name` and the fleet's DIDs by name; SovaError when there is none."""
    from runtime.negotiation.deals import DealStore

    config, home = load(file)
    config.agent(name)  # ConfigError naming the agents there are
    path = home.deals(name)
    if not path.exists():
        raise SovaError(f"{name} has no deals yet (no {path}): start the fleet with `sova up`")
    return DealStore(path), _dids(config, file, home)


def _dids(config: Any, file: Path, home: Any) -> dict[str, str]:
    from identity import IdentityKeyStore

    keys = IdentityKeyStore(home.keys_dir(config, file.parent))
    return {keys.did(a.key_name): a.name for a in config.agents if keys.exists(a.key_name)}


def _view(store: DealStore, record: DealRecord, names: dict[str, str]) -> dict[str, Any]:
    name = names.get(record.peer)
    return {
        "thid": record.thid, "deal_id": record.deal_id, "state": record.state, "reason": record.reason,
        "role": record.role, "counterparty": f"{name} ({record.peer})" if name else record.peer,
        "counterparty_did": record.peer, "service": record.item, "price": record.price, "token": record.token,
        "quote": record.quote, "terms_hash": record.terms_hash,
        "input": store.payloads.load(record.input, record.input_hash), "input_hash": record.input_hash,
        "result": store.payloads.load(record.output, record.output_hash), "output_hash": record.output_hash,
        "txs": record.txs, "started": record.started, "updated": record.updated,
    }  # fmt: skip


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
