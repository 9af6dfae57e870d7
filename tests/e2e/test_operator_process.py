"""The operator API of real agent processes (`sova agent run`) on a real chain: the demo market with the
buyer's approval threshold lowered so that every spend escalates. The operator sees the pending
approvals over HTTP, a stranger's signature is refused, operator keys (keys.operator and an extra
`keys.approvers` key) approve, the deal settles, the ledger names who approved with the signature;
then pause stops every signature, the SSE stream shows it live, and SIGTERM stops the agent with a
stream still open."""

from __future__ import annotations

import json
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account

from runtime.config import load_config
from runtime.home import Home
from runtime.operator.auth import sign_decision
from runtime.operator.token import token_path
from tests.support.agents import (
    NAMES,
    SECRET,
    agent_cmd,
    chain_running,
    project,
    provision,
    released,
    wait_for,
)
from tests.support.cli import Procs, agents_cleaned_up, stop_cleanly
from wallet import Keystore
from wallet.signer import Signer

pytestmark = [pytest.mark.chain, pytest.mark.slow]


def approvals_everywhere(config: Path) -> None:
    """Escalate every buyer spend over 5 TUSD (the demo's prices are 8-12); add `alice` as approver."""
    policy = config.parent / "policies" / "presets" / "buyer.yaml"
    text = policy.read_text()
    assert 'amount_over: "40"' in text
    policy.write_text(text.replace('amount_over: "40"', 'amount_over: "5"'))
    agents = config.read_text()
    config.write_text(agents.replace("keys:\n", "keys:\n  approvers: [alice]\n", 1))


@pytest.fixture
def market(tmp_path: Path) -> Iterator[Path]:
    """The demo market with approvals on every buyer spend, its chain up (`sova chain up`)."""
    config = project(tmp_path / "proj")
    approvals_everywhere(config)
    with chain_running(config):
        yield config


def entries(client: httpx.Client, after: int = 0) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    next_after: int | None = after
    while next_after is not None:
        page = client.get("/v1/ledger", params={"after": next_after, "limit": 500}).json()
        out += page["entries"]
        next_after = page["next_after"]
    return out


def decide(client: httpx.Client, agent: str, approval: dict[str, Any], signer: Signer) -> httpx.Response:
    signature = sign_decision(signer, agent, approval["id"], "approve", "e2e", 31337)
    body = {"signature": signature, "approver": signer.address, "reason": "e2e"}
    return client.post(f"/v1/approvals/{approval['number']}/approve", json=body)


class EventReader(threading.Thread):
    """Reads an SSE stream in the background and keeps the ledger events it sees."""

    def __init__(self, url: str, token: str, after: int | None = None) -> None:
        super().__init__(daemon=True)
        self.url, self.token, self.after = url, token, after
        self.events: list[dict[str, Any]] = []
        self.opened = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        params = {} if self.after is None else {"after": str(self.after)}
        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            url = f"{self.url}/v1/events"
            with httpx.stream("GET", url, params=params, headers=headers, timeout=None) as response:
                self.opened.set()
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        self.events.append(json.loads(line[6:]))
        except BaseException as exc:  # the agent stopping ends the stream: that is expected
            self.error = exc
        finally:
            self.opened.set()


def test_operator_approves_with_signed_keys_pauses_and_streams(market: Path, tmp_path: Path) -> None:
    chain_project = market
    provision(chain_project)
    config = load_config(chain_project)
    home = Home.for_config(chain_project, config)
    keys = Keystore(home.keys_dir(config, chain_project.parent))
    alice_key = bytes(Account.create().key)
    keys.import_private_key("alice", "0x" + alice_key.hex(), SECRET)
    alice = Signer.from_private_key(alice_key)
    operator = keys.unlock(config.keys.operator, SECRET)
    stranger = Signer.from_private_key(Account.create().key)
    logs = {name: tmp_path / f"{name}.log" for name in NAMES}
    procs: Procs = {}
    with agents_cleaned_up(procs, logs):
        for name in NAMES:
            procs[name] = agent_cmd(name, chain_project, logs[name])
        ready_file = home.agent_dir("buyer") / "agent.json"
        wait_for("the buyer's agent.json", ready_file.exists, 90, procs)
        ready = json.loads(ready_file.read_text())
        url, address = ready["operator_url"], ready["address"]
        assert url.startswith("http://127.0.0.1:")
        assert url != ready["url"]
        assert stat.S_IMODE(token_path(home).stat().st_mode) == 0o600
        token = token_path(home).read_text().strip()
        assert token not in "".join(log.read_text() for log in logs.values())  # never logged
        assert httpx.get(f"{url}/v1/status").status_code == 401
        client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=20)
        assert client.get("/v1/status").json()["name"] == "buyer"

        def pending() -> list[dict[str, Any]]:
            return [a for a in client.get("/v1/approvals").json()["approvals"] if a["state"] == "pending"]

        wait_for("a pending approval", lambda: bool(pending()), 60, procs)
        first = pending()[0]
        refused = decide(client, address, first, stranger)
        assert refused.status_code == 403
        assert "not an operator key" in refused.json()["error"]
        assert decide(client, address, first, alice).json()["state"] == "approved"

        def approve_all() -> bool:
            for approval in pending():
                decide(client, address, approval, operator)
            return bool(released(home))

        wait_for("a released deal, every spend approved", approve_all, 90, procs)
        approved = [e["data"] for e in entries(client) if e["kind"] == "approval"]
        by = {s["approver"] for a in approved for s in a["signatures"]}
        assert {alice.address, operator.address} <= by
        for record in approved:
            for signed in record["signatures"]:
                assert signed["signature"].startswith("0x")
                assert len(signed["signature"]) == 132

        live = EventReader(url, token)
        live.start()
        assert live.opened.wait(10)
        time.sleep(0.5)
        assert client.post("/v1/pause", json={"reason": "e2e stop"}).json()["paused"] is True
        paused_at = next(e["seq"] for e in reversed(entries(client)) if e["kind"] == "operator")

        def denied_for_pause() -> bool:
            after = entries(client, paused_at)
            return any(e["kind"] == "decision" and e["data"].get("stage") == "pause" for e in after)

        wait_for("an action denied because of the pause", denied_for_pause, 30, procs)
        for entry in entries(client, paused_at):
            if entry["kind"] == "effect":
                assert entry["data"]["signed"] == [], entry  # nothing was signed after the pause
        # The stream polls the ledger every 0.2 s: on a loaded machine it may trail the HTTP reads above.
        wait_for(
            "the pause on the live stream",
            lambda: any(e["kind"] == "operator" and e["data"]["action"] == "pause" for e in live.events),
            10,
            procs,
        )
        assert "PAUSED (e2e stop)" in client.post("/v1/chat", json={"text": "status"}).json()["reply"]
        # SIGTERM with an event stream still open: the agent stops cleanly and in time
        stop_cleanly(procs, logs, ["buyer"])
        live.join(10)
        assert not live.is_alive()
        stop_cleanly(procs, logs, ["issuer", "seller"])
