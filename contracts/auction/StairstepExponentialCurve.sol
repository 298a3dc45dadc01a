// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

import {IStairstepExponentialCurve} from "../interfaces/IStairstepExponentialCurve.sol";
import {UnknownParameter, ZeroAddress} from "../interfaces/Errors.sol";
import {CurveMath} from "../libraries/CurveMath.sol";

/// @title StairstepExponentialCurve
/// @notice price = top * cut^floor(elapsed / step): the price is multiplied by `cut` every `step` seconds
///         and holds still in between.
/// @dev Parameters (set through `file`, only DEFAULT_ADMIN_ROLE):
///      cut   [ray]      factor applied per step, in (0, RAY]; 0.99e27 = 1% cheaper each step.
///      step  [seconds]  length of one step; must be > 0.
///      Gas is bounded: the power is taken by squaring (at most 256 rounds), never step by step.
contract StairstepExponentialCurve is IStairstepExponentialCurve, AccessControl {
    /// @inheritdoc IStairstepExponentialCurve
    uint256 public override cut;
    /// @inheritdoc IStairstepExponentialCurve
    uint256 public override step;

    /// @param admin Gets DEFAULT_ADMIN_ROLE (may call `file`).
    /// @param cut_ Initial `cut` [ray], in (0, RAY]; reverts CutIsZero / CutAboveOne otherwise.
    /// @param step_ Initial `step` [seconds], > 0; reverts StepIsZero for 0.
    constructor(address admin, uint256 cut_, uint256 step_) {
        if (admin == address(0)) revert ZeroAddress();
        _checkCut(cut_);
        if (step_ == 0) revert StepIsZero();
        cut = cut_;
        step = step_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        emit ParameterSet("cut", cut_);
        emit ParameterSet("step", step_);
    }

    /// @inheritdoc IStairstepExponentialCurve
    /// @dev Only DEFAULT_ADMIN_ROLE. Reverts CutIsZero, CutAboveOne, StepIsZero for out-of-range values and
    ///      UnknownParameter for any other name. Takes effect at once, also for running auctions.
    function file(bytes32 what, uint256 data) external override onlyRole(DEFAULT_ADMIN_ROLE) {
        if (what == "cut") {
            _checkCut(data);
            cut = data;
        } else if (what == "step") {
            if (data == 0) revert StepIsZero();
            step = data;
        } else {
            revert UnknownParameter(what);
        }
        emit ParameterSet(what, data);
    }

    /// @inheritdoc IStairstepExponentialCurve
    /// @dev Any caller; a view. Gas grows with log2(elapsed / step), at most 256 rounds.
    function price(uint256 top, uint256 elapsed) external view override returns (uint256) {
        return CurveMath.stairstepDown(top, elapsed, step, cut);
    }

    function _checkCut(uint256 cut_) internal pure {
        if (cut_ == 0) revert CutIsZero();
        if (cut_ > CurveMath.RAY) revert CutAboveOne(cut_);
    }
}
