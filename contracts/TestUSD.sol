// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC3009} from "@openzeppelin/contracts/token/ERC20/extensions/draft-ERC3009.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

/// @title TestUSD
/// @notice A test stablecoin for the local chain that behaves like USDC for payments: ERC-20 with
///         6 decimals, EIP-2612 permit, and EIP-3009 transfer / receive / cancel authorizations
///         with random 32-byte nonces (the scheme `exact` of x402 pays with these). Both of USDC's
///         signature forms are accepted: (v, r, s) and a `bytes` signature (also ERC-1271 wallets).
///         Minted by its owner (the operator) to agents. Never deploy it as real money.
contract TestUSD is ERC20, ERC20Permit, ERC3009, Ownable {
    /// @notice Deploys the token; the deployer becomes the owner, the only minter.
    ///         EIP-712 domain: name "Test USD", version "1".
    constructor() ERC20("Test USD", "TUSD") ERC20Permit("Test USD") Ownable(msg.sender) {}

    /// @notice 6 decimals, like USDC: 1 TUSD = 1_000_000 base units.
    /// @return The number of decimals.
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice The EIP-712 domain version, as USDC exposes it (x402 reads it as `extra.version`).
    /// @return The version string, "1".
    function version() external pure returns (string memory) {
        return "1";
    }

    /// @notice Creates `amount` base units and gives them to `to`. Owner only.
    /// @param to The receiver of the new tokens.
    /// @param amount The amount in base units.
    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }

    /// @notice EIP-3009 transfer with a `bytes` signature (65-byte ECDSA or ERC-1271), as USDC v2.2.
    /// @param from The payer, who signed the authorization.
    /// @param to The payee.
    /// @param value The amount in base units.
    /// @param validAfter The time after which the authorization is valid (exclusive).
    /// @param validBefore The time before which the authorization is valid (exclusive).
    /// @param nonce A unique random 32-byte nonce.
    /// @param signature The signature of `from` over the EIP-712 TransferWithAuthorization.
    function transferWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes memory signature
    ) external {
        bytes32 hash = _hashTypedDataV4(
            keccak256(abi.encode(TRANSFER_WITH_AUTHORIZATION_TYPEHASH, from, to, value, validAfter, validBefore, nonce))
        );
        require(SignatureChecker.isValidSignatureNow(from, hash, signature), ERC3009InvalidSignature());
        _transferWithAuthorization(from, to, value, validAfter, validBefore, nonce);
    }

    /// @notice EIP-3009 receive with a `bytes` signature: only the payee `to` may submit it.
    /// @param from The payer, who signed the authorization.
    /// @param to The payee, who must be the caller.
    /// @param value The amount in base units.
    /// @param validAfter The time after which the authorization is valid (exclusive).
    /// @param validBefore The time before which the authorization is valid (exclusive).
    /// @param nonce A unique random 32-byte nonce.
    /// @param signature The signature of `from` over the EIP-712 ReceiveWithAuthorization.
    function receiveWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes memory signature
    ) external {
        bytes32 hash = _hashTypedDataV4(
            keccak256(abi.encode(RECEIVE_WITH_AUTHORIZATION_TYPEHASH, from, to, value, validAfter, validBefore, nonce))
        );
        require(SignatureChecker.isValidSignatureNow(from, hash, signature), ERC3009InvalidSignature());
        require(to == _msgSender(), ERC20InvalidReceiver(to));
        _transferWithAuthorization(from, to, value, validAfter, validBefore, nonce);
    }

    /// @notice EIP-3009 cancel with a `bytes` signature: the nonce can never be used afterwards.
    /// @param authorizer The payer whose authorization is cancelled.
    /// @param nonce The nonce to burn.
    /// @param signature The signature of `authorizer` over the EIP-712 CancelAuthorization.
    function cancelAuthorization(address authorizer, bytes32 nonce, bytes memory signature) external {
        bytes32 hash = _hashTypedDataV4(keccak256(abi.encode(CANCEL_AUTHORIZATION_TYPEHASH, authorizer, nonce)));
        require(SignatureChecker.isValidSignatureNow(authorizer, hash, signature), ERC3009InvalidSignature());
        _cancelAuthorization(authorizer, nonce);
    }
}
