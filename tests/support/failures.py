"""Shared by the failure tests (tests/e2e/test_failures_*.py): a demo fleet under `sova up --detach`, and
read-only looks into what its agents keep on disk (deal stores, ledgers, the outbox)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from runtime.config import load_config
from runtime.home import Home
from runtime.ledger.format import Entry
from runtime.ledger.store import connect_reader, read_entries
from runtime.negotiation.deals import DealRecord, DealStore
from tests.support.cli import sova
from tests.support.paths import REPO_ROOT

ROOT = REPO_ROOT
PASS = {"SOVA_PASSPHRASE": "failure tests passphrase"}
T = TypeVar("T")


def project(folder: Path, edit: Callable[[str], str] = lambda text: text) -> Path:
    """The demo agents.yaml (the buyer buys every 2 s), edited by `edit`, with the preset policies, but
    a buyer budget and rate limit roomy enough for the many deals of a module's tests (the preset's
    100 TUSD a day per seller runs out after eight deals)."""
    presets = folder / "policies" / "presets"
    shutil.copytree(ROOT / "policies" / "presets", presets)
    policy = (presets / "buyer.yaml").read_text()
    roomy = (
        policy.replace('per_day: "200"', 'per_day: "5000"')
        .replace('per_counterparty_day: "100"', 'per_counterparty_day: "5000"')
        .replace("max: 120", "max: 2000")
    )
    assert roomy.count("5000") == 2, "the buyer preset's budget changed: update this edit"
    assert "max: 2000" in roomy, "the buyer preset's rate limit changed: update this edit"
    (presets / "buyer.yaml").write_text(roomy)
    text = (ROOT / "agents.yaml").read_text().replace("every: 20s", "every: 2s")
    assert "every: 2s" in text
    config = folder / "agents.yaml"
    config.write_text(edit(text))
    return config


def up(config: Path) -> None:
    started = sova("up", "--detach", "-f", str(config), env=PASS, timeout=240)
    assert started.code == 0, started.err + started.out


def down(config: Path) -> None:
    sova("down", "-f", str(config), env=PASS, timeout=90)


def home_of(config: Path) -> Home:
    return Home.for_config(config, load_config(config))


def agents(config: Path) -> dict[str, dict[str, Any]]:
    """`sova status --json` agents by name."""
    result = sova("status", "--json", "-f", str(config))
    assert result.code == 0, result.err
    return {a["name"]: a for a in json.loads(result.out)["agents"]}


def wait_for(check: Callable[[], T | None], timeout: float, what: str, every: float = 0.2) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def deals(home: Home, name: str) -> list[DealRecord]:
    """The agent's deal records, most recently updated first ([] before it made any)."""
    path = home.agent_dir(name) / "deals.sqlite"
    if not path.exists():
        return []
    store = DealStore(path)
    try:
        return store.all()
    finally:
        store.close()


def deal(home: Home, name: str, thid: str) -> DealRecord | None:
    return next((d for d in deals(home, name) if d.thid == thid), None)


def ledger(home: Home, name: str) -> list[Entry]:
    """Every entry of the agent's ledger, in seq order."""
    conn = connect_reader(home.ledger(name))
    try:
        return read_entries(conn)
    finally:
        conn.close()


def deal_events(home: Home, name: str, thid: str | None = None) -> list[dict[str, Any]]:
    """The `deal` entries' data (thid, peer, event, reason, …), of one thread or all."""
    found = [e.data for e in ledger(home, name) if e.kind == "deal"]
    return [d for d in found if thid is None or d.get("thid") == thid]


def outbox_rows(home: Home, purpose: str) -> list[dict[str, Any]]:
    """The outbox's transactions with this purpose (e.g. "DealEscrow.open"), as dicts."""
    conn = sqlite3.connect(home.outbox.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT tx_hash, tx, status, receipt_status, sender FROM outbox WHERE purpose = ?", (purpose,)
        ).fetchall()
    finally:
        conn.close()
    return [{"tx_hash": r[0], "tx": json.loads(r[1]), "status": r[2], "receipt_status": r[3],
             "sender": r[4]} for r in rows]  # fmt: skip


def assert_ledger_whole(config: Path, name: str) -> None:
    """Seqs 1..n with no gap, and `sova log verify` passes."""
    seqs = [e.seq for e in ledger(home_of(config), name)]
    assert seqs == list(range(1, len(seqs) + 1)), f"{name}: ledger seqs have a gap"
    verified = sova("log", "verify", name, "-f", str(config), env=PASS, timeout=120)
    assert verified.code == 0, f"{name}: {verified.out}{verified.err}"
