"""A bad plugin stops `sova config check` and `sova up` with one line and exit 2, before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import one_error_line, sova

CONFIG = """version: 1
chain: {kind: local}
agents:
  - name: seller
    policy: seller.yaml
    plugins: [broken]
    goals:
      - {kind: sell, service: wordcount}
"""


@pytest.mark.parametrize("command", [("config", "check"), ("up",)])
def test_a_plugin_that_does_not_import_is_one_line_and_exit_2(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    (tmp_path / "seller.yaml").write_text("version: 1\nrules: []\n")
    (tmp_path / "broken.py").write_text("raise RuntimeError('half written')\n")
    (tmp_path / "agents.yaml").write_text(CONFIG)
    result = sova(*command, "-f", str(tmp_path / "agents.yaml"))
    assert result.code == 2
    assert one_error_line(result) == (
        f"error: {tmp_path / 'agents.yaml'}:6: agents[0].plugins[0]: plugin broken cannot be imported: "
        "RuntimeError: half written"
    )
    assert not (tmp_path / ".sova" / "chain").exists()  # nothing started


def test_config_check_accepts_the_shipped_demo_plugin(tmp_path: Path) -> None:
    from tests.support.paths import REPO_ROOT

    result = sova("config", "check", "-f", str(REPO_ROOT / "agents.yaml"), cwd=tmp_path)
    assert result.code == 0, result.err
