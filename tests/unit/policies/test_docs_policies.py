"""docs/policies.md: its example policy is a valid policy, and every rule kind it names exists."""

from __future__ import annotations

import re

from policies import TokenInfo, parse_policy
from policies.rules import RULE_KINDS
from tests.support.paths import REPO_ROOT

DOC = REPO_ROOT / "docs" / "policies.md"
TUSD = TokenInfo(symbol="TUSD", address="0x" + "a1" * 20, decimals=6)


def test_the_example_policy_of_the_docs_loads() -> None:
    [example] = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    policy = parse_policy(example, tokens=[TUSD], names={"issuer": ["did:key:z6MkIssuer"]})
    kinds = {rule.kind for rule in policy.rules}
    assert kinds == set(RULE_KINDS)
