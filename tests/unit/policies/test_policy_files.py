"""Policy files: the presets load and mean what they say; every bad file gets one line per problem
naming the file, the line, the path in the file and the fix."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from policies import Counterparty, Facts, Intent, PolicyFileError, TokenInfo, evaluate, load_policy
from tests.support.paths import REPO_ROOT

ROOT = REPO_ROOT
TUSD = TokenInfo(symbol="TUSD", address="0x" + "a1" * 20, decimals=6)
ISSUER, SELLER = "did:key:z6MkIssuer", "did:key:z6MkSeller"
NAMES = {"issuer": ISSUER, "seller": SELLER, "buyer": "did:key:z6MkBuyer"}


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(textwrap.dedent(body).lstrip())
    return path


def problems(path: Path, **kwargs: object) -> list[str]:
    with pytest.raises(PolicyFileError) as info:
        load_policy(path, tokens=[TUSD], names=NAMES, **kwargs)  # type: ignore[arg-type]
    return info.value.problems


# --- presets --------------------------------------------------------------------------------------


def spend(skill: str, amount: str, contract: str, method: str) -> Intent:
    party = {"did": SELLER, "credentials": [{"type": "VerifiedSupplier", "issuer": ISSUER}]}
    return Intent.model_validate(
        {
            "skill": skill,
            "agent": "did:key:z6MkMe",
            "chain_id": 31337,
            "counterparty": party,
            "token": "TUSD",
            "amount": amount,
            "contract": contract,
            "method": method,
        }
    )


NOON = Facts.model_validate({"now": "2026-11-22T12:00:00Z"})


def test_buyer_preset_spends_tusd_within_limits_on_escrow_and_token() -> None:
    buyer = load_policy(ROOT / "policies/presets/buyer.yaml", tokens=[TUSD], names=NAMES)
    assert evaluate(buyer, spend("open_escrow", "12", "DealEscrow", "open"), NOON).verdict == "allow"
    assert evaluate(buyer, spend("approve_token", "12", "TestUSD", "approve"), NOON).verdict == "allow"
    assert evaluate(buyer, spend("open_escrow", "45", "DealEscrow", "open"), NOON).verdict == "escalate"
    assert evaluate(buyer, spend("open_escrow", "51", "DealEscrow", "open"), NOON).verdict == "deny"
    assert evaluate(buyer, spend("transfer_token", "1", "TestUSD", "transfer"), NOON).verdict == "deny"
    assert evaluate(buyer, spend("open_escrow", "12", "Drainer", "open"), NOON).verdict == "deny"
    limits = buyer.spend_limits("TUSD")
    assert limits is not None
    assert limits.per_day == 200_000_000


@pytest.mark.parametrize("name", ["seller", "issuer"])
def test_seller_and_issuer_presets_never_spend(name: str) -> None:
    p = load_policy(ROOT / f"policies/presets/{name}.yaml", tokens=[TUSD], names=NAMES)
    for skill, contract, method in [
        ("open_escrow", "DealEscrow", "open"),
        ("approve_token", "TestUSD", "approve"),
        ("transfer_token", "TestUSD", "transfer"),
        ("send_message", "ActionLogAnchor", "anchor"),  # even an allowed skill may not spend
    ]:
        assert evaluate(p, spend(skill, "1", contract, method), NOON).verdict == "deny"
    assert p.spend_limits("TUSD") is None
    anchor = Intent(
        skill="anchor_log", agent="did:key:z6MkMe", chain_id=1, contract="ActionLogAnchor", method="anchor"
    )
    assert evaluate(p, anchor, NOON).verdict == "allow"


def deal_call(skill: str, method: str) -> Intent:
    """A deal call that moves nothing out of the agent's wallet (no token, no amount)."""
    party = Counterparty(did=SELLER)
    return Intent(
        skill=skill,
        agent="did:key:z6MkMe",
        chain_id=1,
        counterparty=party,
        contract="DealEscrow",
        method=method,
    )


def test_seller_preset_refunds_its_buyer_through_cancel_and_nothing_else_on_the_escrow() -> None:
    seller = load_policy(ROOT / "policies/presets/seller.yaml", tokens=[TUSD], names=NAMES)
    assert evaluate(seller, deal_call("refund_escrow", "cancel"), NOON).verdict == "allow"
    for skill, method in [
        ("refund_escrow", "refund"),  # the buyer's refund after the deadline: not the seller's part
        ("release_escrow", "release"),
        ("release_escrow", "cancel"),  # the method alone does not grant: the skill must be allowed
    ]:
        assert evaluate(seller, deal_call(skill, method), NOON).verdict == "deny", (skill, method)


# --- bad files ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            """
            version: 1
            rules:
              - kind: spend_limits
                token: TUSD
            """,
            ":3: rules[0].kind: unknown rule kind 'spend_limits': did you mean 'spend_limit'?",
        ),
        (
            """
            version: 1
            rules:
              - kind: allow_skills
                skills: [send_message]
              - kind: spend_limit
                token: TUSD
                per_day: 200.5
            """,
            ':7: rules[1].per_day: amounts are decimal strings, not floats: write "200.5" in quotes',
        ),
        (
            """
            version: 1
            rules:
              - kind: spend_limit
                token: TUSD
                per_action: "-5"
            """,
            ':5: rules[0].per_action: amount "-5" is negative: amounts are ≥ 0, write e.g. "5"',
        ),
        (
            """
            version: 1
            rules:
              - kind: allow_skills
                skills: [send_message, open_escrw]
            """,
            ":4: rules[0].skills[1]: unknown skill 'open_escrw': did you mean 'open_escrow'?",
        ),
        (
            """
            version: 1
            rules:
              - {kind: spend_limit, token: USDC, per_day: "10"}
            """,
            ":3: rules[0].token: unknown token 'USDC': ",
        ),
        (
            """
            version: 1
            rules:
              - kind: rate_limit
                max: 30
                per: 10 parsecs
            """,
            ":5: rules[0].per: bad duration '10 parsecs': write a whole number and a unit (s, m, h, d), "
            'like "60s", "10m" or "24h"',
        ),
        (
            """
            version: 1
            rules:
              - kind: spend_limit
                token: TUSD
                per_week: "100"
            """,
            ":5: rules[0].per_week: unknown key 'per_week': remove it or check its spelling "
            "(keys: kind, token, per_action, per_day, per_counterparty_day)",
        ),
        (
            """
            version: 1
            rules:
              - kind: spend_limit
                token: TUSD
                per_day: "100"
                per_day: "500"
            """,
            ":6: rules[0].per_day: duplicate key 'per_day' (first on line 5): keep one",
        ),
        (
            """
            version: 1
            rules:
              - kind: spend_limit
                token: TUSD
                per_action: "0.0000001"
            """,
            ":5: rules[0].per_action: TUSD has 6 decimals; 0.0000001 has more: round it",
        ),
        (
            """
            version: 1
            rules:
              - {kind: counterparties, deny: [malory]}
            """,
            ":3: rules[0].deny[0]: unknown agent name 'malory': use a DID, a 0x address or an agent name",
        ),
        (
            """
            version: 1
            rules:
              - kind: approval
                when: {amount_over: "20", new_counterparty: true}
                timeout: 10m
            """,
            ":4: rules[0].when: give exactly one condition",
        ),
        (
            """
            version: 1
            rules:
              - {kind: time_window, utc: "6-22"}
            """,
            ":3: rules[0].utc: bad time window '6-22': write \"HH:MM-HH:MM\" in UTC",
        ),
        (
            """
            version: 1
            rules:
              - {kind: rate_limit, max: 30, per: 60s}
              - {kind: rate_limit, max: 500, per: 24h}
            """,
            ":4: rules[1].kind: a second rate_limit (the first is rules[0]): keep one",
        ),
        (
            """
            version: 2
            rules: []
            """,
            ":1: version: expected 1, got 2",
        ),
        (
            """
            version: 1
            rules:
              - kind: require_credential
                type: VerifiedSupplier
            """,
            ":3: rules[0].issuers: required key 'issuers' is missing: add it",
        ),
    ],
    ids=[
        "unknown-kind",
        "float",
        "negative",
        "unknown-skill",
        "unknown-token",
        "bad-duration",
        "unknown-key",
        "duplicate-key",
        "too-fine",
        "unknown-name",
        "two-conditions",
        "bad-window",
        "two-rate-limits",
        "version",
        "missing",
    ],
)
def test_a_bad_policy_file_gets_one_line_with_file_line_path_and_fix(
    tmp_path: Path, body: str, expected: str
) -> None:
    path = write(tmp_path, body)
    found = problems(path)
    assert len(found) == 1, found
    assert found[0].startswith(f"{path}{expected}"), found[0]


def test_every_problem_in_a_file_is_reported_in_line_order(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        version: 1
        rules:
          - kind: allow_skills
            skills: [send_mesage]
          - {kind: spend_limit, token: TUSD, per_day: 1.5}
          - {kind: nope}
        """,
    )
    found = problems(path)
    assert [line.split(": ")[0:2] for line in found] == [
        [f"{path}:4", "rules[0].skills[0]"],
        [f"{path}:5", "rules[1].per_day"],
        [f"{path}:6", "rules[2].kind"],
    ]


def test_a_custom_skill_set_is_honoured(tmp_path: Path) -> None:
    path = write(tmp_path, "version: 1\nrules:\n  - {kind: allow_skills, skills: [dance]}\n")
    assert "unknown skill 'dance'" in problems(path)[0]
    assert load_policy(path, tokens=[], skills=["dance"]).rules[0].kind == "allow_skills"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version: 1\nrules: [\n", ":3: not valid YAML"),
        ("- just\n- a list\n", ":1: a policy is a mapping"),
    ],
)
def test_not_yaml_or_not_a_mapping(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    assert problems(path)[0].startswith(f"{path}{expected}")


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    assert problems(tmp_path / "nope.yaml") == [
        f"{tmp_path / 'nope.yaml'}: file not found: check the path (presets are in policies/presets/)"
    ]
