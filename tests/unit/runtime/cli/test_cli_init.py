"""`sova init DIR` writes a project that runs as it is: `sova config check` accepts it, its own tests
pass with `pytest` in the folder, its plugin uses only `sova`, its policies name only its own agents;
a folder that is not empty (or is a file) is one line, exit 2, and nothing is written.
(tests/e2e/test_init_project.py runs the project: `sova up`, a deal settled with its result.)"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from tests.support.cli import one_error_line, sova
from tests.support.paths import REPO_ROOT

FILES = {
    ".gitignore", "README.md", "agents.yaml", "wordcount.py", "tests/test_wordcount.py",
    "policies/buyer.yaml", "policies/issuer.yaml", "policies/seller.yaml",
}  # fmt: skip


def made(tmp_path: Path) -> Path:
    project = tmp_path / "shop"
    result = sova("init", str(project))
    assert result.code == 0, result.err
    assert "made a Sova project in" in result.out
    return project


def test_init_writes_the_project_files(tmp_path: Path) -> None:
    project = made(tmp_path)
    written = {str(p.relative_to(project)) for p in project.rglob("*") if p.is_file()}
    assert written == FILES
    assert (project / "README.md").read_text().startswith("# shop\n")
    config = yaml.safe_load((project / "agents.yaml").read_text())
    assert [(a["name"], a["role"]) for a in config["agents"]] == [
        ("issuer", "issuer"), ("seller", "seller"), ("buyer", "buyer"),
    ]  # fmt: skip
    seller, buyer = config["agents"][1], config["agents"][2]
    assert seller["plugins"] == ["wordcount"]
    assert seller["goals"] == [{"kind": "sell", "service": "wordcount"}]
    assert buyer["goals"][0]["input"] == {"text": "a b c"}


def test_the_project_passes_config_check(tmp_path: Path) -> None:
    project = made(tmp_path)
    result = sova("config", "check", "-f", str(project / "agents.yaml"))
    assert result.code == 0, result.err
    assert "ok — 3 agents (issuer, seller, buyer), chain local" in result.out


def test_the_projects_own_tests_pass_with_pytest_in_its_folder(tmp_path: Path) -> None:
    project = made(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOVA_", "PYTEST_"))}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project,
                          capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout


def test_the_plugin_uses_only_the_public_sova_package(tmp_path: Path) -> None:
    project = made(tmp_path)
    for path in ("wordcount.py", "tests/test_wordcount.py"):
        text = (project / path).read_text()
        assert "from sova import" in text
        assert "runtime" not in text, path


def test_the_policies_name_no_agent_but_the_projects_own(tmp_path: Path) -> None:
    project = made(tmp_path)
    config = yaml.safe_load((project / "agents.yaml").read_text())
    names = {a["name"] for a in config["agents"]}
    for agent in config["agents"]:
        policy = yaml.safe_load((project / agent["policy"]).read_text())
        named = {n for rule in policy["rules"] for n in rule.get("issuers", [])}
        assert named <= names, (agent["policy"], named - names)
        assert not Path(agent["policy"]).is_absolute()


def test_a_folder_that_is_not_empty_is_refused_in_one_line_and_left_alone(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    result = sova("init", str(tmp_path))
    assert result.code == 2
    assert one_error_line(result) == (
        f"error: {tmp_path} is not empty: sova init writes a new project only into a new or empty folder"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_a_file_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "agents.yaml").write_text("version: 1\n")
    result = sova("init", str(tmp_path / "agents.yaml"))
    assert result.code == 2
    assert (
        one_error_line(result)
        == f"error: {tmp_path / 'agents.yaml'} is a file: give sova init a new or empty folder"
    )


def test_an_empty_folder_is_taken(tmp_path: Path) -> None:
    result = sova("init", str(tmp_path))
    assert result.code == 0, result.err
    assert (tmp_path / "agents.yaml").is_file()


def commands(text: str) -> list[str]:
    """The lines of a command block, without their comments."""
    return [line.split("#")[0].strip() for line in text.splitlines() if line.split("#")[0].strip()]


def test_the_readme_init_snippet_is_what_the_new_project_runs(tmp_path: Path) -> None:
    """README's `sova init` snippet: init, then the project's tests (run above), then the commands of
    the new project's own README, which tests/e2e/test_init_project.py runs."""
    found = re.search(
        r"<!-- snippet: init -->\n```\n(.*?)```", (REPO_ROOT / "README.md").read_text(), re.DOTALL
    )
    assert found
    lines = commands(found.group(1))
    assert lines[:3] == ["sova init myshop", "cd myshop", "pytest"]
    result = sova(*lines[0].split()[1:], cwd=tmp_path)
    assert result.code == 0, result.err
    own = re.search(r"## Run it\n\n```\n(.*?)```", (tmp_path / "myshop" / "README.md").read_text(), re.DOTALL)
    assert own
    assert lines[3:] == commands(own.group(1))
