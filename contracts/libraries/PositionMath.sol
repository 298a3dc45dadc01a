// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {FixedPointMath as FP} from "./FixedPointMath.sol";

/// @title PositionMath
/// @notice Profit and loss, entry averaging, and the liquidation and bankruptcy prices of one isolated
///         position. Every result is rounded against the position holder: profits down, losses up, a long's
///         critical prices up and a short's down. backstop/model/ledger.py mirrors it line by line.
/// @dev size [wad] (signed, > 0 long), prices [wad], margin and PnL [usdc].
library PositionMath {
    /// @notice PnL [usdc] of `closed` [wad] units of a position of sign `long`, entered at `entry` and valued at
    ///         `price`: profit rounded down, loss rounded up.
    function pnl(bool long, uint256 closed, uint256 entry, uint256 price) internal pure returns (int256) {
        bool gain = long ? price >= entry : price <= entry;
        uint256 diff = price >= entry ? price - entry : entry - price;
        return gain ? int256(FP.notionalDown(closed, diff)) : -int256(FP.notionalUp(closed, diff));
    }

    /// @notice Average entry [wad] after adding `added` units at `price` to `held` units entered at `entry`;
    ///         rounded up for a long and down for a short.
    function averageEntry(bool long, uint256 held, uint256 entry, uint256 added, uint256 price)
        internal
        pure
        returns (uint256)
    {
        uint256 total = held + added;
        uint256 value = held * entry + added * price;
        return long ? FP.mulDivUp(value, 1, total) : value / total;
    }

    /// @notice The price [wad] at which equity is zero: entry ∓ margin per unit. Zero for a long whose margin
    ///         covers its whole entry value.
    function bankruptcyPrice(int256 size, uint256 entry, uint256 margin) internal pure returns (uint256) {
        uint256 q = FP.abs(size);
        if (q == 0) return 0;
        if (size > 0) {
            uint256 cushion = FP.mulDivDown(margin, FP.NOTIONAL_SCALE, q);
            return cushion >= entry ? 0 : entry - cushion;
        }
        return entry + FP.mulDivDown(margin, FP.NOTIONAL_SCALE, q);
    }

    /// @notice The price [wad] at which equity equals the maintenance requirement at rate `mmBps`:
    ///         long  P = (q·entry − margin) / (q·(1 − mm)),  short  P = (q·entry + margin) / (q·(1 + mm)).
    function liquidationPrice(int256 size, uint256 entry, uint256 margin, uint256 mmBps)
        internal
        pure
        returns (uint256)
    {
        uint256 q = FP.abs(size);
        if (q == 0) return 0;
        uint256 marginValue = margin * FP.NOTIONAL_SCALE; // [wad·wad]
        if (size > 0) {
            uint256 value = q * entry;
            if (marginValue >= value || mmBps >= FP.BPS) return 0;
            return FP.mulDivUp(value - marginValue, FP.BPS, q * (FP.BPS - mmBps));
        }
        return FP.mulDivDown(q * entry + marginValue, FP.BPS, q * (FP.BPS + mmBps));
    }
}
