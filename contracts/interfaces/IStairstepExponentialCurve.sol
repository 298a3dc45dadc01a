// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IAuctionCurve} from "./IAuctionCurve.sol";

/// @notice price = top * cut^floor(elapsed / step): the price is multiplied by `cut` every `step` seconds
///         and holds still in between.
/// @dev Units: [ray] 27-decimal fixed point, [seconds]. Shared errors (contracts/interfaces/Errors.sol):
///      ZeroAddress (the admin must be a real address), UnknownParameter (`file` was called with a name that is
///      not a parameter of this curve).
interface IStairstepExponentialCurve is IAuctionCurve {
    /// @notice The parameter `what` was set to `data` (unit as documented on the parameter).
    event ParameterSet(bytes32 indexed what, uint256 data);

    /// @notice `cut` must be positive: a zero factor would give the collateral away after one step.
    error CutIsZero();
    /// @notice `cut` must be at most one (RAY): the price may never rise.
    error CutAboveOne(uint256 cut);
    /// @notice `step` must be positive: it divides `elapsed`.
    error StepIsZero();

    /// @notice Factor applied to the price at each step [ray], in (0, RAY].
    function cut() external view returns (uint256);

    /// @notice Length of one step [seconds], > 0.
    function step() external view returns (uint256);

    /// @notice The price [wad] `elapsed` [seconds] after a start at `top` [wad]: top * cut^floor(elapsed / step),
    ///         the power and the product each rounded down.
    function price(uint256 top, uint256 elapsed) external view override returns (uint256);

    /// @notice Sets a parameter: "cut" [ray] in (0, RAY], "step" [seconds] > 0. Only DEFAULT_ADMIN_ROLE. Takes
    ///         effect at once, also for running auctions.
    function file(bytes32 what, uint256 data) external;
}
