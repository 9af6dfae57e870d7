"""The DID ↔ wallet binding (DESIGN §4): the identity key's half of it.

The agent registers in AgentRegistry from its wallet (so msg.sender proves "the wallet controls the
DID": direction wallet->did, checked by the registry itself) together with `binding_proof`, an Ed25519
signature by the DID key over the 32-byte `AgentRegistry.bindingDigest(wallet)` (direction did->wallet,
checked here by `verify_binding`). The registry and wallet code compute the digest; this module only
signs and verifies it.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature

from identity.dids import public_key_from_did_key
from identity.errors import BindingError, DidError
from identity.keys import IdentityKey

DIRECTION_DID_TO_WALLET = "did->wallet"
DIRECTION_WALLET_TO_DID = "wallet->did"


def binding_proof(identity_key: IdentityKey, digest: bytes) -> bytes:
    """The 64-byte Ed25519 signature of the identity key over the registry's 32-byte binding digest."""
    _check_digest(digest)
    return identity_key.sign(digest)


def verify_binding(did: str, digest: bytes, proof: bytes) -> None:
    """Check that `did` (an Ed25519 did:key) signed `digest`: the DID controls the wallet.

    Raises BindingError(direction="did->wallet") with a one-line message when it does not.
    """
    _check_digest(digest)
    try:
        public_key = public_key_from_did_key(did)
    except DidError as exc:
        raise BindingError(
            f"DID binding cannot be checked (direction did->wallet): {exc}", direction=DIRECTION_DID_TO_WALLET
        ) from None
    if len(proof) != 64:
        raise BindingError(
            f"DID binding of {did} fails (direction did->wallet): the proof has {len(proof)} bytes, an"
            " Ed25519 signature has 64; re-register with binding_proof(...)",
            direction=DIRECTION_DID_TO_WALLET,
        )
    try:
        public_key.verify(proof, digest)
    except InvalidSignature:
        raise BindingError(
            f"DID binding of {did} fails (direction did->wallet): the proof is not the DID key's signature"
            f" over bindingDigest(wallet) 0x{digest.hex()}; the DID does not vouch for this wallet (registry,"
            " chain or wallet differ): re-register with a fresh proof",
            direction=DIRECTION_DID_TO_WALLET,
        ) from None


def _check_digest(digest: bytes) -> None:
    if not isinstance(digest, bytes | bytearray) or len(digest) != 32:
        raise ValueError("the binding digest is the 32 bytes AgentRegistry.bindingDigest(wallet) returns")
