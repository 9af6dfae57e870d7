"""Identity keys: Ed25519, did:key, and the encrypted key file beside the wallet keystore."""

from __future__ import annotations

import json
import os
import pickle
import stat
from pathlib import Path

import didkit
import pytest

from identity import (
    CorruptKeyFile,
    IdentityKey,
    IdentityKeyStore,
    InsecureKeyFile,
    InvalidKeyName,
    KeyExists,
    KeyFileError,
    KeyNotFound,
    WrongPassphrase,
)

FAST_N = 2**10  # tests only: the default is 2**18 like the wallet's V3 keystore


@pytest.fixture
def store(tmp_path: Path) -> IdentityKeyStore:
    return IdentityKeyStore(tmp_path / "keys", scrypt_n=FAST_N)


def test_generated_key_has_the_did_key_didkit_derives_from_the_same_jwk() -> None:
    key = IdentityKey.generate()
    assert key.did.startswith("did:key:z6Mk")
    assert didkit.key_to_did("key", key._private_jwk()) == key.did
    assert key.verification_method == f"{key.did}#{key.did.removeprefix('did:key:')}"


def test_key_from_didkit_jwk_signs_verifiably() -> None:
    jwk = didkit.generate_ed25519_key()
    key = IdentityKey.from_jwk(jwk)
    assert key.did == didkit.key_to_did("key", jwk)
    from identity.dids import public_key_from_did_key

    public_key_from_did_key(key.did).verify(key.sign(b"hello"), b"hello")


def test_jwk_whose_public_half_does_not_match_is_refused() -> None:
    a, b = json.loads(didkit.generate_ed25519_key()), json.loads(didkit.generate_ed25519_key())
    with pytest.raises(KeyFileError, match="not a private Ed25519 JWK"):
        IdentityKey.from_jwk({**a, "x": b["x"]})


def test_key_never_shows_or_pickles_its_secret() -> None:
    key = IdentityKey.generate()
    secret_d = json.loads(key._private_jwk())["d"]
    assert secret_d not in repr(key)
    assert repr(key) == f"IdentityKey({key.did})"
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(key)


def test_key_file_round_trip_keeps_the_did(store: IdentityKeyStore) -> None:
    created = store.create("seller", "correct horse")
    unlocked = store.unlock("seller", "correct horse")
    assert unlocked.did == created.did
    assert unlocked.public_key_bytes == created.public_key_bytes
    assert store.names() == ["seller"]


def test_key_file_is_private_and_documents_its_format(store: IdentityKeyStore) -> None:
    key = store.create("buyer", "pw")
    path = store.path("buyer")
    assert path.name == "buyer.did.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    doc = json.loads(path.read_text())
    assert doc["version"] == 1
    assert doc["kind"] == "sova-identity-key"
    assert doc["did"] == key.did
    assert doc["crypto"]["kdf"] == "scrypt"
    assert doc["crypto"]["kdfparams"]["n"] == FAST_N
    assert doc["crypto"]["cipher"] == "aes-256-gcm"
    assert json.loads(key._private_jwk())["d"] not in path.read_text()


def test_did_is_readable_without_the_passphrase(store: IdentityKeyStore) -> None:
    key = store.create("issuer", "pw")
    assert store.did("issuer") == key.did


def test_wrong_passphrase_is_a_clear_one_line_error(store: IdentityKeyStore) -> None:
    store.create("seller", "right")
    with pytest.raises(WrongPassphrase) as info:
        store.unlock("seller", "wrong")
    message = str(info.value)
    assert "\n" not in message
    assert "wrong passphrase for identity key 'seller'" in message
    assert "seller.did.json" in message


def test_edited_did_field_fails_like_a_wrong_passphrase(store: IdentityKeyStore) -> None:
    store.create("seller", "pw")
    path = store.path("seller")
    doc = json.loads(path.read_text())
    doc["did"] = IdentityKey.generate().did
    path.write_text(json.dumps(doc))
    with pytest.raises(WrongPassphrase):
        store.unlock("seller", "pw")


def test_existing_key_file_is_never_overwritten(store: IdentityKeyStore) -> None:
    first = store.create("seller", "pw")
    with pytest.raises(KeyExists, match="exists already"):
        store.create("seller", "pw")
    assert store.unlock("seller", "pw").did == first.did
    assert [p.name for p in store.directory.iterdir()] == ["seller.did.json"]


def test_missing_key_names_the_command_that_creates_it(store: IdentityKeyStore) -> None:
    with pytest.raises(KeyNotFound, match="no identity key 'ghost'"):
        store.unlock("ghost", "pw")


def test_key_file_readable_by_others_is_refused_with_the_fix(store: IdentityKeyStore) -> None:
    store.create("seller", "pw")
    path = store.path("seller")
    os.chmod(path, 0o644)
    with pytest.raises(InsecureKeyFile, match=f"chmod 600 {path}"):
        store.unlock("seller", "pw")


@pytest.mark.parametrize("content", ["not json", "{}", '{"kind": "sova-identity-key", "version": 1}'])
def test_corrupt_key_file_is_reported(store: IdentityKeyStore, content: str) -> None:
    store.directory.mkdir(parents=True)
    path = store.path("broken")
    path.write_text(content)
    os.chmod(path, 0o600)
    with pytest.raises(CorruptKeyFile):
        store.unlock("broken", "pw")


def test_hostile_scrypt_parameters_are_refused_before_deriving(store: IdentityKeyStore) -> None:
    store.create("seller", "pw")
    path = store.path("seller")
    doc = json.loads(path.read_text())
    doc["crypto"]["kdfparams"]["n"] = 2**30
    path.write_text(json.dumps(doc))
    with pytest.raises(CorruptKeyFile, match="unsupported crypto parameters"):
        store.unlock("seller", "pw")


@pytest.mark.parametrize("name", ["", "../evil", "Upper", "a" * 65, "with space", ".hidden"])
def test_invalid_key_names_are_refused(store: IdentityKeyStore, name: str) -> None:
    with pytest.raises(InvalidKeyName):
        store.create(name, "pw")


def test_empty_passphrase_is_refused_on_create(store: IdentityKeyStore) -> None:
    with pytest.raises(KeyFileError, match="empty passphrase"):
        store.create("seller", "")


def test_default_scrypt_cost_matches_the_wallet_keystore(tmp_path: Path) -> None:
    assert IdentityKeyStore(tmp_path).scrypt_n == 2**18
