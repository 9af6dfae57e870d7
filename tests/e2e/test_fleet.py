"""The product path: `sova up --detach` runs the demo market, deals settle, a killed agent comes back,
`sova down` stops everything, and every ledger verifies afterwards. Real processes, real chain."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from pathlib import Path
from typing import Any

from runtime.a2a.registration import verify_registration
from tests.support.cli import one_error_line, sova
from tests.support.contracts import connect
from tests.support.fleet import PASS, status, wait_for
from wallet.artifacts import load_artifact


def check_registration_file(fleet: Path, ready: dict[str, object]) -> None:
    """The agent serves its ERC-8004 registration file at its agent URI, signed by its DID and naming
    its entry in the deployed AgentRegistry."""
    deployments = json.loads((fleet.parent / ".sova" / "deployments" / "31337.json").read_text())
    with urllib.request.urlopen(f"{ready['url']}/.well-known/agent-registration.json", timeout=10) as answer:
        document = json.loads(answer.read())
    where = {"chain_id": 31337, "registry": deployments["contracts"]["AgentRegistry"]}
    verify_registration(document, did=str(ready["did"]), agent_id=int(str(ready["agent_id"])), **where)
    assert {s["name"] for s in document["services"]} >= {"A2A", "DID"}


def rated(fleet: Path, ready: dict[str, object]) -> int:
    """How many (paid) feedbacks the agent has in ReputationRegistry, read from the chain."""
    home = fleet.parent / ".sova"
    web3 = connect(json.loads((home / "chain" / "node.json").read_text())["url"])
    address = json.loads((home / "deployments" / "31337.json").read_text())["contracts"]["ReputationRegistry"]
    reputation = web3.eth.contract(address=address, abi=load_artifact("ReputationRegistry").abi)
    count, _, _ = reputation.functions.getSummary(int(str(ready["agent_id"])), [], "", "").call()
    return int(count)


def validated(fleet: Path, ready: dict[str, object]) -> tuple[int, int]:
    """(answered, average) of the agent's validations in ValidationRegistry, read from the chain."""
    home = fleet.parent / ".sova"
    web3 = connect(json.loads((home / "chain" / "node.json").read_text())["url"])
    address = json.loads((home / "deployments" / "31337.json").read_text())["contracts"]["ValidationRegistry"]
    validation = web3.eth.contract(address=address, abi=load_artifact("ValidationRegistry").abi)
    count, average = validation.functions.getSummary(int(str(ready["agent_id"])), [], "rerun").call()
    return int(count), int(average)


def check_registry_show(fleet: Path, ready: dict[str, object]) -> None:
    """`sova registry show` finds the seller by name and by id, with its paid reputation; a name or
    an id that is not there is one line."""
    shown = sova("registry", "show", "seller", "--json", "-f", str(fleet), env=PASS)
    assert shown.code == 0, shown.err
    view = json.loads(shown.out)
    assert (view["agent_id"], view["did"], view["binding"]) == (
        int(str(ready["agent_id"])),
        ready["did"],
        "ok",
    )
    assert view["agent_wallet"] == ready["address"]
    assert view["owner"] == ready["address"]
    assert view["uri"].endswith("/.well-known/agent-registration.json")
    assert view["reputation"]["count"] >= 1
    assert view["reputation"]["settled_deals"] >= 1
    # the issuer validated the seller's deliveries (its sell goal's `validator: issuer`): it re-ran them
    assert view["validations"]["answered"] >= 1
    assert view["validations"]["average"] == 100
    human = sova("registry", "show", str(ready["agent_id"]), "-f", str(fleet), env=PASS)
    assert human.code == 0, human.err
    assert "paid feedback from 1 client(s)" in human.out
    assert "answered of" in human.out
    assert "average 100" in human.out
    assert str(ready["did"]) in human.out
    for ref, problem in (("nobody", "unknown agent 'nobody'"), ("999", "no agent 999 in AgentRegistry")):
        wrong = sova("registry", "show", ref, "-f", str(fleet), env=PASS)
        assert wrong.code != 0, wrong.out
        assert problem in one_error_line(wrong)


def fetch_paid(fleet: Path, url: str, text: str) -> Any:
    """`sova fetch` as the buyer. Its buy goal runs every 2 s here and can use up the preset's
    120 actions a minute: a payment refused for that alone is asked again once the window moves."""
    deadline = time.monotonic() + 75
    while True:
        fetched = sova("fetch", url, "--as", "buyer", "-X", "POST", "-d", json.dumps({"text": text}),
                       "--json", "-f", str(fleet), env=PASS, timeout=120)  # fmt: skip
        if fetched.code == 0 or "actions in the last" not in fetched.err or time.monotonic() > deadline:
            break
        time.sleep(5)
    assert fetched.code == 0, fetched.err + fetched.out
    return fetched


def check_x402_sale(fleet: Path) -> None:
    """`sova up` started the fleet's facilitator for the seller's `x402: {facilitator: local}`: the
    buyer pays one wordcount call with `sova fetch`, and the payment shows with the deals of both
    (`sova deals list|show`, and the operator API's /v1/deals that the console reads)."""
    home = fleet.parent / ".sova"
    assert json.loads((home / "facilitator" / "facilitator.json").read_text())["url"].startswith("http://")
    sales = json.loads((home / "agents" / "seller" / "x402.json").read_text())["url"]
    url = sales + "/x402/services/wordcount"
    fetched = fetch_paid(fleet, url, "one two three")
    answer = json.loads(fetched.out)
    assert answer["paid"], answer
    assert json.loads(answer["body"])["words"] == 3
    tx = answer["payment"]["transaction"]
    listed = sova("deals", "list", "buyer", "--json", "-f", str(fleet), env=PASS)
    [paid] = [d for d in json.loads(listed.out) if d["kind"] == "x402"]
    assert (paid["state"], paid["role"], paid["transaction"], paid["resource"]) == ("paid", "buyer", tx, url)
    assert paid["token"] == "TUSD"
    assert paid["price"] == answer["payment"]["price"].split()[0]
    seller_rows = json.loads(sova("deals", "list", "seller", "--json", "-f", str(fleet), env=PASS).out)
    [sale] = [d for d in seller_rows if d["kind"] == "x402"]
    assert (sale["state"], sale["transaction"], sale["price"]) == ("sold", tx, paid["price"])
    shown = sova("deals", "show", "seller", sale["id"], "-f", str(fleet), env=PASS)
    assert shown.code == 0, shown.err
    assert tx in shown.out
    assert "sold" in shown.out
    buyer = json.loads((home / "agents" / "buyer" / "agent.json").read_text())
    token = (home / "operator.token").read_text().strip()
    request = urllib.request.Request(
        buyer["operator_url"] + "/v1/deals", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        api = json.loads(response.read())
    assert [p["transaction"] for p in api["x402"]] == [tx]
    # A facilitator that dies comes back where the seller sends its payments, and sales go on.
    record = home / "facilitator" / "facilitator.json"
    dead = json.loads(record.read_text())
    os.kill(dead["pid"], signal.SIGKILL)

    def back() -> bool:
        try:
            now = json.loads(record.read_text())
        except (OSError, ValueError):
            return False
        return bool(now["pid"] != dead["pid"] and now["url"] == dead["url"])

    wait_for(back, 60, "the supervisor to restart the killed facilitator on its port")
    again = fetch_paid(fleet, url, "four")
    assert json.loads(again.out)["paid"]


def test_demo_market_settles_deals_survives_a_crash_and_stops_cleanly(fleet: Path) -> None:
    started = sova("up", "--detach", "-f", str(fleet), env=PASS, timeout=240)
    assert started.code == 0, started.err + started.out
    info = status(fleet)
    assert info["supervisor"]
    agents = {a["name"]: a for a in info["agents"]}
    assert set(agents) == {"issuer", "seller", "buyer"}
    for agent in agents.values():
        assert agent["ready"], agent
        assert agent["did"].startswith("did:key:")
        assert agent["port"]

    def released() -> bool:
        buyer = {a["name"]: a for a in status(fleet)["agents"]}["buyer"]
        return bool(buyer["deals"].get("released"))

    wait_for(released, 120, "a released deal in the buyer's deal store")
    check_x402_sale(fleet)

    seller_pid = agents["seller"]["pid"]
    seller_ready = fleet.parent / ".sova" / "agents" / "seller" / "agent.json"
    operator_url = json.loads(seller_ready.read_text())["operator_url"]
    check_registration_file(fleet, json.loads(seller_ready.read_text()))
    wait_for(lambda: rated(fleet, json.loads(seller_ready.read_text())) > 0, 60, "the buyer's feedback")
    wait_for(
        lambda: validated(fleet, json.loads(seller_ready.read_text()))[0] > 0, 90, "the issuer's validation"
    )
    check_registry_show(fleet, json.loads(seller_ready.read_text()))
    os.kill(seller_pid, signal.SIGKILL)

    def seller_back() -> bool:
        seller = {a["name"]: a for a in status(fleet)["agents"]}["seller"]
        return bool(seller["ready"] and seller["pid"] != seller_pid)

    wait_for(seller_back, 60, "the supervisor to restart the killed seller")
    # the operator port is pinned like the A2A port: the console finds the restarted agent where it was
    assert json.loads(seller_ready.read_text())["operator_url"] == operator_url

    stopped = sova("down", "-f", str(fleet), env=PASS, timeout=90)
    assert stopped.code == 0, stopped.err
    after = status(fleet)
    assert after["supervisor"] is None
    assert not (fleet.parent / ".sova" / "facilitator" / "facilitator.json").exists()  # stopped too
    assert not any(a["ready"] for a in after["agents"])
    for name in ("issuer", "seller", "buyer"):
        verified = sova("log", "verify", name, "-f", str(fleet), env=PASS, timeout=120)
        assert verified.code == 0, f"{name}: {verified.out}{verified.err}"
