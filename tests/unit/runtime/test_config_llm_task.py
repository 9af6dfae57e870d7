"""The `llm_task` goal of agents.yaml: a prompt and an optional interval; only an agent with an llm brain
may have one (`sova config check` says so in one line, with the file and line, and so does the agent
at start); a plugin may not register a goal kind of that name."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from runtime.agent.tasks import task_jobs
from runtime.config import TaskGoal, load_config
from runtime.config_check import check_config
from runtime.errors import ConfigError, SovaError
from runtime.services.errors import PluginError
from runtime.services.goal_kinds import GoalKinds

AGENTS = """version: 1
agents:
  - name: planner
    policy: p.yaml
    brain: {kind: llm, model: "scripted:s.yaml"}
    goals:
      - {kind: llm_task, prompt: "count the words of our slogan", every: 1h}
      - {kind: llm_task, prompt: "once, at start"}
  - name: clerk
    policy: p.yaml
    goals:
      - kind: llm_task
        prompt: "a rules brain has no model"
"""


def project(tmp_path: Path, text: str = AGENTS) -> Path:
    (tmp_path / "p.yaml").write_text("version: 1\nrules: []\n")
    (tmp_path / "agents.yaml").write_text(text)
    return tmp_path / "agents.yaml"


def test_a_task_goal_has_a_prompt_and_an_optional_interval(tmp_path: Path) -> None:
    config = load_config(project(tmp_path))
    every, once = config.agent("planner").goals
    assert isinstance(every, TaskGoal)
    assert isinstance(once, TaskGoal)
    assert (every.prompt, every.every) == ("count the words of our slogan", timedelta(hours=1))
    assert once.every is None


def test_config_check_refuses_a_task_of_an_agent_without_an_llm_brain_in_one_line(tmp_path: Path) -> None:
    path = project(tmp_path)
    with pytest.raises(ConfigError) as refused:
        check_config(path)
    assert refused.value.problems == [
        f"{path}:12: agents[1].goals[0].kind: an llm_task goal needs an llm brain: its model does the task "
        '(give the agent brain: {kind: llm, model: "openai:gpt-4o-mini"}, or remove the goal)'
    ]


def test_a_task_without_a_prompt_or_with_unknown_keys_is_refused_with_its_line(tmp_path: Path) -> None:
    text = AGENTS.replace('prompt: "once, at start"', "promt: x").replace("every: 1h", "every: 1h, max: 3")
    with pytest.raises(ConfigError) as refused:
        load_config(project(tmp_path, text))
    assert refused.value.problems == [
        f"{tmp_path / 'agents.yaml'}:7: agents[0].goals[0].max: unknown key 'max': remove it or check its "
        "spelling (`sova config schema` lists keys)",
        f"{tmp_path / 'agents.yaml'}:8: agents[0].goals[1].prompt: required key 'prompt' is missing: add it",
        f"{tmp_path / 'agents.yaml'}:8: agents[0].goals[1].promt: unknown key 'promt': remove it or check "
        "its spelling (`sova config schema` lists keys)",
    ]


def test_the_agent_refuses_to_start_a_task_without_an_llm_brain(tmp_path: Path) -> None:
    config = load_config(project(tmp_path))

    class Site:
        spec = config.agent("clerk")

    with pytest.raises(
        SovaError, match=r"^agent clerk: an llm_task goal needs an llm brain .*its brain is rules$"
    ):
        task_jobs(Site(), None, None, None)  # type: ignore[arg-type]


class Options(BaseModel):
    text: str = ""


def test_a_plugin_may_not_register_the_llm_task_goal_kind() -> None:
    kinds = GoalKinds()
    with pytest.raises(PluginError, match="goal kind 'llm_task' is built in"):

        @kinds.goal("llm_task", config=Options)
        async def run(config: Any, context: Any) -> None: ...
