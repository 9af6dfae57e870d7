"""The command `sova up` spawns for an agent imports Sova's packages, not folders of the user's project."""

from __future__ import annotations

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
