"""`sova deals list|show` — an agent's deals with their service, input, result, price, state,
counterparty and transaction hashes, read from its deal store (`<home>/agents/<name>/deals.sqlite`, and
`deal-payloads/` beside it for inputs and results kept as files), and its x402 payments and sales (kind
`x402`, id `x402-<ledger seq>`: price, payer and payee, the URL paid for, the settlement transaction),
read from its ledger (runtime/payments/records.py). Read-only: nothing is sent or signed.
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
    paid = _x402(name, file)
    if as_json:
        print_json(deals + paid)
        return
    if not deals and not paid:
        out.print(f"{name} has no deals yet")
    for d in deals:
        result = json.dumps(d["result"], sort_keys=True) if d["result"] is not None else "-"
        price = f"{d['price'] or '-'} {d['token']}"
        out.print(f"{d['thid'][:12]}  {d['state']:<9} {d['service']:<12} {price:>12}  "
                  f"{d['role']} with {d['counterparty']}  result {_short(result)}")  # fmt: skip
    for p in paid:
        price = f"{p['price'] or '-'} {p['token']}"
        where = f"{_short(p['resource'] or '-')}  tx {p['transaction'] or '-'}"
        out.print(f"{p['id']:<12}  {p['state']:<9} {'x402':<12} {price:>12}  {p['role']} with "
                  f"{p['counterparty']}  {where}")  # fmt: skip


@app.command("show")
def show_deal(
    name: NameArg, deal: DealArg, file: ConfigOption = DEFAULT_CONFIG, as_json: JsonOption = False
) -> None:
    """One deal of agent NAME, in full."""
    if deal.lower().startswith("x402-"):
        _show_x402(name, deal.lower(), file, as_json)
        return
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


def _show_x402(name: str, wanted: str, file: Path, as_json: bool) -> None:
    """`deals show NAME x402-<seq>`: one x402 payment or sale in full."""
    config, _ = load(file)
    config.agent(name)
    found = next((p for p in _x402(name, file, limit=100_000) if p["id"] == wanted), None)
    if found is None:
        raise SovaError(f"{name} has no x402 payment or sale {wanted!r}: see `sova deals list {name}`")
    if as_json:
        print_json(found)
        return
    for key in ("id", "state", "role", "resource", "price", "token", "payer", "payee", "transaction",
                "http_status", "input_hash", "output_hash", "reason", "updated"):  # fmt: skip
        out.print(f"{key + ':':<13} {found[key] if found[key] is not None else '-'}")


def _x402(name: str, file: Path, limit: int = 200) -> list[dict[str, Any]]:
    """The x402 payments and sales in agent `name`'s ledger, newest first, prices in TUSD."""
    from policies import TokenInfo
    from runtime.ledger.format import ledger_path
    from runtime.payments.records import read_x402_rows

    _, home = load(file)
    tokens: list[TokenInfo] = []
    for deployed in sorted((home.root / "deployments").glob("*.json")):
        try:
            address = json.loads(deployed.read_text(encoding="utf-8"))["contracts"]["TestUSD"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if isinstance(address, str):
            tokens.append(TokenInfo(symbol="TUSD", address=address, decimals=6))
    return read_x402_rows(ledger_path(home.root, name), tokens, limit)


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
        "kind": "deal", "thid": record.thid, "deal_id": record.deal_id, "state": record.state,
        "reason": record.reason,
        "role": record.role, "counterparty": f"{name} ({record.peer})" if name else record.peer,
        "counterparty_did": record.peer, "service": record.item, "price": record.price, "token": record.token,
        "quote": record.quote, "terms_hash": record.terms_hash,
        "input": store.payloads.load(record.input, record.input_hash), "input_hash": record.input_hash,
        "result": store.payloads.load(record.output, record.output_hash), "output_hash": record.output_hash,
        "txs": record.txs, "started": record.started, "updated": record.updated,
    }  # fmt: skip


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
