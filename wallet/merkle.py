"""Keccak Merkle tree compatible with OpenZeppelin `MerkleProof` (commutative pair hashing).

Leaves are 32-byte hashes and are not re-hashed. A parent is keccak256 of its two children sorted
bytewise; an odd node at the end of a level is promoted unchanged. One leaf: root == leaf.
"""

from __future__ import annotations

from collections.abc import Sequence

from eth_hash.auto import keccak


def _hash_pair(a: bytes, b: bytes) -> bytes:
    return keccak(a + b) if a <= b else keccak(b + a)


def _check(leaves: Sequence[bytes]) -> None:
    if not leaves:
        raise ValueError("a Merkle tree needs at least one leaf")
    for i, leaf in enumerate(leaves):
        if len(leaf) != 32:
            raise ValueError(f"leaf {i} is {len(leaf)} bytes, expected a 32-byte hash")


def _next_level(level: list[bytes]) -> list[bytes]:
    parents = [_hash_pair(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
    if len(level) % 2:
        parents.append(level[-1])
    return parents


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """The root over `leaves` (32-byte hashes, in order)."""
    _check(leaves)
    level = [bytes(leaf) for leaf in leaves]
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


def merkle_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """The sibling hashes proving `leaves[index]`, from the leaf level up."""
    _check(leaves)
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf index {index} out of range for {len(leaves)} leaves")
    level = [bytes(leaf) for leaf in leaves]
    proof: list[bytes] = []
    while len(level) > 1:
        sibling = index ^ 1
        if sibling < len(level):
            proof.append(level[sibling])
        level = _next_level(level)
        index //= 2
    return proof


def verify_proof(root: bytes, leaf: bytes, proof: Sequence[bytes]) -> bool:
    """Whether `proof` leads from `leaf` to `root` (same rule as OpenZeppelin `MerkleProof.verify`)."""
    computed = bytes(leaf)
    for node in proof:
        computed = _hash_pair(computed, bytes(node))
    return computed == bytes(root)
