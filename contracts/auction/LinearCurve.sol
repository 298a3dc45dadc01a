// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

import {ILinearCurve} from "../interfaces/ILinearCurve.sol";
import {UnknownParameter, ZeroAddress} from "../interfaces/Errors.sol";
import {CurveMath} from "../libraries/CurveMath.sol";

/// @title LinearCurve
/// @notice price = top * (1 - elapsed / tau): a straight line from `top` to 0 in `tau` seconds, then 0.
/// @dev Parameters (set through `file`, only DEFAULT_ADMIN_ROLE):
///      tau  [seconds]  time for the price to reach 0; must be > 0.
contract LinearCurve is ILinearCurve, AccessControl {
    /// @inheritdoc ILinearCurve
    uint256 public override tau;

    /// @param admin Gets DEFAULT_ADMIN_ROLE (may call `file`).
    /// @param tau_ Initial `tau` [seconds]; reverts TauIsZero for 0.
    constructor(address admin, uint256 tau_) {
        if (admin == address(0)) revert ZeroAddress();
        if (tau_ == 0) revert TauIsZero();
        tau = tau_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        emit ParameterSet("tau", tau_);
    }

    /// @inheritdoc ILinearCurve
    /// @dev Only DEFAULT_ADMIN_ROLE. Reverts TauIsZero for tau == 0 and UnknownParameter for any other name.
    ///      Takes effect at once, also for running auctions (they read the curve on every call).
    function file(bytes32 what, uint256 data) external override onlyRole(DEFAULT_ADMIN_ROLE) {
        if (what == "tau") {
            if (data == 0) revert TauIsZero();
            tau = data;
        } else {
            revert UnknownParameter(what);
        }
        emit ParameterSet(what, data);
    }

    /// @inheritdoc ILinearCurve
    /// @dev Any caller; a view. Works for every `top` (512-bit product).
    function price(uint256 top, uint256 elapsed) external view override returns (uint256) {
        return CurveMath.linearDown(top, elapsed, tau);
    }
}
