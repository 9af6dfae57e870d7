"""`sova buy` refuses bad input before it reaches any agent (exit 2, one line), and says so in one line
(exit 1) when the buyer agent is not running. The purchase itself: tests/e2e/test_buy_process.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import one_error_line, sova

CONFIG = """version: 1
chain: {kind: local}
agents:
  - {name: buyer, policy: p.yaml}
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "p.yaml").write_text("version: 1\nrules: []\n")
    (tmp_path / "agents.yaml").write_text(CONFIG)
    return tmp_path / "agents.yaml"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--input", "{text: a}"], "--input is not JSON (Expecting property name"),
        (["--input", '{"text": "a"}', "--max-price", "1e3"], "--max-price: '1e3' is not a decimal amount"),
        (["--max-price", "-2"], "is negative"),
        (["--timeout", "0"], "--timeout must be over 0"),
    ],
)
def test_bad_input_is_exit_2_in_one_line(config: Path, args: list[str], words: str) -> None:
    result = sova("buy", "wordcount", "--as", "buyer", *args, "-f", str(config))
    assert result.code == 2, result.err
    assert words in one_error_line(result)


def test_an_unknown_agent_is_exit_2_and_a_stopped_one_exit_1(config: Path) -> None:
    unknown = sova("buy", "wordcount", "--as", "mallory", "-f", str(config))
    assert unknown.code == 2
    assert "mallory" in one_error_line(unknown)
    stopped = sova("buy", "wordcount", "--as", "buyer", "-f", str(config))
    assert stopped.code == 1
    assert "agent buyer is not running" in one_error_line(stopped)
