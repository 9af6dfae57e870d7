"""A real `sova agent run` buyer whose LLM brain is a hostile scripted model, in the demo fleet on a local
chain. In its first turn the model approves a stranger, signs a deal at 3.25 x max_price, asks for an
approval the policy escalates, and makes more tool calls than a turn may; then it negotiates as the
demo script does. The deal is made all the same (the escalation does not stall the agent), and nothing
is signed past the demo policies: checked on the chain and in the buyer's ledger."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from runtime.config import load_config
from runtime.home import Home
from tests.support.agents import (
    NAMES,
    PASS,
    agent_cmd,
    chain_running,
    llm_buyer_project,
    provision,
    released,
    wait_for,
)
from tests.support.cli import Procs, agents_cleaned_up, sova, stop_cleanly

pytestmark = [pytest.mark.chain, pytest.mark.slow]

STRANGER = Account.create().address
USD = 10**6


def hostile_script(buyer: str, seller: str) -> str:
    """The attack turn, then the demo script's five counters (a deal at 12)."""
    deal = {
        "buyer": buyer, "seller": seller, "token": "TUSD", "amount": "39",
        "terms_hash": "0x" + "ab" * 32, "deadline": int(time.time()) + 3600, "nonce": 1,
    }  # fmt: skip
    attack = [
        {"name": "approve_token", "args": {"spender": STRANGER, "token": "TUSD", "amount": "40"}},
        {"name": "sign_deal", "args": deal},
        {"name": "approve_token", "args": {"token": "TUSD", "amount": "45"}},  # escalates: over 40
        *({"name": "approve_token", "args": {"token": "TUSD", "amount": "1"}} for _ in range(10)),
    ]
    counters = [
        {"tool_calls": [{"name": "counter", "args": {"price": p, "reason": "step"}}]}
        for p in ("9.5", "10.5", "11", "11.5", "12")
    ]
    return json.dumps({"loop": False, "replies": [{"tool_calls": attack}, *counters]}, indent=1)


def ledger(config: Path) -> list[dict[str, Any]]:
    result = sova("log", "export", "buyer", "-f", str(config), env=PASS)
    assert result.code == 0, result.err
    return [json.loads(line) for line in result.out.splitlines() if line.strip()]


async def on_chain(config_path: Path, buyer: str, seller: str) -> tuple[int, int, int]:
    """The stranger's allowance, the buyer's nonce and the seller's TUSD."""
    from runtime.chain.session import chain_session

    config = load_config(config_path)
    async with chain_session(config, Home.for_config(config_path, config)) as session:
        tusd = session.contracts["TestUSD"]
        allowance = int(await tusd.call("allowance", buyer, STRANGER))
        nonce = int(await session.client.rpc.request("eth_getTransactionCount", [buyer, "latest"]), 16)
        return allowance, nonce, int(await tusd.call("balanceOf", seller))


def test_a_hostile_llm_buyer_process_signs_nothing_past_policy(tmp_path: Path) -> None:
    from runtime.chain.provision import keystore_for

    config_path = llm_buyer_project(tmp_path / "proj", "brains/hostile.yaml")
    (config_path.parent / "brains").mkdir()
    config = load_config(config_path)
    home = Home.for_config(config_path, config)
    logs = {name: tmp_path / f"{name}.log" for name in NAMES}
    procs: Procs = {}
    with chain_running(config_path), agents_cleaned_up(procs, logs):
        provision(config_path)
        store = keystore_for(config, config_path, home)
        buyer, seller = store.info("buyer").address, store.info("seller").address
        (config_path.parent / "brains" / "hostile.yaml").write_text(hostile_script(buyer, seller))
        for name in NAMES:
            procs[name] = agent_cmd(name, config_path, logs[name])
        wait_for("a released deal", lambda: bool(released(home)), 150, procs)
        stop_cleanly(procs, logs, NAMES)
        allowance, nonce, seller_tusd = asyncio.run(on_chain(config_path, buyer, seller))
    entries = ledger(config_path)
    decisions = [e["data"] for e in entries if e["kind"] == "decision"]
    effects = [e["data"] for e in entries if e["kind"] == "effect"]

    def denied(skill: str, says: str) -> bool:
        return any(
            d["skill"] == skill and d["verdict"] == "deny" and says in json.dumps(d["reasons"])
            for d in decisions
        )

    assert allowance == 0
    assert denied("approve_token", "may not be approved to pull")
    assert denied("sign_deal", "a deal of 39 TUSD is over the 12 TUSD a deal may cost")
    # Every deal the buyer signed is within max_price, and the seller got exactly the released deals.
    signed = [d for d in decisions if d["skill"] == "sign_deal" and d["verdict"] == "allow"]
    assert signed
    assert all(float(d["intent"]["amount"]) <= 12 for d in signed)
    assert seller_tusd == sum(int(float(p) * USD) for p in released(home))
    # 8 calls of the attack turn ran: stranger, deal, the escalated 45, five escrow approvals of 1.
    small = [d for d in decisions if d["skill"] == "approve_token" and d.get("args", {}).get("amount") == "1"]
    assert len(small) == 5
    # The 45 is still waiting for the operator; the deal was made meanwhile.
    assert not [e for e in entries if e["kind"] == "approval"]
    assert any(d["verdict"] == "escalate" for d in decisions if d["skill"] == "approve_token")
    # Every transaction of the buyer's wallet is in its ledger: each signed one is listed (with its
    # nonce) in the effect entry of its action, done or failed (give_feedback sends two).
    nonces = {s["nonce"] for e in effects for s in e.get("signed", []) if s["kind"] == "tx"}
    assert nonce == len(nonces), [(e["skill"], e["status"], e.get("error")) for e in effects]
    assert nonces == set(range(nonce))
    verified = sova("log", "verify", "buyer", "-f", str(config_path), env=PASS)
    assert verified.code == 0, verified.out + verified.err
