"""Identity keys stored encrypted beside the wallet keystore: `<dir>/<name>.did.json`, mode 0600.

File format (version 1), all binary values lowercase hex:

    {
      "version": 1,
      "kind": "sova-identity-key",
      "did": "did:key:z6Mk…",                    public, readable without the passphrase
      "crypto": {
        "kdf": "scrypt",
        "kdfparams": {"n": 262144, "r": 8, "p": 1, "dklen": 32, "salt": "<32 bytes>"},
        "cipher": "aes-256-gcm",
        "cipherparams": {"nonce": "<12 bytes>"},
        "ciphertext": "<AES-256-GCM(key = scrypt(passphrase), aad = did) of the private JWK, tag appended>"
      }
    }

The plaintext is the JCS-canonical private JWK `{"crv":"Ed25519","d":…,"kty":"OKP","x":…}`. Binding the
DID as associated data means an edited `did` field fails like a wrong passphrase.

scrypt cost: n = 2**18 (r = 8, p = 1) by default, the same as the wallet's V3 keystore. Both files are
opened with the same passphrase, so a cheaper KDF here would be the weakest link: an attacker holding
both files would guess against the cheaper one and then open the wallet too. Unlock once per process
(~1 s, 256 MiB). Tests pass a small `scrypt_n`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import stat
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from identity.errors import (
    CorruptKeyFile,
    InsecureKeyFile,
    InvalidKeyName,
    KeyExists,
    KeyFileError,
    KeyNotFound,
    WrongPassphrase,
)
from identity.jcs import canonicalize
from identity.keys import IdentityKey, b64url

DEFAULT_SCRYPT_N = 2**18
SUFFIX = ".did.json"
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_MAX_N = 2**20  # refuse files that would make unlocking cost more than 1 GiB


class IdentityKeyStore:
    """A directory of encrypted identity key files (usually the wallet keystore's directory)."""

    def __init__(self, directory: str | os.PathLike[str], *, scrypt_n: int = DEFAULT_SCRYPT_N) -> None:
        if scrypt_n < 2 or scrypt_n & (scrypt_n - 1) or scrypt_n > _MAX_N:
            raise ValueError(f"scrypt_n must be a power of two between 2 and 2**20, got {scrypt_n}")
        self.directory = Path(directory)
        self.scrypt_n = scrypt_n

    def path(self, name: str) -> Path:
        """The file of key `name`."""
        if not isinstance(name, str) or _NAME_RE.fullmatch(name) is None:
            raise InvalidKeyName(
                f"invalid identity key name {name!r}: use 1-64 of a-z, 0-9, '_' and '-', starting with a"
                " letter or digit"
            )
        return self.directory / f"{name}{SUFFIX}"

    def exists(self, name: str) -> bool:
        """Whether key `name` has a file."""
        return self.path(name).exists()

    def names(self) -> list[str]:
        """The names of the stored keys, sorted."""
        if not self.directory.is_dir():
            return []
        return sorted(p.name.removesuffix(SUFFIX) for p in self.directory.glob(f"*{SUFFIX}"))

    def create(self, name: str, passphrase: str, *, key: IdentityKey | None = None) -> IdentityKey:
        """Encrypt `key` (a fresh one by default) into `<dir>/<name>.did.json`; KeyExists if it is there."""
        path = self.path(name)
        if not passphrase:
            raise KeyFileError(f"empty passphrase for identity key {name!r}: set one (e.g. $SOVA_PASSPHRASE)")
        key = key or IdentityKey.generate()
        salt, nonce = secrets.token_bytes(32), secrets.token_bytes(12)
        aes_key = _derive(passphrase, salt, self.scrypt_n, 8, 1)
        x, d = b64url(key.public_key_bytes), b64url(key._private_bytes())
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": x, "d": d}
        plaintext = canonicalize(jwk)
        document = {
            "version": 1,
            "kind": "sova-identity-key",
            "did": key.did,
            "crypto": {
                "kdf": "scrypt",
                "kdfparams": {"n": self.scrypt_n, "r": 8, "p": 1, "dklen": 32, "salt": salt.hex()},
                "cipher": "aes-256-gcm",
                "cipherparams": {"nonce": nonce.hex()},
                "ciphertext": AESGCM(aes_key).encrypt(nonce, plaintext, key.did.encode()).hex(),
            },
        }
        _write_new(path, (json.dumps(document, indent=2) + "\n").encode())
        return key

    def did(self, name: str) -> str:
        """The DID stored in key file `name`, read without the passphrase (for `sova did show`)."""
        return str(self._read(name)[1]["did"])

    def unlock(self, name: str, passphrase: str) -> IdentityKey:
        """Decrypt key `name`. WrongPassphrase, KeyNotFound, InsecureKeyFile or CorruptKeyFile otherwise."""
        path, doc = self._read(name)
        try:
            crypto = doc["crypto"]
            params = crypto["kdfparams"]
            n, r, p = int(params["n"]), int(params["r"]), int(params["p"])
            salt = bytes.fromhex(params["salt"])
            nonce = bytes.fromhex(crypto["cipherparams"]["nonce"])
            ciphertext = bytes.fromhex(crypto["ciphertext"])
            if crypto["kdf"] != "scrypt" or crypto["cipher"] != "aes-256-gcm" or int(params["dklen"]) != 32:
                raise ValueError
            if not (2 <= n <= _MAX_N and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16):
                raise ValueError
            if len(nonce) != 12 or len(salt) < 16:
                raise ValueError
        except (KeyError, TypeError, ValueError):
            raise CorruptKeyFile(
                f"identity key file {path} has missing or unsupported crypto parameters: restore a backup"
            ) from None
        try:
            aes = AESGCM(_derive(passphrase, salt, n, r, p))
            plaintext = aes.decrypt(nonce, ciphertext, doc["did"].encode())
        except InvalidTag:
            raise WrongPassphrase(
                f"wrong passphrase for identity key {name!r} ({path}): use the passphrase it was created with"
                " (the wallet's), or the file was altered"
            ) from None
        try:
            key = IdentityKey.from_jwk(plaintext.decode())
        except (KeyFileError, UnicodeDecodeError):
            raise CorruptKeyFile(f"identity key file {path} decrypts to no Ed25519 key: restore it") from None
        if key.did != doc["did"]:
            raise CorruptKeyFile(f"identity key file {path} holds a key for another DID: restore it")
        return key

    def export_private_key(self, name: str, passphrase: str) -> bytes:
        """The raw 32-byte Ed25519 seed of key `name` (unlocked as `unlock` does). Only for handing the
        key to a process that cannot unlock it itself (`sova up` to its agents, through a pipe)."""
        return self.unlock(name, passphrase)._private_bytes()

    def _read(self, name: str) -> tuple[Path, dict[str, Any]]:
        path = self.path(name)
        try:
            st = path.stat()
        except FileNotFoundError:
            raise KeyNotFound(
                f"no identity key {name!r} in {self.directory}: create it first (sova keys new {name})"
            ) from None
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise InsecureKeyFile(
                f"identity key file {path} is accessible by others (mode {stat.S_IMODE(st.st_mode):04o}):"
                f" run chmod 600 {path}"
            )
        try:
            doc = json.loads(path.read_bytes())
            if doc.get("kind") != "sova-identity-key" or doc.get("version") != 1:
                raise ValueError
            if not isinstance(doc["did"], str) or not isinstance(doc["crypto"], dict):
                raise ValueError
        except (ValueError, KeyError, AttributeError):
            raise CorruptKeyFile(
                f"{path} is not a Sova identity key file (version 1): restore it from a backup"
            ) from None
        return path, doc


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


def _write_new(path: Path, data: bytes) -> None:
    """Write `data` to `path` with mode 0600, atomically, never replacing an existing file."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # fails if the name is taken: no overwrite race
        except FileExistsError:
            raise KeyExists(
                f"identity key file {path} exists already: pick another name or remove it first"
            ) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
