"""An agent's x402 payments and sales as rows beside its deals (`sova deals list|show`, the operator
API's `GET /v1/deals` that the console shows), read from its ledger: `x402_payment` entries (paid as
a buyer, runtime/payments/buyer.py) and `x402_sale` entries (sold, runtime/payments/paywall.py).

Each row: `kind` "x402", `id` ("x402-<ledger seq>"), `role` (buyer or seller), `state` (the
payment's status; a sale is `sold`), `item` and `resource` (the URL paid for), `price` and `token`
(token units when the asset is a known token, else base units and the asset address), `payer`,
`payee`, `counterparty` (the other one), `transaction` (the settlement), the input and output hashes a
sale keeps, `reason` (why a payment did not go through), `updated` (the entry's time).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from policies import TokenInfo, format_units
from runtime.ledger.format import Entry
from runtime.ledger.store import COLUMNS, connect_reader

__all__ = ["KINDS", "read_x402_rows", "x402_row", "x402_rows"]

KINDS = ("x402_payment", "x402_sale")
Tokens = Mapping[str, tuple[str, int]]
"""{lowercase token address: (symbol, decimals)}."""


def _text(value: Any, limit: int = 300) -> str | None:
    return value[:limit] if isinstance(value, str) else None


def _price(amount: Any, asset: Any, tokens: Tokens) -> tuple[str | None, str | None]:
    known = tokens.get(asset.lower()) if isinstance(asset, str) else None
    if not isinstance(amount, str) or not amount.isdigit():
        return None, known[0] if known else _text(asset, 42)
    if known is None:
        return amount, _text(asset, 42)
    return format_units(int(amount), known[1]), known[0]


def x402_row(entry: Entry, tokens: Tokens) -> dict[str, Any] | None:
    """The row of one `x402_payment` or `x402_sale` entry (None for any other, or unreadable data)."""
    try:
        data = entry.data
    except ValueError:
        return None
    if entry.kind == "x402_sale":
        role, state = "seller", "sold"
        payer, payee = _text(data.get("payer"), 64), _text(data.get("pay_to"), 64)
        amount, asset, resource = data.get("amount"), data.get("asset"), data.get("resource")
        counterparty, reason = payer, None
    elif entry.kind == "x402_payment":
        found = data.get("offer")
        offer: dict[str, Any] = found if isinstance(found, dict) else {}
        role, state = "buyer", _text(data.get("status"), 32) or "unknown"
        payer, payee = None, _text(data.get("pay_to") or offer.get("payTo"), 64)
        amount, asset, resource = offer.get("amount"), offer.get("asset"), data.get("url")
        counterparty = payee
        reasons = data.get("reasons")
        reason = _text(data.get("problem") or data.get("error")) or (
            "; ".join(str(r)[:200] for r in reasons[:3]) if isinstance(reasons, list) and reasons else None
        )
    else:
        return None
    price, token = _price(amount, asset, tokens)
    return {
        "kind": "x402", "id": f"x402-{entry.seq}", "seq": entry.seq, "role": role, "state": state,
        "item": _text(resource, 2048), "resource": _text(resource, 2048), "price": price, "token": token,
        "payer": payer, "payee": payee, "counterparty": counterparty,
        "transaction": _text(data.get("transaction"), 80), "http_status": data.get("http_status"),
        "input_hash": _text(data.get("input_sha256"), 80),
        "output_hash": _text(data.get("output_sha256") or data.get("body_sha256"), 80),
        "reason": reason, "updated": entry.ts,
    }  # fmt: skip


def read_x402_rows(path: Path, known: Iterable[TokenInfo], limit: int = 200) -> list[dict[str, Any]]:
    """The newest `limit` x402 rows of the ledger file at `path`, newest first ([] without a ledger),
    amounts of the `known` tokens in token units."""
    if not path.is_file():
        return []
    tokens = {t.address.lower(): (t.symbol, t.decimals) for t in known}
    conn = connect_reader(path)
    try:
        marks = ", ".join("?" * len(KINDS))
        rows = conn.execute(
            f"SELECT {COLUMNS} FROM entries WHERE kind IN ({marks}) ORDER BY seq DESC LIMIT ?",  # noqa: S608
            (*KINDS, limit),
        ).fetchall()
    except sqlite3.DatabaseError:
        return []
    finally:
        conn.close()
    found = (x402_row(Entry.from_row(r), tokens) for r in rows)
    return [row for row in found if row is not None]


async def x402_rows(path: Path, known: Iterable[TokenInfo], limit: int = 200) -> list[dict[str, Any]]:
    """`read_x402_rows` on a worker thread (for the operator API)."""
    return await asyncio.to_thread(read_x402_rows, path, known, limit)
