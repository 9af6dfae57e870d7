// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title AgentRegistry
/// @notice ERC-8004-style identity registry: agent id, DID, wallet, endpoint and service tags, a DID
///         binding proof, the operator's kill switch (`pause`) and credential revocation.
/// @dev The owner is the deployer, i.e. the operator. The DID binding proof is an Ed25519 signature by
///      the DID key over `bindingDigest(wallet)`; it is stored, not checked on-chain (there is no
///      Ed25519 precompile), and verifiers check it off-chain.
contract AgentRegistry is Ownable {
    /// @notice One registered agent.
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

    uint256 private _total;
    mapping(uint256 id => Agent) private _agents;
    mapping(address wallet => uint256 id) private _idOfWallet;
    mapping(bytes32 didHash => uint256 id) private _idOfDid;
    mapping(bytes32 tagHash => uint256[] ids) private _tagged;
    /// @dev 1-based position of an id in `_tagged[tagHash]`; 0 = not tagged.
    mapping(bytes32 tagHash => mapping(uint256 id => uint256 pos)) private _tagPos;
    mapping(address wallet => bool) private _paused;
    mapping(address issuer => mapping(bytes32 credentialId => uint64 revokedAt)) private _revokedAt;

    /// @notice A wallet registered as agent `agentId` with DID `did`.
    event AgentRegistered(uint256 indexed agentId, address indexed wallet, string did);
    /// @notice Agent `agentId` changed its endpoint, tags or DID proof.
    event AgentUpdated(uint256 indexed agentId, address indexed wallet);
    /// @notice The owner paused (`paused` true) or unpaused `wallet`.
    event AgentPaused(address indexed wallet, bool paused);
    /// @notice `issuer` revoked its credential `credentialId` at `revokedAt` (unix seconds).
    event CredentialRevoked(address indexed issuer, bytes32 indexed credentialId, uint64 revokedAt);

    /// @notice The caller's wallet is registered already.
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

    /// @notice Deploys the registry; the deployer (the operator) becomes the owner.
    constructor() Ownable(msg.sender) {}

    // ----------------------------------------------------------------------------------------- agents

    /// @notice Registers the caller's wallet as a new agent.
    /// @param did The agent's DID (unique across the registry, not empty).
    /// @param endpoint The agent's service endpoint URI.
    /// @param tags Service tags, for discovery through `agentsWithTag` (duplicates are ignored).
    /// @param didProof Ed25519 signature by the DID key over `bindingDigest(msg.sender)`.
    /// @return agentId The new agent's id (ids start at 1).
    function register(
        string calldata did,
        string calldata endpoint,
        string[] calldata tags,
        bytes calldata didProof
    ) external returns (uint256 agentId) {
        if (bytes(did).length == 0) revert EmptyDid();
        if (_idOfWallet[msg.sender] != 0) revert AlreadyRegistered(msg.sender);
        bytes32 didHash = keccak256(bytes(did));
        if (_idOfDid[didHash] != 0) revert DidTaken(did);

        agentId = ++_total;
        Agent storage a = _agents[agentId];
        a.wallet = msg.sender;
        a.did = did;
        a.endpoint = endpoint;
        a.didProof = didProof;
        a.registeredAt = uint64(block.timestamp);
        _idOfWallet[msg.sender] = agentId;
        _idOfDid[didHash] = agentId;
        _setTags(agentId, a, tags);
        emit AgentRegistered(agentId, msg.sender, did);
    }

    /// @notice Updates the caller's endpoint, tags and DID proof.
    /// @param endpoint The new service endpoint URI.
    /// @param tags The new service tags (they replace the old ones).
    /// @param didProof The new DID binding proof.
    function update(string calldata endpoint, string[] calldata tags, bytes calldata didProof) external {
        uint256 agentId = _idOfWallet[msg.sender];
        if (agentId == 0) revert NotRegistered(msg.sender);
        Agent storage a = _agents[agentId];
        a.endpoint = endpoint;
        a.didProof = didProof;
        _clearTags(agentId, a);
        _setTags(agentId, a, tags);
        emit AgentUpdated(agentId, msg.sender);
    }

    /// @notice The agent id of `wallet`, or 0 when it is not registered.
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
    /// @return The agent record.
    function getAgent(uint256 agentId) external view returns (Agent memory) {
        if (agentId == 0 || agentId > _total) revert UnknownAgent(agentId);
        return _agents[agentId];
    }

    /// @notice Ids of the agents that carry `tag` (in no particular order).
    /// @param tag The service tag.
    /// @return The agent ids.
    function agentsWithTag(string calldata tag) external view returns (uint256[] memory) {
        return _tagged[keccak256(bytes(tag))];
    }

    /// @notice How many agents registered so far (also the highest id).
    /// @return The number of agents.
    function totalAgents() external view returns (uint256) {
        return _total;
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

    // -------------------------------------------------------------------------------------- internal

    function _setTags(uint256 agentId, Agent storage a, string[] calldata tags) private {
        for (uint256 i = 0; i < tags.length; ++i) {
            bytes32 h = keccak256(bytes(tags[i]));
            if (_tagPos[h][agentId] != 0) continue;
            _tagged[h].push(agentId);
            _tagPos[h][agentId] = _tagged[h].length;
            a.tags.push(tags[i]);
        }
    }

    function _clearTags(uint256 agentId, Agent storage a) private {
        uint256 n = a.tags.length;
        for (uint256 i = 0; i < n; ++i) {
            bytes32 h = keccak256(bytes(a.tags[i]));
            uint256[] storage list = _tagged[h];
            uint256 pos = _tagPos[h][agentId];
            uint256 last = list[list.length - 1];
            list[pos - 1] = last;
            _tagPos[h][last] = pos;
            list.pop();
            delete _tagPos[h][agentId];
        }
        delete a.tags;
    }
}
