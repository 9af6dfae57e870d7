"""The policy engine: what each rule kind allows, denies or escalates, and how verdicts combine."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from typing import Any

import pytest

from policies import (
    Decision,
    Facts,
    Intent,
    Policy,
    TokenInfo,
    evaluate,
    explain,
    parse_policy,
)

TUSD = TokenInfo(symbol="TUSD", address="0x" + "a1" * 20, decimals=6)
WETH = TokenInfo(symbol="WETH", address="0x" + "b2" * 20, decimals=18)
ISSUER = "did:key:z6MkIssuer"
SELLER = "did:key:z6MkSeller"
SELLER_ADDR = "0x" + "5e" * 20
MALLORY = "did:key:z6MkMallory"
MALLORY_ADDR = "0x" + "66" * 20
NAMES = {"issuer": [ISSUER], "seller": [SELLER, SELLER_ADDR], "mallory": [MALLORY, MALLORY_ADDR]}
NOON = "2026-11-22T12:00:00Z"

ALL_SKILLS = (
    "- kind: allow_skills\n  skills: [sign_deal, open_escrow, send_message, anchor_log, transfer_token]\n"
)


def policy(rules: str, names: Any = NAMES) -> Policy:
    text = "version: 1\nrules:\n" + textwrap.indent(textwrap.dedent(rules).strip() + "\n", "  ")
    return parse_policy(text, tokens=[TUSD, WETH], names=names)


def intent(**over: Any) -> Intent:
    data: dict[str, Any] = {
        "skill": "open_escrow",
        "agent": "did:key:z6MkBuyer",
        "chain_id": 31337,
        "counterparty": {
            "did": SELLER,
            "address": SELLER_ADDR,
            "credentials": [{"type": "VerifiedSupplier", "issuer": ISSUER}],
        },
        "token": "TUSD",
        "amount": "10",
        "contract": "DealEscrow",
        "method": "open",
    }
    data.update(over)
    return Intent.model_validate({k: v for k, v in data.items() if v is not None})


def facts(**over: Any) -> Facts:
    return Facts.model_validate({"now": NOON, **over})


def judge(p: Policy, i: Intent | None = None, f: Facts | None = None) -> Decision:
    return evaluate(p, i or intent(), f or facts())


def verdict_of(d: Decision, kind: str) -> list[str]:
    return [r.verdict for r in d.reasons if r.kind == kind]


# --- spend_limit ----------------------------------------------------------------------------------

LIMITS = (
    ALL_SKILLS
    + '- {kind: spend_limit, token: TUSD, per_action: "50", per_day: "200", per_counterparty_day: "100"}'
)


@pytest.mark.parametrize(
    ("amount", "spent", "with_", "verdict"),
    [
        ("50", "0", "0", "allow"),  # exactly the per-action limit
        ("50.000001", "0", "0", "deny"),  # one base unit over
        ("25", "175", "0", "allow"),  # 175 + 25 = 200 today
        ("25", "175.5", "0", "deny"),
        ("25", "0", "75", "allow"),  # 75 + 25 = 100 with this seller
        ("25", "0", "80", "deny"),
    ],
)
def test_spend_limit_per_action_day_and_counterparty(
    amount: str, spent: str, with_: str, verdict: str
) -> None:
    f = facts(spent_today=spent, spent_today_with={SELLER: with_})
    d = judge(policy(LIMITS), intent(amount=amount), f)
    assert d.verdict == verdict
    assert verdict_of(d, "spend_limit") == [verdict]


def test_spend_limit_finds_usage_keyed_by_address_in_any_case() -> None:
    f = facts(spent_today_with={SELLER_ADDR.upper().replace("0X", "0x"): "90"})
    assert judge(policy(LIMITS), intent(amount="20"), f).verdict == "deny"


def test_spend_limit_of_one_token_does_not_cover_another() -> None:
    d = judge(policy(LIMITS), intent(token="WETH", amount="0.5"))
    assert d.verdict == "deny"
    assert verdict_of(d, "spend_limit") == ["deny"]
    assert "WETH" in d.reasons[-1].message


def test_spend_limit_by_address_and_18_decimals() -> None:
    p = policy(ALL_SKILLS + f'- {{kind: spend_limit, token: "{WETH.address}", per_action: "0.1"}}')
    assert judge(p, intent(token="WETH", amount="0.1")).verdict == "allow"
    assert judge(p, intent(token="WETH", amount="0.100000000000000001")).verdict == "deny"


def test_an_amount_finer_than_the_token_or_an_unknown_token_is_denied() -> None:
    d = judge(policy(LIMITS), intent(amount="1.0000001"))
    assert d.verdict == "deny"
    assert verdict_of(d, "intent") == ["deny"]
    d = judge(policy(LIMITS), intent(token="DOGE", amount="1"))
    assert d.verdict == "deny"
    assert "unknown token 'DOGE'" in explain(d)[1]


# --- counterparties -------------------------------------------------------------------------------


ONLY_DID, ONLY_ADDRESS = {"did": MALLORY}, {"address": MALLORY_ADDR}


@pytest.mark.parametrize(
    ("entry", "denied"),
    [
        ("mallory", [ONLY_DID, ONLY_ADDRESS]),  # the resolver knows both of mallory's ids
        (MALLORY, [ONLY_DID]),
        (MALLORY_ADDR, [ONLY_ADDRESS]),
        ("0x" + MALLORY_ADDR[2:].upper(), [ONLY_ADDRESS]),
    ],
)
def test_counterparties_deny_by_name_did_or_address(entry: str, denied: list[dict[str, str]]) -> None:
    p = policy(ALL_SKILLS + f'- {{kind: counterparties, deny: ["{entry}"]}}')
    for party in denied:
        d = judge(p, intent(skill="send_message", token=None, amount=None, counterparty=party))
        assert d.verdict == "deny", party
        assert "is on the deny list" in d.reasons[-1].message
    assert judge(p, intent(skill="send_message", token=None, amount=None)).verdict == "allow"


def test_counterparties_deny_by_name_without_a_resolver_matches_the_name() -> None:
    p = policy(ALL_SKILLS + "- {kind: counterparties, deny: [mallory]}", names=None)
    mallory = {"did": MALLORY, "name": "mallory"}
    assert (
        judge(p, intent(skill="send_message", counterparty=mallory, token=None, amount=None)).verdict
        == "deny"
    )


def test_counterparties_allow_list_denies_everyone_else() -> None:
    p = policy(ALL_SKILLS + "- {kind: counterparties, allow: [seller]}")
    base = {"skill": "send_message", "token": None, "amount": None}
    assert judge(p, intent(**base)).verdict == "allow"
    d = judge(p, intent(**base, counterparty={"did": MALLORY}))
    assert d.verdict == "deny"
    assert "not on the allow list" in d.reasons[-1].message


# --- require_credential ---------------------------------------------------------------------------

CRED = (
    ALL_SKILLS
    + "- {kind: require_credential, type: VerifiedSupplier, issuers: [issuer], for_skills: [sign_deal]}"
)


@pytest.mark.parametrize(
    ("credentials", "verdict", "says"),
    [
        ([{"type": "VerifiedSupplier", "issuer": ISSUER}], "allow", "trusted issuer"),
        ([{"type": "KYC", "issuer": ISSUER}], "deny", "has no VerifiedSupplier credential"),
        ([{"type": "VerifiedSupplier", "issuer": MALLORY}], "deny", "is not from issuer"),
        ([], "deny", "has no VerifiedSupplier credential"),
    ],
)
def test_require_credential(credentials: list[dict[str, str]], verdict: str, says: str) -> None:
    party = {"did": SELLER, "credentials": credentials}
    d = judge(policy(CRED), intent(skill="sign_deal", token=None, amount=None, counterparty=party))
    assert d.verdict == verdict
    assert says in next(r for r in d.reasons if r.kind == "require_credential").message


def test_require_credential_without_a_counterparty_denies_and_ignores_other_skills() -> None:
    d = judge(policy(CRED), intent(skill="sign_deal", token=None, amount=None, counterparty=None))
    assert d.verdict == "deny"
    assert "there is none" in d.reasons[-1].message
    stranger = {"did": MALLORY}
    d = judge(policy(CRED), intent(skill="send_message", token=None, amount=None, counterparty=stranger))
    assert d.verdict == "allow"
    assert verdict_of(d, "require_credential") == []


# --- contracts ------------------------------------------------------------------------------------

CONTRACTS = (
    LIMITS + f'\n- {{kind: contracts, allow: {{DealEscrow: [open, release], "{TUSD.address}": [approve]}}}}'
)


def test_contracts_allow_listed_methods_by_name_or_address() -> None:
    assert judge(policy(CONTRACTS)).verdict == "allow"
    checksum_case = "0x" + TUSD.address[2:].upper()
    assert judge(policy(CONTRACTS), intent(contract=checksum_case, method="approve")).verdict == "allow"


def test_contracts_deny_an_unlisted_method_or_contract() -> None:
    d = judge(policy(CONTRACTS), intent(method="refund"))
    assert d.verdict == "deny"
    assert "method refund of DealEscrow is not allowed" in d.reasons[-1].message
    d = judge(policy(CONTRACTS), intent(contract="Drainer", method="open"))
    assert d.verdict == "deny"
    assert "contract Drainer is not on the allow list" in d.reasons[-1].message


def test_contracts_resolve_contract_names_and_selectors() -> None:
    escrow = "0x" + "ee" * 20
    p = policy(
        CONTRACTS.replace("[open, release]", "[open, '0x12345678']"), names={**NAMES, "DealEscrow": escrow}
    )
    assert judge(p, intent(contract=escrow, method="open")).verdict == "allow"
    assert judge(p, intent(contract=escrow, method="release", selector="0x12345678")).verdict == "allow"
    assert judge(p, intent(contract=escrow, method="release")).verdict == "deny"


# --- rate_limit and time_window -------------------------------------------------------------------

RATE = ALL_SKILLS + "- {kind: rate_limit, max: 3, per: 60s}"


def test_rate_limit_counts_actions_from_the_facts() -> None:
    no_spend = intent(skill="send_message", token=None, amount=None)
    assert judge(policy(RATE), no_spend, facts(actions_last_period=2)).verdict == "allow"
    d = judge(policy(RATE), no_spend, facts(actions_last_period=3))
    assert d.verdict == "deny"
    assert d.reasons[-1].message == "3 actions in the last 60s: the limit is 3 per 60s"
    assert policy(RATE).rate_period == timedelta(seconds=60)


@pytest.mark.parametrize(
    ("window", "now", "verdict"),
    [
        ("06:00-22:00", "2026-11-22T06:00:00Z", "allow"),
        ("06:00-22:00", "2026-11-22T21:59:59Z", "allow"),
        ("06:00-22:00", "2026-11-22T22:00:00Z", "deny"),  # end excluded
        ("06:00-22:00", "2026-11-22T05:59:00Z", "deny"),
        ("22:00-06:00", "2026-11-22T23:30:00Z", "allow"),  # across midnight
        ("22:00-06:00", "2026-11-23T00:00:00Z", "allow"),
        ("22:00-06:00", "2026-11-23T05:59:00Z", "allow"),
        ("22:00-06:00", "2026-11-23T06:00:00Z", "deny"),
        ("22:00-06:00", "2026-11-22T12:00:00Z", "deny"),
        ("22:00-06:00", "2026-11-22T23:30:00+02:00", "deny"),  # that is 21:30 UTC
        ("00:00-24:00", "2026-11-22T23:59:00Z", "allow"),
    ],
)
def test_time_window_in_utc(window: str, now: str, verdict: str) -> None:
    p = policy(ALL_SKILLS + f'- {{kind: time_window, utc: "{window}"}}')
    d = judge(p, intent(skill="send_message", token=None, amount=None), facts(now=now))
    assert d.verdict == verdict


# --- approval -------------------------------------------------------------------------------------

APPROVAL = LIMITS + '\n- {kind: approval, when: {amount_over: "20"}, approvers: 2, timeout: 10m}'


def test_approval_escalates_over_the_amount_and_says_what_is_needed() -> None:
    assert judge(policy(APPROVAL), intent(amount="20")).verdict == "allow"
    d = judge(policy(APPROVAL), intent(amount="20.5"))
    assert d.verdict == "escalate"
    assert d.approval is not None
    assert (d.approval.approvers, d.approval.timeout) == (2, timedelta(minutes=10))


def test_approval_amount_over_for_one_token_ignores_others() -> None:
    p = policy(
        LIMITS + '\n- {kind: spend_limit, token: WETH, per_action: "100"}'
        '\n- {kind: approval, when: {amount_over: "20", token: WETH}, timeout: 10m}'
    )
    assert judge(p, intent(amount="30")).verdict == "allow"
    assert judge(p, intent(token="WETH", amount="30")).verdict == "escalate"


def test_new_counterparty_escalates_until_known() -> None:
    p = policy(ALL_SKILLS + "- {kind: approval, when: {new_counterparty: true}, timeout: 5m}")
    message = intent(skill="send_message", token=None, amount=None)
    d = judge(p, message, facts(known_counterparties=["did:key:z6MkOther"]))
    assert d.verdict == "escalate"
    assert f"{SELLER} is a new counterparty" in d.reasons[-1].message
    assert (
        judge(p, message, facts(known_counterparties=[SELLER_ADDR.upper().replace("0X", "0x")])).verdict
        == "allow"
    )
    assert judge(p, intent(skill="anchor_log", token=None, amount=None, counterparty=None)).verdict == "allow"


def test_several_escalations_ask_for_the_most_approvers_and_the_shortest_timeout() -> None:
    p = policy(APPROVAL + "\n- {kind: approval, when: {new_counterparty: true}, approvers: 1, timeout: 2m}")
    d = judge(p, intent(amount="30"))
    assert d.verdict == "escalate"
    assert d.approval is not None
    assert (d.approval.approvers, d.approval.timeout) == (2, timedelta(minutes=2))
    assert verdict_of(d, "approval") == ["escalate", "escalate"]
