// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title TestUSD
/// @notice A test stablecoin for the local chain: ERC-20 with EIP-2612 permit, 6 decimals,
///         minted by its owner (the operator) to agents. Never deploy it as real money.
contract TestUSD is ERC20, ERC20Permit, Ownable {
    /// @notice Deploys the token; the deployer becomes the owner, the only minter.
    constructor() ERC20("Test USD", "TUSD") ERC20Permit("Test USD") Ownable(msg.sender) {}

    /// @notice 6 decimals, like USDC: 1 TUSD = 1_000_000 base units.
    /// @return The number of decimals.
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice Creates `amount` base units and gives them to `to`. Owner only.
    /// @param to The receiver of the new tokens.
    /// @param amount The amount in base units.
    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }
}
