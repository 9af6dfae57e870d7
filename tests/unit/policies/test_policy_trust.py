"""The trust rule kinds: `min_reputation` and `min_settled_deals` judge a counterparty by the facts the
runtime read from ERC-8004's registries; a number the runtime could not read denies; bad rules are
refused with the fix."""

from __future__ import annotations

from decimal import Decimal

import pytest

from policies import (
    Counterparty,
    Facts,
    Intent,
    PolicyFileError,
    Reputation,
    ReputationQuery,
    TokenInfo,
    evaluate,
    parse_policy,
)

TUSD = TokenInfo(symbol="TUSD", address="0x" + "a1" * 20, decimals=6)
ALICE = "0x" + "Ab" * 20
SELLER = Counterparty(address="0x" + "22" * 20, did="did:key:z6MkSeller")
POLICY = """version: 1
rules:
  - kind: allow_skills
    skills: [sign_deal, transfer_token]
  - kind: spend_limit
    token: TUSD
    per_action: "50"
  - kind: min_reputation
    min: "80"
    min_count: 2
  - kind: min_reputation
    min: "4.5"
    clients: [alice]
    tag: starred
  - kind: min_settled_deals
    min: 3
"""
EVERYONE = ReputationQuery().key
FROM_ALICE = ReputationQuery.of((ALICE,), "starred").key


def judge(
    facts: Facts, skill: str = "sign_deal", party: Counterparty | None = SELLER
) -> tuple[str, list[str]]:
    policy = parse_policy(POLICY, tokens=[TUSD], names={"alice": ["did:key:z6MkAlice", ALICE]})
    intent = Intent(
        skill=skill, agent="did:key:z6Mk", chain_id=1, counterparty=party, token="TUSD", amount="5"
    )
    decision = evaluate(policy, intent, facts)
    return decision.verdict, [r.message for r in decision.reasons if r.kind.startswith("min_")]


def trusted(
    everyone: tuple[int, str] = (3, "90"), alice: tuple[int, str] = (1, "5"), deals: int = 3
) -> Facts:
    return Facts(
        reputation={
            EVERYONE: Reputation(count=everyone[0], value=Decimal(everyone[1])),
            FROM_ALICE: Reputation(count=alice[0], value=Decimal(alice[1])),
        },
        settled_deals=deals,
    )


def test_a_counterparty_with_enough_paid_feedback_and_deals_is_allowed() -> None:
    verdict, reasons = judge(trusted())
    assert verdict == "allow"
    assert reasons == [
        "the counterparty's paid feedback averages 90 over 3 (minimum 80)",
        "the counterparty's paid feedback with tag 'starred' from alice averages 5 over 1 (minimum 4.5)",
        "the counterparty has 3 settled deal(s) on record (minimum 3)",
    ]


@pytest.mark.parametrize(
    ("facts", "why"),
    [
        (trusted(everyone=(1, "100")), "the counterparty has 1 paid feedback; this policy needs at least 2"),
        (trusted(everyone=(5, "79.9")), "the counterparty's paid feedback averages 79.9 over 5, under the minimum 80"),  # noqa: E501
        (trusted(alice=(1, "-1")), "paid feedback with tag 'starred' from alice averages -1 over 1, under the minimum 4.5"),  # noqa: E501
        (trusted(deals=2), "the counterparty has 2 settled deal(s) on record (minimum 3)"),
    ],
)  # fmt: skip
def test_a_counterparty_under_a_minimum_is_denied_saying_which(facts: Facts, why: str) -> None:
    verdict, reasons = judge(facts)
    assert verdict == "deny"
    assert any(why in r for r in reasons), reasons


def test_numbers_the_runtime_could_not_read_deny() -> None:
    verdict, reasons = judge(Facts())
    assert verdict == "deny"
    assert len(reasons) == 3
    assert all("could not be read" in r for r in reasons)


def test_trust_rules_bind_only_their_skills_and_a_deal_needs_a_counterparty() -> None:
    assert judge(Facts(), skill="transfer_token") == ("allow", [])
    verdict, reasons = judge(trusted(), party=None)
    assert verdict == "deny"
    assert "sign_deal needs a counterparty with a reputation; there is none" in reasons


def test_the_policy_says_what_to_read_for_an_intent() -> None:
    policy = parse_policy(POLICY, tokens=[TUSD], names={"alice": ["did:key:z6MkAlice", ALICE]})

    def intent(skill: str, party: Counterparty | None = SELLER) -> Intent:
        return Intent(skill=skill, agent="did:key:z6Mk", chain_id=1, counterparty=party)

    need = policy.trust_need(intent("sign_deal"))
    assert need is not None
    assert need.settled_deals
    assert [q.key for q in need.reputation] == [EVERYONE, f"{ALICE.lower()}|starred"]
    assert policy.trust_need(intent("transfer_token")) is None
    assert policy.trust_need(intent("sign_deal", None)) is None


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ('{kind: min_reputation, min: "high"}', "is not a number"),
        ("{kind: min_reputation, min: 80.5}", 'write the value as a decimal string like "80"'),
        ('{kind: min_reputation, min: "80", clients: ["did:key:z6MkX"]}', "feedback is counted by the client's wallet"),  # noqa: E501
        ('{kind: min_reputation, min: "80", clients: [bob]}', "unknown agent name 'bob'"),
        ('{kind: min_reputation, min: "80", min_count: 0}', "greater than or equal to 1"),
        ('{kind: min_reputation, min: "80", tags: [x]}', "tags"),
        ("{kind: min_settled_deals, min: 0}", "greater than or equal to 1"),
        ("{kind: min_settled_deals, min: 2, for_skills: [sign_dael]}", "did you mean 'sign_deal'"),
    ],
)  # fmt: skip
def test_a_bad_trust_rule_is_refused_with_the_fix(rule: str, problem: str) -> None:
    with pytest.raises(PolicyFileError) as info:
        parse_policy(f"version: 1\nrules:\n  - {rule}\n", tokens=[TUSD], names={"alice": [ALICE]})
    assert problem in str(info.value)
