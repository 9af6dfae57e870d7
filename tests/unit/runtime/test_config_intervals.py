"""The intervals of issue 13's recovery are set in agents.yaml: how often anvil saves its state and how
often each agent anchors its ledger; zero or negative is refused with a line naming where."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from runtime.chain.anvil import AnvilNode
from runtime.config import LocalChain, load_config
from runtime.errors import ConfigError

BODY = """
chain: {{kind: local, state_every: {state}}}
agents:
  - name: solo
    policy: p.yaml
    anchor_every: {anchor}
"""


def write(tmp_path: Path, state: str, anchor: str) -> Path:
    (tmp_path / "p.yaml").write_text("version: 1\nrules: []\n")
    path = tmp_path / "agents.yaml"
    path.write_text(textwrap.dedent(BODY.format(state=state, anchor=anchor)).lstrip())
    return path


def test_the_state_save_and_anchor_intervals_are_read_from_agents_yaml(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "5s", "2m"))
    assert isinstance(config.chain, LocalChain)
    assert config.chain.state_every == timedelta(seconds=5)
    assert config.agent("solo").anchor_every == timedelta(minutes=2)


def test_the_defaults_save_every_second_and_anchor_every_30_seconds(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text("version: 1\nrules: []\n")
    (tmp_path / "agents.yaml").write_text("agents:\n  - name: solo\n    policy: p.yaml\n")
    config = load_config(tmp_path / "agents.yaml")
    assert isinstance(config.chain, LocalChain)
    assert (config.chain.state_every, config.agent("solo").anchor_every) == (
        timedelta(seconds=1),
        timedelta(seconds=30),
    )


@pytest.mark.parametrize(
    ("state", "anchor", "where"), [("0s", "30s", "state_every"), ("1s", "0s", "anchor_every")]
)
def test_a_zero_interval_is_refused_naming_the_field(
    tmp_path: Path, state: str, anchor: str, where: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, state, anchor))
    [problem] = info.value.problems
    assert where in problem
    assert "is zero: write a positive duration" in problem


def test_anvil_is_told_to_save_its_state_on_the_interval() -> None:
    command = AnvilNode(port=1, state_file=Path("/tmp/state.json"), state_interval=3).command()
    assert command[command.index("--state-interval") + 1] == "3"
    assert "--state-interval" not in AnvilNode(port=1).command()  # no state file: nothing to save
