// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

import {IAuctionCurve} from "../interfaces/IAuctionCurve.sol";
import {CurveMath} from "../libraries/CurveMath.sol";

/// @title LinearCurve
/// @notice price = top * (1 - elapsed / tau): a straight line from `top` to 0 in `tau` seconds, then 0.
/// @dev Parameters (set through `file`, only DEFAULT_ADMIN_ROLE):
///      tau  [seconds]  time for the price to reach 0; must be > 0.
contract LinearCurve is IAuctionCurve, AccessControl {
    /// @notice Time for the price to fall from `top` to 0 [seconds].
    uint256 public tau;

    /// @notice The parameter `what` was set to `data` (unit as documented on the parameter).
    event ParameterSet(bytes32 indexed what, uint256 data);

    /// @notice `tau` must be positive: a zero-length auction has no price to discover.
    error TauIsZero();
    /// @notice `file` was called with a name that is not a parameter of this curve.
    error UnknownParameter(bytes32 what);
    /// @notice The admin must be a real address.
    error ZeroAddress();

    /// @param admin Gets DEFAULT_ADMIN_ROLE (may call `file`).
    /// @param tau_ Initial `tau` [seconds]; reverts TauIsZero for 0.
    constructor(address admin, uint256 tau_) {
        if (admin == address(0)) revert ZeroAddress();
        if (tau_ == 0) revert TauIsZero();
        tau = tau_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        emit ParameterSet("tau", tau_);
    }

    /// @notice Sets a parameter: "tau" [seconds], > 0.
    /// @dev Only DEFAULT_ADMIN_ROLE. Reverts TauIsZero for tau == 0 and UnknownParameter for any other name.
    ///      Takes effect at once, also for running auctions (they read the curve on every call).
    function file(bytes32 what, uint256 data) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (what == "tau") {
            if (data == 0) revert TauIsZero();
            tau = data;
        } else {
            revert UnknownParameter(what);
        }
        emit ParameterSet(what, data);
    }

    /// @notice The price [wad] `elapsed` [seconds] after a start at `top` [wad]: top * (tau - elapsed) / tau,
    ///         rounded down, and 0 once elapsed >= tau.
    /// @dev Any caller; a view. Works for every `top` (512-bit product).
    function price(uint256 top, uint256 elapsed) external view returns (uint256) {
        return CurveMath.linearDown(top, elapsed, tau);
    }
}
