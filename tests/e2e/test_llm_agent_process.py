"""`sova agent run` with an LLM brain: the demo fleet, the buyer's brain being the scripted model of
brains/scripted-buyer.yaml (no network, no key), as real OS processes on a local chain. The model's
moves make the deal, which settles; every move is a signed ledger entry that `sova log verify` passes."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from runtime.config import LlmBrain, load_config
from runtime.home import Home
from tests.support.agents import (
    NAMES,
    PASS,
    ROOT,
    agent_cmd,
    chain_running,
    llm_buyer_project,
    project,
    provision,
    released,
    wait_for,
)
from tests.support.cli import Procs, agents_cleaned_up, sova, stop_cleanly

pytestmark = [pytest.mark.chain, pytest.mark.slow]


def llm_project(tmp_path: Path) -> Path:
    config = llm_buyer_project(tmp_path, "brains/scripted-buyer.yaml")
    shutil.copytree(ROOT / "brains", config.parent / "brains")
    return config


def brain_entries(config: Path) -> list[dict[str, object]]:
    result = sova("log", "export", "buyer", "-f", str(config), env=PASS)
    assert result.code == 0, result.err
    lines = [json.loads(line) for line in result.out.splitlines() if line.strip()]
    return [e["data"] for e in lines if e["kind"] == "brain"]


def test_an_llm_brained_buyer_process_makes_a_deal(tmp_path: Path) -> None:
    config_path = llm_project(tmp_path / "proj")
    config = load_config(config_path)
    assert isinstance(config.agent("buyer").brain, LlmBrain)
    home = Home.for_config(config_path, config)
    logs = {name: tmp_path / f"{name}.log" for name in NAMES}
    procs: Procs = {}
    with chain_running(config_path), agents_cleaned_up(procs, logs):
        provision(config_path)
        for name in NAMES:
            procs[name] = agent_cmd(name, config_path, logs[name])
        wait_for("a released deal", lambda: bool(released(home)), 120, procs)
        # The scripted model's last counter is 12, the buyer's max_price: the seller accepts it.
        assert Decimal(released(home)[0]) == Decimal("12")
        stop_cleanly(procs, logs, NAMES)
    moves = brain_entries(config_path)
    first_deal = [(m["source"], m["move"], m["price"]) for m in moves[:5]]
    assert first_deal == [
        ("llm", "counter", "9.5"), ("llm", "counter", "10.5"), ("llm", "counter", "11"),
        ("llm", "counter", "11.5"), ("llm", "counter", "12"),
    ]  # fmt: skip
    assert moves[0]["reason"] == "llm: open low: the service is common"
    verified = sova("log", "verify", "buyer", "-f", str(config_path), env=PASS)
    assert verified.code == 0, verified.out + verified.err


def test_an_llm_seller_without_a_fallback_is_refused_in_one_line(tmp_path: Path) -> None:
    config_path = project(tmp_path / "proj")
    text = config_path.read_text()
    seller_rules = 'brain: {kind: rules, strategy: boulware, target: "14", reservation: "9", rounds: 10}'
    assert text.count(seller_rules) == 1
    config_path.write_text(text.replace(seller_rules, 'brain: {kind: llm, model: "scripted:s.yaml"}'))
    with chain_running(config_path):
        provision(config_path)
        log = tmp_path / "seller.log"
        proc = agent_cmd("seller", config_path, log)
        assert proc.wait(timeout=90) == 2
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    assert "Traceback" not in log.read_text()
    assert lines[-1].endswith(
        "agent seller: an llm brain that sells needs a `fallback:` rules brain: its reservation is the "
        "lowest price the model may agree to"
    ), lines
