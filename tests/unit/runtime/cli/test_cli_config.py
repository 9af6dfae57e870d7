"""`sova config check|schema` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import one_error_line, sova
from tests.support.paths import REPO_ROOT

ROOT = REPO_ROOT


def test_config_check_accepts_the_shipped_agents_yaml() -> None:
    result = sova("config", "check", "-f", str(ROOT / "agents.yaml"))
    assert result.code == 0, result.err
    assert "ok — 3 agents (issuer, seller, buyer)" in result.out


def test_config_check_bad_file_exits_2_with_line_and_fix(tmp_path: Path) -> None:
    (tmp_path / "agents.yaml").write_text("agents:\n  - name: buyer\n    policy: nope.yaml\n")
    result = sova("config", "check", "-f", str(tmp_path / "agents.yaml"))
    assert result.code == 2
    line = one_error_line(result)
    assert line.startswith(f"error: {tmp_path / 'agents.yaml'}:3: agents[0].policy: policy file 'nope.yaml'")


def test_config_check_json_lists_problems(tmp_path: Path) -> None:
    (tmp_path / "agents.yaml").write_text("agents: []\nextra: 1\n")
    result = sova("config", "check", "--json", "-f", str(tmp_path / "agents.yaml"))
    assert result.code == 2
    problems = json.loads(result.out)["problems"]
    assert len(problems) == 2
    assert any("unknown key 'extra'" in p for p in problems)


def test_config_schema_prints_json_schema() -> None:
    result = sova("config", "schema")
    assert result.code == 0
    schema = json.loads(result.out)
    assert schema["title"] == "Sova agents.yaml"
    assert "agents" in schema["required"]


def test_unknown_command_is_a_usage_error() -> None:
    result = sova("frobnicate")
    assert result.code == 2
    assert "Traceback" not in result.err
