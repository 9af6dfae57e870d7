"""`sova log show|verify|prove|export` as a user runs them, on real ledger files (no chain here)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from eth_hash.auto import keccak

from identity import IdentityKey, IdentityKeyStore, public_key_from_did_key, sign_envelope
from identity.jcs import canonicalize
from runtime.ledger.ledger import Ledger, ledger_path
from tests.support.cli import one_error_line, sova
from tests.support.paths import REPO_ROOT
from wallet import Keystore

ROOT = REPO_ROOT
DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
WALLET = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
PASS = "correct horse battery staple"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "agents.yaml"
    policy = ROOT / "policies" / "presets" / "buyer.yaml"
    path.write_text(
        f"agents:\n  - name: buyer\n    policy: {policy}\n  - name: seller\n    policy: {policy}\n"
    )
    return path


@pytest.fixture
def ledger_file(config: Path) -> Path:
    """The buyer's ledger, written with the identity key in its key file, 30 entries."""
    keys = config.parent / ".sova" / "keys"
    key = IdentityKeyStore(keys, scrypt_n=2**10).create("buyer", PASS)
    Keystore(keys, scrypt_n=2**10).import_private_key("buyer", DEV_KEY, PASS)
    path = ledger_path(config.parent / ".sova", "buyer")
    with Ledger.open(path, key, WALLET) as ledger:
        for i in range(29):
            ledger.append("decision", {"i": i, "amount": str(i), "note": "[bold]not markup[/bold]"})
    return path


def test_show_prints_the_newest_entries(config: Path, ledger_file: Path) -> None:
    result = sova("log", "show", "buyer", "-f", str(config), "--limit", "3")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert [int(line.split()[0]) for line in lines] == [28, 29, 30]
    assert "[bold]not markup[/bold]" in lines[0]


def test_show_prints_a_signed_envelope_as_the_body_it_carries(config: Path, ledger_file: Path) -> None:
    key = IdentityKey.generate()
    jws = sign_envelope(key, type="cfp", thid="t1", to=key.did, body={"item": "wordcount", "n": 3})
    keys = config.parent / ".sova" / "keys"
    with Ledger.open(
        ledger_file, IdentityKeyStore(keys, scrypt_n=2**10).unlock("buyer", PASS), WALLET
    ) as led:
        led.append("message_in", {"peer": key.did, "thid": "t1", "type": "cfp", "jws": jws})
    shown = sova("log", "show", "buyer", "-f", str(config), "--limit", "1")
    assert shown.code == 0, shown.err
    assert jws.split(".")[1][:40] not in shown.out
    assert '"body":{"item":"wordcount","n":3}' in shown.out
    raw = sova("log", "show", "buyer", "-f", str(config), "--limit", "1", "--json")
    assert json.loads(raw.out)[0]["data"]["jws"] == jws


def test_show_json_from_a_seq(config: Path, ledger_file: Path) -> None:
    result = sova("log", "show", "buyer", "-f", str(config), "--from", "1", "--limit", "2", "--json")
    assert result.code == 0, result.err
    genesis, first = json.loads(result.out)
    assert genesis["kind"] == "genesis"
    assert genesis["data"]["wallet"] == WALLET
    assert first["seq"] == 2
    assert first["prev_hash"] == genesis["hash"]


@pytest.mark.slow
def test_verify_ok_says_what_it_checked_and_that_anchors_were_not(config: Path, ledger_file: Path) -> None:
    result = sova("log", "verify", "buyer", "-f", str(config))
    assert result.code == 0, result.err
    assert "30 entries valid (hash chain and every signature by did:key:" in result.out
    assert "anchors not checked: chain not reachable" in result.out


@pytest.mark.slow
def test_verify_a_tampered_file_exits_1_naming_the_entry(config: Path, ledger_file: Path) -> None:
    with sqlite3.connect(ledger_file) as conn:
        conn.execute("UPDATE entries SET data = ? WHERE seq = 17", (b'{"amount":"9999"}',))
    result = sova("log", "verify", "buyer", "-f", str(config))
    assert result.code == 1
    assert one_error_line(result) == (
        f"error: ledger {ledger_file}: entry 17 was edited (its hash does not match its content): "
        "restore the file from a backup"
    )


def test_verify_json_reports_the_problem_and_still_exits_1(config: Path, ledger_file: Path) -> None:
    with sqlite3.connect(ledger_file) as conn:
        conn.execute("DELETE FROM entries WHERE seq = 5")
    result = sova("log", "verify", str(ledger_file), "--json", "--offline")
    assert result.code == 1
    report = json.loads(result.out)
    assert (report["ok"], report["first_bad"], report["problem"]) == (False, 5, "deleted")
    assert report["anchors_checked"] is None
    assert "entry 5 was deleted" in one_error_line(result)


@pytest.mark.slow
def test_verify_by_name_catches_a_file_replaced_under_another_key(config: Path, ledger_file: Path) -> None:
    ledger_file.unlink()
    with Ledger.open(ledger_file, IdentityKey.generate(), WALLET) as forged:
        forged.append("decision", {"amount": "1"})
    assert sova("log", "verify", str(ledger_file), "--offline").code == 0  # by itself it is consistent
    result = sova("log", "verify", "buyer", "-f", str(config))  # against the buyer's key file it is not
    assert result.code == 1
    line = one_error_line(result)
    assert "entry 1 names did:key:" in line
    assert "not the agent's" in line


def test_verify_quick_checks_checkpoint_signatures(config: Path, ledger_file: Path) -> None:
    result = sova("log", "verify", "buyer", "-f", str(config), "--quick", "--offline")
    assert result.code == 0, result.err
    assert "checkpoint signatures" in result.out
    assert "anchors not checked: --offline" in result.out


def test_export_lines_re_verify_with_only_the_documented_rule(config: Path, ledger_file: Path) -> None:
    result = sova("log", "export", "buyer", "-f", str(config))
    assert result.code == 0, result.err
    lines = [json.loads(line) for line in result.out.splitlines()]
    assert len(lines) == 30
    public = public_key_from_did_key(lines[0]["data"]["did"])
    prev = bytes(32)
    for line in lines:
        body = canonicalize({k: line[k] for k in ("data", "kind", "seq", "ts")})
        digest = keccak(prev + body)
        assert "0x" + digest.hex() == line["hash"]
        public.verify(bytes.fromhex(line["sig"][2:]), digest)
        prev = digest


def test_prove_an_unanchored_entry_is_bad_input(config: Path, ledger_file: Path) -> None:
    result = sova("log", "prove", "buyer", "5", "-f", str(config))
    assert result.code == 2
    assert "entry 5 of ledger" in one_error_line(result)
    assert "not anchored yet" in result.err


def test_prove_a_seq_beyond_the_end_is_bad_input(config: Path, ledger_file: Path) -> None:
    result = sova("log", "prove", "buyer", "99", "-f", str(config))
    assert result.code == 2
    assert "has no entry 99 (its entries are 1..30)" in one_error_line(result)


def test_unknown_agent_lists_the_known_ones(config: Path, ledger_file: Path) -> None:
    result = sova("log", "show", "nobody", "-f", str(config))
    assert result.code == 2
    assert "no agent named 'nobody'" in one_error_line(result)


def test_an_agent_that_never_ran_has_no_ledger(config: Path) -> None:
    result = sova("log", "verify", "seller", "-f", str(config))
    assert result.code == 2
    line = one_error_line(result)
    assert "no ledger for agent seller" in line
    assert "sova up" in line


def test_a_file_that_is_not_a_ledger_is_bad_input(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.sqlite"
    bogus.write_text("hello")
    result = sova("log", "verify", str(bogus), "--offline")
    assert result.code == 2
    assert "is not a Sova ledger" in one_error_line(result)
    assert sova("log", "verify", str(tmp_path / "missing.sqlite")).code == 2
