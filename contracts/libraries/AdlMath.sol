// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IClearinghouse} from "../interfaces/IClearinghouse.sol";
import {FixedPointMath as FP} from "./FixedPointMath.sol";
import {PositionMath} from "./PositionMath.sol";

/// @title AdlMath
/// @notice The ADL ranking, its loss cap and its lights. backstop/model/adl.py mirrors it line by line.
/// @dev Leveraged profit = profit ratio ÷ margin ratio, where, for a position of |size| q, entry E, margin M and
///      unrealised profit U > 0 at the oracle mark P (U = PositionMath.pnl, rounded down):
///        profit ratio  = U / (q·E)          (profit per USD of entry notional)
///        margin ratio  = (M + U) / (q·P)    (equity per USD of notional at the mark)
///        score [wad]   = ⌊ U · P · 1e18 / ((M + U) · E) ⌋   — the quotient of the two, computed exactly with one
///      rounding (down); q cancels, so the score does not depend on the size. Positions rank by score,
///      descending; equal scores rank by address, ascending.
library AdlMath {
    /// @notice Unrealised profit [usdc] of `p` at `mark` [wad], rounded down; 0 for a loss or no position.
    function unrealisedProfit(IClearinghouse.Position memory p, uint256 mark) internal pure returns (uint256) {
        if (p.size == 0) return 0;
        int256 pnl = PositionMath.pnl(p.size > 0, FP.abs(p.size), p.entryPrice, mark);
        return pnl > 0 ? uint256(pnl) : 0;
    }

    /// @notice Whether `p` can absorb the bankruptcy of a position of side `bankruptLong`: it is on the other side
    ///         and in profit at `mark`.
    function isCounterparty(IClearinghouse.Position memory p, bool bankruptLong, uint256 mark)
        internal
        pure
        returns (bool)
    {
        return p.size != 0 && (p.size > 0) != bankruptLong && unrealisedProfit(p, mark) > 0;
    }

    /// @notice The leveraged-profit score [wad] of `p` at `mark` (see the library's @dev).
    function score(IClearinghouse.Position memory p, uint256 mark) internal pure returns (uint256) {
        uint256 profit = unrealisedProfit(p, mark);
        if (profit == 0) return 0;
        return FP.mulDivDown(profit * FP.WAD, mark, (p.margin + profit) * p.entryPrice);
    }

    /// @notice Whether (scoreA, a) ranks strictly before (scoreB, b): higher score first, then lower address.
    function ranksBefore(uint256 scoreA, address a, uint256 scoreB, address b) internal pure returns (bool) {
        return scoreA > scoreB || (scoreA == scoreB && a < b);
    }

    /// @notice The most units [wad] of `p` one ADL may close when each unit gives up `gap` [wad] of profit: the
    ///         profit taken, gap·units rounded up, stays within `capBps` of the position's unrealised profit.
    function cappedQty(IClearinghouse.Position memory p, uint256 mark, uint256 gap, uint256 capBps)
        internal
        pure
        returns (uint256)
    {
        uint256 cap = FP.bpsDown(unrealisedProfit(p, mark), capBps);
        return FP.min(FP.mulDivDown(cap, FP.NOTIONAL_SCALE, gap), FP.abs(p.size));
    }

    /// @notice 1–5 lights for rank `rank` (1 = first) of `eligible`: 5 for the first fifth, 1 for the last;
    ///         0 when not ranked.
    function lights(uint256 rank, uint256 eligible) internal pure returns (uint256) {
        if (rank == 0 || rank > eligible) return 0;
        return 5 - (rank - 1) * 5 / eligible;
    }
}
