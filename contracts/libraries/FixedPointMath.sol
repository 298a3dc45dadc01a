// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @title FixedPointMath
/// @notice Every unit conversion and rounding decision of Backstop lives here. The direction of rounding
///         is in each function's name, and callers always round against the user and for the fund.
/// @dev Units used across Backstop:
///      [usdc]  USDC amounts, 6 decimals.
///      [wad]   18-decimal fixed point: prices (USD per 1 base unit) and position sizes (base units).
///      [bps]   basis points, 10_000 = 100%.
library FixedPointMath {
    uint256 internal constant WAD = 1e18;
    uint256 internal constant BPS = 10_000;
    /// @dev 1 [usdc] unit = 1e12 [wad] USD units.
    uint256 internal constant USDC_TO_WAD = 1e12;
    /// @dev |size| [wad] * price [wad] / NOTIONAL_SCALE = notional [usdc].
    uint256 internal constant NOTIONAL_SCALE = WAD * USDC_TO_WAD;

    function mulDivDown(uint256 x, uint256 y, uint256 d) internal pure returns (uint256) {
        return Math.mulDiv(x, y, d);
    }

    function mulDivUp(uint256 x, uint256 y, uint256 d) internal pure returns (uint256) {
        return Math.mulDiv(x, y, d, Math.Rounding.Ceil);
    }

    /// @notice Notional [usdc] of `size` [wad] base units at `price` [wad], rounded down.
    function notionalDown(uint256 size, uint256 price) internal pure returns (uint256) {
        return Math.mulDiv(size, price, NOTIONAL_SCALE);
    }

    /// @notice Notional [usdc] of `size` [wad] base units at `price` [wad], rounded up.
    function notionalUp(uint256 size, uint256 price) internal pure returns (uint256) {
        return Math.mulDiv(size, price, NOTIONAL_SCALE, Math.Rounding.Ceil);
    }

    /// @notice `amount` * `rateBps` / 10_000, rounded down.
    function bpsDown(uint256 amount, uint256 rateBps) internal pure returns (uint256) {
        return Math.mulDiv(amount, rateBps, BPS);
    }

    /// @notice `amount` * `rateBps` / 10_000, rounded up.
    function bpsUp(uint256 amount, uint256 rateBps) internal pure returns (uint256) {
        return Math.mulDiv(amount, rateBps, BPS, Math.Rounding.Ceil);
    }

    function abs(int256 x) internal pure returns (uint256) {
        return x >= 0 ? uint256(x) : uint256(-x);
    }

    function min(uint256 a, uint256 b) internal pure returns (uint256) {
        return a < b ? a : b;
    }

    function max(uint256 a, uint256 b) internal pure returns (uint256) {
        return a > b ? a : b;
    }
}
