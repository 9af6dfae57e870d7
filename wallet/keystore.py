"""Encrypted key files: one Ethereum V3 keystore (scrypt + AES-128-CTR) per key at `<dir>/<name>.json`.

The files are the ones geth and Foundry's `cast` read and write (`cast wallet address --keystore F`).
They are written atomically (temp file, fsync, rename) with mode 0600 in a 0700 folder, and a file
that group or others can read or write is refused at unlock: a keystore's only protection is its
passphrase, and a copy lets anyone brute-force it offline.

Unlocking runs scrypt (n=262144: ~0.7 s, 256 MiB), so do it once per process and, from async code,
in a thread (`await asyncio.to_thread(store.unlock, name, passphrase)`). The Keystore itself is sync.

No error message ever contains key material or the passphrase.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils.address import to_checksum_address

from wallet.errors import (
    CorruptKeystore,
    InsecureKeystore,
    InvalidKeyMaterial,
    InvalidKeyName,
    KeyExists,
    KeyNotFound,
    WrongPassphrase,
)
from wallet.hd import derive_private_key
from wallet.signer import Signer

NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
DEFAULT_SCRYPT_N = 262144  # eth-account's and geth's "standard" cost
_HEX_KEY_RE = re.compile(r"(0x)?[0-9a-fA-F]{64}")
_PASSPHRASE_HINT = "check $SOVA_PASSPHRASE or the env variable named in agents.yaml"


@dataclass(frozen=True)
class KeyInfo:
    """What can be known about a key without its passphrase."""

    name: str
    address: str
    path: Path


class Keystore:
    """A folder of V3 keystore files, one per named key."""

    def __init__(self, directory: Path, *, scrypt_n: int | None = None) -> None:
        if scrypt_n is not None and (scrypt_n < 2 or scrypt_n & (scrypt_n - 1)):
            raise ValueError(f"scrypt_n must be a power of two ≥ 2, got {scrypt_n}")
        self.directory = Path(directory)
        self.scrypt_n = scrypt_n or DEFAULT_SCRYPT_N

    def __repr__(self) -> str:
        return f"Keystore({str(self.directory)!r})"

    # ----------------------------------------------------------------- paths and reading

    def path(self, name: str) -> Path:
        """The file of key `name` (validated; it need not exist)."""
        if not NAME_RE.fullmatch(name):
            raise InvalidKeyName(
                f"invalid key name {name!r}: use 1-64 of a-z, 0-9, '_' and '-', "
                "starting with a letter or digit"
            )
        return self.directory / f"{name}.json"

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    def info(self, name: str) -> KeyInfo:
        """Name, address and path of a key; the address is read from the file, nothing is decrypted."""
        path = self.path(name)
        data = self._read(name, path)
        address = data.get("address")
        if not isinstance(address, str):
            raise CorruptKeystore(
                f"keystore {path} has no 'address' field (files from `cast wallet new` omit it): "
                f"re-import it with `Keystore.import_json` / `sova keys import`, which adds it"
            )
        return KeyInfo(name=name, address=to_checksum_address("0x" + address.removeprefix("0x")), path=path)

    def list(self) -> list[KeyInfo]:
        """Every key in the folder, by name. A corrupt file raises CorruptKeystore naming it."""
        if not self.directory.is_dir():
            return []
        names = sorted(p.stem for p in self.directory.glob("*.json") if NAME_RE.fullmatch(p.stem))
        return [self.info(n) for n in names]

    def export_json(self, name: str) -> dict[str, Any]:
        """The encrypted V3 JSON of a key (safe to copy to geth, cast or MetaMask; still keep it private)."""
        return self._read(name, self.path(name))

    # ----------------------------------------------------------------- creating

    def create(self, name: str, passphrase: str) -> KeyInfo:
        """A new random key, encrypted with `passphrase`."""
        account = Account.create()
        return self._store(name, bytes(account.key), passphrase)

    def import_private_key(self, name: str, key_hex: str, passphrase: str) -> KeyInfo:
        """Store a raw private key (64 hex digits, optional 0x)."""
        text = key_hex.strip()
        if not _HEX_KEY_RE.fullmatch(text):
            raise InvalidKeyMaterial(
                "not a valid private key: expected 64 hex digits (optional 0x prefix); the key was not stored"
            )
        key = bytes.fromhex(text.removeprefix("0x"))
        # Validates the scalar range (0 < k < n) without echoing it.
        Signer.from_private_key(key)
        return self._store(name, key, passphrase)

    def import_mnemonic(self, name: str, mnemonic: str, passphrase: str, index: int = 0) -> KeyInfo:
        """Store the key at m/44'/60'/0'/0/`index` of a BIP-39 mnemonic (the mnemonic is not kept)."""
        return self._store(name, derive_private_key(mnemonic, index), passphrase)

    def import_json(self, name: str, keystore: dict[str, Any], passphrase: str | None = None) -> KeyInfo:
        """Store a V3 keystore from elsewhere (geth, cast). Files without an 'address' field (cast's)
        need the passphrase to learn it; with a passphrase the file is also checked to open."""
        path = self.path(name)
        data = _validated_v3(dict(keystore), f"keystore given for {name!r}")
        if passphrase is not None:
            key = _decrypt(data, passphrase, name, path)
            address = Account.from_key(key).address
            if "address" in data and _norm_addr(data["address"]) != address.lower():
                raise CorruptKeystore(
                    f"keystore given for {name!r}: its 'address' field does not match its key: "
                    "the file was altered"
                )
            data["address"] = address[2:].lower()
        elif "address" not in data:
            raise InvalidKeyMaterial(
                f"keystore given for {name!r} has no 'address' field: "
                "pass its passphrase so the address can be read"
            )
        self._write_new(path, data)
        return self.info(name)

    # ----------------------------------------------------------------- unlocking

    def unlock(self, name: str, passphrase: str) -> Signer:
        """Decrypt key `name` (~0.7 s at the default cost). Refuses files others can read or write."""
        return Signer(Account.from_key(self._unlock_key(name, passphrase)))

    def export_private_key(self, name: str, passphrase: str) -> str:
        """The raw private key as 0x hex. Only for an explicit export the user asked for."""
        return "0x" + self._unlock_key(name, passphrase).hex()

    def _unlock_key(self, name: str, passphrase: str) -> bytes:
        path = self.path(name)
        self._check_permissions(path)
        data = self._read(name, path)
        key = _decrypt(data, passphrase, name, path)
        if "address" in data:
            address = Account.from_key(key).address
            if _norm_addr(data["address"]) != address.lower():
                raise CorruptKeystore(
                    f"keystore {path}: its 'address' field does not match the decrypted key: "
                    "the file was altered; restore it from a backup"
                )
        return key

    @staticmethod
    def _check_permissions(path: Path) -> None:
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            return  # _read reports it
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise InsecureKeystore(
                f"keystore {path} is accessible by group or others (mode {stat.S_IMODE(mode):o}): "
                f"run `chmod 600 {path}`"
            )

    def _read(self, name: str, path: Path) -> dict[str, Any]:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise KeyNotFound(
                f"no key {name!r}: {path} does not exist; create it with `sova keys new {name}` "
                f"or import it with `sova keys import {name}`"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise CorruptKeystore(
                f"keystore {path} cannot be read ({type(exc).__name__}): check the file"
            ) from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            what = "empty" if not text.strip() else f"not valid JSON (truncated? {exc.msg} at char {exc.pos})"
            raise CorruptKeystore(f"keystore {path} is {what}: restore it from a backup") from None
        if not isinstance(data, dict):
            raise CorruptKeystore(f"keystore {path} is not a JSON object: restore it from a backup")
        return _validated_v3(data, f"keystore {path}")

    # ----------------------------------------------------------------- writing

    def _store(self, name: str, key: bytes, passphrase: str) -> KeyInfo:
        path = self.path(name)
        if path.exists():
            raise KeyExists(
                f"key {name!r} exists already at {path}: pick another name or remove the file first"
            )
        data: dict[str, Any] = Account.encrypt(key, passphrase, kdf="scrypt", iterations=self.scrypt_n)
        data["address"] = str(data["address"]).lower()  # geth writes lowercase
        self._write_new(path, data)
        return KeyInfo(name=name, address=Account.from_key(key).address, path=path)

    def _write_new(self, path: Path, data: dict[str, Any]) -> None:
        """Write atomically with mode 0600; never replace an existing file (os.link fails if it exists)."""
        self._ensure_dir()
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{path.stem}.", suffix=".tmp")  # 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh)
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise KeyExists(
                    f"key {path.stem!r} exists already at {path}: pick another name or remove the file first"
                ) from None
        finally:
            os.unlink(tmp)
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # make the new directory entry durable too
        finally:
            os.close(dir_fd)

    def _ensure_dir(self) -> None:
        if not self.directory.exists():
            # Only folders we create are set to 0700; an existing folder the user chose is left alone
            # (the files themselves are 0600 either way).
            self.directory.mkdir(parents=True, mode=0o700, exist_ok=True)
            os.chmod(self.directory, 0o700)


def _norm_addr(value: object) -> str:
    return ("0x" + str(value).lower().removeprefix("0x")) if isinstance(value, str) else ""


def _decrypt(data: dict[str, Any], passphrase: str, name: str, path: Path) -> bytes:
    try:
        key = Account.decrypt(data, passphrase)
    except Exception as exc:
        # `from None`: the library's exception must not travel with ours (it may hold secrets).
        if isinstance(exc, ValueError) and "MAC mismatch" in str(exc):
            raise WrongPassphrase(f"wrong passphrase for key {name!r} ({path}): {_PASSPHRASE_HINT}") from None
        raise CorruptKeystore(
            f"keystore {path} cannot be decrypted ({type(exc).__name__}): restore it from a backup"
        ) from None
    return bytes(key)


def _is_hex(value: object, nbytes: int | None = None) -> bool:
    if not isinstance(value, str):
        return False
    text = value.removeprefix("0x")
    if nbytes is not None and len(text) != 2 * nbytes:
        return False
    return bool(text) and all(c in "0123456789abcdefABCDEF" for c in text)


def _validated_v3(data: dict[str, Any], where: str) -> dict[str, Any]:
    """`data` if it is structurally a V3 keystore; else CorruptKeystore saying what is wrong."""
    problem = _v3_problem(data)
    if problem:
        raise CorruptKeystore(f"{where} is not a valid V3 keystore: {problem}; restore it from a backup")
    return data


def _v3_problem(data: dict[str, Any]) -> str | None:  # noqa: C901 - one guard per field, each its own refusal
    if data.get("version") != 3:
        return f"'version' is {data.get('version')!r}, expected 3"
    crypto = data.get("crypto", data.get("Crypto"))
    if not isinstance(crypto, dict):
        return "'crypto' section missing"
    if crypto.get("cipher") != "aes-128-ctr":
        return f"cipher {crypto.get('cipher')!r} is not aes-128-ctr"
    params = crypto.get("cipherparams")
    if not isinstance(params, dict) or not _is_hex(params.get("iv"), 16):
        return "'cipherparams.iv' missing or not 16 hex bytes"
    if not _is_hex(crypto.get("ciphertext"), 32):
        return "'ciphertext' missing or not 32 hex bytes"
    if not _is_hex(crypto.get("mac"), 32):
        return "'mac' missing or not 32 hex bytes"
    kdf, kp = crypto.get("kdf"), crypto.get("kdfparams")
    if not isinstance(kp, dict) or not _is_hex(kp.get("salt")) or kp.get("dklen") != 32:
        return "'kdfparams' missing, or salt / dklen (32) invalid"
    if kdf == "scrypt":
        if not all(isinstance(kp.get(k), int) and kp[k] > 0 for k in ("n", "r", "p")):
            return "scrypt 'n', 'r', 'p' must be positive integers"
    elif kdf == "pbkdf2":
        if not isinstance(kp.get("c"), int) or kp.get("prf") != "hmac-sha256":
            return "pbkdf2 needs an integer 'c' and prf hmac-sha256"
    else:
        return f"kdf {kdf!r} is neither scrypt nor pbkdf2"
    address = data.get("address")
    if address is not None and not _is_hex(address, 20):
        return "'address' is not 20 hex bytes"
    return None
