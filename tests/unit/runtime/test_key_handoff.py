"""runtime/key_handoff.py: an agent's unlocked keys cross a real pipe intact, once, and nowhere else."""

from __future__ import annotations

import os
import pickle
import secrets
from pathlib import Path

import pytest

from identity import IdentityKey, IdentityKeyStore
from runtime.key_handoff import (
    KEY_FD_ENV,
    AgentKeys,
    KeyHandoffError,
    check_keys,
    handoff_fd,
    receive,
    unlock_agent_keys,
)
from wallet import Keystore, Signer

PASSPHRASE = "handoff test passphrase"


def random_keys() -> tuple[bytes, bytes]:
    return secrets.token_bytes(32), secrets.token_bytes(32)


def closed(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return True
    return False


def test_keys_cross_the_pipe_intact_and_the_pipe_is_closed() -> None:
    wallet, identity = random_keys()
    fd = handoff_fd(AgentKeys(wallet, identity))
    env = {KEY_FD_ENV: str(fd), "OTHER": "x"}
    received = receive(env)
    assert received is not None
    signer, key = received.open()
    assert signer.address == Signer.from_private_key(wallet).address
    assert key.did == IdentityKey.from_private_bytes(identity).did
    assert env == {"OTHER": "x"}  # nothing a child of the agent could inherit
    assert closed(fd)


def test_no_key_fd_means_the_agent_unlocks_itself() -> None:
    assert receive({}) is None


@pytest.mark.parametrize("value", ["abc", "-1", "1"])
def test_a_key_fd_that_names_no_pipe_is_one_clear_error(value: str) -> None:
    with pytest.raises(KeyHandoffError, match="names no key pipe: it is set only by `sova up`"):
        receive({KEY_FD_ENV: value})


def test_a_regular_file_is_not_taken_for_a_key_pipe(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_bytes(b"x" * 100)
    fd = os.open(path, os.O_RDONLY)
    try:
        with pytest.raises(KeyHandoffError, match="names no key pipe"):
            receive({KEY_FD_ENV: str(fd)})
    finally:
        os.close(fd)


@pytest.mark.parametrize(
    "payload", [b"", b"sova-agent-keys/1\n" + b"k" * 40, b"x" * 82, b"sova-agent-keys/1\n" + b"k" * 65]
)
def test_a_short_long_or_foreign_payload_is_refused(payload: bytes) -> None:
    read, write = os.pipe()
    os.write(write, payload)
    os.close(write)
    with pytest.raises(KeyHandoffError, match=r"held \d+ bytes, not agent keys: restart the fleet"):
        receive({KEY_FD_ENV: str(read)})
    assert closed(read)


def test_agent_keys_never_show_in_repr_or_pickle() -> None:
    wallet, identity = random_keys()
    keys = AgentKeys(wallet, identity)
    assert repr(keys) == str(keys) == "AgentKeys(<hidden>)"
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(keys)


def test_keys_that_are_not_the_agents_own_are_refused() -> None:
    wallet, identity = random_keys()
    signer, key = AgentKeys(wallet, identity).open()
    other = Signer.from_private_key(secrets.token_bytes(32))
    check_keys("seller", signer, key, signer.address.lower(), key.did)  # its own: accepted
    with pytest.raises(KeyHandoffError, match="not the ones in its key files"):
        check_keys("seller", signer, key, other.address, key.did)
    with pytest.raises(KeyHandoffError, match="not the ones in its key files"):
        check_keys("seller", signer, key, signer.address, IdentityKey.generate().did)


def test_unlocked_agent_keys_are_the_key_files_keys(tmp_path: Path) -> None:
    wallets, identities = Keystore(tmp_path, scrypt_n=2**4), IdentityKeyStore(tmp_path, scrypt_n=2**4)
    for name in ("seller", "buyer"):
        wallets.create(name, PASSPHRASE)
        identities.create(name, PASSPHRASE)
    unlocked = unlock_agent_keys(tmp_path, ["seller", "buyer", "seller"], PASSPHRASE)
    assert set(unlocked) == {"seller", "buyer"}
    for name, keys in unlocked.items():
        signer, key = keys.open()
        assert signer.address == wallets.info(name).address
        assert key.did == identities.did(name)
