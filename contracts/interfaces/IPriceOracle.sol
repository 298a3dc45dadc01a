// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice The price Backstop acts on: per market, the median of several venues' feeds.
/// @dev Markets are named by a bytes32 id (e.g. "OM-USD"). Prices are [wad]: USD per 1 base unit, 18 decimals.
interface IPriceOracle {
    /// @notice The median [wad] of the market's usable sources; reverts with a named error when fewer than
    ///         `minSources` are usable or the median jumped beyond the market's bound.
    function price(bytes32 market) external view returns (uint256 priceWad);

    /// @notice As `price`, and records the result as the market's last accepted price (the reference for
    ///         the jump bound). Anyone may call.
    function poke(bytes32 market) external returns (uint256 priceWad);
}
