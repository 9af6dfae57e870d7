"""The command `sova up` spawns for an agent imports Sova's packages, not folders of the user's project."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from runtime.fleet.supervisor import agent_command

AGENTS = """\
version: 1
agents:
  - name: buyer
    role: buyer
    skills: [send_message]
    policy: policies/presets/buyer.yaml
"""


def test_a_project_policies_folder_does_not_hide_the_policies_package(tmp_path: Path) -> None:
    (tmp_path / "policies" / "presets").mkdir(parents=True)
    (tmp_path / "policies" / "presets" / "buyer.yaml").write_text("version: 1\nrules: []\n")
    config = tmp_path / "agents.yaml"
    config.write_text(AGENTS)
    done = subprocess.run(
        agent_command("nobody", config),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2, done.stderr
    assert "nobody" in done.stderr + done.stdout


def test_the_background_sova_up_is_not_hidden_by_a_policies_folder_either(tmp_path: Path) -> None:
    from runtime.cli.fleet import detached_command

    (tmp_path / "policies" / "presets").mkdir(parents=True)
    (tmp_path / "policies" / "presets" / "buyer.yaml").write_text("version: 1\nrules: [{kind: nope}]\n")
    config = tmp_path / "agents.yaml"
    config.write_text(AGENTS)
    # The policy is wrong on purpose: `up` stops at its config check, in one line, having imported
    # the policies package to read it (a namespace folder `policies/` would have no load_policy).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(detached_command(config), cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, check=False, env=env)  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    assert "ImportError" not in done.stderr + done.stdout
    assert done.returncode == 2, done.stderr + done.stdout
    assert "nope" in done.stderr + done.stdout
