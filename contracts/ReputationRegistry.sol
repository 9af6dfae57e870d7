// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {DealEscrow} from "./DealEscrow.sol";

/// @notice What the reputation registry reads of the identity registry.
interface IAgentIdentity {
    /// @notice Whether `spender` owns `agentId` or is approved for it (reverts for an unknown id).
    function isAuthorizedOrOwner(address spender, uint256 agentId) external view returns (bool);
    /// @notice The wallet where `agentId` is paid.
    function getAgentWallet(uint256 agentId) external view returns (address);
}

/// @title ReputationRegistry
/// @notice ERC-8004 Reputation Registry (the interface of the reference ReputationRegistry 2.0.0:
///         `giveFeedback(agentId, int128 value, uint8 valueDecimals, tag1, tag2, endpoint, feedbackURI,
///         feedbackHash)`, `revokeFeedback`, `appendResponse`, `getSummary`, `readFeedback`,
///         `readAllFeedback`, `getResponseCount`, `getClients`, `getLastIndex`) with one rule on top:
///         feedback is accepted only from a client that paid the agent in a settled deal, at most once
///         per deal. A deal counts once DealEscrow released it to the agent's `agentWallet`:
///         `recordSettledDeal(agentId, deal)` (anyone may call; the credit goes to the deal's buyer)
///         checks that on-chain and gives the buyer one feedback to give; `giveFeedback` spends it.
/// @dev Non-upgradeable; custom errors instead of revert strings. `getSummary` with no client list
///      summarises every client: all feedback here is payment-grounded, which is the reason the
///      reference requires the list (Sybil feedback).
contract ReputationRegistry {
    /// @notice One stored feedback.
    struct Feedback {
        int128 value;
        uint8 valueDecimals;
        bool isRevoked;
        string tag1;
        string tag2;
    }

    int128 private constant MAX_ABS_VALUE = 1e38;

    IAgentIdentity private immutable _identity;
    /// @notice The escrow whose releases count as payment.
    DealEscrow public immutable escrow;

    mapping(uint256 agentId => mapping(address client => mapping(uint64 index => Feedback))) private _feedback;
    mapping(uint256 agentId => mapping(address client => uint64)) private _lastIndex;
    mapping(uint256 agentId => mapping(address client => mapping(uint64 index => bytes32 dealId))) private
        _feedbackDeal;
    mapping(uint256 agentId => mapping(address client => bytes32[] dealIds)) private _unrated;
    mapping(bytes32 dealId => bool) private _recorded;
    mapping(uint256 agentId => uint64) private _settledDeals;
    mapping(uint256 agentId => address[]) private _clients;
    mapping(uint256 agentId => mapping(address client => bool)) private _isClient;
    mapping(uint256 agentId => mapping(address client => mapping(uint64 index => mapping(address responder => uint64))))
        private _responseCount;
    mapping(uint256 agentId => mapping(address client => mapping(uint64 index => address[]))) private _responders;

    /// @notice ERC-8004: feedback `feedbackIndex` of `clientAddress` on `agentId`.
    event NewFeedback(
        uint256 indexed agentId,
        address indexed clientAddress,
        uint64 feedbackIndex,
        int128 value,
        uint8 valueDecimals,
        string indexed indexedTag1,
        string tag1,
        string tag2,
        string endpoint,
        string feedbackURI,
        bytes32 feedbackHash
    );
    /// @notice ERC-8004: the client revoked its feedback.
    event FeedbackRevoked(uint256 indexed agentId, address indexed clientAddress, uint64 indexed feedbackIndex);
    /// @notice ERC-8004: `responder` answered a feedback.
    event ResponseAppended(
        uint256 indexed agentId,
        address indexed clientAddress,
        uint64 feedbackIndex,
        address indexed responder,
        string responseURI,
        bytes32 responseHash
    );
    /// @notice Released deal `dealId` lets `client` give one feedback on `agentId`.
    event SettledDealRecorded(uint256 indexed agentId, address indexed client, bytes32 indexed dealId);
    /// @notice Feedback `feedbackIndex` of `client` on `agentId` is the one deal `dealId` allowed.
    event FeedbackForDeal(
        uint256 indexed agentId, address indexed client, uint64 feedbackIndex, bytes32 indexed dealId
    );

    /// @notice valueDecimals is over 18.
    error TooManyDecimals(uint8 valueDecimals);
    /// @notice |value| is over 1e38.
    error ValueTooLarge(int128 value);
    /// @notice The agent's owner or an approved operator cannot rate it.
    error SelfFeedback(address client, uint256 agentId);
    /// @notice `client` has no released deal with `agentId` left to rate.
    error NoSettledDeal(address client, uint256 agentId);
    /// @notice The deal is not released (never opened, still open, or refunded).
    error DealNotReleased(bytes32 dealId);
    /// @notice The deal's seller is not the agent's wallet.
    error NotTheAgentsDeal(bytes32 dealId, uint256 agentId);
    /// @notice The deal was recorded before (it allows one feedback).
    error DealAlreadyRecorded(bytes32 dealId);
    /// @notice Feedback indexes start at 1 and end at `getLastIndex`.
    error BadIndex(uint64 feedbackIndex);
    /// @notice The feedback is revoked already.
    error AlreadyRevoked(uint64 feedbackIndex);
    /// @notice A response needs a URI.
    error EmptyURI();

    /// @param identityRegistry_ The ERC-8004 identity registry (AgentRegistry).
    /// @param escrow_ The DealEscrow whose releases count as payment.
    constructor(address identityRegistry_, address escrow_) {
        _identity = IAgentIdentity(identityRegistry_);
        escrow = DealEscrow(escrow_);
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

    // ---------------------------------------------------------------------------------- payment rule

    /// @notice Records that `d` was released to `agentId`'s wallet: its buyer may then rate `agentId`
    ///         once. Anyone may call; each deal counts once.
    /// @param agentId The agent that sold.
    /// @param d The deal, as opened in the escrow.
    /// @return id The deal id.
    function recordSettledDeal(uint256 agentId, DealEscrow.Deal calldata d) external returns (bytes32 id) {
        id = escrow.dealId(d);
        if (escrow.stateOf(id) != DealEscrow.State.Released) revert DealNotReleased(id);
        if (d.seller != _identity.getAgentWallet(agentId)) revert NotTheAgentsDeal(id, agentId);
        if (_recorded[id]) revert DealAlreadyRecorded(id);
        _recorded[id] = true;
        _settledDeals[agentId] += 1;
        _unrated[agentId][d.buyer].push(id);
        emit SettledDealRecorded(agentId, d.buyer, id);
    }

    /// @notice Whether deal `dealId` was recorded.
    /// @param dealId The deal id.
    /// @return True when recorded.
    function isDealRecorded(bytes32 dealId) external view returns (bool) {
        return _recorded[dealId];
    }

    /// @notice How many released deals of `agentId` as seller are on record (each counted once).
    /// @param agentId The agent id.
    /// @return The number of recorded deals.
    function settledDeals(uint256 agentId) external view returns (uint64) {
        return _settledDeals[agentId];
    }

    /// @notice How many recorded deals `client` may still rate `agentId` for.
    /// @param agentId The agent id.
    /// @param client The client.
    /// @return The number of unrated deals.
    function unratedDeals(uint256 agentId, address client) external view returns (uint256) {
        return _unrated[agentId][client].length;
    }

    /// @notice The deal that allowed feedback `feedbackIndex` of `client` on `agentId`.
    /// @param agentId The agent id.
    /// @param client The client.
    /// @param feedbackIndex The feedback index.
    /// @return The deal id (zero for no such feedback).
    function feedbackDeal(uint256 agentId, address client, uint64 feedbackIndex) external view returns (bytes32) {
        return _feedbackDeal[agentId][client][feedbackIndex];
    }

    // -------------------------------------------------------------------------------------- feedback

    /// @notice ERC-8004: rates `agentId`; spends one of the caller's recorded, unrated deals with it.
    ///         Parameters, in order: agentId, value (signed fixed point), valueDecimals (0-18), tag1,
    ///         tag2 (optional tags), endpoint, feedbackURI, feedbackHash (optional, emitted only).
    /// @dev The parameters are read again from msg.data as memory values: without via-IR the eight
    ///      parameters (four calldata strings) and the eleven-field event do not fit the stack at once.
    function giveFeedback(
        uint256,
        int128,
        uint8,
        string calldata,
        string calldata,
        string calldata,
        string calldata,
        bytes32
    ) external {
        (
            uint256 agentId,
            int128 value,
            uint8 valueDecimals,
            string memory tag1,
            string memory tag2,
            string memory endpoint,
            string memory feedbackURI,
            bytes32 feedbackHash
        ) = abi.decode(msg.data[4:], (uint256, int128, uint8, string, string, string, string, bytes32));
        uint64 index = _store(agentId, value, valueDecimals, tag1, tag2);
        emit NewFeedback(
            agentId, msg.sender, index, value, valueDecimals, tag1, tag1, tag2, endpoint, feedbackURI, feedbackHash
        );
    }

    /// @notice ERC-8004: the caller withdraws its feedback `feedbackIndex` on `agentId`.
    /// @param agentId The agent id.
    /// @param feedbackIndex The index.
    function revokeFeedback(uint256 agentId, uint64 feedbackIndex) external {
        if (feedbackIndex == 0 || feedbackIndex > _lastIndex[agentId][msg.sender]) revert BadIndex(feedbackIndex);
        Feedback storage f = _feedback[agentId][msg.sender][feedbackIndex];
        if (f.isRevoked) revert AlreadyRevoked(feedbackIndex);
        f.isRevoked = true;
        emit FeedbackRevoked(agentId, msg.sender, feedbackIndex);
    }

    /// @notice ERC-8004: anyone appends a response to a feedback (say the agent showing a refund).
    /// @param agentId The agent id.
    /// @param clientAddress Who gave the feedback.
    /// @param feedbackIndex Its index.
    /// @param responseURI The response (required).
    /// @param responseHash keccak256 of the response (optional).
    function appendResponse(
        uint256 agentId,
        address clientAddress,
        uint64 feedbackIndex,
        string calldata responseURI,
        bytes32 responseHash
    ) external {
        if (feedbackIndex == 0 || feedbackIndex > _lastIndex[agentId][clientAddress]) revert BadIndex(feedbackIndex);
        if (bytes(responseURI).length == 0) revert EmptyURI();
        mapping(address => uint64) storage counts = _responseCount[agentId][clientAddress][feedbackIndex];
        if (counts[msg.sender] == 0) _responders[agentId][clientAddress][feedbackIndex].push(msg.sender);
        counts[msg.sender] += 1;
        emit ResponseAppended(agentId, clientAddress, feedbackIndex, msg.sender, responseURI, responseHash);
    }

    // ----------------------------------------------------------------------------------------- reads

    /// @notice ERC-8004: how many feedbacks `clientAddress` gave `agentId`.
    /// @param agentId The agent id.
    /// @param clientAddress The client.
    /// @return The last index (0 = none).
    function getLastIndex(uint256 agentId, address clientAddress) external view returns (uint64) {
        return _lastIndex[agentId][clientAddress];
    }

    /// @notice ERC-8004: the clients that rated `agentId`.
    /// @param agentId The agent id.
    /// @return The clients.
    function getClients(uint256 agentId) external view returns (address[] memory) {
        return _clients[agentId];
    }

    /// @notice ERC-8004: one feedback.
    /// @param agentId The agent id.
    /// @param clientAddress The client.
    /// @param feedbackIndex The index (1-based).
    /// @return value The value.
    /// @return valueDecimals Its decimals.
    /// @return tag1 The first tag.
    /// @return tag2 The second tag.
    /// @return isRevoked Whether it was revoked.
    function readFeedback(uint256 agentId, address clientAddress, uint64 feedbackIndex)
        external
        view
        returns (int128 value, uint8 valueDecimals, string memory tag1, string memory tag2, bool isRevoked)
    {
        if (feedbackIndex == 0 || feedbackIndex > _lastIndex[agentId][clientAddress]) revert BadIndex(feedbackIndex);
        Feedback storage f = _feedback[agentId][clientAddress][feedbackIndex];
        return (f.value, f.valueDecimals, f.tag1, f.tag2, f.isRevoked);
    }

    /// @notice ERC-8004: the average of the unrevoked feedback of `clientAddresses` (every client when
    ///         empty) on `agentId`, filtered by tags ("" = any), at the most common decimals.
    /// @param agentId The agent id.
    /// @param clientAddresses The clients to count (empty = all).
    /// @param tag1 Filter on tag1 ("" = any).
    /// @param tag2 Filter on tag2 ("" = any).
    /// @return count How many feedbacks were averaged.
    /// @return summaryValue The average.
    /// @return summaryValueDecimals Its decimals.
    function getSummary(uint256 agentId, address[] calldata clientAddresses, string calldata tag1, string calldata tag2)
        external
        view
        returns (uint64 count, int128 summaryValue, uint8 summaryValueDecimals)
    {
        return _summarise(agentId, _clientsOr(agentId, clientAddresses), _tagHash(tag1), _tagHash(tag2));
    }

    /// @notice ERC-8004: every matching feedback (clients empty = all; revoked ones only when asked).
    ///         Parameters: agentId, clientAddresses (empty = all), tag1, tag2 ("" = any),
    ///         includeRevoked. Returns, per feedback: clients, feedbackIndexes, values, valueDecimals,
    ///         tag1s, tag2s, revokedStatuses.
    /// @dev Answered by `_answerAllFeedback`, which reads the parameters from msg.data and returns
    ///      directly: eight parameters and seven arrays do not fit the stack at once without via-IR.
    function readAllFeedback(uint256, address[] calldata, string calldata, string calldata, bool)
        external
        view
        returns (
            address[] memory,
            uint64[] memory,
            int128[] memory,
            uint8[] memory,
            string[] memory,
            string[] memory,
            bool[] memory
        )
    {
        _answerAllFeedback();
    }

    /// @notice ERC-8004: how many responses a feedback (or all of a client's, index 0; or all of the
    ///         agent's, client zero) got, from `responders` (empty = anyone).
    /// @param agentId The agent id.
    /// @param clientAddress The client (zero = every client).
    /// @param feedbackIndex The index (0 = every index).
    /// @param responders The responders to count (empty = all).
    /// @return count The number of responses.
    function getResponseCount(
        uint256 agentId,
        address clientAddress,
        uint64 feedbackIndex,
        address[] calldata responders
    ) external view returns (uint64 count) {
        address[] memory clients = _clients[agentId];
        if (clientAddress != address(0)) {
            clients = new address[](1);
            clients[0] = clientAddress;
        }
        for (uint256 i = 0; i < clients.length; ++i) {
            uint64 last = _lastIndex[agentId][clients[i]];
            (uint64 from, uint64 to) = feedbackIndex == 0 ? (1, last) : (feedbackIndex, feedbackIndex);
            for (uint64 j = from; j <= to; ++j) {
                count += _responses(agentId, clients[i], j, responders);
            }
        }
    }

    // -------------------------------------------------------------------------------------- internal

    function _store(uint256 agentId, int128 value, uint8 valueDecimals, string memory tag1, string memory tag2)
        private
        returns (uint64 index)
    {
        if (valueDecimals > 18) revert TooManyDecimals(valueDecimals);
        if (value > MAX_ABS_VALUE || value < -MAX_ABS_VALUE) revert ValueTooLarge(value);
        if (_identity.isAuthorizedOrOwner(msg.sender, agentId)) revert SelfFeedback(msg.sender, agentId);
        bytes32[] storage unrated = _unrated[agentId][msg.sender];
        if (unrated.length == 0) revert NoSettledDeal(msg.sender, agentId);
        bytes32 dealId = unrated[unrated.length - 1];
        unrated.pop();
        index = ++_lastIndex[agentId][msg.sender];
        _feedback[agentId][msg.sender][index] = Feedback(value, valueDecimals, false, tag1, tag2);
        _feedbackDeal[agentId][msg.sender][index] = dealId;
        if (!_isClient[agentId][msg.sender]) {
            _isClient[agentId][msg.sender] = true;
            _clients[agentId].push(msg.sender);
        }
        emit FeedbackForDeal(agentId, msg.sender, index, dealId);
    }

    function _answerAllFeedback() private view {
        (uint256 agentId, address[] memory given, string memory tag1, string memory tag2, bool includeRevoked) =
            abi.decode(msg.data[4:], (uint256, address[], string, string, bool));
        address[] memory from = given.length > 0 ? given : _clients[agentId];
        (address[] memory clients, uint64[] memory indexes, Feedback[] memory found) =
            _matching(agentId, from, _memTagHash(tag1), _memTagHash(tag2), includeRevoked);
        bytes memory out = _encodeFound(clients, indexes, found);
        assembly ("memory-safe") {
            return(add(out, 32), mload(out))
        }
    }

    function _encodeFound(address[] memory clients, uint64[] memory indexes, Feedback[] memory found)
        private
        pure
        returns (bytes memory)
    {
        uint256 n = found.length;
        int128[] memory values = new int128[](n);
        uint8[] memory decimals = new uint8[](n);
        string[] memory tag1s = new string[](n);
        string[] memory tag2s = new string[](n);
        bool[] memory revoked = new bool[](n);
        for (uint256 i = 0; i < n; ++i) {
            (values[i], decimals[i], tag1s[i], tag2s[i], revoked[i]) =
                (found[i].value, found[i].valueDecimals, found[i].tag1, found[i].tag2, found[i].isRevoked);
        }
        return abi.encode(clients, indexes, values, decimals, tag1s, tag2s, revoked);
    }

    function _memTagHash(string memory tag) private pure returns (bytes32) {
        return bytes(tag).length == 0 ? bytes32(0) : keccak256(bytes(tag));
    }

    function _summarise(uint256 agentId, address[] memory clients, bytes32 t1, bytes32 t2)
        private
        view
        returns (uint64 count, int128 summaryValue, uint8 summaryValueDecimals)
    {
        int256 sum;
        uint64[19] memory perDecimals;
        for (uint256 i = 0; i < clients.length; ++i) {
            mapping(uint64 => Feedback) storage given = _feedback[agentId][clients[i]];
            uint64 last = _lastIndex[agentId][clients[i]];
            for (uint64 j = 1; j <= last; ++j) {
                Feedback storage f = given[j];
                if (f.isRevoked || !_tagsMatch(f, t1, t2)) continue;
                sum += int256(f.value) * int256(10 ** uint256(18 - f.valueDecimals));
                perDecimals[f.valueDecimals] += 1;
                count += 1;
            }
        }
        if (count == 0) return (0, 0, 0);
        uint64 most;
        for (uint8 d = 0; d <= 18; ++d) {
            if (perDecimals[d] > most) (most, summaryValueDecimals) = (perDecimals[d], d);
        }
        summaryValue = int128((sum / int256(uint256(count))) / int256(10 ** uint256(18 - summaryValueDecimals)));
    }

    function _matching(uint256 agentId, address[] memory from, bytes32 t1, bytes32 t2, bool includeRevoked)
        private
        view
        returns (address[] memory clients, uint64[] memory indexes, Feedback[] memory found)
    {
        uint256 n;
        for (uint256 pass = 0; pass < 2; ++pass) {
            if (pass == 1) {
                (clients, indexes, found) = (new address[](n), new uint64[](n), new Feedback[](n));
                n = 0;
            }
            for (uint256 i = 0; i < from.length; ++i) {
                uint64 last = _lastIndex[agentId][from[i]];
                for (uint64 j = 1; j <= last; ++j) {
                    Feedback storage f = _feedback[agentId][from[i]][j];
                    if ((f.isRevoked && !includeRevoked) || !_tagsMatch(f, t1, t2)) continue;
                    if (pass == 1) (clients[n], indexes[n], found[n]) = (from[i], j, f);
                    ++n;
                }
            }
        }
    }

    function _responses(uint256 agentId, address client, uint64 index, address[] calldata responders)
        private
        view
        returns (uint64 count)
    {
        mapping(address => uint64) storage counts = _responseCount[agentId][client][index];
        if (responders.length == 0) {
            address[] storage all = _responders[agentId][client][index];
            for (uint256 k = 0; k < all.length; ++k) {
                count += counts[all[k]];
            }
        } else {
            for (uint256 k = 0; k < responders.length; ++k) {
                count += counts[responders[k]];
            }
        }
    }

    function _clientsOr(uint256 agentId, address[] calldata given) private view returns (address[] memory) {
        if (given.length > 0) return given;
        return _clients[agentId];
    }

    function _tagHash(string calldata tag) private pure returns (bytes32) {
        return bytes(tag).length == 0 ? bytes32(0) : keccak256(bytes(tag));
    }

    function _tagsMatch(Feedback storage f, bytes32 t1, bytes32 t2) private view returns (bool) {
        return (t1 == bytes32(0) || t1 == keccak256(bytes(f.tag1))) && (t2 == bytes32(0) || t2 == keccak256(bytes(f.tag2)));
    }
}
