"""How verdicts combine: default deny, deny beats escalate beats allow, and the DESIGN §6 example."""

from __future__ import annotations

from datetime import timedelta

from test_policy_rules import (
    ALL_SKILLS,
    APPROVAL,
    ISSUER,
    SELLER,
    TUSD,
    facts,
    intent,
    judge,
    policy,
    verdict_of,
)

from policies import Decision, Facts, Intent, evaluate, explain, parse_policy

# --- the example of DESIGN §6 ---------------------------------------------------------------------

DESIGN_POLICY = """
version: 1
rules:
  - kind: allow_skills
    skills: [sign_deal, open_escrow, release_escrow, present_credential, send_message]
  - kind: spend_limit            # amounts are decimal strings in token units, never floats
    token: TUSD                  # a deployed token's symbol or its 0x address
    per_action: "50"
    per_day: "200"               # rolling 24 h
    per_counterparty_day: "100"
  - kind: counterparties
    deny: ["did:key:z6Mk..."]    # DIDs, 0x addresses or agent names from agents.yaml
    allow: []                    # empty: anyone not denied
  - kind: require_credential     # the counterparty must have presented a valid one
    type: VerifiedSupplier
    issuers: [issuer]
    for_skills: [sign_deal, open_escrow]
  - kind: contracts
    allow: {DealEscrow: [open, release, refund], TestUSD: [approve, permit]}
  - kind: rate_limit
    max: 30
    per: 60s
  - kind: time_window
    utc: "06:00-22:00"
  - kind: approval               # escalate to the operator
    when: {amount_over: "20"}    # or {new_counterparty: true}
    approvers: 1
    timeout: 10m                 # no answer in time = deny
"""
DESIGN_INTENT = """{"skill": "open_escrow", "agent": "did:key:z6Mk...", "chain_id": 31337,
 "counterparty": {"did": "did:key:z6Mk...", "address": "0x...",
                  "credentials": [{"type": "VerifiedSupplier", "issuer": "did:key:z6Mk..."}]},
 "token": "TUSD", "amount": "25", "contract": "DealEscrow", "method": "open"}"""
DESIGN_FACTS = """{"spent_today": "120", "spent_today_with": {"did:key:z6Mk...": "40"},
 "actions_last_period": 3, "known_counterparties": ["did:key:z6Mk..."], "now": "2026-11-22T12:00:00Z"}"""


def test_design_example_parses_and_denies_the_counterparty_it_lists() -> None:
    p = parse_policy(DESIGN_POLICY, tokens=[TUSD], names={"issuer": "did:key:z6Mk..."})
    i, f = Intent.model_validate_json(DESIGN_INTENT), Facts.model_validate_json(DESIGN_FACTS)
    d = evaluate(p, i, f)
    # The example's placeholder DID is both the denied one and the counterparty: deny beats escalate.
    assert d.verdict == "deny"
    assert verdict_of(d, "counterparties") == ["deny"]
    assert verdict_of(d, "approval") == ["escalate"]  # 25 > 20, still reported
    assert verdict_of(d, "spend_limit") == ["allow"]  # 120 + 25 ≤ 200, 40 + 25 ≤ 100


def test_design_example_with_a_real_seller_escalates_over_20_and_allows_below() -> None:
    p = parse_policy(DESIGN_POLICY, tokens=[TUSD], names={"issuer": ISSUER})
    f = Facts.model_validate_json(DESIGN_FACTS.replace("did:key:z6Mk...", SELLER))
    d = evaluate(p, intent(amount="25"), f)
    assert d.verdict == "escalate"
    assert d.approval is not None
    assert d.approval.approvers == 1
    assert d.approval.timeout == timedelta(minutes=10)
    assert evaluate(p, intent(amount="15"), f).verdict == "allow"
    assert explain(d)[0] == "ESCALATE: needs 1 approver within 10m (no answer = deny)"


# --- default deny and allow_skills --------------------------------------------------------------


def test_a_skill_no_rule_allows_is_denied_with_its_name() -> None:
    d = judge(policy("- kind: allow_skills\n  skills: [send_message]"), intent(token=None, amount=None))
    assert d.verdict == "deny"
    assert [r.message for r in d.reasons] == ["no rule allows skill open_escrow"]


def test_an_empty_policy_denies_everything() -> None:
    p = parse_policy("version: 1\nrules: []\n", tokens=[TUSD])
    assert judge(p, intent(skill="send_message", token=None, amount=None)).verdict == "deny"


def test_allow_skills_allows_a_listed_skill_that_spends_nothing() -> None:
    d = judge(policy(ALL_SKILLS), intent(skill="send_message", token=None, amount=None, contract=None))
    assert d.verdict == "allow"
    assert d.reasons[0].message == "send_message is allowed"


def test_a_spend_of_a_token_no_spend_limit_covers_is_denied() -> None:
    d = judge(policy(ALL_SKILLS))
    assert d.verdict == "deny"
    assert "no spend_limit rule covers TUSD" in d.reasons[-1].message


# --- precedence -----------------------------------------------------------------------------------


def test_deny_beats_escalate_beats_allow_and_every_reason_is_kept() -> None:
    p = policy(APPROVAL + "\n- {kind: counterparties, deny: [seller]}")
    d = judge(p, intent(amount="30"))
    assert d.verdict == "deny"
    assert [(r.rule, r.verdict) for r in d.reasons] == [
        (0, "allow"),
        (1, "allow"),
        (2, "escalate"),
        (3, "deny"),
    ]
    lines = explain(d)
    assert lines[0] == "DENY"
    assert "deny" in lines[1]
    assert "rules[3] counterparties" in lines[1]
    assert judge(policy(APPROVAL), intent(amount="30")).verdict == "escalate"
    assert judge(policy(APPROVAL), intent(amount="3")).verdict == "allow"


def test_a_decision_round_trips_as_json() -> None:
    d = judge(policy(APPROVAL), intent(amount="30"))
    assert Decision.model_validate_json(d.model_dump_json()) == d


def test_the_same_policy_is_judged_the_same_way_twice() -> None:
    p, i, f = policy(APPROVAL), intent(amount="30"), facts()
    assert evaluate(p, i, f) == evaluate(p, i, f)
