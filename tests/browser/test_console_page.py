"""The operator console in real headless Chromium, over a real `sova up --detach` fleet: the page lists
the agents, chats, approves a pending spend that then settles, pauses an agent locally and on-chain,
and shows hostile strings as text without running them. Also `sova console` in the terminal."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
from eth_utils.crypto import keccak

from identity import IdentityKey, sign_envelope
from runtime.a2a.card import ENVELOPE_KEY, NEGOTIATION_EXTENSION
from runtime.chain.anvil import rpc_call
from tests.support.browser import PASS, Fleet, Page
from tests.support.cli import sova

HOSTILE = "<img src=x onerror=alert(1)>"


def api(fleet: Fleet, path: str) -> Any:
    response = httpx.get(fleet.url + path.lstrip("/"), headers={"Authorization": f"Bearer {fleet.token}"})
    assert response.status_code == 200, response.text
    return response.json()


def paused_on_chain(fleet: Fleet, address: str) -> bool:
    """AgentRegistry.isPaused(address), asked of the chain directly (not through the console)."""
    chain = json.loads((fleet.home / "supervisor.json").read_text())["chain"]
    deployments = next((fleet.home / "deployments").glob("*.json"))
    registry = json.loads(deployments.read_text())["contracts"]["AgentRegistry"]
    data = (
        "0x" + keccak(text="isPaused(address)")[:4].hex() + address.lower().removeprefix("0x").rjust(64, "0")
    )
    return int(str(rpc_call(chain, "eth_call", [{"to": registry, "data": data}, "latest"])), 16) == 1


def select(page: Any, name: str) -> None:
    page.click(f'.agent-card[data-agent="{name}"]')
    page.wait_for_function(f"document.getElementById('agent-title').textContent === {json.dumps(name)}")


def say(page: Any, text: str) -> str:
    """Send one chat line from the page; the agent's reply as the page shows it."""
    before = page.locator(".msg.agent").count()
    page.fill("#chat-input", text)
    page.press("#chat-input", "Enter")
    page.wait_for_function(f"document.querySelectorAll('.msg.agent').length > {before}", timeout=30_000)
    return str(page.locator(".msg.agent .text").last.text_content())


def test_the_page_loads_lists_the_agents_and_forgets_the_link_token(console: Page, fleet: Fleet) -> None:
    page = console.page
    page.wait_for_function(
        "document.querySelectorAll('.agent-card .state-ready').length === 3", timeout=20_000
    )
    names = page.locator(".agent-card .agent-name").all_text_contents()
    assert names == ["issuer", "seller", "buyer"]
    assert "TUSD" in str(page.locator('.agent-card[data-agent="buyer"] .balances').text_content())
    assert page.locator('.agent-card[data-agent="buyer"] .budget').count() == 3
    assert "#token=" not in page.url  # dropped from the address bar and history
    assert page.evaluate("document.cookie") == ""
    assert page.evaluate("sessionStorage.getItem('sova.operator.token')") == fleet.token
    page.wait_for_function("document.getElementById('verified').textContent.startsWith('✓ verified')")
    assert console.dialogs == []
    assert console.errors == []


def test_a_chat_round_trip_answers_status(console: Page) -> None:
    select(console.page, "buyer")
    reply = say(console.page, "status")
    assert reply.startswith("buyer (buyer), running"), reply
    assert "deals:" in reply


def test_a_pending_spend_is_approved_from_the_page_and_the_deal_then_settles(
    console: Page, fleet: Fleet
) -> None:
    page = console.page
    operator = json.loads((fleet.home / "keys" / "operator.json").read_text())["address"].lower()
    deadline = time.monotonic() + 120
    clicked = 0
    while time.monotonic() < deadline:
        buyer = next(a for a in api(fleet, "/api/agents")["agents"] if a["name"] == "buyer")
        if (buyer.get("deals") or {}).get("released", 0) >= 1:
            break
        button = page.locator('.approval.pending[data-agent="buyer"] button.approve')
        if button.count():
            button.first.click()
            clicked += 1
        page.wait_for_timeout(500)
    else:
        raise AssertionError(f"no deal settled within 120 s after {clicked} approvals from the page")
    assert clicked >= 1
    decided = [a for a in api(fleet, "/api/agents/buyer/approvals")["approvals"] if a["state"] == "approved"]
    assert decided, "no approval recorded as approved"
    for approval in decided:  # each signed by the operator key the console holds
        assert [a.lower().removeprefix("0x") for a in approval["approvers"]] == [operator.removeprefix("0x")]
    deals = api(fleet, "/api/agents/buyer/deals")["deals"]
    assert any(d.get("state") == "released" for d in deals), deals
    # the buyer's deals table: the released deal with its input, result and seller
    select(page, "buyer")
    page.wait_for_selector('#deal-rows tr[data-state="released"]', timeout=20_000)
    row = page.locator('#deal-rows tr[data-state="released"]').first
    assert '"words"' in str(row.locator(".result").get_attribute("title"))
    assert '"text"' in str(row.locator(".input").get_attribute("title"))
    assert row.locator(".counterparty").text_content() == "from seller"
    # the seller's card: its paid reputation from the buyer's rating of that deal (ERC-8004 registries)
    page.wait_for_function(
        "(document.querySelector('.agent-card[data-agent=\"seller\"] .trust') || {}).textContent"
        "?.includes('(1 paid)')", timeout=30_000,
    )  # fmt: skip
    trust = str(page.locator('.agent-card[data-agent="seller"] .trust').text_content())
    assert "settled deal" in trust, trust
    assert "no validations" in trust, trust


def test_pause_shows_on_the_page_and_on_chain(console: Page, fleet: Fleet) -> None:
    page = console.page
    select(page, "seller")
    address = fleet.ready("seller")["address"]
    assert not paused_on_chain(fleet, address)
    page.click("#pause-btn")
    page.wait_for_function(
        "document.getElementById('agent-pause-state').textContent === 'paused locally and on-chain'",
        timeout=30_000,
    )
    assert "on-chain done" in str(page.locator("#action-line").text_content())
    assert paused_on_chain(fleet, address)
    assert page.locator('.agent-card[data-agent="seller"] .badge.paused').count() == 2
    assert "paused" in say(page, "status").split("\n")[0]

    page.click("#resume-btn")
    page.wait_for_function(
        "document.getElementById('agent-pause-state').textContent === 'running'", timeout=30_000
    )
    assert not paused_on_chain(fleet, address)


def send_hostile_envelope(fleet: Fleet, to: str) -> None:
    """A peer nobody knows sends the agent a signed message whose type and thread id are markup."""
    ready = fleet.ready(to)
    jws = sign_envelope(
        IdentityKey.generate(), type=HOSTILE, thid=HOSTILE, to=ready["did"], body={"x": HOSTILE}
    )
    message = {
        "messageId": uuid.uuid4().hex,
        "role": "ROLE_USER",
        "parts": [{"data": {ENVELOPE_KEY: jws}}],
        "extensions": [NEGOTIATION_EXTENSION],
    }
    request = {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": message}}
    answer = httpx.post(ready["url"].rstrip("/") + "/", json=request, headers={"A2A-Version": "1.0"}).json()
    assert "error" in answer, answer


def test_hostile_strings_are_shown_as_text_and_run_nothing(console: Page, fleet: Fleet) -> None:
    page = console.page
    select(page, "issuer")
    send_hostile_envelope(fleet, "issuer")
    reply = say(page, HOSTILE)  # the agent answers that it did not understand, quoting it
    assert HOSTILE in reply
    assert page.locator(".msg.you .text").last.text_content() == HOSTILE
    shown = json.dumps("claimed_type=" + HOSTILE)  # the hostile peer's message in the live ledger
    page.wait_for_function(
        f"document.getElementById('ledger-list').textContent.includes({shown})", timeout=15_000
    )
    assert "not done" not in say(page, f"pause {HOSTILE}")
    page.wait_for_function("document.getElementById('agent-pause-state').textContent.startsWith('paused')")
    assert (
        page.locator('.agent-card[data-agent="issuer"] .badge.paused').first.get_attribute("title") == HOSTILE
    )
    say(page, "resume")
    page.wait_for_timeout(1000)  # give an injected onerror every chance to fire
    assert page.locator("img").count() == 0  # the markup never became an element
    assert console.dialogs == [], console.dialogs
    assert console.errors == [], console.errors


def test_the_terminal_console_chats_through_the_console_server(fleet: Fleet) -> None:
    result = sova("console", "buyer", "-f", str(fleet.config), "-c", "status", "-c", "/agents", env=PASS)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].startswith("buyer (buyer), running"), result.out
    assert any(line.split()[:3] == ["seller", "seller", "ready"] for line in lines), result.out
    unknown = sova("console", "nobody", "-f", str(fleet.config), "-c", "status", env=PASS)
    assert unknown.code == 2
    assert "no agent named 'nobody'" in unknown.err


def pending_number(fleet: Fleet) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        approvals = api(fleet, "/api/agents/buyer/approvals")["approvals"]
        pending = [a["number"] for a in approvals if a["state"] == "pending"]
        if pending:
            return int(pending[0])
        time.sleep(0.5)
    raise AssertionError("the buyer asked for no approval within 60 s")


def test_terminal_approve_n_signs_and_refuses_unknown_or_decided_ones(fleet: Fleet) -> None:
    number = pending_number(fleet)

    def say(text: str) -> str:
        result = sova("console", "buyer", "-f", str(fleet.config), "-c", text, env=PASS)
        assert result.code == 0, result.err
        return result.out.strip()

    assert say(f"approve {number} looks fine").startswith(f"approved #{number} (")
    decided = f"not done: approval {number} ({_id(fleet, number)}) is approved already"
    assert say(f"approve {number}") == decided
    assert say("reject 9999 nope").startswith("not done: agent buyer has no approval '9999' (pending: ")


def _id(fleet: Fleet, number: int) -> str:
    approvals = api(fleet, "/api/agents/buyer/approvals")["approvals"]
    return str(next(a["id"] for a in approvals if a["number"] == number))


def test_up_prints_the_console_link_and_keeps_the_token_out_of_its_log(fleet: Fleet) -> None:
    assert f"console: {fleet.url}#token={fleet.token}" in fleet.up_output
    status = sova("status", "--json", "-f", str(fleet.config))
    assert json.loads(status.out)["console"] == fleet.url
    log = (fleet.home / "sova-up.log").read_text()
    assert f"console: {fleet.url}" in log
    assert fleet.token not in log
