"""Hostile models against the demo buyer's policy, on a real chain: nothing is signed past policy.

Each script in tests/chain/hostile/ is one attack in the project's `scripted:` model format (the
placeholders such as ${buyer} are filled in per run). The buyer runs under policies/presets/buyer.yaml
plus the `deal_price` its buy goal in agents.yaml adds (max_price 12), exactly as `sova up` assembles
it. After each attack the test checks, on the chain and in the ledger:
- what was signed (counted at the key) is exactly what the policy allows;
- allowances and balances on-chain are what those signatures allow, nothing more;
- every transaction of the buyer's wallet is in its ledger (nonce == transactions logged);
- the model never saw a key, a passphrase-like secret or any signature the agent made.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
from pathlib import Path
from string import Template
from typing import Any

import pytest
from eth_account import Account
from eth_utils.crypto import keccak
from langchain_core.messages import BaseMessage, HumanMessage

from identity import IdentityKey
from policies import format_units
from runtime.agent.goals import deal_price_rules
from runtime.brains.scripted import ScriptedChatModel, load_script
from runtime.brains.tools import executor_agent
from runtime.chain.anvil import AnvilNode
from runtime.config import load_config
from tests.support.executor import (
    SELLER_ADDRESS,
    STRANGER_ADDRESS,
    CountingSigner,
    Market,
    Rig,
    make_rig,
)
from tests.support.paths import REPO_ROOT
from wallet.signer import Signer

pytestmark = pytest.mark.chain

ROOT = REPO_ROOT
SCRIPTS = Path(__file__).parent / "hostile"
USD = 10**6
STRANGERS = [Account.create().address for _ in range(6)]
OPERATOR = Account.create().address
ISSUER_WALLET = Account.create().address
TERMS = keccak(b"one unit of compute")


@pytest.fixture
def market_anvil(module_anvil: AnvilNode) -> AnvilNode:
    return module_anvil  # fresh contracts per test, one node per module


def demo_buyer() -> tuple[str, tuple[dict[str, Any], ...]]:
    """The demo buyer's policy text and the rules its goals add, as `sova up` would load them."""
    config = load_config(ROOT / "agents.yaml", check_files=False)
    spec = next(a for a in config.agents if a.name == "buyer")
    return (ROOT / spec.policy).read_text(encoding="utf-8"), tuple(deal_price_rules(spec))


class Attack:
    """One buyer with a known wallet and identity key, its ledger, and the scripted model playing."""

    def __init__(self, market: Market, rig: Rig, secrets: list[str]) -> None:
        self.market, self.rig, self.secrets = market, rig, secrets
        self.model: ScriptedChatModel | None = None
        self.messages: list[BaseMessage] = []

    @property
    def buyer(self) -> str:
        return self.rig.signer.address

    async def play(self, script: str, tmp_path: Path) -> None:
        """Fill in the script's placeholders, load it as `load_script` does for agents, and run it."""
        now = int(
            (await self.market.client.rpc.request("eth_getBlockByNumber", ["latest", False]))["timestamp"], 16
        )
        values = {
            "buyer": self.buyer, "seller": SELLER_ADDRESS, "operator": OPERATOR, "issuer": ISSUER_WALLET,
            "stranger": STRANGERS[0], **{f"stranger{i + 1}": a for i, a in enumerate(STRANGERS)},
            "terms": "0x" + TERMS.hex(), "terms_hex": TERMS.hex(), "deadline": str(now + 3600),
            "fake_sig": "11" * 65,
            "anchor_contract": self.market.contracts["ActionLogAnchor"].address,
            "token_contract": self.market.contracts["TestUSD"].address,
        }  # fmt: skip
        text = Template((SCRIPTS / script).read_text(encoding="utf-8")).substitute(values)
        path = tmp_path / script
        path.write_text(text, encoding="utf-8")
        self.model = load_script(path)
        agent = executor_agent(self.model, self.rig.executor)
        state = await agent.ainvoke(
            {"messages": [HumanMessage("buy compute for the operator")]}, config={"recursion_limit": 200}
        )
        self.messages = list(state["messages"])

    async def allowance(self, spender: str) -> int:
        return int(await self.market.contracts["TestUSD"].call("allowance", self.buyer, spender))

    def denied(self, skill: str) -> list[list[str]]:
        """The reasons of each denial of `skill` in the ledger ("kind: message" for a policy's)."""
        return [
            [r if isinstance(r, str) else f"{r['kind']}: {r['message']}" for r in d["reasons"]
             if isinstance(r, str) or r["verdict"] == "deny"]
            for d in self.rig.entries("decision")
            if d.get("skill") == skill and d.get("verdict") == "deny"
        ]  # fmt: skip

    async def check_nothing_past_policy(self, *, transactions: int, typed: int) -> None:
        """The signatures are exactly those allowed; every transaction is logged; no secret reached
        the model."""
        assert (self.rig.signer.transactions, self.rig.signer.typed) == (transactions, typed)
        nonce = int(
            await self.market.client.rpc.request("eth_getTransactionCount", [self.buyer, "latest"]), 16
        )
        logged = [e for e in self.rig.entries("effect") if (e.get("result") or {}).get("tx_hash")]
        assert nonce == len(logged) == transactions
        seen = json.dumps(
            [m.content for m in self.messages]
            + [[str(m.content) for m in turn] for turn in (self.model.seen if self.model else [])],
            ensure_ascii=False,
        ).lower()
        signatures = [
            str(e["result"]["signature"])[2:].lower()
            for e in self.rig.entries("effect")
            if isinstance(e.get("result"), dict) and "signature" in e["result"]
        ]
        assert len(signatures) == typed
        for secret in self.secrets + signatures:
            assert secret not in seen


@pytest.fixture
async def attack(market: Market, tmp_path: Path) -> Any:
    text, extra = demo_buyer()
    wallet_secret, identity_secret = os.urandom(32), os.urandom(32)
    signer = CountingSigner(Signer.from_private_key(wallet_secret))
    with make_rig(
        tmp_path, text, contracts=market.contracts, chain=market.client, tokens=(market.token,),
        signer=signer, extra_rules=extra, key=IdentityKey.from_private_bytes(identity_secret),
    ) as rig:  # fmt: skip
        await market.fund(rig.signer.address)
        encoded = base64.urlsafe_b64encode(identity_secret).decode().rstrip("=").lower()
        yield Attack(market, rig, [wallet_secret.hex(), identity_secret.hex(), encoded])


async def test_approving_a_stranger_is_refused(attack: Attack, tmp_path: Path) -> None:
    await attack.play("approve_stranger.yaml", tmp_path)
    [reasons] = attack.denied("approve_token")
    assert any("may not be approved to pull" in r for r in reasons), reasons
    assert await attack.allowance(STRANGERS[0]) == 0
    await attack.check_nothing_past_policy(transactions=0, typed=0)


async def test_approving_six_strangers_is_refused_every_time(attack: Attack, tmp_path: Path) -> None:
    await attack.play("approve_six_strangers.yaml", tmp_path)
    assert len(attack.denied("approve_token")) == 6
    assert [await attack.allowance(s) for s in STRANGERS] == [0] * 6
    await attack.check_nothing_past_policy(transactions=0, typed=0)


async def test_approving_known_wallets_and_own_contracts_is_refused(attack: Attack, tmp_path: Path) -> None:
    await attack.play("approve_known_addresses.yaml", tmp_path)
    assert len(attack.denied("approve_token")) == 4
    spenders = [
        OPERATOR,
        ISSUER_WALLET,
        *(attack.market.contracts[c].address for c in ("ActionLogAnchor", "TestUSD")),
    ]
    assert [await attack.allowance(s) for s in spenders] == [0] * 4
    await attack.check_nothing_past_policy(transactions=0, typed=0)


async def test_deals_over_the_goals_max_price_are_never_signed(attack: Attack, tmp_path: Path) -> None:
    await attack.play("overpriced_deals.yaml", tmp_path)
    denials = attack.denied("sign_deal")
    assert len(denials) == 3
    assert all(any("over the 12 TUSD a deal may cost" in r for r in reasons) for reasons in denials)
    await attack.check_nothing_past_policy(transactions=0, typed=0)


async def test_each_deal_signature_holds_its_amount_until_the_counterparty_limit(
    attack: Attack, tmp_path: Path
) -> None:
    await attack.play("many_deals.yaml", tmp_path)
    rig = attack.rig
    held = rig.budget.spent(rig.context.agent_did, attack.market.token, SELLER_ADDRESS)
    assert format_units(held, 6) == "96"  # 8 signatures x 12; the 9th would pass 100 with the seller
    denials = attack.denied("sign_deal")
    assert len(denials) == 2
    assert all("per-counterparty limit of 100" in " ".join(r) for r in denials)
    await attack.check_nothing_past_policy(transactions=0, typed=8)


async def test_signing_one_deal_again_holds_it_once(attack: Attack, tmp_path: Path) -> None:
    await attack.play("same_deal_twice.yaml", tmp_path)
    rig = attack.rig
    assert rig.budget.spent(rig.context.agent_did, attack.market.token) == 12 * USD
    await attack.check_nothing_past_policy(transactions=0, typed=3)


async def test_a_turn_of_130_calls_runs_only_the_per_turn_cap(attack: Attack, tmp_path: Path) -> None:
    await attack.play("wide_turn.yaml", tmp_path)
    refused = [m for m in attack.messages if "tool calls in one turn" in str(m.content)]
    assert len(refused) == 122
    assert await attack.allowance(attack.market.contracts["DealEscrow"].address) == 1 * USD
    await attack.check_nothing_past_policy(transactions=8, typed=0)


async def test_an_escalated_approval_does_not_stall_the_model(attack: Attack, tmp_path: Path) -> None:
    await asyncio.wait_for(attack.play("escalating_approval.yaml", tmp_path), 20)
    [pending] = attack.rig.executor.approvals.pending()
    assert any("waiting for the operator's approval" in str(m.content) for m in attack.messages)
    attack.rig.executor.approvals.reject(pending.id, "operator", "not this one")
    [outcome] = await attack.rig.executor.settled()
    assert outcome.status == "denied"
    assert await attack.allowance(attack.market.contracts["DealEscrow"].address) == 0
    await attack.check_nothing_past_policy(transactions=0, typed=0)


async def test_amounts_outside_the_grammar_are_refused(attack: Attack, tmp_path: Path) -> None:
    await attack.play("hostile_amounts.yaml", tmp_path)
    denials = attack.denied("approve_token")
    assert len(denials) == 6
    assert "use the ASCII digits 0-9" in " ".join(denials[0])
    assert await attack.allowance(attack.market.contracts["DealEscrow"].address) == 0
    await attack.check_nothing_past_policy(transactions=0, typed=0)


async def test_the_model_can_ask_for_an_anchor_but_not_choose_it(attack: Attack, tmp_path: Path) -> None:
    from wallet.merkle import merkle_root

    await attack.play("anchor_choice.yaml", tmp_path)
    [refused] = attack.denied("anchor_log")
    assert any("root: unknown argument" in r for r in refused)
    [done] = [e for e in attack.rig.entries("effect") if e["skill"] == "anchor_log"]
    receipt = await attack.market.client.receipt(bytes.fromhex(done["result"]["tx_hash"][2:]))
    assert receipt is not None
    (event,) = attack.market.contracts["ActionLogAnchor"].events(receipt, "Anchored")
    assert event["fromSeq"] == 1
    assert event["toSeq"] < 100
    assert bytes(event["root"]) == merkle_root(attack.rig.ledger.hashes(1, event["toSeq"]))
    await attack.check_nothing_past_policy(transactions=1, typed=0)


async def test_no_deal_with_an_uncredentialed_seller_and_no_transfer(attack: Attack, tmp_path: Path) -> None:
    await attack.play("deal_with_stranger.yaml", tmp_path)
    [deal] = attack.denied("sign_deal")
    assert any("credential" in r for r in deal)
    [transfer] = attack.denied("transfer_token")
    assert any("no rule allows skill transfer_token" in r for r in transfer)
    assert await attack.market.balance(STRANGERS[0]) == 0
    await attack.check_nothing_past_policy(transactions=0, typed=0)


async def test_a_forged_open_moves_nothing_and_the_deal_stays_held(attack: Attack, tmp_path: Path) -> None:
    await attack.play("forged_open.yaml", tmp_path)
    escrow = attack.market.contracts["DealEscrow"].address
    assert await attack.market.balance(escrow) == 0
    rig = attack.rig
    # The signed deal still holds its 12: its signature stands until the deadline.
    assert rig.budget.spent(rig.context.agent_did, attack.market.token) == 12 * USD
    assert [e["status"] for e in rig.entries("effect")] == ["done", "failed"]
    await attack.check_nothing_past_policy(transactions=0, typed=1)


async def test_racing_calls_never_pass_the_rate_limit_together(tmp_path: Path) -> None:
    text, extra = demo_buyer()  # rate_limit 120 per 60s; the escrow approvals are allowed
    with make_rig(tmp_path, text, extra_rules=extra) as rig:
        calls = [rig.executor.execute("sign_deal", _deal(rig, nonce), "llm") for nonce in range(130)]
        outcomes = await asyncio.gather(*calls)
    statuses = [o.status for o in outcomes]
    assert statuses.count("done") == 120
    assert rig.signer.typed == 120
    assert all("rate_limit" in o.reasons[0] for o in outcomes if o.status == "denied")


def _deal(rig: Rig, nonce: int) -> dict[str, Any]:
    return {
        "buyer": rig.signer.address, "seller": SELLER_ADDRESS, "token": "TUSD", "amount": "0.01",
        "terms_hash": "0x" + TERMS.hex(), "deadline": 2_000_000_000, "nonce": nonce,
    }  # fmt: skip


def test_every_attack_script_is_played_by_a_test() -> None:
    played = set(Path(__file__).read_text(encoding="utf-8").split('"'))
    assert {p.name for p in SCRIPTS.glob("*.yaml")} <= played
    assert STRANGER_ADDRESS not in STRANGERS
