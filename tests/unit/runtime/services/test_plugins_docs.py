"""docs/architecture.md "Plugins": its agents.yaml snippet passes `sova config check` with the example
plugin beside it, and its entry-point snippet, installed, makes the plugin loadable by that name."""

from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path

import pytest

from runtime.config_check import check_config
from runtime.services import ENTRY_POINT_GROUP, load_extensions
from tests.support.paths import REPO_ROOT

DOC = REPO_ROOT / "docs" / "architecture.md"
POLICY = """version: 1
rules:
  - {kind: allow_skills, skills: [tip]}
  - {kind: spend_limit, token: TUSD, per_action: "50"}
  - {kind: max_tip, max: "5"}
"""


def snippet(name: str) -> str:
    found = re.search(
        rf"<!-- snippet: {name} -->\n```[a-z]*\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S
    )
    assert found, f"docs/architecture.md has no snippet {name!r}"
    return found.group(1)


def test_the_plugin_agent_snippet_passes_config_check(tmp_path: Path) -> None:
    shutil.copy(REPO_ROOT / "tests" / "fixtures" / "plugins" / "tipjar.py", tmp_path / "tipjar.py")
    (tmp_path / "tipper.yaml").write_text(POLICY)
    (tmp_path / "agents.yaml").write_text("version: 1\n" + snippet("plugin-agent"))
    config = check_config(tmp_path / "agents.yaml")
    assert config.agents[0].plugins == ["tipjar"]


def test_the_entry_point_snippet_installed_loads_the_plugin_by_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    points = tomllib.loads(snippet("plugin-entry-point"))["project"]["entry-points"][ENTRY_POINT_GROUP]
    dist = tmp_path / "site" / "tipjar_sova-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tipjar-sova\nVersion: 1.0\n")
    lines = "".join(f"{name} = {value}\n" for name, value in points.items())
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{lines}")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    ext = load_extensions(["tipjar"], tmp_path / "elsewhere")
    assert (ext.skills.names(), ext.goals.names(), ext.strategies.names()[-1]) == (
        ["tip"],
        ["tip_jar"],
        "stubborn",
    )
