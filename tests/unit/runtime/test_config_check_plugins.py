"""`sova config check` loads each agent's plugins and checks every name its config and policy use
against the built-ins and those plugins: one line per problem, with the file and line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from policies.rules import DEFAULT_SKILLS, RULE_KINDS
from runtime.config_check import check_config
from runtime.errors import ConfigError
from tests.support.cli import sova
from tests.support.paths import REPO_ROOT

TIPJAR = REPO_ROOT / "tests" / "fixtures" / "plugins" / "tipjar.py"

AGENTS = """version: 1
agents:
  - name: tipper
    policy: tipper.yaml
    plugins: [tipjar]
    skills: [tip, transfer_token]
    brain: {kind: rules, strategy: stubborn, target: "8", reservation: "12"}
    goals:
      - {kind: tip_jar, every: "1h", to: friend, amount: "2"}
      - {kind: sell, service: shout}
  - name: friend
    policy: friend.yaml
"""

POLICY = """version: 1
rules:
  - kind: allow_skills
    skills: [tip, transfer_token]
  - kind: spend_limit
    token: TUSD
    per_action: "50"
  - kind: max_tip
    max: "5"
  - kind: counterparties
    allow: [friend]
"""


def project(tmp_path: Path, agents: str = AGENTS, policy: str = POLICY) -> Path:
    shutil.copy(TIPJAR, tmp_path / "tipjar.py")
    (tmp_path / "tipper.yaml").write_text(policy)
    (tmp_path / "friend.yaml").write_text("version: 1\nrules: []\n")
    (tmp_path / "agents.yaml").write_text(agents)
    return tmp_path / "agents.yaml"


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        check_config(path)
    return raised.value.problems


def test_an_agent_using_its_plugins_skill_rule_kind_strategy_goal_and_service_passes(tmp_path: Path) -> None:
    config = check_config(project(tmp_path))
    assert [a.name for a in config.agents] == ["tipper", "friend"]


def test_names_no_plugin_registers_are_each_one_line_with_their_line(tmp_path: Path) -> None:
    agents = (
        AGENTS.replace("skills: [tip, transfer_token]", "skills: [tip, tpi]")
        .replace("strategy: stubborn", "strategy: stubbron")
        .replace('amount: "2"}', 'amount: "2", color: red}')
        .replace("{kind: sell, service: shout}", "{kind: sell, service: whisper}\n      - {kind: nap}")
    )
    path = project(tmp_path, agents)
    skills = ", ".join(sorted({*DEFAULT_SKILLS, "tip"}))  # the built-in skills and the plugin's
    assert problems(path) == [
        f"{path}:6: agents[0].skills[1]: unknown skill 'tpi': did you mean 'tip'? remove it, or name a "
        f"built-in skill or one of this agent's plugins (known: {skills})",
        f"{path}:7: agents[0].brain.strategy: unknown strategy 'stubbron': did you mean 'stubborn'? remove "
        "it, or name a built-in strategy or one of this agent's plugins (known: boulware, conceder, linear, "
        "stubborn)",
        f"{path}:9: agents[0].goals[0].color: unknown key 'color' for goal kind tip_jar: remove it (keys: "
        "to, amount)",
        f"{path}:10: agents[0].goals[1].service: sells 'whisper', which no plugin of it registers "
        "(registered: shout)",
        f"{path}:11: agents[0].goals[2].kind: unknown goal kind 'nap': remove it, or name a built-in goal "
        "kind or one of this agent's plugins (known: buy, sell, issue, llm_task, tip_jar)",
    ]


def test_a_policy_file_is_checked_with_the_plugins_rule_kinds_and_the_agents_names(tmp_path: Path) -> None:
    policy = POLICY.replace('max: "5"', "max: 5.5").replace("allow: [friend]", "allow: [frend]")
    policy += "  - kind: max_tipp\n"
    path = project(tmp_path, policy=policy)
    policy_path = tmp_path / "tipper.yaml"
    lines = problems(path)
    assert (
        lines[0]
        == f'{policy_path}:9: rules[2].max: amounts are decimal strings, not floats: write "5.5" in quotes'
    )
    assert lines[1].startswith(
        f"{policy_path}:11: rules[3].allow[0]: unknown agent name 'frend': did you mean 'friend'?"
    )
    assert lines[2].startswith(
        f"{policy_path}:12: rules[4].kind: unknown rule kind 'max_tipp': did you mean 'max_tip'?"
    )
    assert lines[2].endswith(f"{', '.join(RULE_KINDS)}, max_tip)")
    assert len(lines) == 3


def test_a_policy_using_a_rule_kind_of_no_plugin_of_its_agent_is_refused(tmp_path: Path) -> None:
    agents = AGENTS.replace("policy: friend.yaml", "policy: tipper.yaml\n    skills: [transfer_token]")
    lines = problems(project(tmp_path, agents))
    # tipper has the plugin, friend shares the file without it: friend's reading fails on the plugin's names
    assert [line.split(": ", 2)[1] for line in lines] == ["rules[0].skills[0]", "rules[2].kind"]
    assert "unknown rule kind 'max_tip'" in lines[1]


@pytest.mark.parametrize(
    ("plugin", "message"),
    [
        (
            "raise ImportError('no numpy here')",
            "plugin tipjar cannot be imported: ImportError: no numpy here",
        ),
        (
            "def register(plugin):\n    plugin.strategy('linear')(lambda t: t)\n",
            "plugin tipjar: strategy 'linear' is registered already: give the new one another name",
        ),
        (
            "from typing import Literal\nfrom policies import CustomRule\nclass R(CustomRule):\n"
            "    kind: Literal['max_tip']\ndef register(plugin):\n    plugin.rule_kind(R)\n",
            "plugin tipjar: rule kind 'max_tip' (R) has no evaluation: define "
            "`def evaluate(self, intent, facts)` returning None or ('allow' | 'deny', why)",
        ),
    ],
)
def test_a_plugin_that_fails_is_one_line_at_its_name_in_agents_yaml(
    tmp_path: Path, plugin: str, message: str
) -> None:
    path = project(tmp_path)
    (tmp_path / "tipjar.py").write_text(plugin)
    assert problems(path) == [f"{path}:5: agents[0].plugins[0]: {message}"]


def test_sova_config_check_prints_each_plugin_problem_with_its_line_and_exits_2(tmp_path: Path) -> None:
    path = project(tmp_path, AGENTS.replace("strategy: stubborn", "strategy: mule"))
    result = sova("config", "check", "-f", str(path), "--json")
    assert result.code == 2
    assert '"ok": false' in result.out
    assert f"{path}:7: agents[0].brain.strategy: unknown strategy 'mule'" in result.out


def test_sova_policy_check_knows_the_rule_kinds_of_the_plugins_of_the_policys_agent(tmp_path: Path) -> None:
    path = project(tmp_path)
    intent = tmp_path / "intent.json"
    intent.write_text(
        '{"skill": "tip", "agent": "did:key:z6Mk", "chain_id": 31337, "token": "TUSD", "amount": "9"}'
    )
    result = sova(
        "policy", "check", "--policy", str(tmp_path / "tipper.yaml"), "--intent", str(intent), "-f", str(path)
    )
    assert result.code == 0, result.err
    assert result.out.splitlines()[:2] == ["DENY", "  deny     rules[2] max_tip: a tip of 9 is over 5"]


def test_a_sell_goals_validator_is_an_agent_of_the_file_that_can_validate(tmp_path: Path) -> None:
    sell = "{kind: sell, service: shout}"
    validated = (
        AGENTS.replace(sell, "{kind: sell, service: shout, validator: friend}")
        .replace("skills: [tip, transfer_token]", "skills: [tip, transfer_token, request_validation]")
        .replace(
            "policy: friend.yaml",
            "policy: friend.yaml\n    skills: [answer_validation]\n    plugins: [tipjar]",
        )
    )
    assert check_config(project(tmp_path, validated)).agents[0].goals[1].validator == "friend"  # type: ignore[union-attr]
    path = project(tmp_path, validated.replace("validator: friend", "validator: frend"))
    assert problems(path) == [
        f"{path}:10: agents[0].goals[1].validator: unknown agent 'frend': did you mean 'friend'? "
        "name an agent of this file (agents: tipper, friend)"
    ]
    path = project(tmp_path, AGENTS.replace(sell, "{kind: sell, service: shout, validator: friend}"))
    assert problems(path) == [
        f"{path}:10: agents[0].goals[1].validator: validation by friend cannot work: add request_validation "
        "to this agent's skills; add answer_validation to friend's skills; add a plugin registering 'shout' "
        "to friend's plugins (it re-runs the service)"
    ]
