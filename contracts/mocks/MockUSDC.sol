// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

// A test token, not part of the protocol's API: not behind an interface.
// solhint-disable comprehensive-interface

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title MockUSDC
/// @notice A 6-decimal stand-in for USDC, for tests and local replays ONLY. Minting is restricted to
///         MINTER_ROLE. Deployments on a real chain pass the address of the real USDC instead.
contract MockUSDC is ERC20, AccessControl {
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    constructor(address admin) ERC20("USD Coin (Backstop mock)", "USDC") {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(MINTER_ROLE, admin);
    }

    /// @notice USDC has 6 decimals; so does this mock.
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice Creates `amount` [usdc, 6 decimals] for `to`. Only MINTER_ROLE.
    function mint(address to, uint256 amount) external onlyRole(MINTER_ROLE) {
        _mint(to, amount);
    }
}
