"""`sova status` text, as its help promises it: each agent's DID and wallet address, even stopped."""

from __future__ import annotations

from pathlib import Path

import pytest

from identity import IdentityKeyStore
from runtime.fleet.startup import last_log_line
from tests.support.cli import sova
from tests.support.paths import REPO_ROOT
from wallet import Keystore

DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
WALLET = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


@pytest.mark.slow
def test_status_text_shows_each_agents_did_and_address_while_stopped(tmp_path: Path) -> None:
    policy = REPO_ROOT / "policies" / "presets" / "buyer.yaml"
    config = tmp_path / "agents.yaml"
    config.write_text(
        f"agents:\n  - name: buyer\n    policy: {policy}\n  - name: seller\n    policy: {policy}\n"
    )
    keys = tmp_path / ".sova" / "keys"
    did = IdentityKeyStore(keys, scrypt_n=2**10).create("buyer", "pw").did
    Keystore(keys, scrypt_n=2**10).import_private_key("buyer", DEV_KEY, "pw")
    shown = sova("status", "-f", str(config))
    assert shown.code == 0, shown.err
    lines = shown.out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.split()[:1] == ["buyer"])
    assert did in lines[at + 1]
    assert WALLET.lower() in lines[at + 1].lower()
    seller = next(i for i, line in enumerate(lines) if line.split()[:1] == ["seller"])
    assert "not ready yet" in lines[seller + 1]


def test_a_crashed_agents_last_line_is_not_an_error_inside_an_error(tmp_path: Path) -> None:
    log = tmp_path / "agent.log"
    log.write_text("starting\nerror: error: no key 'buyer' in .sova/keys: run `sova keys new buyer`\n")
    assert last_log_line(log) == "no key 'buyer' in .sova/keys: run `sova keys new buyer`"
    log.write_text("")
    assert last_log_line(log) == "no output"


def test_sova_up_starts_the_buyers_after_the_others() -> None:
    from runtime.config import load_config
    from runtime.fleet.startup import waves

    assert waves(load_config(REPO_ROOT / "agents.yaml")) == [["issuer", "seller"], ["buyer"]]
