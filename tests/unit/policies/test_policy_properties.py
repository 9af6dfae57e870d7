"""Properties of the engine over random intents and facts: it never fails, and a deny always wins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies import DEFAULT_SKILLS, Facts, Intent, Policy, TokenInfo, evaluate, explain, parse_policy

TUSD = TokenInfo(symbol="TUSD", address="0x" + "a1" * 20, decimals=6)
WETH = TokenInfo(symbol="WETH", address="0x" + "b2" * 20, decimals=18)
DIDS = ["did:key:z6MkSeller", "did:key:z6MkIssuer", "did:key:z6MkMallory", "did:key:z6MkOther"]
ADDRESSES = ["0x" + c * 40 for c in "1234"]
NAMES = {"seller": [DIDS[0], ADDRESSES[0]], "issuer": [DIDS[1]], "mallory": [DIDS[2], ADDRESSES[2]]}

RATE_30 = "{kind: rate_limit, max: 30, per: 60s}"
RULES = [
    "{kind: allow_skills, skills: [sign_deal, open_escrow, release_escrow, send_message, transfer_token]}",
    '{kind: spend_limit, token: TUSD, per_action: "50", per_day: "200", per_counterparty_day: "100"}',
    "{kind: counterparties, deny: [mallory]}",
    "{kind: require_credential, type: VerifiedSupplier, issuers: [issuer], for_skills: [sign_deal]}",
    "{kind: contracts, allow: {DealEscrow: [open, release, refund], TestUSD: [approve, permit]}}",
    RATE_30,
    '{kind: time_window, utc: "06:00-22:00"}',
    '{kind: approval, when: {amount_over: "20"}, approvers: 1, timeout: 10m}',
    "{kind: approval, when: {new_counterparty: true}, approvers: 2, timeout: 5m}",
]


def compile_rules(rules: list[str]) -> Policy:
    text = "version: 1\nrules:\n" + "".join(f"  - {rule}\n" for rule in rules)
    return parse_policy(text, tokens=[TUSD, WETH], names=NAMES)


POLICY = compile_rules(RULES)

amounts = st.one_of(
    st.none(),
    st.decimals(min_value=0, max_value=10**6, allow_nan=False, allow_infinity=False, places=8).map(
        lambda d: format(d, "f")
    ),
    st.integers(min_value=0, max_value=10**30).map(str),
)
credentials = st.lists(
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["VerifiedSupplier", "KYC", "x"]),
            "issuer": st.sampled_from(DIDS + ADDRESSES),
        }
    ),
    max_size=3,
)
counterparties = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {"did": st.sampled_from(DIDS)},
        optional={"address": st.sampled_from(ADDRESSES), "name": st.text(min_size=1, max_size=8)},
    ).map(lambda d: {**d, "credentials": []}),
    st.builds(
        lambda a, c: {"address": a, "credentials": c},
        st.sampled_from(ADDRESSES + [a.upper() for a in ADDRESSES]),
        credentials,
    ),
)


@st.composite
def intents(draw: st.DrawFn) -> Intent:
    amount = draw(amounts)
    token = (
        draw(st.sampled_from(["TUSD", "WETH", "DOGE", TUSD.address.upper()]))
        if amount
        else draw(st.one_of(st.none(), st.sampled_from(["TUSD", "DOGE"])))
    )
    data: dict[str, Any] = {
        "skill": draw(st.sampled_from([*sorted(DEFAULT_SKILLS), "dance"])),
        "agent": "did:key:z6MkBuyer",
        "chain_id": draw(st.integers(min_value=0, max_value=2**64)),
        "counterparty": draw(counterparties),
        "token": token,
        "amount": amount,
        "contract": draw(
            st.one_of(st.none(), st.sampled_from(["DealEscrow", "TestUSD", "Drainer", ADDRESSES[3]]))
        ),
        "method": draw(st.one_of(st.none(), st.sampled_from(["open", "approve", "transfer", "refund"]))),
        "selector": draw(st.one_of(st.none(), st.just("0x095ea7b3"))),
    }
    return Intent.model_validate({k: v for k, v in data.items() if v is not None})


usage = st.decimals(min_value=0, max_value=10**4, allow_nan=False, allow_infinity=False, places=7).map(
    lambda d: format(d, "f")
)
facts = st.builds(
    lambda spent, with_, actions, known, now: Facts.model_validate(
        {
            "spent_today": spent,
            "spent_today_with": with_,
            "actions_last_period": actions,
            "known_counterparties": known,
            "now": now,
        }
    ),
    usage,
    st.dictionaries(st.sampled_from(DIDS + ADDRESSES), usage, max_size=3),
    st.integers(min_value=0, max_value=100),
    st.lists(st.sampled_from(DIDS + ADDRESSES), max_size=4),
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)),
)


@pytest.mark.slow
@settings(max_examples=400, deadline=None)
@given(intents(), facts)
def test_evaluate_never_fails_and_always_explains_itself(intent: Intent, f: Facts) -> None:
    decision = evaluate(POLICY, intent, f)
    assert all(r.kind != "engine" for r in decision.reasons), decision  # no swallowed internal error
    assert decision.reasons, "every decision carries its reasons"
    expected = (
        {"deny"} & {r.verdict for r in decision.reasons}
        or {"escalate"} & {r.verdict for r in decision.reasons}
        or {"allow"}
    )
    assert {decision.verdict} == expected
    assert (decision.approval is not None) == (decision.verdict == "escalate")
    assert explain(decision)[0].lower().startswith(decision.verdict)


def _deny_rule(f: Facts) -> str:
    """A rule that denies at this moment whatever the intent: a window that excludes now."""
    start = f.now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    end = start + timedelta(hours=1)
    return f'{{kind: time_window, utc: "{start:%H:%M}-{end:%H:%M}"}}'


@settings(max_examples=200, deadline=None)
@given(intents(), facts, st.booleans())
def test_a_rule_that_denies_always_wins(intent: Intent, f: Facts, rate: bool) -> None:
    if rate:  # only one rate_limit per policy: swap the lenient one for one already used up
        policy = compile_rules([r for r in RULES if r != RATE_30] + ["{kind: rate_limit, max: 1, per: 60s}"])
        f = f.model_copy(update={"actions_last_period": max(f.actions_last_period, 1)})
    else:
        policy = compile_rules([*RULES, _deny_rule(f)])
    decision = evaluate(policy, intent, f)
    assert decision.verdict == "deny"
    assert decision.approval is None
    last = len(policy.rules) - 1
    assert any(r.rule == last and r.verdict == "deny" for r in decision.reasons)


def test_amounts_compare_exactly_at_the_limit() -> None:
    f = Facts.model_validate({"spent_today": "199.999999", "now": "2026-11-22T12:00:00Z"})
    base = {"skill": "transfer_token", "agent": "did:key:z6MkB", "chain_id": 1, "token": "TUSD"}
    assert evaluate(POLICY, Intent.model_validate({**base, "amount": "0.000001"}), f).verdict == "allow"
    assert evaluate(POLICY, Intent.model_validate({**base, "amount": "0.000002"}), f).verdict == "deny"
    assert Decimal("0.1") + Decimal("0.2") == Decimal("0.3")  # what floats would get wrong
