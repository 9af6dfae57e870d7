"""Errors of the identity package. Each message is one line: what is wrong, where, and how to fix it.

Hierarchy:

    IdentityError
    ├── KeyFileError                 an identity key file could not be created, read or unlocked
    │   ├── KeyNotFound              no `<name>.did.json` in the directory
    │   ├── KeyExists                a key file of that name exists already
    │   ├── WrongPassphrase          the passphrase does not open the key file (AES-GCM tag mismatch)
    │   ├── CorruptKeyFile           not JSON, truncated, or not a Sova identity key file
    │   ├── InsecureKeyFile          file readable or writable by group/others
    │   └── InvalidKeyName           a key name outside [a-z0-9][a-z0-9_-]{0,63}
    ├── DidError
    │   ├── MalformedDid             not a DID by the DID-core syntax, or a bad method-specific id
    │   ├── UnsupportedDidMethod     a method Sova does not resolve (`.method` holds it)
    │   ├── UnsupportedKeyType       a DID whose key is not Ed25519 where Sova needs one (envelopes, binding)
    │   └── DidResolutionError       a supported DID that could not be resolved (did:web unreachable, ...)
    ├── BindingError                 the DID binding proof does not verify (`.direction` says which one)
    ├── InvalidCredential            a VC failed a check (`.reason` code, `.credential_id`)
    ├── InvalidPresentation          a VP failed a check (`.reason` code); wraps the inner credential's error
    ├── InvalidEnvelope              a signed envelope failed a check (`.reason` code)
    └── StoreError                   a SQLite store (credentials, envelope nonces) is insecure or unusable

Reason codes are stable strings meant for programs (the CLI's --json, the ledger, tests); the message is
for people.
"""

from __future__ import annotations


class IdentityError(Exception):
    """Base class of every identity error."""


class KeyFileError(IdentityError):
    """An identity key file could not be created, read or unlocked."""


class KeyNotFound(KeyFileError):
    """No identity key file of that name."""


class KeyExists(KeyFileError):
    """An identity key file of that name exists already."""


class WrongPassphrase(KeyFileError):
    """The passphrase does not open the identity key file."""


class CorruptKeyFile(KeyFileError):
    """The file is not a valid Sova identity key file."""


class InsecureKeyFile(KeyFileError):
    """The key file's permissions let others read or change it."""


class InvalidKeyName(KeyFileError):
    """A key name that cannot be a key file name."""


class DidError(IdentityError):
    """A DID could not be parsed or resolved."""


class MalformedDid(DidError):
    """Not a DID by the DID-core syntax, or a method-specific id that does not decode."""


class UnsupportedDidMethod(DidError):
    """A DID method Sova does not resolve."""

    def __init__(self, message: str, *, method: str) -> None:
        super().__init__(message)
        self.method = method


class UnsupportedKeyType(DidError):
    """A DID whose key is not Ed25519 where Sova needs an Ed25519 did:key."""


class DidResolutionError(DidError):
    """A DID of a supported method that could not be resolved (network, bad document)."""


class BindingError(IdentityError):
    """The DID ↔ wallet binding does not verify. `direction` is "did->wallet" or "wallet->did"."""

    def __init__(self, message: str, *, direction: str) -> None:
        super().__init__(message)
        self.direction = direction


class InvalidCredential(IdentityError):
    """A verifiable credential failed a check.

    `reason` is one of: malformed, undefined_term, unsupported_context, unknown_type, bad_claims,
    bad_proof, expired, not_yet_valid, untrusted_issuer, revoked, revocation_unavailable.
    """

    def __init__(self, message: str, *, reason: str, credential_id: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.credential_id = credential_id


class InvalidPresentation(IdentityError):
    """A verifiable presentation failed a check.

    `reason` is one of: malformed, bad_proof, no_challenge, wrong_challenge, no_domain, wrong_domain,
    wrong_holder, not_yet_valid, expired (a JWT VP's nbf / exp), subject_not_holder, invalid_credential
    (then `credential_error` holds the cause).
    """

    def __init__(
        self, message: str, *, reason: str, credential_error: InvalidCredential | None = None
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.credential_error = credential_error


class InvalidEnvelope(IdentityError):
    """A signed envelope failed a check.

    `reason` is one of: malformed, bad_signature, wrong_sender, wrong_recipient, expired, not_yet_valid,
    too_long_lived, replayed.
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class StoreError(IdentityError):
    """A SQLite store of the identity package (credentials, envelope nonces) is insecure or unusable."""
