// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC721URIStorage} from "@openzeppelin/contracts/token/ERC721/extensions/ERC721URIStorage.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

/// @title IdentityRegistry
/// @notice ERC-8004 ("Trustless Agents") Identity Registry: an ERC-721 (URI storage) whose token id is the
///         agent id and whose token URI (the agent URI) points at the agent's registration file, with
///         on-chain metadata entries and the reserved `agentWallet` key, proved by the wallet with an
///         EIP-712 (or ERC-1271) signature and cleared on transfer. Function selectors and events are
///         those of the reference contracts (erc-8004/erc-8004-contracts, IdentityRegistry 2.0.0);
///         failures are custom errors instead of revert strings.
/// @dev Agent ids start at 1 (0 means "none" to readers). Two hooks let an extension keep indexes:
///      `_metadataWillChange` (before a metadata entry other than `agentWallet` is stored; it may revert)
///      and `_walletChanged` (after `agentWallet` changed, with the old and the new wallet).
contract IdentityRegistry is ERC721URIStorage, EIP712 {
    /// @notice One metadata entry given to `register`.
    struct MetadataEntry {
        string metadataKey;
        bytes metadataValue;
    }

    /// @notice EIP-712 typehash of the new wallet's consent to become `agentWallet`.
    bytes32 public constant AGENT_WALLET_SET_TYPEHASH =
        keccak256("AgentWalletSet(uint256 agentId,address newWallet,address owner,uint256 deadline)");
    /// @notice How far ahead of the block time a wallet proof's deadline may lie.
    uint256 public constant MAX_DEADLINE_DELAY = 5 minutes;

    bytes32 private constant AGENT_WALLET_KEY_HASH = keccak256("agentWallet");
    bytes4 private constant ERC1271_MAGICVALUE = 0x1626ba7e;

    uint256 private _lastId;
    mapping(uint256 agentId => mapping(string key => bytes value)) private _metadata;

    /// @notice Agent `agentId` was minted to `owner` with `agentURI`.
    event Registered(uint256 indexed agentId, string agentURI, address indexed owner);
    /// @notice A metadata entry of `agentId` was set (`agentWallet` included).
    event MetadataSet(
        uint256 indexed agentId, string indexed indexedMetadataKey, string metadataKey, bytes metadataValue
    );
    /// @notice The agent URI of `agentId` changed.
    event URIUpdated(uint256 indexed agentId, string newURI, address indexed updatedBy);

    /// @notice `agentWallet` is set only through `setAgentWallet`.
    error ReservedKey(string metadataKey);
    /// @notice The caller is neither the agent's owner nor approved for it.
    error NotAuthorized(address caller, uint256 agentId);
    /// @notice The new wallet is the zero address.
    error ZeroWallet();
    /// @notice The wallet proof's deadline has passed.
    error DeadlineExpired(uint256 deadline);
    /// @notice The wallet proof's deadline lies more than `MAX_DEADLINE_DELAY` ahead.
    error DeadlineTooFar(uint256 deadline);
    /// @notice The signature is not `wallet`'s (neither ECDSA nor ERC-1271).
    error InvalidWalletSignature(address wallet);

    /// @notice ERC-721 "AgentIdentity" (AGENT); EIP-712 domain ERC8004IdentityRegistry / 1.
    constructor() ERC721("AgentIdentity", "AGENT") EIP712("ERC8004IdentityRegistry", "1") {}

    // ----------------------------------------------------------------------------------- registration

    /// @notice Mints a new agent to the caller, without an agent URI (set it with `setAgentURI`).
    /// @return agentId The new agent id.
    function register() external returns (uint256 agentId) {
        agentId = _registerAgent("", false);
    }

    /// @notice Mints a new agent to the caller with `agentURI`.
    /// @param agentURI Where the agent's registration file is.
    /// @return agentId The new agent id.
    function register(string calldata agentURI) external returns (uint256 agentId) {
        agentId = _registerAgent(agentURI, true);
    }

    /// @notice Mints a new agent to the caller with `agentURI` and metadata entries.
    /// @param agentURI Where the agent's registration file is.
    /// @param metadata Entries to set (the key `agentWallet` is refused).
    /// @return agentId The new agent id.
    function register(string calldata agentURI, MetadataEntry[] calldata metadata)
        external
        returns (uint256 agentId)
    {
        agentId = _registerAgent(agentURI, true);
        for (uint256 i = 0; i < metadata.length; ++i) {
            _setMetadata(agentId, metadata[i].metadataKey, metadata[i].metadataValue);
        }
    }

    /// @notice Points agent `agentId` at a new registration file. Owner or approved only.
    /// @param agentId The agent id.
    /// @param newURI The new agent URI.
    function setAgentURI(uint256 agentId, string calldata newURI) external {
        _checkAuthorized(agentId);
        _setTokenURI(agentId, newURI);
        emit URIUpdated(agentId, newURI, msg.sender);
    }

    // --------------------------------------------------------------------------------------- metadata

    /// @notice The metadata entry `metadataKey` of `agentId` (empty when unset).
    /// @param agentId The agent id.
    /// @param metadataKey The key.
    /// @return The value.
    function getMetadata(uint256 agentId, string calldata metadataKey) external view returns (bytes memory) {
        return _metadata[agentId][metadataKey];
    }

    /// @notice Sets a metadata entry of `agentId`. Owner or approved only; `agentWallet` is refused.
    /// @param agentId The agent id.
    /// @param metadataKey The key.
    /// @param metadataValue The value.
    function setMetadata(uint256 agentId, string calldata metadataKey, bytes calldata metadataValue) external {
        _checkAuthorized(agentId);
        _setMetadata(agentId, metadataKey, metadataValue);
    }

    // ----------------------------------------------------------------------------------- agent wallet

    /// @notice The wallet where agent `agentId` is paid (zero when unset or cleared by a transfer).
    /// @param agentId The agent id.
    /// @return The wallet.
    function getAgentWallet(uint256 agentId) public view returns (address) {
        return address(bytes20(_metadata[agentId]["agentWallet"]));
    }

    /// @notice Sets `agentWallet` to `newWallet`, which consents with an EIP-712 signature over
    ///         `AgentWalletSet(agentId, newWallet, owner, deadline)` (or an ERC-1271 one). Owner or
    ///         approved only; `deadline` at most `MAX_DEADLINE_DELAY` ahead.
    /// @param agentId The agent id.
    /// @param newWallet The wallet to set.
    /// @param deadline Until when the signature is valid (unix seconds).
    /// @param signature The new wallet's signature.
    function setAgentWallet(uint256 agentId, address newWallet, uint256 deadline, bytes calldata signature)
        external
    {
        address owner = _checkAuthorized(agentId);
        if (newWallet == address(0)) revert ZeroWallet();
        if (block.timestamp > deadline) revert DeadlineExpired(deadline);
        if (deadline > block.timestamp + MAX_DEADLINE_DELAY) revert DeadlineTooFar(deadline);
        bytes32 digest = _hashTypedDataV4(
            keccak256(abi.encode(AGENT_WALLET_SET_TYPEHASH, agentId, newWallet, owner, deadline))
        );
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, signature);
        if (err != ECDSA.RecoverError.NoError || recovered != newWallet) {
            (bool ok, bytes memory res) =
                newWallet.staticcall(abi.encodeCall(IERC1271.isValidSignature, (digest, signature)));
            if (!ok || res.length < 32 || abi.decode(res, (bytes4)) != ERC1271_MAGICVALUE) {
                revert InvalidWalletSignature(newWallet);
            }
        }
        _storeWallet(agentId, newWallet);
    }

    /// @notice Clears `agentWallet` of `agentId`. Owner or approved only.
    /// @param agentId The agent id.
    function unsetAgentWallet(uint256 agentId) external {
        _checkAuthorized(agentId);
        _storeWallet(agentId, address(0));
    }

    /// @notice Whether `spender` is the owner of `agentId` or approved for it; reverts for an unknown id.
    /// @param spender The address.
    /// @param agentId The agent id.
    /// @return True when authorized.
    function isAuthorizedOrOwner(address spender, uint256 agentId) external view returns (bool) {
        return _isAuthorized(ownerOf(agentId), spender, agentId);
    }

    /// @notice The reference implementation's version this registry follows.
    /// @return "2.0.0".
    function getVersion() external pure returns (string memory) {
        return "2.0.0";
    }

    /// @notice How many agents were registered (also the highest id).
    /// @return The number of agents.
    function totalAgents() public view returns (uint256) {
        return _lastId;
    }

    // --------------------------------------------------------------------------------------- internal

    /// @dev Called before a metadata entry (never `agentWallet`) is stored; may revert.
    function _metadataWillChange(uint256 agentId, string memory key, bytes memory value) internal virtual {}

    /// @dev Called after `agentWallet` of `agentId` changed from `oldWallet` to `newWallet`.
    function _walletChanged(uint256 agentId, address oldWallet, address newWallet) internal virtual {}

    /// @dev The raw metadata entry, for extensions.
    function _metadataOf(uint256 agentId, string memory key) internal view returns (bytes memory) {
        return _metadata[agentId][key];
    }

    function _setMetadata(uint256 agentId, string memory key, bytes memory value) internal {
        if (keccak256(bytes(key)) == AGENT_WALLET_KEY_HASH) revert ReservedKey(key);
        _metadataWillChange(agentId, key, value);
        _metadata[agentId][key] = value;
        emit MetadataSet(agentId, key, key, value);
    }

    /// @dev Mints the next agent id to the caller, its `agentWallet` the caller; `withURI` sets the
    ///      agent URI (even an empty one, as the reference's `register(string)` does).
    function _registerAgent(string memory agentURI, bool withURI) internal returns (uint256 agentId) {
        agentId = ++_lastId;
        _metadata[agentId]["agentWallet"] = abi.encodePacked(msg.sender);
        _safeMint(msg.sender, agentId);
        if (withURI) _setTokenURI(agentId, agentURI);
        emit Registered(agentId, agentURI, msg.sender);
        emit MetadataSet(agentId, "agentWallet", "agentWallet", abi.encodePacked(msg.sender));
        _walletChanged(agentId, address(0), msg.sender);
    }

    function _storeWallet(uint256 agentId, address wallet) private {
        address old = getAgentWallet(agentId);
        bytes memory value = wallet == address(0) ? bytes("") : abi.encodePacked(wallet);
        _metadata[agentId]["agentWallet"] = value;
        emit MetadataSet(agentId, "agentWallet", "agentWallet", value);
        _walletChanged(agentId, old, wallet);
    }

    function _checkAuthorized(uint256 agentId) private view returns (address owner) {
        owner = ownerOf(agentId);
        if (!_isAuthorized(owner, msg.sender, agentId)) revert NotAuthorized(msg.sender, agentId);
    }

    /// @dev A transfer (not a mint or burn) clears `agentWallet`: the new owner must prove one again.
    function _update(address to, uint256 tokenId, address auth) internal virtual override returns (address) {
        address from = _ownerOf(tokenId);
        if (from != address(0) && to != address(0)) {
            _storeWallet(tokenId, address(0));
        }
        return super._update(to, tokenId, auth);
    }
}
