// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title ActionLogAnchor
/// @notice Agents anchor the Merkle root of a range of their action-log entries by emitting an event;
///         nothing is stored, so an anchor costs little more than the transaction itself.
/// @dev Design decision: anchoring from an unregistered address is allowed. Each anchor is namespaced
///      by its sender (`agent` is the indexed msg.sender), and verifiers only read anchors emitted by the
///      agent's wallet as registered in AgentRegistry. A stranger can therefore only speak for itself;
///      checking the registry here would cost an external call per anchor and add nothing.
contract ActionLogAnchor {
    /// @notice A root over the log entries `fromSeq..toSeq` (inclusive) of `agent` was anchored.
    event Anchored(address indexed agent, bytes32 indexed root, uint64 fromSeq, uint64 toSeq);

    /// @notice The range is inverted or the root is zero.
    error BadRange();

    /// @notice Anchors `root` as the Merkle root of the caller's log entries `fromSeq..toSeq`.
    /// @param root The Merkle root (OpenZeppelin MerkleProof compatible, commutative keccak pairs).
    /// @param fromSeq The first sequence number covered (inclusive).
    /// @param toSeq The last sequence number covered (inclusive).
    function anchor(bytes32 root, uint64 fromSeq, uint64 toSeq) external {
        if (fromSeq > toSeq || root == bytes32(0)) revert BadRange();
        emit Anchored(msg.sender, root, fromSeq, toSeq);
    }

    /// @notice Whether `leaf` is in the tree with root `root`, given its Merkle `proof`.
    /// @param root The Merkle root.
    /// @param leaf The leaf hash (32 bytes, not re-hashed).
    /// @param proof The sibling hashes from the leaf up to the root.
    /// @return True when the proof is valid.
    function verify(bytes32 root, bytes32 leaf, bytes32[] calldata proof) external pure returns (bool) {
        return MerkleProof.verifyCalldata(proof, root, leaf);
    }
}
