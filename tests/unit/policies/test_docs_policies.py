"""docs/policies.md: its example policy is a valid policy, every rule kind it names exists, and its
custom rule kind snippet registers and judges as the text says."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

from policies import Facts, Intent, TokenInfo, evaluate, parse_policy
from policies.rules import RULE_KINDS
from tests.support.paths import REPO_ROOT

DOC = REPO_ROOT / "docs" / "policies.md"
TUSD = TokenInfo(symbol="TUSD", address="0x" + "a1" * 20, decimals=6)


def snippet(name: str) -> str:
    found = re.search(
        rf"<!-- snippet: {name} -->\n```[a-z]*\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S
    )
    assert found, f"docs/policies.md has no snippet {name!r}"
    return found.group(1)


def test_the_example_policy_of_the_docs_loads() -> None:
    example = re.findall(r"## The rule kinds\n\n```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)[0]
    policy = parse_policy(example, tokens=[TUSD], names={"issuer": ["did:key:z6MkIssuer"]})
    kinds = {rule.kind for rule in policy.rules}
    assert kinds == set(RULE_KINDS)


def test_the_custom_rule_kind_of_the_docs_registers_and_denies_over_its_max(tmp_path: Path) -> None:
    from runtime.services import load_extensions

    (tmp_path / "limits.py").write_text(snippet("rule-kind-plugin"))
    ext = load_extensions(["limits"], tmp_path)
    policy = parse_policy(snippet("rule-kind-policy"), tokens=[TUSD], rule_kinds=ext.rule_kinds)

    def verdict(amount: str) -> tuple[str, str]:
        intent = Intent(
            skill="transfer_token", agent="did:key:z6Mk", chain_id=1, token="TUSD", amount=Decimal(amount)
        )
        decision = evaluate(policy, intent, Facts())
        return decision.verdict, decision.reasons[-1].message

    assert verdict("4") == ("allow", "transfer_token of 4 is within 5")
    assert verdict("6") == ("deny", "transfer_token of 6 is over 5")


def test_the_trust_snippet_of_the_docs_denies_an_unrated_seller_and_allows_a_trusted_one() -> None:
    from policies import Counterparty, Reputation

    policy = parse_policy(snippet("trust-policy"), tokens=[TUSD])
    seller = Counterparty(address="0x" + "22" * 20)
    intent = Intent(skill="sign_deal", agent="did:key:z6Mk", chain_id=1, counterparty=seller,
                    token="TUSD", amount=Decimal("5"))  # fmt: skip
    need = policy.trust_need(intent)
    assert need is not None
    assert need.settled_deals
    assert len(need.reputation) == 2
    unrated = Facts(reputation={q.key: Reputation() for q in need.reputation}, settled_deals=0)
    assert evaluate(policy, intent, unrated).verdict == "deny"
    good = Reputation(count=4, value=Decimal("95"))
    trusted = Facts(reputation={q.key: good for q in need.reputation}, settled_deals=3)
    assert evaluate(policy, intent, trusted).verdict == "allow"
