"""Keystore V3: create, import, list, unlock, export; permissions, corruption, and no leaked secrets."""

from __future__ import annotations

import json
import os
import stat
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest
from eth_account import Account

from wallet.errors import (
    CorruptKeystore,
    InsecureKeystore,
    InvalidKeyMaterial,
    InvalidKeyName,
    KeyExists,
    KeyNotFound,
    KeystoreError,
    WalletError,
    WrongPassphrase,
)
from wallet.keystore import DEFAULT_SCRYPT_N, Keystore

FAST_N = 2**10  # scrypt cost for tests; real keys use 262144
PASS = "correct horse battery staple"
# Anvil's dev account 0 from the well-known test mnemonic (public test vector, not a secret).
DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEV_ADDRESSES = [
    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
]


@pytest.fixture
def store(tmp_path: Path) -> Keystore:
    return Keystore(tmp_path / "keys", scrypt_n=FAST_N)


def _text(exc: BaseException) -> str:
    """Everything a user or a log could see of an exception: message, repr and full traceback."""
    return str(exc) + repr(exc) + "".join(traceback.format_exception(exc))


def test_create_writes_private_v3_file_in_private_folder(store: Keystore) -> None:
    info = store.create("alice", PASS)
    assert info.name == "alice"
    assert info.path == store.directory / "alice.json"
    assert stat.S_IMODE(info.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.directory.stat().st_mode) == 0o700
    data = json.loads(info.path.read_text())
    assert data["version"] == 3
    assert data["crypto"]["kdf"] == "scrypt"
    assert data["crypto"]["kdfparams"]["n"] == FAST_N
    assert "0x" + data["address"] == info.address.lower()
    assert [p.name for p in store.directory.iterdir()] == ["alice.json"]  # no temp files left


def test_info_and_list_read_addresses_without_passphrase(store: Keystore) -> None:
    a = store.create("alice", PASS)
    b = store.create("bob", PASS)
    assert store.info("bob") == b
    assert store.list() == [a, b]
    assert Keystore(store.directory / "nowhere").list() == []


def test_unlock_gives_signer_of_the_same_address(store: Keystore) -> None:
    info = store.create("alice", PASS)
    signer = store.unlock("alice", PASS)
    assert signer.address == info.address
    assert repr(signer) == f"Signer({info.address})"


def test_import_private_key_round_trips_through_export(store: Keystore) -> None:
    acct = Account.create()
    key = "0x" + bytes(acct.key).hex()
    info = store.import_private_key("imported", key, PASS)
    assert info.address == acct.address
    assert store.export_private_key("imported", PASS) == key
    assert store.unlock("imported", PASS).address == acct.address
    # Without the 0x prefix, and with surrounding whitespace (pasted), it is the same key.
    again = store.import_private_key("again", f"  {key[2:]}\n", PASS)
    assert again.address == acct.address


@pytest.mark.parametrize("index", [0, 1, 2])
def test_import_mnemonic_derives_bip44_account(store: Keystore, index: int) -> None:
    info = store.import_mnemonic(f"dev{index}", DEV_MNEMONIC, PASS, index=index)
    assert info.address == DEV_ADDRESSES[index]
    assert store.unlock(f"dev{index}", PASS).address == DEV_ADDRESSES[index]


def test_export_json_is_the_encrypted_file(store: Keystore) -> None:
    info = store.create("alice", PASS)
    assert store.export_json("alice") == json.loads(info.path.read_text())
    assert Account.decrypt(store.export_json("alice"), PASS)  # readable by eth-account as is


@pytest.mark.slow
def test_default_cost_is_the_standard_scrypt_n(tmp_path: Path) -> None:
    info = Keystore(tmp_path).create("real", PASS)  # ~0.7 s: the one test at real cost
    assert json.loads(info.path.read_text())["crypto"]["kdfparams"]["n"] == DEFAULT_SCRYPT_N == 262144


def test_existing_name_is_refused_and_file_kept(store: Keystore) -> None:
    info = store.create("alice", PASS)
    before = info.path.read_bytes()
    with pytest.raises(KeyExists, match="exists already") as err:
        store.create("alice", "other")
    assert str(info.path) in str(err.value)
    assert info.path.read_bytes() == before
    assert [p.name for p in store.directory.iterdir()] == ["alice.json"]


@pytest.mark.parametrize("name", ["", "Alice", "-x", "_x", "a/b", "../x", "a.b", "a" * 65, "a b"])
def test_invalid_names_are_refused(store: Keystore, name: str) -> None:
    with pytest.raises(InvalidKeyName, match="invalid key name"):
        store.create(name, PASS)


def test_unknown_key_says_how_to_create_it(store: Keystore) -> None:
    with pytest.raises(KeyNotFound) as err:
        store.unlock("ghost", PASS)
    message = str(err.value)
    assert "ghost" in message
    assert str(store.directory / "ghost.json") in message
    assert "sova keys new ghost" in message


def test_wrong_passphrase_names_key_path_and_fix(store: Keystore) -> None:
    info = store.create("alice", PASS)
    with pytest.raises(WrongPassphrase) as err:
        store.unlock("alice", "not it")
    message = str(err.value)
    assert message == (
        f"wrong passphrase for key 'alice' ({info.path}): "
        "check $SOVA_PASSPHRASE or the env variable named in agents.yaml"
    )


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda text: "", "is empty"),
        (lambda text: text[: len(text) // 2], "not valid JSON"),
        (lambda text: "[1, 2]", "not a JSON object"),
        (lambda text: text.replace('"version": 3', '"version": 4'), "'version' is 4"),
        (lambda text: json.dumps({k: v for k, v in json.loads(text).items() if k != "crypto"}), "'crypto'"),
        (lambda text: text.replace('"ciphertext": "', '"ciphertext": "zz'), "'ciphertext'"),
        (lambda text: text.replace('"kdf": "scrypt"', '"kdf": "argon2"'), "argon2"),
    ],
)
def test_corrupt_or_truncated_files_are_reported(
    store: Keystore, damage: Callable[[str], str], expected: str
) -> None:
    info = store.create("alice", PASS)
    info.path.write_text(damage(info.path.read_text()))
    with pytest.raises(CorruptKeystore) as err:
        store.unlock("alice", PASS)
    message = str(err.value)
    assert str(info.path) in message
    assert expected in message
    assert "\n" not in message


def test_altered_address_field_is_detected(store: Keystore) -> None:
    info = store.create("alice", PASS)
    data = json.loads(info.path.read_text())
    data["address"] = "11" * 20
    info.path.write_text(json.dumps(data))
    with pytest.raises(CorruptKeystore, match="does not match"):
        store.unlock("alice", PASS)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o606])
def test_file_accessible_by_others_is_refused(store: Keystore, mode: int) -> None:
    info = store.create("alice", PASS)
    os.chmod(info.path, mode)
    with pytest.raises(InsecureKeystore) as err:
        store.unlock("alice", PASS)
    assert f"chmod 600 {info.path}" in str(err.value)
    os.chmod(info.path, 0o600)
    assert store.unlock("alice", PASS).address == info.address


def test_import_json_without_address_needs_passphrase(store: Keystore) -> None:
    acct = Account.create()
    foreign = Account.encrypt(acct.key, PASS, kdf="scrypt", iterations=FAST_N)
    del foreign["address"]  # like `cast wallet new`
    with pytest.raises(InvalidKeyMaterial, match="pass its passphrase"):
        store.import_json("foreign", foreign)
    with pytest.raises(WrongPassphrase):
        store.import_json("foreign", foreign, "nope")
    info = store.import_json("foreign", foreign, PASS)
    assert info.address == acct.address
    assert store.unlock("foreign", PASS).address == acct.address


def test_errors_never_contain_key_material_or_passphrase(store: Keystore, tmp_path: Path) -> None:
    acct = Account.create()
    key_hex = bytes(acct.key).hex()
    secret = "s3cret-passphrase-xyz"
    typo = "jun" + "que"  # built, so that the test's own source lines in a traceback do not contain it
    store.import_private_key("alice", key_hex, secret)
    raised: list[BaseException] = []
    attempts: list[Callable[[], object]] = [
        lambda: store.unlock("alice", "wrong"),
        lambda: store.import_private_key("alice", key_hex, secret),  # exists
        lambda: store.import_private_key("bad1", key_hex[:-1], secret),  # 63 digits
        lambda: store.import_private_key("bad2", "0x" + "0" * 64, secret),  # zero key
        lambda: store.import_private_key("bad3", "0x" + "f" * 64, secret),  # above the curve order
        lambda: store.import_private_key("bad4", key_hex[:-1] + "g", secret),  # not hex
        lambda: store.import_mnemonic("bad5", DEV_MNEMONIC.replace("junk", typo), secret),
        lambda: store.import_mnemonic("bad6", DEV_MNEMONIC.replace("junk", "test"), secret),
    ]
    for attempt in attempts:
        with pytest.raises(WalletError) as err:
            attempt()
        raised.append(err.value)
    path = store.path("alice")
    path.write_text(path.read_text()[:100])
    with pytest.raises(CorruptKeystore) as err:
        store.unlock("alice", secret)
    raised.append(err.value)
    signer_text = repr(Keystore(tmp_path / "k2", scrypt_n=FAST_N)) + repr(store)
    for exc in raised:
        text = _text(exc)
        assert key_hex not in text.lower()
        assert secret not in text
        assert typo not in text  # nor mnemonic words
        assert "\n" not in str(exc)
        assert isinstance(exc, KeystoreError)
    assert key_hex not in signer_text


def test_signer_repr_and_dir_hide_the_key(store: Keystore) -> None:
    acct = Account.create()
    store.import_private_key("alice", bytes(acct.key).hex(), PASS)
    signer = store.unlock("alice", PASS)
    assert bytes(acct.key).hex() not in repr(signer) + str(signer)
    assert not hasattr(signer, "__dict__")
    public = {n: getattr(signer, n) for n in dir(signer) if not n.startswith("_")}
    assert set(public) == {"address", "from_private_key", "sign_transaction", "sign_typed_data"}
    assert all(acct.key not in (v if isinstance(v, bytes) else b"") for v in public.values())
