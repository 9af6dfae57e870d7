// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

/// @notice The part of AgentRegistry the escrow reads: the operator's kill switch.
interface IAgentPauseRegistry {
    /// @notice Whether the operator paused `wallet`.
    function isPaused(address wallet) external view returns (bool);
}

/// @title DealEscrow
/// @notice Escrow for deals between two agents. A deal opens only with EIP-712 signatures of both the
///         buyer and the seller over the `Deal`; the buyer's tokens are pulled into escrow, then paid
///         to the seller on `release` (by the buyer or the arbiter), or back to the buyer on `refund`
///         after the deadline (by anyone) or on `cancel` at any time (by the seller or the arbiter).
/// @dev Only the state per deal id is stored; every call passes the full `Deal` again and its id is
///      recomputed. State changes precede token transfers (checks-effects-interactions), so no
///      reentrancy guard is needed: a re-entered call sees the new state.
contract DealEscrow is EIP712 {
    using SafeERC20 for IERC20;

    /// @notice The deal both parties sign (EIP-712 primary type `Deal`).
    struct Deal {
        address buyer;
        address seller;
        address token;
        uint256 amount;
        bytes32 termsHash;
        uint64 deadline;
        uint256 nonce;
    }

    /// @notice Lifecycle of a deal id. `None` = never opened.
    enum State {
        None,
        Open,
        Released,
        Refunded
    }

    /// @notice EIP-712 typehash of `Deal`.
    bytes32 public constant DEAL_TYPEHASH = keccak256(
        "Deal(address buyer,address seller,address token,uint256 amount,bytes32 termsHash,uint64 deadline,uint256 nonce)"
    );

    /// @notice The AgentRegistry whose pause flags are honoured.
    IAgentPauseRegistry public immutable registry;
    /// @notice The address that may release a deal besides its buyer.
    address public immutable arbiter;

    mapping(bytes32 id => State) private _state;

    /// @notice A deal was opened and `amount` of `token` moved from the buyer into escrow.
    event DealOpened(
        bytes32 indexed id,
        address indexed buyer,
        address indexed seller,
        address token,
        uint256 amount,
        uint64 deadline
    );
    /// @notice The escrowed amount of deal `id` was paid to the seller.
    event DealReleased(bytes32 indexed id);
    /// @notice The escrowed amount of deal `id` was paid back to the buyer.
    event DealRefunded(bytes32 indexed id);
    /// @notice The escrowed amount of deal `id` was paid back to the buyer before the deadline was
    ///         needed: `by` (the seller or the arbiter) gave up the deal.
    event DealCancelled(bytes32 indexed id, address indexed by);

    /// @notice The deal's amount is zero.
    error ZeroAmount();
    /// @notice The deal's deadline is not in the future.
    error DealExpired();
    /// @notice A signature is malformed or not by `expected`.
    error BadSignature(address expected);
    /// @notice A deal with this id was opened before (a replay), whatever its state now.
    error DealExists();
    /// @notice `wallet` is paused in the registry.
    error AgentPaused(address wallet);
    /// @notice The caller is not the party (or the arbiter) the call is reserved to.
    error NotAuthorized();
    /// @notice The deal is not open (never opened, released or refunded).
    error NotOpen();
    /// @notice The deal's deadline has not passed yet.
    error TooEarly();

    /// @notice Deploys the escrow.
    /// @param registry_ The AgentRegistry to read pause flags from.
    /// @param arbiter_ The address that may release deals besides their buyers.
    constructor(address registry_, address arbiter_) EIP712("SovaDealEscrow", "1") {
        registry = IAgentPauseRegistry(registry_);
        arbiter = arbiter_;
    }

    /// @notice The id of `d`: its EIP-712 digest under this contract's domain.
    /// @param d The deal.
    /// @return The digest both parties sign.
    function dealId(Deal calldata d) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(DEAL_TYPEHASH, d)));
    }

    /// @notice The state of deal `id`.
    /// @param id The deal id.
    /// @return The state (`None` when never opened).
    function stateOf(bytes32 id) external view returns (State) {
        return _state[id];
    }

    /// @notice Opens `d` with both parties' signatures and pulls `d.amount` of `d.token` from the buyer
    ///         (who must have approved this contract). Anyone may submit it.
    /// @param d The deal.
    /// @param buyerSig The buyer's EIP-712 signature over `d` (65 bytes).
    /// @param sellerSig The seller's EIP-712 signature over `d` (65 bytes).
    /// @return id The deal id.
    function open(Deal calldata d, bytes calldata buyerSig, bytes calldata sellerSig)
        external
        returns (bytes32 id)
    {
        if (d.amount == 0) revert ZeroAmount();
        if (d.deadline <= block.timestamp) revert DealExpired();
        id = dealId(d);
        _checkSigner(id, buyerSig, d.buyer);
        _checkSigner(id, sellerSig, d.seller);
        if (_state[id] != State.None) revert DealExists();
        if (registry.isPaused(d.buyer)) revert AgentPaused(d.buyer);
        if (registry.isPaused(d.seller)) revert AgentPaused(d.seller);
        _state[id] = State.Open;
        emit DealOpened(id, d.buyer, d.seller, d.token, d.amount, d.deadline);
        IERC20(d.token).safeTransferFrom(d.buyer, address(this), d.amount);
    }

    /// @notice Pays the escrowed amount of `d` to the seller. Only the buyer or the arbiter.
    /// @param d The deal, as opened.
    function release(Deal calldata d) external {
        if (msg.sender != d.buyer && msg.sender != arbiter) revert NotAuthorized();
        bytes32 id = dealId(d);
        if (_state[id] != State.Open) revert NotOpen();
        _state[id] = State.Released;
        emit DealReleased(id);
        IERC20(d.token).safeTransfer(d.seller, d.amount);
    }

    /// @notice Pays the escrowed amount of `d` back to the buyer once its deadline has passed. Anyone.
    /// @param d The deal, as opened.
    function refund(Deal calldata d) external {
        if (block.timestamp <= d.deadline) revert TooEarly();
        bytes32 id = dealId(d);
        if (_state[id] != State.Open) revert NotOpen();
        _state[id] = State.Refunded;
        emit DealRefunded(id);
        IERC20(d.token).safeTransfer(d.buyer, d.amount);
    }

    /// @notice Pays the escrowed amount of `d` back to the buyer at once, whatever the deadline: the
    ///         seller gives the deal up (say its work failed). Only the seller or the arbiter.
    /// @dev Pause flags are not read, as in `release` and `refund`: the kill switch stops new deals
    ///      (`open`), and a refund only sends the money back where it came from, so a paused seller
    ///      may still cancel and a paused buyer still gets its money back.
    /// @param d The deal, as opened.
    function cancel(Deal calldata d) external {
        if (msg.sender != d.seller && msg.sender != arbiter) revert NotAuthorized();
        bytes32 id = dealId(d);
        if (_state[id] != State.Open) revert NotOpen();
        _state[id] = State.Refunded;
        emit DealCancelled(id, msg.sender);
        IERC20(d.token).safeTransfer(d.buyer, d.amount);
    }

    function _checkSigner(bytes32 digest, bytes calldata sig, address expected) private pure {
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(digest, sig);
        if (err != ECDSA.RecoverError.NoError || signer != expected) revert BadSignature(expected);
    }
}
