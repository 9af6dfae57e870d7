"""Plugins named in agents.yaml: loaded beside it or installed, each problem one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.config import load_config
from runtime.services import PluginError, load_plugins
from runtime.services.loading import agent_services, config_problems

PLUGIN = """
from pydantic import BaseModel


class Text(BaseModel):
    text: str


class Count(BaseModel):
    words: int


def register(plugin):
    @plugin.service("{name}", input=Text, output=Count, price="1")
    def count(text, context):
        return Count(words=len(text.text.split()))
"""

CONFIG = """version: 1
chain: {{kind: local}}
agents:
  - name: seller
    policy: policies/seller.yaml
    plugins: [{plugins}]
    goals:
      - {{kind: sell, service: {service}}}
"""


def project(tmp_path: Path, plugins: str, service: str = "wordcount", **modules: str) -> Path:
    (tmp_path / "policies").mkdir(exist_ok=True)
    (tmp_path / "policies" / "seller.yaml").write_text("version: 1\nrules: []\n")
    for name, text in modules.items():
        (tmp_path / f"{name}.py").write_text(text)
    path = tmp_path / "agents.yaml"
    path.write_text(CONFIG.format(plugins=plugins, service=service))
    return path


def problems(path: Path) -> list[str]:
    return config_problems(load_config(path), path)


def test_a_plugin_beside_agents_yaml_registers_the_service_a_sell_goal_names(tmp_path: Path) -> None:
    path = project(tmp_path, "wc_beside", wc_beside=PLUGIN.format(name="wordcount"))
    assert problems(path) == []
    services = agent_services(load_config(path).agents[0], tmp_path)
    assert services.names() == ["wordcount"]


def test_an_installed_plugin_module_is_found_by_its_dotted_name(tmp_path: Path) -> None:
    services = load_plugins(["examples.wordcount"], tmp_path)
    assert services.names() == ["wordcount"]


def test_a_plugin_that_does_not_import_is_one_line_naming_it(tmp_path: Path) -> None:
    path = project(tmp_path, "broken", broken="import no_such_module_anywhere\n")
    (line,) = problems(path)
    assert line == (
        f"{path}: agents[0] (seller): plugin broken cannot be imported: ModuleNotFoundError: "
        "No module named 'no_such_module_anywhere'"
    )


def test_a_plugin_that_is_nowhere_says_where_it_was_looked_for(tmp_path: Path) -> None:
    (line,) = problems(project(tmp_path, "nowhere"))
    assert "plugin nowhere cannot be imported" in line
    assert f"looked for {tmp_path / 'nowhere.py'}" in line


def test_a_plugin_without_register_is_refused(tmp_path: Path) -> None:
    (line,) = problems(project(tmp_path, "empty", empty="X = 1\n"))
    assert line.endswith(
        "plugin empty has no `register(plugin)` function: add one that registers what it offers"
    )


def test_two_plugins_registering_the_same_service_name_are_refused(tmp_path: Path) -> None:
    text = PLUGIN.format(name="wordcount")
    (line,) = problems(project(tmp_path, "one, two", one=text, two=text))
    assert line.endswith("plugin two: service 'wordcount' is registered twice")


def test_a_sell_goal_naming_a_service_no_plugin_registers_is_refused(tmp_path: Path) -> None:
    path = project(tmp_path, "wc", service="translate", wc=PLUGIN.format(name="wordcount"))
    (line,) = problems(path)
    assert line.endswith("sells 'translate', which no plugin of it registers (registered: wordcount)")


def test_register_raising_is_the_plugins_fault_on_one_line(tmp_path: Path) -> None:
    text = "def register(plugin):\n    raise KeyError('oops')\n"
    with pytest.raises(PluginError, match=r"^plugin bad: register\(\) failed: KeyError: 'oops'$"):
        load_plugins(["bad"], project(tmp_path, "bad", bad=text).parent)
