"""`sova facilitator`: Sova's x402 facilitator for the fleet's local chain, as a real process."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support.cli import SOVA, sova
from tests.support.paths import REPO_ROOT

pytestmark = pytest.mark.chain
ENV = {"SOVA_PASSPHRASE": "test passphrase", "PYTHONPATH": str(REPO_ROOT)}


@pytest.fixture
def project(tmp_path: Path):  # type: ignore[no-untyped-def]
    shutil.copytree(REPO_ROOT / "policies" / "presets", tmp_path / "policies" / "presets")
    shutil.copy(REPO_ROOT / "agents.yaml", tmp_path / "agents.yaml")
    config = tmp_path / "agents.yaml"
    yield config
    sova("chain", "down", "-f", str(config), env=ENV)


def test_sova_facilitator_serves_exact_on_the_local_chain_with_its_own_key_and_ledger(project: Path) -> None:
    up = sova("chain", "up", "--detach", "-f", str(project), env=ENV)
    assert up.code == 0, up.err
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOVA_")} | ENV
    proc = subprocess.Popen(
        [str(SOVA), "facilitator", "-f", str(project)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("x402 facilitator for eip155:31337 at http://127.0.0.1:"), line + (
            proc.stderr.read() if proc.poll() is not None and proc.stderr else ""
        )
        url = line.split(" at ")[1].split()[0]
        signer = line.rsplit("gas from ", 1)[1].rstrip(")\n")
        supported = httpx.get(f"{url}/supported", timeout=10).json()
        assert supported["kinds"] == [{"x402Version": 2, "scheme": "exact", "network": "eip155:31337"}]
        assert supported["signers"]["eip155:*"] == [signer]
        bad = httpx.post(f"{url}/verify", content=b"{", timeout=10)
        assert bad.status_code == 400
        assert "not JSON" in bad.json()["error"]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    home = project.parent / ".sova"
    assert (home / "facilitator" / "ledger.sqlite").is_file()
    listed = sova("keys", "list", "--json", "--dir", str(home / "keys"), env=ENV)
    keys = json.loads(listed.out)
    assert [k["address"] for k in keys if k.get("name") == "facilitator"] == [signer], keys
