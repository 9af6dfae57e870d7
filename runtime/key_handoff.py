"""Unlocked agent keys from `sova up` to the agent processes it spawns, through an inherited pipe.

Unlocking an agent's two keys (wallet V3 keystore and identity key file, scrypt n=2**18 each) costs
~1.7 s of CPU, most of an agent's cold start. The supervisor holds the passphrase that opens every
key of the fleet anyway, so it unlocks each agent's keys once (`unlock_agent_keys`) and, at every
spawn and restart, writes them into a fresh pipe whose read end only that child inherits
(`handoff_fd`, `pass_fds`); the variable `SOVA_KEY_FD` names the descriptor number, never the key.
The agent reads the pipe once, closes it and drops the variable (`receive`), and checks the keys
against its own key files' public address and DID before it uses them. Key material never goes
into the environment, argv, a file or a log line; the child also no longer needs the passphrase in
its environment (the supervisor leaves it out). `sova agent run` started by hand unlocks as before.
"""

from __future__ import annotations

import os
import stat
from collections.abc import MutableMapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from runtime.errors import SovaError

if TYPE_CHECKING:
    from identity import IdentityKey
    from wallet import Signer

KEY_FD_ENV = "SOVA_KEY_FD"
_MAGIC = b"sova-agent-keys/1\n"
_SIZE = len(_MAGIC) + 64


class KeyHandoffError(SovaError):
    """The keys the supervisor handed over are missing, malformed or not this agent's."""


class AgentKeys:
    """One agent's raw private keys: the wallet's secp256k1 key and the identity's Ed25519 seed."""

    __slots__ = ("__identity", "__wallet")

    def __init__(self, wallet: bytes, identity: bytes) -> None:
        if len(wallet) != 32 or len(identity) != 32:
            raise KeyHandoffError("agent keys must be two 32-byte private keys")
        self.__wallet = bytes(wallet)
        self.__identity = bytes(identity)

    def open(self) -> tuple[Signer, IdentityKey]:
        """The wallet signer and the identity key these bytes are."""
        from identity import IdentityKey
        from wallet import Signer

        return Signer.from_private_key(self.__wallet), IdentityKey.from_private_bytes(self.__identity)

    def _payload(self) -> bytes:
        return _MAGIC + self.__wallet + self.__identity

    def __repr__(self) -> str:
        return "AgentKeys(<hidden>)"

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        raise TypeError("AgentKeys hold private keys and cannot be pickled or copied")


def unlock_agent_keys(keys_dir: Path, key_names: list[str], secret: str) -> dict[str, AgentKeys]:
    """Unlock each named key pair once (two scrypt runs each, on as many threads as there are cores:
    hashlib's and pycryptodome's scrypt release the GIL)."""
    from identity import IdentityKeyStore
    from wallet import Keystore

    wallets, identities = Keystore(keys_dir), IdentityKeyStore(keys_dir)
    names = list(dict.fromkeys(key_names))
    with ThreadPoolExecutor(max(1, min(4, os.cpu_count() or 1))) as pool:
        wallet = {n: pool.submit(wallets.export_private_key, n, secret) for n in names}
        identity = {n: pool.submit(identities.export_private_key, n, secret) for n in names}
        return {
            n: AgentKeys(bytes.fromhex(wallet[n].result().removeprefix("0x")), identity[n].result())
            for n in names
        }


def handoff_fd(keys: AgentKeys) -> int:
    """A pipe holding `keys`, write end closed: give its read end to one child (`pass_fds`, and
    `KEY_FD_ENV` set to its number), then close it in the parent. The payload (82 bytes) is below
    PIPE_BUF, so the write is one atomic write that never blocks."""
    read, write = os.pipe()
    try:
        os.write(write, keys._payload())
    except BaseException:
        os.close(read)
        raise
    finally:
        os.close(write)
    return read


def receive(environ: MutableMapping[str, str] | None = None) -> AgentKeys | None:
    """The keys handed over by the supervisor, or None when it handed none. Removes `KEY_FD_ENV`,
    reads the pipe to its end and closes it, so nothing this process starts can inherit them."""
    env = os.environ if environ is None else environ
    text = env.pop(KEY_FD_ENV, None)
    if text is None:
        return None
    try:
        fd = int(text)
        if fd < 3 or not stat.S_ISFIFO(os.fstat(fd).st_mode):
            raise ValueError
    except (ValueError, OSError):
        raise KeyHandoffError(
            f"${KEY_FD_ENV}={text!r} names no key pipe: it is set only by `sova up`; unset it to let "
            "the agent unlock its keys itself"
        ) from None
    chunks: list[bytes] = []
    try:
        while chunk := os.read(fd, 4096):
            chunks.append(chunk)
            if sum(map(len, chunks)) > _SIZE:
                break
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) != _SIZE or not data.startswith(_MAGIC):
        raise KeyHandoffError(
            f"the key pipe from `sova up` held {len(data)} bytes, not agent keys: restart the fleet "
            "(`sova down`, `sova up`)"
        )
    body = data[len(_MAGIC) :]
    return AgentKeys(body[:32], body[32:])


def check_keys(name: str, signer: Signer, key: IdentityKey, address: str, did: str) -> None:
    """Refuse handed-over keys that are not the ones the agent's key files hold (address and DID are
    read from the files, nothing decrypted)."""
    if signer.address.lower() != address.lower() or key.did != did:
        raise KeyHandoffError(
            f"agent {name}: the keys `sova up` handed over are not the ones in its key files: restart "
            "the fleet (`sova down`, `sova up`)"
        )
