"""wallet.merkle: OpenZeppelin-compatible commutative keccak Merkle tree."""

from __future__ import annotations

import time

import pytest
from eth_utils import keccak
from hypothesis import given
from hypothesis import strategies as st

from wallet.merkle import merkle_proof, merkle_root, verify_proof

hashes = st.binary(min_size=32, max_size=32)
leaf_lists = st.lists(hashes, min_size=1, max_size=70)


def _pair(a: bytes, b: bytes) -> bytes:
    return keccak(min(a, b) + max(a, b))


@given(leaf_lists)
def test_every_proof_verifies(leaves: list[bytes]) -> None:
    root = merkle_root(leaves)
    for index, leaf in enumerate(leaves):
        assert verify_proof(root, leaf, merkle_proof(leaves, index))


@given(leaf_lists, st.data())
def test_a_leaf_not_in_the_tree_fails(leaves: list[bytes], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(leaves) - 1))
    wrong = data.draw(hashes.filter(lambda h: h not in leaves))
    assert not verify_proof(merkle_root(leaves), wrong, merkle_proof(leaves, index))


@given(st.lists(hashes, min_size=2, max_size=70, unique=True), st.data())
def test_a_proof_for_another_leaf_fails(leaves: list[bytes], data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(leaves) - 1))
    j = data.draw(st.integers(0, len(leaves) - 1).filter(lambda k: k != i))
    root = merkle_root(leaves)
    assert not verify_proof(root, leaves[i], merkle_proof(leaves, j))


@given(st.lists(hashes, min_size=2, max_size=70), st.data())
def test_a_tampered_proof_fails(leaves: list[bytes], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(leaves) - 1))
    proof = merkle_proof(leaves, index)
    position = data.draw(st.integers(0, len(proof) - 1))
    replacement = data.draw(hashes.filter(lambda h: h != proof[position]))
    proof[position] = replacement
    assert not verify_proof(merkle_root(leaves), leaves[index], proof)


def test_single_leaf_is_its_own_root_with_an_empty_proof() -> None:
    leaf = keccak(b"only")
    assert merkle_root([leaf]) == leaf
    assert merkle_proof([leaf], 0) == []
    assert verify_proof(leaf, leaf, [])


def test_pairs_are_hashed_sorted_and_an_odd_node_is_promoted() -> None:
    a, b, c = keccak(b"a"), keccak(b"b"), keccak(b"c")
    assert merkle_root([a, b]) == merkle_root([b, a]) == _pair(a, b)
    assert merkle_root([a, b, c]) == _pair(_pair(a, b), c)
    assert merkle_proof([a, b, c], 2) == [_pair(a, b)]
    assert merkle_proof([a, b, c], 0) == [b, c]


def test_empty_leaf_list_is_rejected() -> None:
    with pytest.raises(ValueError, match="at least one leaf"):
        merkle_root([])
    with pytest.raises(ValueError, match="at least one leaf"):
        merkle_proof([], 0)


def test_leaves_must_be_32_byte_hashes() -> None:
    with pytest.raises(ValueError, match="32-byte"):
        merkle_root([b"short"])


def test_out_of_range_index_is_rejected() -> None:
    with pytest.raises(IndexError):
        merkle_proof([keccak(b"a")], 1)


def test_tree_over_ten_thousand_leaves_builds_well_under_a_second() -> None:
    leaves = [keccak(i.to_bytes(8, "big")) for i in range(10_000)]
    start = time.perf_counter()
    root = merkle_root(leaves)
    proof = merkle_proof(leaves, 7_777)
    elapsed = time.perf_counter() - start
    assert verify_proof(root, leaves[7_777], proof)
    assert elapsed < 0.5, f"root + proof over 10,000 leaves took {elapsed:.3f} s"
