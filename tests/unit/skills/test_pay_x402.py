"""`pay_x402` through the executor: an accepts entry becomes an Intent the policy judges (per-payment
cap, cumulative day budget taken race-free, payee, asset, network, domain), and only that one EIP-3009
authorization is signed — or nothing at all."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from policies import Counterparty
from tests.support.executor import SELLER_ADDRESS, STRANGER_ADDRESS, TUSD, TUSD_ADDRESS, Peers, Rig, make_rig
from wallet.eip3009 import TransferAuthorization, authorization_typed_data
from wallet.typed_data import recover_typed_data_signer

POLICY = """
version: 1
rules:
  - kind: allow_skills
    skills: [pay_x402]
  - kind: spend_limit
    token: TUSD
    per_action: "1"
    per_day: "2.5"
  - kind: counterparties
    deny: ["0x90F79bf6EB2c4f870365E785982E1f101E93b906"]
  - kind: domains
    allow: ["*.example.com", 127.0.0.1]
"""
URL = "https://api.example.com/weather?city=Oslo"


def accepts(amount: str = "1000000", **over: Any) -> dict[str, Any]:
    entry = {
        "scheme": "exact",
        "network": "eip155:31337",
        "asset": TUSD_ADDRESS,
        "amount": amount,
        "payTo": SELLER_ADDRESS,
        "maxTimeoutSeconds": 300,
        "extra": {"name": "Test USD", "version": "1"},
    }
    entry.update(over)
    return entry


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    stranger = Counterparty(address=STRANGER_ADDRESS)
    with make_rig(tmp_path, POLICY, peers=Peers(stranger)) as r:
        yield r


async def pay(rig: Rig, entry: dict[str, Any], url: str = URL) -> Any:
    return await rig.executor.execute("pay_x402", {"resource": url, "accepted": entry}, "operator")


async def test_an_allowed_payment_signs_exactly_the_offered_authorization(rig: Rig) -> None:
    outcome = await pay(rig, accepts("250000"))
    assert outcome.status == "done", outcome.reasons
    payload = outcome.result["payload"]
    auth = payload["authorization"]
    assert (auth["from"], auth["to"], auth["value"]) == (rig.signer.address, SELLER_ADDRESS, "250000")
    now = time.time()
    assert int(auth["validAfter"]) <= now < int(auth["validBefore"]) <= now + 301
    signed = TransferAuthorization(
        auth["from"], auth["to"], 250000, int(auth["validAfter"]), int(auth["validBefore"]),
        bytes.fromhex(auth["nonce"][2:]),
    )  # fmt: skip
    message = authorization_typed_data(signed, 31337, TUSD_ADDRESS, "Test USD", "1")
    assert recover_typed_data_signer(message, payload["signature"]) == rig.signer.address
    assert rig.signer.signatures == 1
    assert rig.budget.spent(rig.context.agent_did, TUSD) == 250000
    [decision] = [e for e in rig.entries("decision") if e.get("stage") == "policy"]
    assert decision["intent"]["resource"] == URL
    assert decision["intent"]["amount"] == "0.25"


async def test_a_402_asking_more_than_the_policy_allows_is_refused_before_any_signature(rig: Rig) -> None:
    outcome = await pay(rig, accepts("1000001"))
    assert outcome.status == "denied"
    assert any("per action" in r or "per_action" in r or "limit" in r for r in outcome.reasons), (
        outcome.reasons
    )
    assert rig.signer.signatures == 0
    assert rig.budget.spent(rig.context.agent_did, TUSD) == 0


async def test_concurrent_payments_never_pass_the_day_budget_together(rig: Rig) -> None:
    outcomes = await asyncio.gather(*(pay(rig, accepts("1000000")) for _ in range(6)))
    done = [o for o in outcomes if o.status == "done"]
    assert len(done) == 2
    assert rig.signer.signatures == 2
    assert rig.budget.spent(rig.context.agent_did, TUSD) == 2_000_000
    late = await pay(rig, accepts("500001"))
    assert late.status == "denied"
    assert (await pay(rig, accepts("500000"))).status == "done"


@pytest.mark.parametrize(
    ("entry", "url", "why"),
    [
        (accepts(payTo=STRANGER_ADDRESS), URL, "deny list"),
        (accepts(), "https://evil.net/pay", "host evil.net is not on the allow list"),
        (accepts(network="eip155:1"), URL, "this agent pays on eip155:31337 only"),
        (accepts(asset="0x" + "ab" * 20), URL, "unknown token"),
        (accepts(scheme="upto"), URL, "accepted.scheme"),
        (accepts(amount="0"), URL, "accepted.amount"),
        (accepts(amount="1.5"), URL, "accepted.amount"),
        (accepts(bonus=1), URL, "accepted.bonus: unknown argument"),
        (accepts(), "file:///etc/passwd", "resource"),
    ],
)
async def test_a_payment_outside_the_policy_or_malformed_is_refused_unsigned(
    rig: Rig, entry: dict[str, Any], url: str, why: str
) -> None:
    outcome = await pay(rig, entry, url)
    assert outcome.status == "denied"
    assert any(why in r for r in outcome.reasons), outcome.reasons
    assert rig.signer.signatures == 0


async def test_a_payment_over_the_approval_threshold_waits_for_the_operator(tmp_path: Path) -> None:
    policy = (
        POLICY + '  - kind: approval\n    when: {amount_over: "0.5"}\n    approvers: 1\n    timeout: 30s\n'
    )
    with make_rig(tmp_path, policy) as rig:
        task = asyncio.create_task(pay(rig, accepts("600000")))
        for _ in range(400):
            if rig.executor.approvals.pending():
                break
            await asyncio.sleep(0.005)
        [waiting] = rig.executor.approvals.pending()
        assert rig.signer.signatures == 0
        rig.executor.approvals.approve(waiting.id, "operator")
        outcome = await task
        assert outcome.status == "done", outcome.reasons
        assert rig.signer.signatures == 1
