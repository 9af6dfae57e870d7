"""What binds approvals and deal signatures: `spenders` (only the escrow by default), `deal_price`, and
`spend: false` (an escrow approval is judged per action only: the deal signatures hold its pulls)."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from policies import Facts, Intent, Policy, PolicyFileError, TokenInfo, evaluate, parse_policy

TUSD = TokenInfo(symbol="TUSD", address="0x" + "a1" * 20, decimals=6)
SELLER = "did:key:z6MkSeller"
SELLER_ADDR = "0x" + "5e" * 20
STRANGER = "0x" + "66" * 20
NAMES = {"seller": [SELLER, SELLER_ADDR]}
BASE = """
- {kind: allow_skills, skills: [approve_token, sign_deal, open_escrow, transfer_token]}
- {kind: spend_limit, token: TUSD, per_action: "50", per_day: "200", per_counterparty_day: "100"}
"""


def policy(rules: str = "") -> Policy:
    body = textwrap.dedent(BASE + rules).strip() + "\n"
    return parse_policy("version: 1\nrules:\n" + textwrap.indent(body, "  "), tokens=[TUSD], names=NAMES)


def approval(spender: str, amount: str = "30", **over: Any) -> Intent:
    data = {
        "skill": "approve_token", "agent": "did:key:z6MkBuyer", "chain_id": 31337, "token": "TUSD",
        "amount": amount, "contract": "TestUSD", "method": "approve", "spender": spender,
        **({} if spender == "DealEscrow" else {"counterparty": {"address": spender}}), **over,
    }  # fmt: skip
    return Intent.model_validate(data)


def deal(skill: str = "sign_deal", amount: str = "12") -> Intent:
    return Intent.model_validate(
        {
            "skill": skill,
            "agent": "did:key:z6MkBuyer",
            "chain_id": 31337,
            "token": "TUSD",
            "amount": amount,
            "counterparty": {"did": SELLER, "address": SELLER_ADDR},
        }
    )


def deny_messages(p: Policy, i: Intent, **facts: Any) -> list[str]:
    decision = evaluate(p, i, Facts.model_validate(facts))
    return [r.message for r in decision.reasons if r.verdict == "deny"]


def test_without_a_spenders_rule_only_the_escrow_may_be_approved() -> None:
    p = policy()
    assert deny_messages(p, approval("DealEscrow", spend=False)) == []
    [why] = deny_messages(p, approval(STRANGER))
    assert why.startswith(f"{STRANGER} may not be approved to pull this agent's tokens (only DealEscrow")
    assert deny_messages(p, approval("TestUSD")) != []


def test_a_spenders_rule_allows_the_listed_ones_by_name_or_address() -> None:
    p = policy("- {kind: spenders, allow: [DealEscrow, seller]}")
    assert deny_messages(p, approval(SELLER_ADDR.upper().replace("0X", "0x"))) == []
    assert deny_messages(p, approval("DealEscrow", spend=False)) == []
    assert deny_messages(p, approval(STRANGER)) != []


def test_an_escrow_approval_is_judged_per_action_but_not_against_the_day() -> None:
    p = policy()
    assert deny_messages(p, approval("DealEscrow", spend=False), spent_today="190") == []
    assert "per-action limit of 50" in deny_messages(p, approval("DealEscrow", "51", spend=False))[0]
    # a stranger's approval is a spend: the day counts it
    allowing = policy("- {kind: spenders, allow: [seller]}")
    assert any("daily limit" in m for m in deny_messages(allowing, approval(SELLER_ADDR), spent_today="190"))


def test_deal_price_caps_every_deal_signed_or_opened_as_buyer() -> None:
    p = policy('- {kind: deal_price, token: TUSD, max: "12"}')
    assert deny_messages(p, deal(amount="12")) == []
    assert deny_messages(p, deal(amount="39")) == ["a deal of 39 TUSD is over the 12 TUSD a deal may cost"]
    assert deny_messages(p, deal("open_escrow", "12.000001")) != []
    assert deny_messages(p, deal("transfer_token", "39")) == []  # not a deal skill


@pytest.mark.parametrize(
    ("rule", "says"),
    [
        ('{kind: deal_price, token: TUSD, max: "12.0000001"}', "TUSD has 6 decimals"),
        ('{kind: deal_price, token: DOGE, max: "12"}', "unknown token 'DOGE'"),
        ('{kind: deal_price, token: TUSD, max: "1e3"}', "no sign, exponent or separators"),
        ("{kind: spenders, allow: [mallory]}", "unknown agent name 'mallory'"),
        ("{kind: spenders, allow: []}", "must not be empty"),
    ],
)
def test_a_bad_value_rule_is_one_line_naming_the_fix(rule: str, says: str) -> None:
    with pytest.raises(PolicyFileError) as caught:
        policy(f"- {rule}")
    assert says in str(caught.value)


def test_extra_rules_bind_besides_the_file() -> None:
    text = "version: 1\nrules:\n" + textwrap.indent(textwrap.dedent(BASE).strip() + "\n", "  ")
    extra = [{"kind": "deal_price", "token": "TUSD", "max": "12"}]
    p = parse_policy(text, tokens=[TUSD], names=NAMES, extra_rules=extra)
    assert deny_messages(p, deal(amount="13")) == ["a deal of 13 TUSD is over the 12 TUSD a deal may cost"]
