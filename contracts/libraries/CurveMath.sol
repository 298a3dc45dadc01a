// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @title CurveMath
/// @notice The arithmetic of the auction price curves. Every function rounds down, so a curve never asks
///         for more than the exact formula would. backstop/model/curves.py mirrors each line.
/// @dev Units: [wad] 18-decimal fixed point (prices), [ray] 27-decimal fixed point (per-step factors),
///      [seconds].
library CurveMath {
    uint256 internal constant RAY = 1e27;

    /// @notice x^n in [ray] for `x` [ray], by squaring: at most 256 rounds whatever `n` is (about 400 gas each).
    /// @dev Every product is rounded down, the same way in backstop/model/curves.py. Assumes x <= RAY (a
    ///      factor of at most one); then no product exceeds RAY * RAY and the result is non-increasing in n.
    ///      A larger x may overflow, which reverts (checked arithmetic). rpowDown(x, 0) == RAY, also for x == 0.
    function rpowDown(uint256 x, uint256 n) internal pure returns (uint256 z) {
        z = RAY;
        while (n != 0) {
            if (n & 1 == 1) z = (z * x) / RAY;
            n >>= 1;
            if (n != 0) {
                x = (x * x) / RAY;
                if (x == 0) return 0; // a bit of n is still set, so z would become 0: stop early
            }
        }
    }

    /// @notice top * (1 - elapsed / tau) [wad], rounded down; 0 from `elapsed` >= `tau` [seconds] on.
    /// @dev Assumes tau > 0. The product is taken in 512 bits, so any `top` works.
    function linearDown(uint256 top, uint256 elapsed, uint256 tau) internal pure returns (uint256) {
        if (elapsed >= tau) return 0;
        return Math.mulDiv(top, tau - elapsed, tau);
    }

    /// @notice top * cut^floor(elapsed / step) [wad] for `cut` [ray] and `step` [seconds], rounded down.
    /// @dev Assumes step > 0 and cut <= RAY. The power is rounded down first, then the product with `top`.
    function stairstepDown(uint256 top, uint256 elapsed, uint256 step, uint256 cut) internal pure returns (uint256) {
        return Math.mulDiv(top, rpowDown(cut, elapsed / step), RAY);
    }
}
