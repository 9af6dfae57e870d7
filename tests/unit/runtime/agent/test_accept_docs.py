"""The README's `accept` snippets: the buy goal validates and loads its check from beside agents.yaml;
the check accepts a right count and refuses a wrong one (runtime/negotiation/results.py)."""

from __future__ import annotations

import re
from pathlib import Path

from runtime.agent.buy_hooks import accept_checks, hook_problems
from runtime.config import BuyGoal, load_config
from runtime.negotiation.results import accept_problem
from tests.support.paths import REPO_ROOT


def snippet(name: str) -> str:
    found = re.search(
        rf"<!-- snippet: {name} -->\n```[a-z]*\n(.*?)```", (REPO_ROOT / "README.md").read_text(), re.DOTALL
    )
    assert found, f"README.md has no snippet {name!r}"
    return found.group(1)


async def test_the_readme_accept_goal_loads_its_check_which_refuses_a_wrong_count(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text("version: 1\nrules: []\n")
    (tmp_path / "checks.py").write_text(snippet("accept-check"))
    head = "version: 1\nagents:\n  - name: buyer\n    policy: p.yaml\n    goals:\n"
    (tmp_path / "agents.yaml").write_text(head + snippet("accept-goal"))
    config = load_config(tmp_path / "agents.yaml")
    [goal] = config.agent("buyer").goals
    assert isinstance(goal, BuyGoal)
    assert goal.accept == "checks:counted"
    assert hook_problems(config, tmp_path / "agents.yaml") == []
    check = accept_checks(config.agent("buyer"), tmp_path)["wordcount"]
    assert await accept_problem(check, goal.input, {"sha256": "00", "words": 3}) is None
    refused = await accept_problem(check, goal.input, {"sha256": "00", "words": 2})
    assert refused == "the buyer's accept check counted refused the output (it returned False)"
