"""Errors of the wallet package. Each message is one line: what is wrong, where, and how to fix it.

Hierarchy:

    WalletError
    ├── KeystoreError
    │   ├── KeyNotFound              no keystore file of that name
    │   ├── KeyExists                a keystore of that name exists already
    │   ├── WrongPassphrase          MAC mismatch on unlock
    │   ├── CorruptKeystore          not JSON, truncated, or not a V3 keystore
    │   ├── InsecureKeystore         file readable or writable by group/others
    │   ├── InvalidKeyName           a key name outside [a-z0-9][a-z0-9_-]{0,63}
    │   └── InvalidKeyMaterial       a private key or mnemonic that is not valid (never echoed)
    ├── ArtifactError                compiled contract missing or unreadable
    ├── DeploymentError              deployments file missing, unreadable, or for another chain id
    └── ChainError
        ├── RpcUnavailable           node not reachable after bounded retries
        ├── RpcError                 the node answered a request with a JSON-RPC error
        ├── InsufficientFunds        not enough native currency for value + gas
        ├── NonceError               nonce gap or conflict that could not be repaired
        ├── TransactionReverted      mined with status 0, or reverted in estimation
        └── TransactionTimeout       no receipt in time (also after fee bumps)
"""

from __future__ import annotations


class WalletError(Exception):
    """Base class of every wallet error."""


class KeystoreError(WalletError):
    """A keystore could not be created, read or unlocked."""


class KeyNotFound(KeystoreError):
    """No keystore of that name."""


class KeyExists(KeystoreError):
    """A keystore of that name already exists."""


class WrongPassphrase(KeystoreError):
    """The passphrase does not open the keystore."""


class CorruptKeystore(KeystoreError):
    """The keystore file is not a valid V3 keystore."""


class InsecureKeystore(KeystoreError):
    """The keystore file's permissions let others read or change it."""


class InvalidKeyName(KeystoreError):
    """A key name that cannot be a keystore file name."""


class InvalidKeyMaterial(KeystoreError):
    """A private key or mnemonic that is not valid. The message never repeats the input."""


class ArtifactError(WalletError):
    """A compiled contract artifact is missing or unreadable."""


class DeploymentError(WalletError):
    """The deployments record is missing, unreadable or for another chain."""


class ChainError(WalletError):
    """Talking to the chain failed."""


class RpcUnavailable(ChainError):
    """The RPC endpoint did not answer after bounded retries."""


class RpcError(ChainError):
    """The node answered with a JSON-RPC error that no more specific class covers."""

    def __init__(self, message: str, *, code: int | None = None, data: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.data = data


class InsufficientFunds(ChainError):
    """The sender cannot pay value plus gas."""


class NonceError(ChainError):
    """A nonce gap or conflict that could not be repaired."""


class TransactionReverted(ChainError):
    """The transaction reverted. `error` is the decoded custom error (e.g. "DealExpired(7)") when the
    ABI is known, `data` the raw revert data, `tx_hash` set when it was mined (status 0)."""

    def __init__(
        self, message: str, *, error: str | None = None, data: bytes = b"", tx_hash: bytes | None = None
    ) -> None:
        super().__init__(message)
        self.error = error
        self.data = data
        self.tx_hash = tx_hash


class TransactionTimeout(ChainError):
    """No receipt arrived in time."""
