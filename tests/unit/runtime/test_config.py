"""agents.yaml validation: every bad input gets one line naming file, line, path and the fix."""

from __future__ import annotations

import json
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from runtime.config import AgentsFile, LocalChain, RuleBrain, config_schema, load_config
from runtime.errors import ConfigError
from tests.support.paths import REPO_ROOT

ROOT = REPO_ROOT


def write(tmp_path: Path, body: str, policy: bool = True) -> Path:
    if policy:
        (tmp_path / "p.yaml").write_text("version: 1\nrules: []\n")
    path = tmp_path / "agents.yaml"
    path.write_text(textwrap.dedent(body).lstrip())
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value.problems


def test_shipped_agents_yaml_is_valid() -> None:
    config = load_config(ROOT / "agents.yaml")
    assert [a.name for a in config.agents] == ["issuer", "seller", "buyer"]
    assert isinstance(config.chain, LocalChain)
    buyer = config.agent("buyer")
    assert isinstance(buyer.brain, RuleBrain)
    assert buyer.goals[0].every == timedelta(seconds=20)  # type: ignore[union-attr]


def test_config_is_frozen() -> None:
    config = load_config(ROOT / "agents.yaml")
    with pytest.raises(ValueError):
        config.agents[0].name = "other"  # type: ignore[misc]


def test_unknown_key_names_line_path_and_fix(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        agents:
          - name: buyer
            policy: p.yaml
            budgett: "10"
        """,
    )
    (line,) = problems(path)
    assert line.startswith(f"{path}:4: agents[0].budgett: unknown key 'budgett'")
    assert "remove it or check its spelling" in line


def test_wrong_type_names_line_and_path(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        agents:
          - name: buyer
            policy: p.yaml
            port: lots
        """,
    )
    (line,) = problems(path)
    assert line.startswith(f"{path}:4: agents[0].port:")
    assert "integer" in line


def test_float_amount_is_refused_with_quote_fix(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        agents:
          - name: buyer
            policy: p.yaml
            brain: {kind: rules, target: 8.5, reservation: "12"}
        """,
    )
    (line,) = problems(path)
    assert line.startswith(f"{path}:4: agents[0].brain.target:")
    assert 'write "8.5" in quotes' in line


def test_missing_policy_file_names_where_it_looked(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        agents:
          - name: buyer
            policy: missing.yaml
        """,
    )
    (line,) = problems(path)
    assert line.startswith(f"{path}:3: agents[0].policy: policy file 'missing.yaml' not found")
    assert str(tmp_path / "missing.yaml") in line


def test_duplicate_agent_name_points_at_second(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        agents:
          - name: buyer
            policy: p.yaml
          - name: buyer
            policy: p.yaml
        """,
    )
    (line,) = problems(path)
    assert line.startswith(f"{path}:4: agents[1].name: duplicate agent name 'buyer' (also agents[0])")


def test_duplicate_yaml_key_is_reported_not_overwritten(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        agents:
          - name: buyer
            name: seller
            policy: p.yaml
        """,
    )
    (line,) = problems(path)
    assert line.startswith(f"{path}:3: agents[0].name: duplicate key 'name' (first on line 2): keep one")


def test_unknown_brain_kind_lists_the_kinds(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        agents:
          - name: buyer
            policy: p.yaml
            brain: {kind: magic}
        """,
    )
    (line,) = problems(path)
    assert "agents[0].brain: unknown kind 'magic': use one of 'rules', 'llm'" in line


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        chain: {kind: local, colour: red}
        agents:
          - name: buyer
            policy: p.yaml
            goals:
              - {kind: buy, service: compute, every: 20, max_price: "12"}
          - name: buyer
            policy: p.yaml
        """,
    )
    found = problems(path)
    assert len(found) == 3
    assert [p.split(":")[1] for p in found] == ["1", "6", "7"]


def test_secret_in_env_field_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        keys: {passphrase_env: "hunter2 is my password"}
        agents:
          - name: buyer
            policy: p.yaml
        """,
    )
    (line,) = problems(path)
    assert "keys.passphrase_env" in line
    assert "never put the secret itself here" in line


def test_invalid_yaml_names_line(tmp_path: Path) -> None:
    path = write(tmp_path, "agents: [\n  name: x\n")
    (line,) = problems(path)
    assert line.startswith(f"{path}:")
    assert "not valid YAML" in line


def test_missing_file_says_how_to_fix(tmp_path: Path) -> None:
    (line,) = problems(tmp_path / "agents.yaml")
    assert "file not found" in line
    assert "-f PATH" in line


def test_schema_is_json_schema_with_every_section() -> None:
    schema = config_schema()
    json.dumps(schema)
    assert set(schema["properties"]) >= {"chain", "keys", "agents", "console", "version"}
    assert schema["additionalProperties"] is False


def test_model_validation_refuses_duplicate_names_without_yaml() -> None:
    agent = {"name": "a", "policy": "p.yaml"}
    with pytest.raises(ValueError, match="duplicate agent name"):
        AgentsFile.model_validate({"agents": [agent, agent]})
