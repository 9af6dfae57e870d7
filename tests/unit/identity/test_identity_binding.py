"""The DID <-> wallet binding proof: the DID key signs the registry's bindingDigest(wallet)."""

from __future__ import annotations

import pytest

from identity import BindingError, IdentityKey, binding_proof, verify_binding
from wallet.typed_data import binding_digest

REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
WALLET = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
OTHER_WALLET = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"


def test_proof_over_the_binding_digest_verifies() -> None:
    key = IdentityKey.generate()
    digest = binding_digest(REGISTRY, 31337, WALLET)
    proof = binding_proof(key, digest)
    assert len(proof) == 64
    verify_binding(key.did, digest, proof)


def test_proof_for_another_wallet_fails_the_did_to_wallet_direction() -> None:
    key = IdentityKey.generate()
    proof = binding_proof(key, binding_digest(REGISTRY, 31337, WALLET))
    with pytest.raises(BindingError) as info:
        verify_binding(key.did, binding_digest(REGISTRY, 31337, OTHER_WALLET), proof)
    assert info.value.direction == "did->wallet"
    assert "(direction did->wallet)" in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("chain_id", [1, 8453])
def test_proof_for_another_chain_fails(chain_id: int) -> None:
    key = IdentityKey.generate()
    proof = binding_proof(key, binding_digest(REGISTRY, 31337, WALLET))
    with pytest.raises(BindingError):
        verify_binding(key.did, binding_digest(REGISTRY, chain_id, WALLET), proof)


def test_proof_by_another_key_fails() -> None:
    owner, thief = IdentityKey.generate(), IdentityKey.generate()
    digest = binding_digest(REGISTRY, 31337, WALLET)
    with pytest.raises(BindingError, match="not the DID key's signature"):
        verify_binding(owner.did, digest, binding_proof(thief, digest))


def test_proof_of_the_wrong_length_is_refused() -> None:
    key = IdentityKey.generate()
    with pytest.raises(BindingError, match="64"):
        verify_binding(key.did, bytes(32), bytes(65))


def test_binding_needs_an_ed25519_did_key() -> None:
    with pytest.raises(BindingError, match="direction did->wallet"):
        verify_binding("did:pkh:eip155:1:" + WALLET, bytes(32), bytes(64))


def test_digest_must_be_32_bytes() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        binding_proof(IdentityKey.generate(), b"short")
