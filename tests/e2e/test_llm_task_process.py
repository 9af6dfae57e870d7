"""`llm_task` goals in a real fleet (`sova up --detach`: issuer, the wordcount seller, two LLM-brained
buyers; anvil; real OS processes; scripted models). The README's task makes the buyer's model buy
wordcount from the seller and read the result; a hostile model asking over the policy's price cap,
and then for more tool calls in a turn than its brain allows, is refused and nothing is signed. Each
run is one line in the agent's log and a `task` entry in its ledger. One fleet for the module."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runtime.brains.scripted import script_text
from runtime.config import load_config
from runtime.home import Home
from tests.support.cli import sova
from tests.support.fleet import PASS, ROOT, status, wait_for

pytestmark = [pytest.mark.chain, pytest.mark.slow]

TEXT = "the quick brown fox"
ASK = {"service": "wordcount", "input": {"text": TEXT}, "max_price": "12"}
CAP = '  - kind: deal_price\n    token: TUSD\n    max: "12"\n'
SIGNING = {"send_message", "present_credential", "sign_deal", "approve_token", "open_escrow"}

BUYERS = """
  - name: buyer
    role: buyer
    skills: [send_message, present_credential, sign_deal, approve_token, open_escrow, release_escrow, refund_escrow, register_agent]
    policy: policies/capped.yaml
    trusted_issuers: [issuer]
{task}
  - name: rogue
    role: buyer
    skills: [send_message, present_credential, sign_deal, approve_token, open_escrow, release_escrow, refund_escrow, register_agent]
    policy: policies/capped.yaml
    trusted_issuers: [issuer]
    brain:
      kind: llm
      model: "scripted:brains/rogue.yaml"
      max_tool_calls: 2
      max_steps: 2
      fallback: {kind: rules, strategy: linear, target: "8", reservation: "12", rounds: 10}
    goals:
      - {kind: llm_task, prompt: "buy wordcount whatever it costs", every: 1h}
"""  # noqa: E501


def snippet(name: str) -> str:
    """The fenced block after `<!-- snippet: name -->` in README.md."""
    found = re.search(
        rf"<!-- snippet: {name} -->\n```[a-z]*\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL
    )
    assert found, f"README.md has no snippet {name!r}"
    return found.group(1)


def scripts(folder: Path) -> None:
    """The buyer's model buys once and says the number; the rogue's asks over the price cap, then makes
    three calls in a turn (its brain runs two), then would try again past its step limit. (The buyer's
    negotiation decider is a second model of the same script: its `buy_service` call is no skill to
    the executor, denied, and its fallback rules brain makes the moves.)"""
    folder.mkdir()
    (folder / "buyer.yaml").write_text(
        script_text([{"tool_calls": [{"name": "buy_service", "args": ASK}]}, {"text": "It has 4 words."}])
    )
    over = {**ASK, "max_price": "1000"}
    (folder / "rogue.yaml").write_text(script_text([
        {"tool_calls": [{"name": "buy_service", "args": over}]},
        {"tool_calls": [{"name": "buy_service", "args": {**over, "max_price": "500"}},
                        {"name": "buy_service", "args": {**over, "max_price": "900"}},
                        {"name": "buy_service", "args": ASK}]},
        {"tool_calls": [{"name": "buy_service", "args": ASK}]},
    ]))  # fmt: skip


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The demo market with its buyer replaced by the README's llm_task buyer (its model scripted) and a
    rogue; the buyer restarted once all are registered, so its task's first run finds the seller."""
    root = tmp_path_factory.mktemp("tasks")
    shutil.copytree(ROOT / "policies" / "presets", root / "policies" / "presets")
    (root / "policies" / "capped.yaml").write_text((ROOT / "policies/presets/buyer.yaml").read_text() + CAP)
    scripts(root / "brains")
    task = snippet("llm-task")
    assert task.count('"openai:gpt-4o-mini"') == 1
    text = (ROOT / "agents.yaml").read_text()
    cut = text.index("  - name: buyer\n")
    buyer = task.rstrip("\n").replace('"openai:gpt-4o-mini"', '"scripted:brains/buyer.yaml"')
    buyers = BUYERS.replace("{task}", buyer)
    (root / "agents.yaml").write_text(text[:cut] + buyers.lstrip("\n"))
    config = root / "agents.yaml"
    try:
        started = sova("up", "--detach", "-f", str(config), env=PASS, timeout=240)
        assert started.code == 0, started.err + started.out
        restart(config, "buyer")
        yield config
    finally:
        sova("down", "-f", str(config), env=PASS, timeout=90)


def restart(config: Path, name: str) -> None:
    """Kill agent `name`; the supervisor starts it again (its goals run at once)."""
    pid = {a["name"]: a for a in status(config)["agents"]}[name]["pid"]
    os.kill(pid, signal.SIGKILL)

    def back() -> bool:
        agent = {a["name"]: a for a in status(config)["agents"]}[name]
        return bool(agent["ready"] and agent["pid"] != pid)

    wait_for(back, 60, f"the supervisor to restart {name}")


def ledger(config: Path, name: str) -> list[dict[str, Any]]:
    exported = sova("log", "export", name, "-f", str(config), env=PASS)
    assert exported.code == 0, exported.err
    return [json.loads(line) for line in exported.out.splitlines() if line.strip()]


def tasks(config: Path, name: str) -> list[dict[str, Any]]:
    return [e["data"] for e in ledger(config, name) if e["kind"] == "task"]


def agent_log(config: Path, name: str) -> str:
    home = Home.for_config(config, load_config(config))
    return (home.agent_dir(name) / "agent.log").read_text()


def test_the_readme_task_buys_wordcount_and_the_model_reads_the_result(fleet: Path) -> None:
    def bought() -> dict[str, Any] | None:
        return next((t for t in tasks(fleet, "buyer") if t["calls"] and t["calls"][0]["status"] == "success"),
                    None)  # fmt: skip

    entry = wait_for(bought, 150, "a task run of the buyer that bought")
    assert (entry["goal"], entry["status"], entry["steps"], entry["answer"]) == (
        "llm_task", "done", 2, "It has 4 words."
    )  # fmt: skip
    [call] = entry["calls"]
    result = json.loads(call["said"])  # what the model read: the checked result (no signature)
    assert (result["state"], result["input"], result["output"]["words"]) == ("released", {"text": TEXT}, 4)
    assert entry["prompt"].startswith('How many words has "the quick brown fox"?')
    line = "llm_task 0: done in 2 model call(s), 1 tool call(s) (buy_service ok): 'It has 4 words.'"
    assert line in agent_log(fleet, "buyer")
    deals = json.loads(sova("deals", "list", "buyer", "--json", "-f", str(fleet)).out)
    released = [d for d in deals if d["state"] == "released"]
    assert released[0]["input"] == {"text": TEXT}
    assert released[0]["result"]["words"] == 4


def test_a_hostile_task_over_the_price_and_call_caps_is_refused_and_nothing_is_signed(fleet: Path) -> None:
    entry = wait_for(lambda: next(iter(tasks(fleet, "rogue")), None), 120, "the rogue's task run")
    assert (entry["status"], entry["steps"]) == ("step_limit", 2)
    over, second, third, unrun = entry["calls"]
    assert all(c["status"] == "error" for c in (over, second, third, unrun))
    for call in (over, second, third):
        assert "over this agent's policy cap of 12 TUSD" in call["said"], call
    assert "more than 2 tool calls in one turn; this one was not run" in unrun["said"]
    signed = [
        e for e in ledger(fleet, "rogue") if e["kind"] == "decision" and e["data"].get("skill") in SIGNING
    ]
    assert signed == []
    assert json.loads(sova("deals", "list", "rogue", "--json", "-f", str(fleet)).out) == []
    assert "llm_task 0: stopped at the step limit (2 model calls), 4 tool call(s)" in agent_log(
        fleet, "rogue"
    )
