// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IdentityRegistry} from "./IdentityRegistry.sol";

/// @title AgentRegistry
/// @notice Sova's registry: an ERC-8004 Identity Registry (see IdentityRegistry: ERC-721, agent URI,
///         metadata, `agentWallet`) plus what Sova needs on top: lookups by wallet, DID and service tag
///         kept from reserved metadata entries, the operator's kill switch (`pause`, read by DealEscrow)
///         and credential revocation.
/// @dev Reserved metadata keys (UTF-8 text unless said): `did` (unique, not empty), `didProof` (the DID
///      key's Ed25519 signature over `bindingDigest(wallet)`, 64 bytes), `serviceTags` (tags joined by
///      commas; `agentsWithTag` lists them), `endpoint` (the A2A base URL). The proof is stored, not
///      checked on-chain (there is no Ed25519 precompile); verifiers check it off-chain. One agent per
///      wallet: `agentWallet` is unique across agents, because a wallet's pause, deals and feedback are
///      keyed by it. The owner is the deployer, i.e. the operator.
contract AgentRegistry is IdentityRegistry, Ownable {
    /// @notice One registered agent, as Sova reads it.
    struct Agent {
        address wallet;
        string did;
        string endpoint;
        string[] tags;
        bytes didProof;
        uint64 registeredAt;
    }

    /// @notice EIP-712-style typehash of the DID binding statement.
    bytes32 public constant BINDING_TYPEHASH =
        keccak256("SovaDidBinding(address registry,uint256 chainId,address wallet)");

    bytes32 private constant DID_KEY = keccak256("did");
    bytes32 private constant TAGS_KEY = keccak256("serviceTags");

    mapping(uint256 id => string[]) private _tags;
    mapping(uint256 id => uint64) private _registeredAt;
    mapping(address wallet => uint256 id) private _idOfWallet;
    mapping(bytes32 didHash => uint256 id) private _idOfDid;
    mapping(bytes32 tagHash => uint256[] ids) private _tagged;
    /// @dev 1-based position of an id in `_tagged[tagHash]`; 0 = not tagged.
    mapping(bytes32 tagHash => mapping(uint256 id => uint256 pos)) private _tagPos;
    mapping(address wallet => bool) private _paused;
    mapping(address issuer => mapping(bytes32 credentialId => uint64 revokedAt)) private _revokedAt;

    /// @notice A wallet registered as agent `agentId` with DID `did` (Sova's `register`).
    event AgentRegistered(uint256 indexed agentId, address indexed wallet, string did);
    /// @notice Agent `agentId` changed its endpoint, tags and DID proof (Sova's `update`).
    event AgentUpdated(uint256 indexed agentId, address indexed wallet);
    /// @notice The owner paused (`paused` true) or unpaused `wallet`.
    event AgentPaused(address indexed wallet, bool paused);
    /// @notice `issuer` revoked its credential `credentialId` at `revokedAt` (unix seconds).
    event CredentialRevoked(address indexed issuer, bytes32 indexed credentialId, uint64 revokedAt);

    /// @notice The wallet is the `agentWallet` of another agent already.
    error AlreadyRegistered(address wallet);
    /// @notice Another agent registered this DID already.
    error DidTaken(string did);
    /// @notice The DID is empty.
    error EmptyDid();
    /// @notice The caller's wallet is not registered.
    error NotRegistered(address wallet);
    /// @notice No agent has this id.
    error UnknownAgent(uint256 agentId);
    /// @notice The caller revoked this credential already.
    error AlreadyRevoked(address issuer, bytes32 credentialId);
    /// @notice A service tag is empty, longer than 64 bytes or holds a comma.
    error BadTag(string tag);

    /// @notice Deploys the registry; the deployer (the operator) becomes the owner.
    constructor() Ownable(msg.sender) {}

    // ------------------------------------------------------------------------------ Sova's shorthand

    /// @notice Registers the caller's wallet as a new agent (ERC-8004 agent without an agent URI) with
    ///         the reserved entries `did`, `endpoint`, `serviceTags` and `didProof`.
    /// @param did The agent's DID (unique across the registry, not empty).
    /// @param endpoint The agent's A2A base URL.
    /// @param tags Service tags, for discovery through `agentsWithTag` (duplicates are ignored).
    /// @param didProof Ed25519 signature by the DID key over `bindingDigest(msg.sender)`.
    /// @return agentId The new agent's id (ids start at 1).
    function register(
        string calldata did,
        string calldata endpoint,
        string[] calldata tags,
        bytes calldata didProof
    ) external returns (uint256 agentId) {
        agentId = _registerAgent("", false);
        _setMetadata(agentId, "did", bytes(did));
        _setMetadata(agentId, "endpoint", bytes(endpoint));
        _setMetadata(agentId, "serviceTags", _joined(tags));
        _setMetadata(agentId, "didProof", didProof);
        emit AgentRegistered(agentId, msg.sender, did);
    }

    /// @notice Updates the caller's endpoint, tags and DID proof.
    /// @param endpoint The new A2A base URL.
    /// @param tags The new service tags (they replace the old ones).
    /// @param didProof The new DID binding proof.
    function update(string calldata endpoint, string[] calldata tags, bytes calldata didProof) external {
        uint256 agentId = _idOfWallet[msg.sender];
        if (agentId == 0) revert NotRegistered(msg.sender);
        _setMetadata(agentId, "endpoint", bytes(endpoint));
        _setMetadata(agentId, "serviceTags", _joined(tags));
        _setMetadata(agentId, "didProof", didProof);
        emit AgentUpdated(agentId, msg.sender);
    }

    // ----------------------------------------------------------------------------------------- reads

    /// @notice The agent id whose `agentWallet` is `wallet`, or 0 when none.
    /// @param wallet The wallet address.
    /// @return The agent id (0 = none).
    function agentIdOf(address wallet) external view returns (uint256) {
        return _idOfWallet[wallet];
    }

    /// @notice The agent id registered with `did`, or 0 when none.
    /// @param did The DID.
    /// @return The agent id (0 = none).
    function agentIdOfDid(string calldata did) external view returns (uint256) {
        return _idOfDid[keccak256(bytes(did))];
    }

    /// @notice The record of agent `agentId`; reverts `UnknownAgent` for an id never issued.
    /// @param agentId The agent id.
    /// @return The agent record (`wallet` is `agentWallet`, zero after a transfer until proved again).
    function getAgent(uint256 agentId) external view returns (Agent memory) {
        if (agentId == 0 || agentId > totalAgents()) revert UnknownAgent(agentId);
        return Agent({
            wallet: getAgentWallet(agentId),
            did: string(_metadataOf(agentId, "did")),
            endpoint: string(_metadataOf(agentId, "endpoint")),
            tags: _tags[agentId],
            didProof: _metadataOf(agentId, "didProof"),
            registeredAt: _registeredAt[agentId]
        });
    }

    /// @notice Ids of the agents that carry `tag` (in no particular order).
    /// @param tag The service tag.
    /// @return The agent ids.
    function agentsWithTag(string calldata tag) external view returns (uint256[] memory) {
        return _tagged[keccak256(bytes(tag))];
    }

    /// @notice The digest the DID key signs (Ed25519) to bind the DID to `wallet` in this registry.
    /// @param wallet The agent's wallet.
    /// @return keccak256(abi.encode(BINDING_TYPEHASH, address(this), block.chainid, wallet)).
    function bindingDigest(address wallet) external view returns (bytes32) {
        return keccak256(abi.encode(BINDING_TYPEHASH, address(this), block.chainid, wallet));
    }

    // ----------------------------------------------------------------------------------- kill switch

    /// @notice Pauses `wallet` (any address): DealEscrow refuses to open deals with it. Owner only.
    /// @param wallet The wallet to pause.
    function pause(address wallet) external onlyOwner {
        _paused[wallet] = true;
        emit AgentPaused(wallet, true);
    }

    /// @notice Lifts the pause of `wallet`. Owner only.
    /// @param wallet The wallet to unpause.
    function unpause(address wallet) external onlyOwner {
        _paused[wallet] = false;
        emit AgentPaused(wallet, false);
    }

    /// @notice Whether the owner paused `wallet`.
    /// @param wallet The wallet.
    /// @return True when paused.
    function isPaused(address wallet) external view returns (bool) {
        return _paused[wallet];
    }

    // ------------------------------------------------------------------------------------ revocation

    /// @notice Revokes the caller's credential `credentialId`. Entries are keyed by the caller, so an
    ///         issuer can only revoke its own credentials; anyone may call.
    /// @param credentialId The credential id (e.g. the hash of the credential's id URI).
    function revokeCredential(bytes32 credentialId) external {
        if (_revokedAt[msg.sender][credentialId] != 0) revert AlreadyRevoked(msg.sender, credentialId);
        uint64 nowTs = uint64(block.timestamp);
        _revokedAt[msg.sender][credentialId] = nowTs;
        emit CredentialRevoked(msg.sender, credentialId, nowTs);
    }

    /// @notice Whether `issuer` revoked `credentialId`.
    /// @param issuer The issuer's address (the revoking caller).
    /// @param credentialId The credential id.
    /// @return True when revoked.
    function isRevoked(address issuer, bytes32 credentialId) external view returns (bool) {
        return _revokedAt[issuer][credentialId] != 0;
    }

    /// @notice When `issuer` revoked `credentialId` (block timestamp), or 0 when not revoked.
    /// @param issuer The issuer's address.
    /// @param credentialId The credential id.
    /// @return The revocation time in unix seconds, 0 = not revoked.
    function revokedAt(address issuer, bytes32 credentialId) external view returns (uint64) {
        return _revokedAt[issuer][credentialId];
    }

    // -------------------------------------------------------------------------------------- indexes

    function _metadataWillChange(uint256 agentId, string memory key, bytes memory value) internal override {
        bytes32 k = keccak256(bytes(key));
        if (k == DID_KEY) {
            if (value.length == 0) revert EmptyDid();
            bytes32 h = keccak256(value);
            uint256 holder = _idOfDid[h];
            if (holder != 0 && holder != agentId) revert DidTaken(string(value));
            bytes memory old = _metadataOf(agentId, "did");
            if (old.length != 0) delete _idOfDid[keccak256(old)];
            _idOfDid[h] = agentId;
        } else if (k == TAGS_KEY) {
            _clearTags(agentId);
            _setTags(agentId, value);
        }
    }

    function _walletChanged(uint256 agentId, address oldWallet, address newWallet) internal override {
        if (oldWallet != address(0) && _idOfWallet[oldWallet] == agentId) delete _idOfWallet[oldWallet];
        if (newWallet == address(0)) return;
        uint256 holder = _idOfWallet[newWallet];
        if (holder != 0 && holder != agentId) revert AlreadyRegistered(newWallet);
        _idOfWallet[newWallet] = agentId;
        if (_registeredAt[agentId] == 0) _registeredAt[agentId] = uint64(block.timestamp);
    }

    /// @dev Splits the comma-joined `value` and indexes each tag once.
    function _setTags(uint256 agentId, bytes memory value) private {
        uint256 start = 0;
        for (uint256 i = 0; i <= value.length; ++i) {
            if (i < value.length && value[i] != ",") continue;
            if (i > start) {
                bytes memory tag = new bytes(i - start);
                for (uint256 j = 0; j < tag.length; ++j) {
                    tag[j] = value[start + j];
                }
                bytes32 h = keccak256(tag);
                if (_tagPos[h][agentId] == 0) {
                    _tagged[h].push(agentId);
                    _tagPos[h][agentId] = _tagged[h].length;
                    _tags[agentId].push(string(tag));
                }
            }
            start = i + 1;
        }
    }

    function _clearTags(uint256 agentId) private {
        string[] storage tags = _tags[agentId];
        uint256 n = tags.length;
        for (uint256 i = 0; i < n; ++i) {
            bytes32 h = keccak256(bytes(tags[i]));
            uint256[] storage list = _tagged[h];
            uint256 pos = _tagPos[h][agentId];
            uint256 last = list[list.length - 1];
            list[pos - 1] = last;
            _tagPos[h][last] = pos;
            list.pop();
            delete _tagPos[h][agentId];
        }
        delete _tags[agentId];
    }

    /// @dev `tags` joined by commas; each 1-64 bytes without a comma.
    function _joined(string[] calldata tags) private pure returns (bytes memory out) {
        for (uint256 i = 0; i < tags.length; ++i) {
            bytes calldata tag = bytes(tags[i]);
            if (tag.length == 0 || tag.length > 64 || _hasComma(tag)) revert BadTag(tags[i]);
            out = i == 0 ? bytes(tag) : bytes.concat(out, ",", tag);
        }
    }

    function _hasComma(bytes calldata tag) private pure returns (bool) {
        for (uint256 i = 0; i < tag.length; ++i) {
            if (tag[i] == ",") return true;
        }
        return false;
    }
}
