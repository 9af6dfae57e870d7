"""The `x402:` block of an agent in agents.yaml: `local` or a facilitator URL, one line per mistake,
and in `sova config schema`; the fleet starts its own facilitator only when an agent names `local`."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from runtime.config import config_schema, load_config
from runtime.errors import ConfigError
from runtime.fleet.facilitator import wants_local_facilitator
from tests.support.paths import REPO_ROOT


def config_with(tmp_path: Path, x402: str) -> Path:
    (tmp_path / "p.yaml").write_text("version: 1\nrules: []\n")
    path = tmp_path / "agents.yaml"
    body = f"""
        agents:
          - name: seller
            policy: p.yaml
            {x402}
            goals: [{{kind: sell, service: wordcount}}]
    """
    path.write_text(textwrap.dedent(body).lstrip())
    return path


def test_the_demo_seller_sells_over_x402_through_the_fleets_facilitator() -> None:
    config = load_config(REPO_ROOT / "agents.yaml")
    sales = config.agent("seller").x402
    assert sales is not None
    assert sales.local
    assert config.agent("buyer").x402 is None
    assert wants_local_facilitator(config)


def test_a_facilitator_url_is_taken_and_needs_no_local_facilitator(tmp_path: Path) -> None:
    block = "x402: {facilitator: 'https://x402.example.org/fac/', port: 8402}"
    config = load_config(config_with(tmp_path, block))
    sales = config.agent("seller").x402
    assert sales is not None
    assert (sales.facilitator, sales.port, sales.local) == ("https://x402.example.org/fac", 8402, False)
    assert not wants_local_facilitator(config)
    assert not wants_local_facilitator(load_config(config_with(tmp_path, "")))


@pytest.mark.parametrize(
    ("block", "said"),
    [
        ("x402: {facilitator: remote}", 'neither "local" nor an http(s) URL'),
        ("x402: {facilitator: 'ftp://x.org'}", 'neither "local" nor an http(s) URL'),
        ("x402: {facilitator: 'http://user@evil.org'}", 'neither "local" nor an http(s) URL'),
        ("x402: {port: 70000}", "x402.port"),
        ("x402: {facilitatr: local}", "x402.facilitatr"),
    ],
)
def test_a_bad_x402_block_is_one_line_naming_it(tmp_path: Path, block: str, said: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(config_with(tmp_path, block))
    [line] = info.value.problems
    assert said in line
    assert "agents[0].x402" in line
    assert "agents.yaml:4:" in line


def test_the_schema_describes_the_x402_block() -> None:
    schema = config_schema()
    agent = schema["$defs"]["Agent"]["properties"]["x402"]
    assert "x402" in agent["description"]
    sales = schema["$defs"]["X402Sales"]
    assert set(sales["properties"]) == {"facilitator", "port"}
    assert sales["additionalProperties"] is False
