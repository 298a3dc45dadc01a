// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @notice The price Backstop acts on: per market, the median of several venues' feeds.
/// @dev Markets are named by a bytes32 id (e.g. "OM-USD"). Prices are [wad]: USD per 1 base unit, 18 decimals.
interface IPriceOracle {
    /// @notice `market` was never configured.
    error UnknownMarket(bytes32 market);
    /// @notice Fewer than `required` sources are fresh, positive and within the deviation band of the median.
    error NotEnoughSources(bytes32 market, uint256 usable, uint256 required);
    /// @notice The median `next` [wad] moved more than the market's jump bound from the last accepted price
    ///         `last` [wad], which is younger than the jump window.
    error PriceJumpTooLarge(bytes32 market, uint256 last, uint256 next);

    /// @notice `poke` accepted `price` [wad], the median of `usableSources` sources.
    event PriceAccepted(bytes32 indexed market, uint256 price, uint256 usableSources);

    /// @notice The median [wad] of the market's usable sources; reverts with a named error when fewer than
    ///         `minSources` are usable or the median jumped beyond the market's bound.
    function price(bytes32 market) external view returns (uint256 priceWad);

    /// @notice As `price`, and records the result as the market's last accepted price (the reference for
    ///         the jump bound). Anyone may call.
    function poke(bytes32 market) external returns (uint256 priceWad);
}
