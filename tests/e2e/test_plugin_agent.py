"""An agent built from a plugin, under `sova up`: a plugin goal runs the plugin's skill through the
agent's executor, judged by the plugin's rule kind in the agent's policy file. Real processes, chain."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import sova
from tests.support.executor import STRANGER_ADDRESS
from tests.support.fleet import PASS, wait_for
from tests.support.paths import REPO_ROOT

pytestmark = [pytest.mark.chain, pytest.mark.slow]

AGENTS = f"""version: 1
chain: {{kind: local}}
agents:
  - name: tipper
    policy: tipper.yaml
    plugins: [tipjar]
    skills: [tip]
    brain: {{kind: rules, strategy: stubborn, target: "8", reservation: "12"}}
    goals:
      - {{kind: tip_jar, every: "1h", to: "{STRANGER_ADDRESS}", amount: "2"}}
      - {{kind: tip_jar, every: "1h", to: "{STRANGER_ADDRESS}", amount: "7"}}
"""
POLICY = """version: 1
rules:
  - kind: allow_skills
    skills: [tip]
  - kind: spend_limit
    token: TUSD
    per_action: "50"
  - kind: max_tip
    max: "5"
"""


@pytest.fixture
def tip_project(tmp_path: Path) -> Any:
    shutil.copy(REPO_ROOT / "tests" / "fixtures" / "plugins" / "tipjar.py", tmp_path / "tipjar.py")
    (tmp_path / "tipper.yaml").write_text(POLICY)
    (tmp_path / "agents.yaml").write_text(AGENTS)
    yield tmp_path / "agents.yaml"
    sova("down", "-f", str(tmp_path / "agents.yaml"), env=PASS, timeout=90)


def decisions(config: Path) -> list[dict[str, Any]]:
    shown = sova("log", "show", "tipper", "--json", "-f", str(config), env=PASS)
    assert shown.code == 0, shown.err
    return [e["data"] for e in json.loads(shown.out) if e["kind"] in ("decision", "effect")]


def test_a_plugin_goal_runs_the_plugins_skill_through_the_executor_under_its_rule_kind(
    tip_project: Path,
) -> None:
    started = sova("up", "--detach", "-f", str(tip_project), env=PASS, timeout=240)
    assert started.code == 0, started.err + started.out

    def both_judged() -> list[dict[str, Any]] | None:
        found = decisions(tip_project)
        done = [e for e in found if e.get("status") == "done"]
        denied = [e for e in found if e.get("verdict") == "deny"]
        return found if done and denied else None

    entries = wait_for(both_judged, 90, "the tipper's two tips judged (one paid, one denied)")
    paid = [e for e in entries if e.get("status") == "done"]
    assert [(e["skill"], e["origin"]) for e in paid] == [("tip", "goal")]
    assert len(paid[0]["signed"]) == 1  # the one approved transfer, signed by the narrow signer
    (denied,) = [e for e in entries if e.get("verdict") == "deny"]
    assert denied["intent"]["amount"] == "7"
    assert denied["reasons"][-1] == {"kind": "max_tip", "message": "a tip of 7 is over 5", "rule": 2,
                                     "verdict": "deny"}  # fmt: skip
