"""`sova chain up|status|deploy|down` against a real anvil, in a fresh state folder."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from runtime.chain.anvil import AnvilNode, free_port, rpc_call
from tests.support.cli import one_error_line, sova
from tests.support.paths import REPO_ROOT

ROOT = REPO_ROOT
PASS = {"SOVA_PASSPHRASE": "test passphrase"}


def project(tmp_path: Path, chain: str | None = None) -> Path:
    shutil.copytree(ROOT / "policies" / "presets", tmp_path / "policies" / "presets")
    text = (ROOT / "agents.yaml").read_text()
    if chain is not None:
        start = text.index("chain:")
        end = text.index("keys:")
        text = text[:start] + chain + "\n" + text[end:]
    (tmp_path / "agents.yaml").write_text(text)
    return tmp_path / "agents.yaml"


@pytest.fixture
def local_project(tmp_path: Path):  # type: ignore[no-untyped-def]
    config = project(tmp_path)
    yield config
    sova("chain", "down", "-f", str(config))


def test_chain_up_deploys_once_and_keeps_state_across_restarts(local_project: Path) -> None:
    f = str(local_project)
    first = sova("chain", "up", "--detach", "-f", f, env=PASS)
    assert first.code == 0, first.err
    assert "contracts deployed" in first.out
    status = json.loads(sova("chain", "status", "--json", "-f", f).out)
    assert status["running"] is True
    assert status["chain_id"] == 31337
    assert set(status["contracts"]) == {
        "AgentRegistry",
        "DealEscrow",
        "ActionLogAnchor",
        "TestUSD",
        "ReputationRegistry",
        "ValidationRegistry",
    }

    again = sova("chain", "up", "--detach", "-f", f, env=PASS)
    assert "attached" in again.out
    assert "already deployed" in again.out

    assert sova("chain", "down", "-f", f).code == 0
    assert json.loads(sova("chain", "status", "--json", "-f", f).out)["running"] is False
    restarted = sova("chain", "up", "--detach", "-f", f, env=PASS)
    assert "started anvil" in restarted.out
    assert "already deployed" in restarted.out, restarted.out
    after = json.loads(sova("chain", "status", "--json", "-f", f).out)
    assert after["contracts"] == status["contracts"]


def test_dev_passphrase_is_generated_private_with_warning(local_project: Path) -> None:
    result = sova("chain", "up", "--detach", "-f", str(local_project))
    assert result.code == 0, result.err
    assert "development passphrase" in result.err
    dev = local_project.parent / ".sova" / "dev-passphrase"
    assert dev.stat().st_mode & 0o777 == 0o600


def test_status_when_chain_is_down_says_how_to_start(local_project: Path) -> None:
    result = sova("chain", "status", "-f", str(local_project))
    assert result.code == 1
    assert "sova chain up" in result.out


def test_unreachable_rpc_fails_in_bounded_time_with_one_line(tmp_path: Path) -> None:
    port = free_port()
    config = project(tmp_path, f"chain: {{kind: rpc, rpc_url: 'http://127.0.0.1:{port}', chain_id: 31337}}")
    started = time.monotonic()
    result = sova("chain", "deploy", "-f", str(config), env=PASS)
    elapsed = time.monotonic() - started
    assert result.code == 2
    line = one_error_line(result)
    assert f"127.0.0.1:{port}" in line
    assert "not reachable" in line
    assert elapsed < 30


def test_node_of_another_chain_id_is_refused(tmp_path: Path, anvil: AnvilNode) -> None:
    config = project(tmp_path, f"chain: {{kind: rpc, rpc_url: '{anvil.url}', chain_id: 8453}}")
    result = sova("chain", "deploy", "-f", str(config), env=PASS)
    assert result.code == 2
    line = one_error_line(result)
    assert "is chain 31337 but agents.yaml expects chain 8453" in line


def test_deployments_file_for_another_chain_is_refused(tmp_path: Path, anvil: AnvilNode) -> None:
    config = project(tmp_path, f"chain: {{kind: rpc, rpc_url: '{anvil.url}', chain_id: 31337}}")
    record = tmp_path / ".sova" / "deployments" / "31337.json"
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"chain_id": 1, "contracts": {}, "deployer": "0x" + "0" * 40, "block": 0}))
    result = sova("chain", "deploy", "-f", str(config), env=PASS)
    assert result.code == 2
    line = one_error_line(result)
    assert "is for chain 1" in line
    assert str(record) in line


def test_deploy_without_gas_money_names_address_and_fix(tmp_path: Path, anvil: AnvilNode) -> None:
    # A remote chain is never funded by sova: the fresh operator key has nothing.
    config = project(tmp_path, f"chain: {{kind: rpc, rpc_url: '{anvil.url}', chain_id: 31337}}")
    result = sova("chain", "deploy", "-f", str(config), env=PASS)
    assert result.code == 2
    line = one_error_line(result)
    assert "insufficient funds" in line.lower() or "not enough" in line.lower()
    operator = json.loads((tmp_path / ".sova" / "keys" / "operator.json").read_text())["address"]
    assert operator.lower().removeprefix("0x") in line.lower()


def test_fund_tops_up_a_key_by_name_on_the_local_chain(local_project: Path) -> None:
    f = str(local_project)
    assert sova("chain", "up", "--detach", "-f", f, env=PASS).code == 0
    keys = local_project.parent / ".sova" / "keys"
    made = sova("keys", "new", "alice", "--dir", str(keys), "--json", env=PASS)
    address = json.loads(made.out)["address"]
    result = sova("chain", "fund", "alice", "--eth", "3", "-f", f)
    assert result.code == 0, result.err
    status = json.loads(sova("chain", "status", "--json", "-f", f).out)

    assert int(str(rpc_call(status["url"], "eth_getBalance", [address, "latest"])), 16) == 3 * 10**18
