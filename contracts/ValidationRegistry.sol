// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice What the validation registry reads of the identity registry.
interface IAgentOwnership {
    /// @notice Whether `spender` owns `agentId` or is approved for it (reverts for an unknown id).
    function isAuthorizedOrOwner(address spender, uint256 agentId) external view returns (bool);
}

/// @title ValidationRegistry
/// @notice ERC-8004 Validation Registry (the interface of the reference ValidationRegistry 2.0.0): the
///         owner of an agent asks a validator to check some work (`validationRequest`, committing to the
///         request's data by its hash), the validator answers 0-100 (`validationResponse`, as often as
///         it likes: progressive states by tag), and anyone reads the status and per-agent summaries.
/// @dev Non-upgradeable; custom errors instead of revert strings.
contract ValidationRegistry {
    /// @notice One request and its latest response.
    struct ValidationStatus {
        address validatorAddress;
        uint256 agentId;
        uint8 response;
        bytes32 responseHash;
        string tag;
        uint256 lastUpdate;
        bool hasResponse;
    }

    IAgentOwnership private immutable _identity;
    mapping(bytes32 requestHash => ValidationStatus) private _validations;
    mapping(uint256 agentId => bytes32[]) private _agentValidations;
    mapping(address validator => bytes32[]) private _validatorRequests;

    /// @notice ERC-8004: the owner of `agentId` asked `validatorAddress` to validate `requestHash`.
    event ValidationRequest(
        address indexed validatorAddress, uint256 indexed agentId, string requestURI, bytes32 indexed requestHash
    );
    /// @notice ERC-8004: the validator answered `requestHash`.
    event ValidationResponse(
        address indexed validatorAddress,
        uint256 indexed agentId,
        bytes32 indexed requestHash,
        uint8 response,
        string responseURI,
        bytes32 responseHash,
        string tag
    );

    /// @notice The validator is the zero address.
    error ZeroValidator();
    /// @notice A request with this hash exists already.
    error RequestExists(bytes32 requestHash);
    /// @notice The caller neither owns the agent nor is approved for it.
    error NotAuthorized(address caller, uint256 agentId);
    /// @notice No request has this hash.
    error UnknownRequest(bytes32 requestHash);
    /// @notice Only the request's validator answers it.
    error NotTheValidator(address caller, address validator);
    /// @notice A response is 0-100.
    error ResponseOutOfRange(uint8 response);

    /// @param identityRegistry_ The ERC-8004 identity registry (AgentRegistry).
    constructor(address identityRegistry_) {
        _identity = IAgentOwnership(identityRegistry_);
    }

    /// @notice ERC-8004: the identity registry.
    /// @return The address.
    function getIdentityRegistry() external view returns (address) {
        return address(_identity);
    }

    /// @notice The reference version this registry follows.
    /// @return "2.0.0".
    function getVersion() external pure returns (string memory) {
        return "2.0.0";
    }

    /// @notice ERC-8004: asks `validatorAddress` to validate work of `agentId` described at `requestURI`
    ///         and committed to by `requestHash`. The agent's owner or an approved operator only.
    /// @param validatorAddress Who answers.
    /// @param agentId The agent whose work is checked.
    /// @param requestURI Where the inputs and outputs to check are.
    /// @param requestHash keccak256 of the request data; identifies the request.
    function validationRequest(
        address validatorAddress,
        uint256 agentId,
        string calldata requestURI,
        bytes32 requestHash
    ) external {
        if (validatorAddress == address(0)) revert ZeroValidator();
        if (_validations[requestHash].validatorAddress != address(0)) revert RequestExists(requestHash);
        if (!_identity.isAuthorizedOrOwner(msg.sender, agentId)) revert NotAuthorized(msg.sender, agentId);
        ValidationStatus storage s = _validations[requestHash];
        s.validatorAddress = validatorAddress;
        s.agentId = agentId;
        s.lastUpdate = block.timestamp;
        _agentValidations[agentId].push(requestHash);
        _validatorRequests[validatorAddress].push(requestHash);
        emit ValidationRequest(validatorAddress, agentId, requestURI, requestHash);
    }

    /// @notice ERC-8004: the request's validator answers (0 failed … 100 passed); may be called again.
    /// @param requestHash The request.
    /// @param response 0-100.
    /// @param responseURI Optional evidence.
    /// @param responseHash Optional keccak256 of the evidence.
    /// @param tag Optional category (e.g. soft or hard finality).
    function validationResponse(
        bytes32 requestHash,
        uint8 response,
        string calldata responseURI,
        bytes32 responseHash,
        string calldata tag
    ) external {
        ValidationStatus storage s = _validations[requestHash];
        if (s.validatorAddress == address(0)) revert UnknownRequest(requestHash);
        if (msg.sender != s.validatorAddress) revert NotTheValidator(msg.sender, s.validatorAddress);
        if (response > 100) revert ResponseOutOfRange(response);
        s.response = response;
        s.responseHash = responseHash;
        s.tag = tag;
        s.lastUpdate = block.timestamp;
        s.hasResponse = true;
        emit ValidationResponse(s.validatorAddress, s.agentId, requestHash, response, responseURI, responseHash, tag);
    }

    /// @notice ERC-8004: a request's status.
    /// @param requestHash The request.
    /// @return validatorAddress Its validator.
    /// @return agentId Its agent.
    /// @return response The latest response (0 before any).
    /// @return responseHash The latest response's hash.
    /// @return tag The latest response's tag.
    /// @return lastUpdate When it last changed.
    function getValidationStatus(bytes32 requestHash)
        external
        view
        returns (
            address validatorAddress,
            uint256 agentId,
            uint8 response,
            bytes32 responseHash,
            string memory tag,
            uint256 lastUpdate
        )
    {
        ValidationStatus storage s = _validations[requestHash];
        if (s.validatorAddress == address(0)) revert UnknownRequest(requestHash);
        return (s.validatorAddress, s.agentId, s.response, s.responseHash, s.tag, s.lastUpdate);
    }

    /// @notice ERC-8004: count and average of the answered requests of `agentId`, filtered by validators
    ///         (empty = any) and tag ("" = any).
    /// @param agentId The agent.
    /// @param validatorAddresses The validators to count (empty = all).
    /// @param tag The tag ("" = any).
    /// @return count How many answered requests matched.
    /// @return avgResponse Their average response.
    function getSummary(uint256 agentId, address[] calldata validatorAddresses, string calldata tag)
        external
        view
        returns (uint64 count, uint8 avgResponse)
    {
        bytes32 tagHash = bytes(tag).length == 0 ? bytes32(0) : keccak256(bytes(tag));
        bytes32[] storage hashes = _agentValidations[agentId];
        uint256 total;
        for (uint256 i = 0; i < hashes.length; ++i) {
            ValidationStatus storage s = _validations[hashes[i]];
            if (!s.hasResponse || !_listed(s.validatorAddress, validatorAddresses)) continue;
            if (tagHash != bytes32(0) && keccak256(bytes(s.tag)) != tagHash) continue;
            total += s.response;
            count += 1;
        }
        avgResponse = count > 0 ? uint8(total / count) : 0;
    }

    /// @notice ERC-8004: the requests about `agentId`.
    /// @param agentId The agent.
    /// @return requestHashes The request hashes.
    function getAgentValidations(uint256 agentId) external view returns (bytes32[] memory requestHashes) {
        return _agentValidations[agentId];
    }

    /// @notice ERC-8004: the requests addressed to `validatorAddress`.
    /// @param validatorAddress The validator.
    /// @return requestHashes The request hashes.
    function getValidatorRequests(address validatorAddress) external view returns (bytes32[] memory requestHashes) {
        return _validatorRequests[validatorAddress];
    }

    function _listed(address who, address[] calldata list) private pure returns (bool) {
        if (list.length == 0) return true;
        for (uint256 j = 0; j < list.length; ++j) {
            if (list[j] == who) return true;
        }
        return false;
    }
}
