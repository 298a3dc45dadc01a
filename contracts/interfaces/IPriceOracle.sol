// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {AggregatorV3Interface} from "./AggregatorV3Interface.sol";

/// @notice The price Backstop acts on: per market, the median of several venues' feeds.
/// @dev Markets are named by a bytes32 id (e.g. "OM-USD"). Prices are [wad]: USD per 1 base unit, 18 decimals.
///      Shared errors (contracts/interfaces/Errors.sol): UnknownMarket — `market` was never configured.
interface IPriceOracle {
    /// @notice Every knob of a market, packed in one slot.
    struct MarketConfig {
        uint32 maxAge; // [seconds] oldest usable answer
        uint16 maxDeviationBps; // [bps] farthest a source may sit from the first median
        uint8 minSources; // fewest sources the final median needs
        uint16 maxJumpBps; // [bps] largest move from the last accepted price within jumpWindow; 0 = off
        uint32 jumpWindow; // [seconds] how long the last accepted price bounds the next one
        bool listed; // set by the first setMarketConfig
    }

    /// @notice One row of `sourceReport`.
    struct SourceReading {
        address source;
        int256 answer; // raw, in the source's decimals (0 if the call reverted)
        uint8 decimals;
        uint256 updatedAt; // [seconds]
        uint256 priceWad; // [wad] normalised answer, 0 when not usable
        bool usable; // fresh, positive and within MAX_PRICE_WAD
        bool used; // usable and within maxDeviationBps of the first median
    }

    // --- Errors (each named after the rule broken) ---

    /// @notice Fewer than `required` sources are fresh, positive and within the deviation band of the median.
    error NotEnoughSources(bytes32 market, uint256 usable, uint256 required);
    /// @notice The median `next` [wad] moved more than the market's jump bound from the last accepted price
    ///         `last` [wad], which is younger than the jump window.
    error PriceJumpTooLarge(bytes32 market, uint256 last, uint256 next);
    /// @notice A market's `maxAge` must be positive: an answer of age 0 only is never usable.
    error MaxAgeIsZero(bytes32 market);
    /// @notice `minSources` must lie in 1..`max` (MAX_SOURCES).
    error MinSourcesOutOfRange(bytes32 market, uint256 minSources, uint256 max);
    /// @notice A market has `max` (MAX_SOURCES) sources already.
    error TooManySources(bytes32 market, uint256 max);
    /// @notice A source must be a contract address, not zero.
    error SourceIsZeroAddress(bytes32 market);
    /// @notice `source` is one of the market's sources already.
    error SourceAlreadyAdded(bytes32 market, address source);
    /// @notice `source` is not one of the market's sources.
    error SourceNotFound(bytes32 market, address source);
    /// @notice `source` reports in `decimals`, more than `max` (MAX_SOURCE_DECIMALS).
    error SourceDecimalsTooHigh(address source, uint8 decimals, uint8 max);
    /// @notice A high window must be 0 (off) or at least 2 seconds: it is kept as two buckets of half of it.
    error HighWindowTooShort(bytes32 market, uint32 window);

    // --- Events ---

    /// @notice `poke` accepted `price` [wad], the median of `usableSources` sources.
    event PriceAccepted(bytes32 indexed market, uint256 price, uint256 usableSources);
    /// @notice `market` was listed or reconfigured with these knobs (units as in MarketConfig).
    event MarketConfigured(
        bytes32 indexed market,
        uint32 maxAge,
        uint16 maxDeviationBps,
        uint8 minSources,
        uint16 maxJumpBps,
        uint32 jumpWindow
    );
    /// @notice `source`, reporting in `decimals`, became a feed of `market`.
    event SourceAdded(bytes32 indexed market, address indexed source, uint8 decimals);
    /// @notice `source` is no longer a feed of `market`.
    event SourceRemoved(bytes32 indexed market, address indexed source);
    /// @notice `poke` now records `market`'s highest accepted price over `window` [seconds] (0: not recorded).
    event HighWindowSet(bytes32 indexed market, uint32 window);

    // --- Administration ---

    /// @notice Lists `market` (first call) and sets all its knobs. Only ORACLE_ADMIN_ROLE.
    /// @param maxAge [seconds] oldest usable answer; must be > 0.
    /// @param maxDeviationBps [bps] farthest a source may sit from the first median and still be used.
    /// @param minSources Fewest sources the final median needs; 1..MAX_SOURCES.
    /// @param maxJumpBps [bps] largest move from the last accepted price while it is younger than jumpWindow;
    ///        0 disables the jump bound.
    /// @param jumpWindow [seconds] how long a poked price bounds the next one.
    function setMarketConfig(
        bytes32 market,
        uint32 maxAge,
        uint16 maxDeviationBps,
        uint8 minSources,
        uint16 maxJumpBps,
        uint32 jumpWindow
    ) external;

    /// @notice Adds `source` to `market`'s feeds. Only ORACLE_ADMIN_ROLE; the market must be listed, the source
    ///         new to it, reporting in at most MAX_SOURCE_DECIMALS decimals, and the market below MAX_SOURCES.
    function addSource(bytes32 market, AggregatorV3Interface source) external;

    /// @notice Removes `source` from `market`'s feeds (the last source takes its slot). Only ORACLE_ADMIN_ROLE.
    function removeSource(bytes32 market, AggregatorV3Interface source) external;

    /// @notice Makes every `poke` of `market` record its highest accepted price over `window` [seconds], in two
    ///         buckets of `window / 2` aligned on multiples of it; 0 stops recording. Resets what was recorded.
    ///         Only ORACLE_ADMIN_ROLE; reverts `HighWindowTooShort` for a window of 1.
    function setHighWindow(bytes32 market, uint32 window) external;

    // --- Prices ---

    /// @notice The median [wad] of the market's usable sources; reverts with a named error when fewer than
    ///         `minSources` are usable or the median jumped beyond the market's bound. Within a transaction that
    ///         already poked the market, the price that poke accepted.
    function price(bytes32 market) external view returns (uint256 priceWad);

    /// @notice As `price`, and records the result as the market's last accepted price (the reference for
    ///         the jump bound) and, when the market has a high window, in its recent high. Anyone may call.
    ///         The sources are read once per market and transaction: a later poke of the same market in the
    ///         same transaction returns the accepted price again (EIP-1153 transient storage), records nothing
    ///         new and emits nothing, since a source's answer cannot change within the transaction.
    function poke(bytes32 market) external returns (uint256 priceWad);

    // --- Views ---

    /// @notice Whether `market` has been configured.
    function isListed(bytes32 market) external view returns (bool);

    /// @notice The feeds of `market`, in storage order. Reverts `UnknownMarket`.
    function sources(bytes32 market) external view returns (address[] memory list);

    /// @notice The knobs of `market` (see MarketConfig for units). Reverts `UnknownMarket`.
    function config(bytes32 market) external view returns (MarketConfig memory);

    /// @notice The last price accepted by `poke` [wad] and when [seconds]; (0, 0) if never poked.
    function lastPrice(bytes32 market) external view returns (uint256 priceWad, uint256 updatedAt);

    /// @notice The highest price `poke` accepted in `market`'s current and previous high buckets [wad], so over
    ///         the last `window / 2` to `window` seconds, whoever poked; 0 when nothing was accepted in them or the
    ///         market records no high. The liquidation auction measures a fast fall from it.
    function recentHigh(bytes32 market) external view returns (uint256 highWad, uint256 window);

    /// @notice For reports: every source's raw and normalised answer, whether it was usable and whether it was
    ///         used in the final median, plus the first median [wad] (0 if no source is usable). Never reverts
    ///         on too few sources or on the jump bound. Reverts `UnknownMarket`.
    function sourceReport(bytes32 market)
        external
        view
        returns (SourceReading[] memory readings, uint256 firstMedianWad);
}
