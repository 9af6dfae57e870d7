"""The `domains` rule: which hosts an x402 payment (an intent with a `resource` URL) may pay."""

from __future__ import annotations

import pytest

from policies import Facts, Intent, PolicyFileError, TokenInfo, evaluate, parse_policy

TUSD = TokenInfo(symbol="TUSD", address="0x" + "a1" * 20, decimals=6)
POLICY = """version: 1
rules:
  - kind: allow_skills
    skills: [pay_x402, transfer_token]
  - kind: spend_limit
    token: TUSD
    per_action: "1"
  - kind: domains
    allow: ["*.Example.com", api.data.org, 127.0.0.1]
    deny: [bad.example.com]
"""


def verdict(url: str | None, skill: str = "pay_x402") -> tuple[str, list[str]]:
    policy = parse_policy(POLICY, tokens=[TUSD])
    intent = Intent(
        skill=skill, agent="did:key:z6Mk", chain_id=31337, token="TUSD", amount="0.5", resource=url
    )
    decision = evaluate(policy, intent, Facts())
    return decision.verdict, [r.message for r in decision.reasons if r.kind == "domains"]


@pytest.mark.parametrize(
    "url",
    [
        "https://a.example.com/x?y=1",
        "https://A.B.EXAMPLE.COM./p",
        "http://api.data.org:8080/",
        "http://127.0.0.1:9/r",
    ],
)
def test_a_payment_for_an_allowed_host_is_allowed(url: str) -> None:
    assert verdict(url)[0] == "allow"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://example.com/", "host example.com is not on the allow list"),
        ("https://a.example.com.evil.net/", "host a.example.com.evil.net is not on the allow list"),
        ("https://evil.net/?u=https://a.example.com", "host evil.net is not on the allow list"),
        ("https://a.example.com@evil.net/", "host evil.net is not on the allow list"),
        ("https://bad.example.com/", "host bad.example.com is on the deny list"),
        ("https://xn--exmple-cua.com/", "is not on the allow list"),
        ("https://exämple.com/", "is not on the allow list"),
        ("ftp://a.example.com/", "has no http(s) host to judge"),
        ("not a url", "has no http(s) host to judge"),
    ],
)
def test_a_payment_for_any_other_host_is_denied_with_the_reason(url: str, why: str) -> None:
    found, reasons = verdict(url)
    assert found == "deny"
    assert any(why in r for r in reasons), reasons


def test_an_intent_without_a_resource_is_not_judged_by_domains() -> None:
    assert verdict(None, "transfer_token") == ("allow", [])


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ("{kind: domains}", "list hosts to allow or deny"),
        ("{kind: domains, allow: ['https://a.com/x']}", "is not a host pattern"),
        ("{kind: domains, allow: ['a.com:443']}", "is not a host pattern"),
        ("{kind: domains, allow: ['*']}", "is not a host pattern"),
    ],
)
def test_a_bad_domains_rule_is_refused_with_the_fix(rule: str, problem: str) -> None:
    with pytest.raises(PolicyFileError) as info:
        parse_policy(f"version: 1\nrules:\n  - {rule}\n", tokens=[TUSD])
    assert problem in str(info.value)
