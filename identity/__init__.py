"""DIDs, identity keys, verifiable credentials and presentations, signed envelopes (issue 3).

The public names below are loaded on first use: importing `identity` imports nothing heavy (didkit,
cryptography, httpx load with the module that needs them).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from identity.errors import (
    BindingError,
    CorruptKeyFile,
    DidError,
    DidResolutionError,
    IdentityError,
    InsecureKeyFile,
    InvalidCredential,
    InvalidEnvelope,
    InvalidKeyName,
    InvalidPresentation,
    KeyExists,
    KeyFileError,
    KeyNotFound,
    MalformedDid,
    StoreError,
    UnsupportedDidMethod,
    UnsupportedKeyType,
    WrongPassphrase,
)

if TYPE_CHECKING:
    from identity.binding import binding_proof, verify_binding
    from identity.credential import (
        Credential,
        VerifiedCredential,
        credential_id_hash,
        new_credential_id,
        parse_credential,
    )
    from identity.didkit_bridge import exit_cleanly
    from identity.dids import did_key_from_public_key, did_pkh, parse_did, public_key_from_did_key
    from identity.envelopes import Envelope, sign_envelope, verify_envelope
    from identity.issuance import issue_credential
    from identity.jcs import canonicalize
    from identity.keyfile import IdentityKeyStore
    from identity.keys import IdentityKey
    from identity.presentations import VerifiedPresentation, new_challenge, present, verify_presentation
    from identity.replay import ReplayStore
    from identity.resolve import SUPPORTED_METHODS, resolve_did
    from identity.store import CredentialStore
    from identity.verification import RevocationChecker, verify_credential
    from identity.vocab import CREDENTIAL_TYPES, Claim, CredentialType

_LAZY = {
    "binding_proof": "identity.binding",
    "verify_binding": "identity.binding",
    "Credential": "identity.credential",
    "VerifiedCredential": "identity.credential",
    "credential_id_hash": "identity.credential",
    "new_credential_id": "identity.credential",
    "parse_credential": "identity.credential",
    "exit_cleanly": "identity.didkit_bridge",
    "did_key_from_public_key": "identity.dids",
    "did_pkh": "identity.dids",
    "parse_did": "identity.dids",
    "public_key_from_did_key": "identity.dids",
    "Envelope": "identity.envelopes",
    "sign_envelope": "identity.envelopes",
    "verify_envelope": "identity.envelopes",
    "issue_credential": "identity.issuance",
    "canonicalize": "identity.jcs",
    "IdentityKeyStore": "identity.keyfile",
    "IdentityKey": "identity.keys",
    "VerifiedPresentation": "identity.presentations",
    "new_challenge": "identity.presentations",
    "present": "identity.presentations",
    "verify_presentation": "identity.presentations",
    "ReplayStore": "identity.replay",
    "SUPPORTED_METHODS": "identity.resolve",
    "resolve_did": "identity.resolve",
    "CredentialStore": "identity.store",
    "RevocationChecker": "identity.verification",
    "verify_credential": "identity.verification",
    "CREDENTIAL_TYPES": "identity.vocab",
    "Claim": "identity.vocab",
    "CredentialType": "identity.vocab",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'identity' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "CREDENTIAL_TYPES",
    "SUPPORTED_METHODS",
    "BindingError",
    "Claim",
    "CorruptKeyFile",
    "Credential",
    "CredentialStore",
    "CredentialType",
    "DidError",
    "DidResolutionError",
    "Envelope",
    "IdentityError",
    "IdentityKey",
    "IdentityKeyStore",
    "InsecureKeyFile",
    "InvalidCredential",
    "InvalidEnvelope",
    "InvalidKeyName",
    "InvalidPresentation",
    "KeyExists",
    "KeyFileError",
    "KeyNotFound",
    "MalformedDid",
    "ReplayStore",
    "RevocationChecker",
    "StoreError",
    "UnsupportedDidMethod",
    "UnsupportedKeyType",
    "VerifiedCredential",
    "VerifiedPresentation",
    "WrongPassphrase",
    "binding_proof",
    "canonicalize",
    "credential_id_hash",
    "did_key_from_public_key",
    "did_pkh",
    "exit_cleanly",
    "issue_credential",
    "new_challenge",
    "new_credential_id",
    "parse_credential",
    "parse_did",
    "present",
    "public_key_from_did_key",
    "resolve_did",
    "sign_envelope",
    "verify_binding",
    "verify_credential",
    "verify_envelope",
    "verify_presentation",
]
