"""`sova keys …` as a user runs them: real processes, real scrypt keystores."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tests.support.cli import one_error_line, sova
from tests.support.paths import REPO_ROOT

# anvil's first dev account: a well-known test key, never a real one.
DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
DEV_ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
PASS = {"SOVA_PASSPHRASE": "correct horse battery staple"}


@pytest.mark.slow
def test_new_key_is_private_file_listed_and_shown(tmp_path: Path) -> None:
    made = sova("keys", "new", "alice", "--dir", str(tmp_path), "--json", env=PASS)
    assert made.code == 0, made.err
    info = json.loads(made.out)
    path = Path(info["path"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    listed = json.loads(sova("keys", "list", "--dir", str(tmp_path), "--json").out)
    assert listed == [info]
    shown = sova("keys", "show", "alice", "--dir", str(tmp_path))
    assert info["address"] in shown.out


@pytest.mark.slow
def test_import_private_key_from_env_gives_its_address(tmp_path: Path) -> None:
    env = {**PASS, "KEY": DEV_KEY}
    result = sova(
        "keys", "import", "dev", "--private-key-env", "KEY", "--dir", str(tmp_path), "--json", env=env
    )
    assert result.code == 0, result.err
    assert json.loads(result.out)["address"] == DEV_ADDRESS
    assert DEV_KEY[2:] not in (tmp_path / "dev.json").read_text()


@pytest.mark.slow
def test_export_private_key_round_trips_with_the_right_passphrase(tmp_path: Path) -> None:
    env = {**PASS, "KEY": DEV_KEY}
    sova("keys", "import", "dev", "--private-key-env", "KEY", "--dir", str(tmp_path), env=env)
    result = sova("keys", "export", "dev", "--private-key", "--dir", str(tmp_path), env=PASS)
    assert result.code == 0, result.err
    assert DEV_KEY[2:] in result.out.lower()


@pytest.mark.slow
def test_wrong_passphrase_is_one_line_exit_2_without_key_material(tmp_path: Path) -> None:
    env = {**PASS, "KEY": DEV_KEY}
    sova("keys", "import", "dev", "--private-key-env", "KEY", "--dir", str(tmp_path), env=env)
    result = sova(
        "keys", "export", "dev", "--private-key", "--dir", str(tmp_path), env={"SOVA_PASSPHRASE": "nope"}
    )
    assert result.code == 2
    line = one_error_line(result)
    assert "wrong passphrase" in line
    assert "dev.json" in line
    assert DEV_KEY[2:] not in result.out + result.err


def test_missing_passphrase_without_terminal_says_which_variable(tmp_path: Path) -> None:
    result = sova("keys", "new", "alice", "--dir", str(tmp_path))
    assert result.code == 2
    assert "$SOVA_PASSPHRASE" in one_error_line(result)
    assert not (tmp_path / "alice.json").exists()


@pytest.mark.slow
def test_truncated_keystore_is_reported_with_its_path(tmp_path: Path) -> None:
    sova("keys", "new", "alice", "--dir", str(tmp_path), env=PASS)
    path = tmp_path / "alice.json"
    path.write_text(path.read_text()[:100])
    result = sova("keys", "export", "alice", "--private-key", "--dir", str(tmp_path), env=PASS)
    assert result.code == 2
    assert str(path) in one_error_line(result)


@pytest.mark.slow
def test_keystore_readable_by_others_is_refused_with_chmod_fix(tmp_path: Path) -> None:
    sova("keys", "new", "alice", "--dir", str(tmp_path), env=PASS)
    path = tmp_path / "alice.json"
    path.chmod(0o644)
    result = sova("keys", "export", "alice", "--private-key", "--dir", str(tmp_path), env=PASS)
    assert result.code == 2
    assert f"chmod 600 {path}" in one_error_line(result)


def test_import_needs_exactly_one_source(tmp_path: Path) -> None:
    result = sova("keys", "import", "x", "--dir", str(tmp_path), env=PASS)
    assert result.code == 2
    assert "--private-key-env" in one_error_line(result)


@pytest.mark.slow
def test_new_key_beside_a_local_chain_project_uses_the_fleets_dev_passphrase(tmp_path: Path) -> None:
    # What the README says: with $SOVA_PASSPHRASE unset on the local chain, a dev passphrase is made
    # (0600) and used, for `sova keys new` as for `sova up`; the key goes to the project's keys folder.
    (tmp_path / "p.yaml").write_text((REPO_ROOT / "policies" / "presets" / "buyer.yaml").read_text())
    (tmp_path / "agents.yaml").write_text(
        "version: 1\nchain: {kind: local}\nagents:\n  - {name: alice, role: buyer, policy: p.yaml}\n"
    )
    made = sova("keys", "new", "alice", "--json", cwd=tmp_path)
    assert made.code == 0, made.err
    assert "development passphrase" in made.err
    dev = tmp_path / ".sova" / "dev-passphrase"
    assert stat.S_IMODE(dev.stat().st_mode) == 0o600
    assert Path(json.loads(made.out)["path"]).parent == tmp_path / ".sova" / "keys"
    secret = dev.read_text().strip()
    exported = sova("keys", "export", "alice", "--private-key", "--dir", str(tmp_path / ".sova" / "keys"),
                    env={"SOVA_PASSPHRASE": secret})  # fmt: skip
    assert exported.code == 0, exported.err


@pytest.mark.slow
def test_new_key_without_a_project_or_passphrase_says_how_to_give_one(tmp_path: Path) -> None:
    line = one_error_line(sova("keys", "new", "alice", cwd=tmp_path))
    assert "SOVA_PASSPHRASE" in line
