"""`sova buy` against a real fleet (`sova up --detach`: issuer, seller of wordcount, buyer; anvil): the
running buyer agent buys through its operator API and prints the checked result; bad input is refused
with exit 2 before anything is signed; a max price over the buyer's policy cap is no deal (exit 1);
`SovaClient` does the same from Python. One fleet for the module."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from runtime.config import load_config
from runtime.home import Home
from runtime.operator.buying import BuyRefused, SovaClient
from runtime.operator.token import token_path
from tests.support.cli import one_error_line, sova
from tests.support.fleet import PASS, ROOT, status, wait_for

pytestmark = [pytest.mark.chain, pytest.mark.slow]

SIGNING = {"send_message", "present_credential", "sign_deal", "approve_token", "open_escrow"}


def snippet(name: str) -> str:
    """The fenced block after `<!-- snippet: name -->` in README.md."""
    found = re.search(
        rf"<!-- snippet: {name} -->\n```[a-z]*\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL
    )
    assert found, f"README.md has no snippet {name!r}"
    return found.group(1)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The demo market running, its buyer's goal the README's (once an hour, so it buys once at start,
    its input from `texts.next_text`, its results to `texts.keep`)."""
    root = tmp_path_factory.mktemp("buy")
    shutil.copytree(ROOT / "policies" / "presets", root / "policies" / "presets")
    text = (ROOT / "agents.yaml").read_text()
    goal = text.index("      - kind: buy\n")
    assert "max_price" in text[goal:]
    assert "name:" not in text[goal:]
    (root / "agents.yaml").write_text(text[:goal] + snippet("buy-goal"))
    (root / "texts.py").write_text(snippet("buy-hooks"))
    config = root / "agents.yaml"
    try:
        started = sova("up", "--detach", "-f", str(config), env=PASS, timeout=240)
        assert started.code == 0, started.err + started.out
        restart_buyer(config)
        yield config
    finally:
        sova("down", "-f", str(config), env=PASS, timeout=90)


def restart_buyer(config: Path) -> None:
    """Kill the buyer; the supervisor starts it again. `sova up` starts the agents together, so the
    goal's first run may have found no seller registered yet; restarted, it runs at once and finds one."""
    pid = {a["name"]: a for a in status(config)["agents"]}["buyer"]["pid"]
    os.kill(pid, signal.SIGKILL)

    def back() -> bool:
        buyer = {a["name"]: a for a in status(config)["agents"]}["buyer"]
        return bool(buyer["ready"] and buyer["pid"] != pid)

    wait_for(back, 60, "the supervisor to restart the buyer")


def buyer_api(config: Path) -> httpx.Client:
    home = Home.for_config(config, load_config(config))
    ready = json.loads(home.ready_file("buyer").read_text())
    token = token_path(home).read_text().strip()
    return httpx.Client(
        base_url=ready["operator_url"], headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def signing_calls(config: Path) -> list[dict[str, Any]]:
    """The buyer's executor decisions on skills that sign or send (every one is a ledger entry)."""
    with buyer_api(config) as client:
        found, after = [], 0
        while after is not None:
            page = client.get("/v1/ledger", params={"after": after, "limit": 500}).json()
            found += [
                e for e in page["entries"] if e["kind"] == "decision" and e["data"].get("skill") in SIGNING
            ]
            after = page["next_after"]
    return found


def settled(config: Path) -> bool:
    """No deal of the buyer is still open (its start-up goal deal has ended)."""
    deals = {a["name"]: a for a in status(config)["agents"]}["buyer"]["deals"]
    return bool(deals) and not set(deals) & {"negotiating", "agreed", "signed", "funded", "delivered"}


def test_the_readme_sova_buy_prints_the_checked_result_and_exits_0(fleet: Path) -> None:
    command = shlex.split(snippet("buy-cli"))
    assert command[:2] == ["sova", "buy"]
    bought = sova(*command[1:], "-f", str(fleet), env=PASS, timeout=200)
    assert bought.code == 0, bought.err + bought.out
    result = json.loads(bought.out)
    assert result["state"] == "released"
    assert result["output"]["words"] == 3
    assert result["input"] == {"text": "a b c"}
    assert result["seller"].startswith("seller (did:key:")
    assert result["deal_id"].startswith("0x")
    assert result["txs"].get("release", "").startswith("0x")
    shown = sova("deals", "show", "buyer", result["deal_id"], "--json", "-f", str(fleet))
    assert json.loads(shown.out)["result"]["words"] == 3


def test_the_goal_takes_its_input_from_a_function_and_reports_to_the_callback(fleet: Path) -> None:
    results = fleet.with_name("results.jsonl")
    wait_for(lambda: results.exists() and results.read_text().strip(), 120, "the goal's on_result callback")
    first = json.loads(results.read_text().splitlines()[0])
    assert first["state"] == "released", first
    assert first["input"] == {"text": "four words from texts"}
    assert first["output"]["words"] == 4


def test_input_not_matching_the_schema_is_exit_2_and_nothing_is_signed(fleet: Path) -> None:
    wait_for(lambda: settled(fleet), 120, "the buyer's open deals to end")
    before = signing_calls(fleet)
    for bad in ('{"txt": "a b c"}', '{"text": 3}'):
        refused = sova("buy", "wordcount", "--as", "buyer", "--input", bad, "-f", str(fleet), env=PASS)
        assert refused.code == 2, refused.err + refused.out
        assert "does not match wordcount's input schema" in one_error_line(refused)
    unparsable = sova("buy", "wordcount", "--as", "buyer", "--input", "{text: a}", "-f", str(fleet))
    assert unparsable.code == 2
    assert "--input is not JSON" in one_error_line(unparsable)
    assert signing_calls(fleet) == before


def test_a_max_price_over_the_policy_cap_is_no_deal_and_exit_1(fleet: Path) -> None:
    wait_for(lambda: settled(fleet), 120, "the buyer's open deals to end")
    before = signing_calls(fleet)
    over = sova("buy", "wordcount", "--as", "buyer", "--input", '{"text": "a"}', "--max-price", "50",
                "-f", str(fleet), env=PASS)  # fmt: skip
    assert over.code == 1, over.err + over.out
    line = one_error_line(over)
    assert line.startswith("no deal:")
    assert "over this agent's policy cap of 12 TUSD" in line
    below = sova("buy", "wordcount", "--as", "buyer", "--input", '{"text": "a"}', "--max-price", "5",
                 "-f", str(fleet), env=PASS, timeout=200)  # fmt: skip
    assert below.code == 1, below.err + below.out  # the seller's floor is 9 TUSD
    assert one_error_line(below).startswith("no deal:")
    assert not any(
        c["data"]["skill"] in ("sign_deal", "open_escrow") for c in signing_calls(fleet)[len(before) :]
    )


def test_the_readme_python_client_buys_and_lists_deals(fleet: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOVA_")}
    run = subprocess.run([sys.executable, "-c", snippet("buy-python")], cwd=fleet.parent, env=env,
                         capture_output=True, text=True, timeout=200)  # fmt: skip
    assert run.returncode == 0, run.stderr
    first, second = run.stdout.splitlines()
    assert first == "released 3"
    assert json.loads(second.split(" ", 1)[1].replace("'", '"'))["words"] == 3


def test_the_python_client_reads_one_deal_and_raises_on_bad_input(fleet: Path) -> None:
    async def run() -> None:
        async with SovaClient.for_agent("buyer", fleet) as client:
            result = await client.buy("wordcount", {"text": "one two"}, max_price="12", seller="seller")
            assert result.ok, result.reason
            assert result.output["words"] == 2
            deal = await client.deal(result.deal_id)
            assert deal.result == result.output
            assert deal.input == {"text": "one two"}
            with pytest.raises(BuyRefused) as refused:
                await client.buy("wordcount", {"text": 1})
            assert refused.value.status == 422

    asyncio.run(run())
