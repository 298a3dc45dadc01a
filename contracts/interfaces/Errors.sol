// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

// The errors that several Backstop contracts revert with, each declared once. A contract's own errors live in
// its interface (contracts/interfaces/I<Contract>.sol); an error moves here when a second contract needs the
// same rule with the same arguments. Every contract that reverts with one of these lists it in its ABI.

/// @notice An amount that must be positive was zero (for a deposit into the fund: what actually arrived).
error ZeroAmount();

/// @notice An address that must be set (a recipient, an admin, a token) was the zero address.
error ZeroAddress();

/// @notice `market` is not a market of the reverting contract (never listed, registered or configured there;
///         for the fund, where a pool is expected, not GLOBAL either).
error UnknownMarket(bytes32 market);

/// @notice `what` names no parameter of the reverting contract's `file`.
error UnknownParameter(bytes32 what);

/// @notice `data` is outside the allowed range of parameter `what`.
error InvalidParameter(bytes32 what, uint256 data);
