// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IAuctionCurve} from "./IAuctionCurve.sol";

/// @notice price = top * (1 - elapsed / tau): a straight line from `top` to 0 in `tau` seconds, then 0.
/// @dev Shared errors (contracts/interfaces/Errors.sol): ZeroAddress (the admin must be a real address),
///      UnknownParameter (`file` was called with a name that is not a parameter of this curve).
interface ILinearCurve is IAuctionCurve {
    /// @notice The parameter `what` was set to `data` (unit as documented on the parameter).
    event ParameterSet(bytes32 indexed what, uint256 data);

    /// @notice `tau` must be positive: a zero-length auction has no price to discover.
    error TauIsZero();

    /// @notice Time for the price to fall from `top` to 0 [seconds].
    function tau() external view returns (uint256);

    /// @notice The price [wad] `elapsed` [seconds] after a start at `top` [wad]: top * (tau - elapsed) / tau,
    ///         rounded down, and 0 once elapsed >= tau.
    function price(uint256 top, uint256 elapsed) external view override returns (uint256);

    /// @notice Sets a parameter: "tau" [seconds], > 0. Only DEFAULT_ADMIN_ROLE. Takes effect at once, also for
    ///         running auctions (they read the curve on every call).
    function file(bytes32 what, uint256 data) external;
}
