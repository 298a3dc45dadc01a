// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @notice What the liquidation engine asks of the standing-bid book: fill a frozen position against the
///         pre-funded bids of its market, best price for the protocol first, in the same transaction.
interface IStandingBidBook {
    /// @notice Fills up to `qty` [wad] of `trader`'s frozen position in `market` (long if `long`) against standing
    ///         bids priced from `mark` [wad]; each match settles through `Clearinghouse.liquidationFill` with
    ///         `penaltyBps`. `id` is the liquidation's id, for the events. Only the liquidation engine.
    /// @return filled [wad] how much of the position the bids took (0..qty).
    function absorb(uint256 id, bytes32 market, address trader, bool long, uint256 qty, uint256 mark, uint256 penaltyBps)
        external
        returns (uint256 filled);
}
