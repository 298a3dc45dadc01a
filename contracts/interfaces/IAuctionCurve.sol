// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @notice A Dutch-auction price curve: how far an auction's price has moved in the bidders' favour after
///         a given time. The auction asks its curve and nothing else, so a curve can be swapped without
///         touching the auction.
/// @dev Convention. A curve is a non-increasing function of `elapsed` that starts at `top` (price(top, 0) ==
///      top) and never goes below 0. The liquidation engine applies it to a *distance*: to sell a long's
///      collateral it reads the falling price directly; to buy back a short's exposure it maps the falling
///      value to a rising price itself. A curve therefore never needs to know the direction of the auction.
///      Units: [wad] 18-decimal fixed point, [seconds].
interface IAuctionCurve {
    /// @notice The auction price [wad] `elapsed` [seconds] after an auction started at `top` [wad].
    /// @dev Non-increasing in `elapsed`, at most `top`, rounded down. Any caller; a view.
    function price(uint256 top, uint256 elapsed) external view returns (uint256);
}
