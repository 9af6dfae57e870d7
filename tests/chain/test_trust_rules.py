"""Policies use trust: a buyer whose policy asks for paid reputation and settled deals signs no deal
with a seller nobody paid and rated, and signs once a released deal was rated; the reads are cached
for their TTL; buyers find the rated seller first, before an older unrated one."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from eth_account import Account

from identity import IdentityKey
from policies import Counterparty, TrustNeed
from policies.trust import ReputationQuery
from runtime.chain.anvil import AnvilNode
from runtime.chain.registry import Registry
from runtime.chain.trust import ChainTrust
from runtime.operator.purchase import find_sellers
from tests.support.executor import Market, deal
from tests.support.settlement import INPUT, make_pair
from wallet import Signer
from wallet.trust import ReputationRegistry

pytestmark = pytest.mark.chain

POLICY = """
version: 1
rules:
  - kind: allow_skills
    skills: [sign_deal]
  - kind: spend_limit
    token: TUSD
    per_action: "50"
  - kind: min_reputation
    min: "90"
  - kind: min_reputation
    min: "50"
    clients: ["{buyer}"]
    tag: starred
  - kind: min_settled_deals
    min: 1
"""


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def market_anvil(module_anvil: AnvilNode) -> AnvilNode:
    return module_anvil


async def test_a_trust_policy_signs_only_with_a_paid_and_rated_seller_and_buyers_rank_it_first(
    market: Market, tmp_path: Path
) -> None:
    reputation = market.contracts["ReputationRegistry"]
    assert isinstance(reputation, ReputationRegistry)
    plain = Registry(market.contracts["AgentRegistry"])  # type: ignore[arg-type]
    # An older seller of the same service that nobody ever paid.
    older = Signer.from_private_key(Account.create().key)
    await market.fund(older.address, usd=0)
    await plain.register(older, IdentityKey.generate(), "http://127.0.0.1:9/", ["translation"])
    async with AsyncExitStack() as stack:
        pair = await make_pair(stack, market, tmp_path, feedback=True)
        seller = pair.seller.address
        clock = Clock()
        trust = ChainTrust(plain, reputation, clock=clock)
        policy = POLICY.format(buyer=pair.buyer.address)
        async with market.funded_rig(tmp_path, policy, trust=trust) as rig:
            before = await rig.executor.execute("sign_deal", deal(rig, seller=seller), "operator")
            assert before.status == "denied"
            assert (
                "min_reputation: the counterparty has 0 paid feedback; this policy needs at least 1"
                in before.reasons
            )
            assert (
                "min_settled_deals: the counterparty has 0 settled deal(s) on record (minimum 1)"
                in before.reasons
            )

            record = await pair.buyer_brain.buy(pair.seller.server.url, "translation", input=INPUT)
            assert record.state == "released", record.reason
            party, need = Counterparty(address=seller), TrustNeed((ReputationQuery(),), settled_deals=True)
            cached = await trust.facts(party, need)
            assert cached["settled_deals"] == 0  # read before the deal, within the TTL
            clock.now += trust.ttl
            fresh = await trust.facts(party, need)
            assert fresh["settled_deals"] == 1
            rated = fresh["reputation"][ReputationQuery().key]
            assert rated.count == 1
            assert 50 <= rated.value <= 100

            after = await rig.executor.execute("sign_deal", deal(rig, seller=seller, nonce=2), "operator")
            assert after.status == "done", after.reasons

        nobody = Counterparty(address="0x" + "77" * 20)
        assert await trust.facts(nobody, need) == {
            "reputation": {ReputationQuery().key: rated.model_copy(update={"count": 0, "value": 0})},
            "settled_deals": 0,
        }
        buyer = pair.buyer.address
        unranked = [r.wallet for r in await find_sellers(plain, "translation", buyer)]
        ranked = [
            r.wallet for r in await find_sellers(Registry(plain.contract, reputation), "translation", buyer)
        ]
        assert unranked == [older.address, seller]
        assert ranked == [seller, older.address]


async def test_an_unreadable_reputation_denies_the_trust_rules_and_leaves_sellers_unranked(
    market: Market, tmp_path: Path
) -> None:
    plain = Registry(market.contracts["AgentRegistry"])  # type: ignore[arg-type]
    # A ReputationRegistry binding where no contract is: every read fails.
    nowhere = ReputationRegistry.from_artifact(market.client, "ReputationRegistry", "0x" + "00" * 19 + "01")
    assert isinstance(nowhere, ReputationRegistry)
    seller = Signer.from_private_key(Account.create().key)
    await market.fund(seller.address, usd=0)
    await plain.register(seller, IdentityKey.generate(), "http://127.0.0.1:9/", ["translation"])
    policy = POLICY.format(buyer="0x" + "11" * 20)
    async with market.funded_rig(tmp_path, policy, trust=ChainTrust(plain, nowhere)) as rig:
        denied = await rig.executor.execute("sign_deal", deal(rig, seller=seller.address), "operator")
    assert denied.status == "denied"
    unread = [r for r in denied.reasons if "could not be read" in r]
    assert len(unread) == 3, denied.reasons
    found = await find_sellers(Registry(plain.contract, nowhere), "translation", "0x" + "22" * 20)
    assert [r.wallet for r in found] == [seller.address]
