// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";
import {IPriceOracle} from "../interfaces/IPriceOracle.sol";
import {UnknownMarket} from "../interfaces/Errors.sol";
import {FixedPointMath} from "../libraries/FixedPointMath.sol";

/// @title PriceOracle
/// @notice Per market, the median of up to 16 Chainlink-shaped sources, normalised to [wad], with three guards:
///         1. staleness: a source whose answer is <= 0, older than `maxAge` or stamped in the future is ignored;
///         2. deviation: a source farther than `maxDeviationBps` from the first median is dropped and the median
///            is taken again over the rest; fewer than `minSources` left reverts `NotEnoughSources`;
///         3. jump bound: while the last accepted price (set by `poke`) is younger than `jumpWindow`, a median
///            more than `maxJumpBps` away from it reverts `PriceJumpTooLarge`. Once the window has passed the
///            new level is accepted: a sustained move is real, a one-block spike is not. `maxJumpBps` = 0 disables it.
///         Where a market has a high window, every `poke` also records the highest accepted price per bucket of
///         half the window (`recentHigh`): whoever pokes — a trade, a liquidation, a poker bot — a fall is seen.
/// @dev A source that reverts, reports a price that rounds to 0 [wad] or exceeds MAX_PRICE_WAD is ignored as well,
///      so one broken feed can never block the market. The sources are read once per market and transaction: the
///      first `poke` keeps its price in transient storage (EIP-1153) for the transaction's later pokes and
///      `price` reads (a liquidation, a take and its margin check share one reading). The Python reference is
///      backstop/model/oracle.py.
contract PriceOracle is IPriceOracle, AccessControl {
    /// @notice May list markets, configure them and add or remove their sources.
    bytes32 public constant ORACLE_ADMIN_ROLE = keccak256("ORACLE_ADMIN_ROLE");
    /// @notice Most sources per market; keeps the in-memory insertion sort cheap.
    uint256 public constant MAX_SOURCES = 16;
    /// @notice Most decimals a source may report in (normalisation divides by at most 1e18).
    uint8 public constant MAX_SOURCE_DECIMALS = 36;
    /// @notice Highest usable normalised price [wad]; above it a source is treated as broken. Bounds every
    ///         product in the deviation and jump checks far below 2**256.
    uint256 public constant MAX_PRICE_WAD = type(uint128).max;

    struct Source {
        AggregatorV3Interface feed;
        uint8 decimals; // read once when added; Chainlink feeds never change it
    }

    struct LastPrice {
        uint128 priceWad; // [wad]
        uint64 updatedAt; // [seconds] time of the poke; 0 = never poked
        uint32 highWindow; // [seconds] the window of the recent high (setHighWindow); 0 = not recorded. Kept in
        // this slot, which every poke reads and writes anyway: a market without a window pays nothing for it
    }

    /// @dev The current bucket of a market's recent high; the previous bucket's high is kept in `_previousHigh`.
    struct HighBucket {
        uint128 high; // [wad] highest price accepted in bucket `index`; 0 = none
        uint64 index; // block.timestamp / (highWindow / 2) at the bucket's first poke
    }

    mapping(bytes32 market => MarketConfig) private _config;
    mapping(bytes32 market => Source[]) private _sources;
    mapping(bytes32 market => LastPrice) private _last;
    mapping(bytes32 market => HighBucket) private _high;
    mapping(bytes32 market => uint256) private _previousHigh; // [wad] the bucket before `_high[market].index`

    /// @param admin Receives DEFAULT_ADMIN_ROLE (manages roles) and ORACLE_ADMIN_ROLE.
    constructor(address admin) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(ORACLE_ADMIN_ROLE, admin);
    }

    // --- Administration ---

    /// @inheritdoc IPriceOracle
    function setMarketConfig(
        bytes32 market,
        uint32 maxAge,
        uint16 maxDeviationBps,
        uint8 minSources,
        uint16 maxJumpBps,
        uint32 jumpWindow
    ) external override onlyRole(ORACLE_ADMIN_ROLE) {
        if (maxAge == 0) revert MaxAgeIsZero(market);
        if (minSources == 0 || minSources > MAX_SOURCES) {
            revert MinSourcesOutOfRange(market, minSources, MAX_SOURCES);
        }
        _config[market] = MarketConfig({
            maxAge: maxAge,
            maxDeviationBps: maxDeviationBps,
            minSources: minSources,
            maxJumpBps: maxJumpBps,
            jumpWindow: jumpWindow,
            listed: true
        });
        _accept(market, 0); // a new configuration is read afresh
        emit MarketConfigured(market, maxAge, maxDeviationBps, minSources, maxJumpBps, jumpWindow);
    }

    /// @inheritdoc IPriceOracle
    function addSource(bytes32 market, AggregatorV3Interface source) external override onlyRole(ORACLE_ADMIN_ROLE) {
        _listed(market);
        if (address(source) == address(0)) revert SourceIsZeroAddress(market);
        Source[] storage list = _sources[market];
        if (list.length >= MAX_SOURCES) revert TooManySources(market, MAX_SOURCES);
        for (uint256 i; i < list.length; ++i) {
            if (list[i].feed == source) revert SourceAlreadyAdded(market, address(source));
        }
        uint8 dec = source.decimals();
        if (dec > MAX_SOURCE_DECIMALS) revert SourceDecimalsTooHigh(address(source), dec, MAX_SOURCE_DECIMALS);
        list.push(Source({feed: source, decimals: dec}));
        _accept(market, 0); // a new configuration is read afresh
        emit SourceAdded(market, address(source), dec);
    }

    /// @inheritdoc IPriceOracle
    function removeSource(bytes32 market, AggregatorV3Interface source) external override onlyRole(ORACLE_ADMIN_ROLE) {
        _listed(market);
        Source[] storage list = _sources[market];
        uint256 n = list.length;
        for (uint256 i; i < n; ++i) {
            if (list[i].feed == source) {
                list[i] = list[n - 1];
                list.pop();
                _accept(market, 0); // a new configuration is read afresh
                emit SourceRemoved(market, address(source));
                return;
            }
        }
        revert SourceNotFound(market, address(source));
    }

    /// @inheritdoc IPriceOracle
    function setHighWindow(bytes32 market, uint32 window) external override onlyRole(ORACLE_ADMIN_ROLE) {
        _listed(market);
        if (window == 1) revert HighWindowTooShort(market, window);
        _last[market].highWindow = window;
        delete _high[market];
        delete _previousHigh[market];
        _accept(market, 0); // a new configuration is read afresh
        emit HighWindowSet(market, window);
    }

    // --- Prices ---

    /// @inheritdoc IPriceOracle
    /// @dev Reverts `UnknownMarket`, `NotEnoughSources` or `PriceJumpTooLarge`.
    function price(bytes32 market) external view override returns (uint256 priceWad) {
        priceWad = _accepted(market);
        if (priceWad == 0) (priceWad,) = _price(market);
    }

    /// @inheritdoc IPriceOracle
    /// @dev Emits `PriceAccepted`. Reverts as `price`, in which case the last accepted price is unchanged.
    function poke(bytes32 market) external override returns (uint256 priceWad) {
        priceWad = _accepted(market);
        if (priceWad != 0) return priceWad; // poked already in this transaction: same sources, same answer
        uint256 used;
        (priceWad, used) = _price(market);
        _accept(market, priceWad);
        LastPrice storage last = _last[market];
        (last.priceWad, last.updatedAt) = (uint128(priceWad), uint64(block.timestamp));
        uint32 window = last.highWindow;
        if (window != 0) _recordHigh(market, priceWad, window);
        emit PriceAccepted(market, priceWad, used);
    }

    // --- Views ---

    /// @inheritdoc IPriceOracle
    function isListed(bytes32 market) external view override returns (bool) {
        return _config[market].listed;
    }

    /// @inheritdoc IPriceOracle
    function sources(bytes32 market) external view override returns (address[] memory list) {
        _listed(market);
        Source[] storage stored = _sources[market];
        list = new address[](stored.length);
        for (uint256 i; i < list.length; ++i) {
            list[i] = address(stored[i].feed);
        }
    }

    /// @inheritdoc IPriceOracle
    function config(bytes32 market) external view override returns (MarketConfig memory) {
        return _listed(market);
    }

    /// @inheritdoc IPriceOracle
    function lastPrice(bytes32 market) external view override returns (uint256 priceWad, uint256 updatedAt) {
        LastPrice memory last = _last[market];
        return (last.priceWad, last.updatedAt);
    }

    /// @inheritdoc IPriceOracle
    function recentHigh(bytes32 market) external view override returns (uint256 highWad, uint256 window) {
        window = _last[market].highWindow;
        if (window == 0) return (0, 0);
        HighBucket memory h = _high[market];
        uint256 index = block.timestamp / (window / 2);
        if (index == h.index) highWad = FixedPointMath.max(h.high, _previousHigh[market]);
        else if (index == uint256(h.index) + 1) highWad = h.high; // the current bucket has no poke yet
    }

    /// @inheritdoc IPriceOracle
    function sourceReport(bytes32 market)
        external
        view
        override
        returns (SourceReading[] memory readings, uint256 firstMedianWad)
    {
        MarketConfig memory cfg = _listed(market);
        Source[] storage list = _sources[market];
        uint256 count = list.length;
        readings = new SourceReading[](count);
        uint256[] memory sorted = new uint256[](count);
        uint256 n;
        for (uint256 i; i < count; ++i) {
            SourceReading memory r = readings[i];
            r.source = address(list[i].feed);
            r.decimals = list[i].decimals;
            (r.answer, r.updatedAt, r.priceWad) = _read(list[i], cfg.maxAge);
            r.usable = r.priceWad != 0;
            if (r.usable) sorted[n++] = r.priceWad;
        }
        if (n == 0) return (readings, 0);
        _insertionSort(sorted, n);
        firstMedianWad = _median(sorted, 0, n);
        for (uint256 i; i < count; ++i) {
            SourceReading memory r = readings[i];
            r.used = r.usable && !_beyond(r.priceWad, firstMedianWad, cfg.maxDeviationBps);
        }
    }

    // --- Internals ---

    /// @dev The guarded median [wad] of `market` and how many sources it used.
    function _price(bytes32 market) private view returns (uint256 priceWad, uint256 used) {
        MarketConfig memory cfg = _listed(market);
        Source[] storage list = _sources[market];
        uint256 count = list.length;

        uint256[] memory sorted = new uint256[](count);
        uint256 n;
        for (uint256 i; i < count; ++i) {
            (,, uint256 wad) = _read(list[i], cfg.maxAge);
            if (wad != 0) sorted[n++] = wad;
        }
        if (n < cfg.minSources) revert NotEnoughSources(market, n, cfg.minSources);

        _insertionSort(sorted, n);
        uint256 first = _median(sorted, 0, n);

        // Sorted, the sources within the band around `first` form one run [lo, hi).
        uint256 lo;
        uint256 hi = n;
        while (lo < hi && _beyond(sorted[lo], first, cfg.maxDeviationBps)) ++lo;
        while (hi > lo && _beyond(sorted[hi - 1], first, cfg.maxDeviationBps)) --hi;
        used = hi - lo;
        if (used < cfg.minSources) revert NotEnoughSources(market, used, cfg.minSources);
        priceWad = _median(sorted, lo, hi);

        LastPrice memory last = _last[market];
        if (
            cfg.maxJumpBps != 0 && last.updatedAt != 0 && block.timestamp - last.updatedAt < cfg.jumpWindow
                && _beyond(priceWad, last.priceWad, cfg.maxJumpBps)
        ) revert PriceJumpTooLarge(market, last.priceWad, priceWad);
    }

    /// @dev The price [wad] this transaction's first poke of `market` accepted; 0 = not poked in it. Its transient
    ///      (EIP-1153) slot is the market id itself: the contract keeps nothing else in transient storage.
    function _accepted(bytes32 market) private view returns (uint256 priceWad) {
        // Solidity has no transient mappings: tload at the market id's slot
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            priceWad := tload(market)
        }
    }

    /// @dev Remembers `priceWad` [wad] as `market`'s accepted price until the end of the transaction (0 forgets).
    function _accept(bytes32 market, uint256 priceWad) private {
        // Solidity has no transient mappings: tstore at the market id's slot
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            tstore(market, priceWad)
        }
    }

    /// @dev Records accepted `priceWad` [wad] in `market`'s current high bucket; a poke in a new bucket moves the
    ///      current one to `_previousHigh` (or clears it when a whole bucket passed without a poke).
    function _recordHigh(bytes32 market, uint256 priceWad, uint256 window) private {
        HighBucket memory h = _high[market];
        uint64 index = uint64(block.timestamp / (window / 2));
        if (index == h.index) {
            if (priceWad > h.high) _high[market].high = uint128(priceWad);
            return;
        }
        _previousHigh[market] = index == h.index + 1 ? h.high : 0;
        _high[market] = HighBucket({high: uint128(priceWad), index: index});
    }

    /// @dev One source's raw answer, its time, and its normalised price [wad], which is 0 when the source
    ///      reverted, answered <= 0, is older than `maxAge` [seconds], is stamped in the future, or normalises
    ///      to 0 or above MAX_PRICE_WAD.
    function _read(Source storage src, uint256 maxAge)
        private
        view
        returns (int256 answer, uint256 updatedAt, uint256 wad)
    {
        try src.feed.latestRoundData() returns (uint80, int256 a, uint256, uint256 t, uint80) {
            (answer, updatedAt) = (a, t);
        } catch {
            return (0, 0, 0);
        }
        if (answer <= 0 || updatedAt > block.timestamp || block.timestamp - updatedAt > maxAge) {
            return (answer, updatedAt, 0);
        }
        wad = _toWad(uint256(answer), src.decimals);
    }

    /// @dev `answer` in `decimals` (<= 36) as [wad], rounded down; 0 if above MAX_PRICE_WAD.
    function _toWad(uint256 answer, uint8 decimals) private pure returns (uint256 wad) {
        if (decimals <= 18) {
            uint256 up = 10 ** (18 - decimals);
            if (answer > MAX_PRICE_WAD / up) return 0;
            return answer * up;
        }
        wad = answer / 10 ** (decimals - 18);
        if (wad > MAX_PRICE_WAD) return 0;
    }

    /// @dev Whether `x` lies strictly more than `bps` [bps] away from `ref` (> 0), exactly:
    ///      |x - ref| * BPS > bps * ref. Both sides fit in 256 bits since x, ref <= MAX_PRICE_WAD.
    function _beyond(uint256 x, uint256 ref, uint256 bps) private pure returns (bool) {
        uint256 diff = x > ref ? x - ref : ref - x;
        return diff * FixedPointMath.BPS > bps * ref;
    }

    /// @dev Median of the sorted run a[lo..hi) (hi > lo); an even run gives the mean of its middle two, rounded down.
    function _median(uint256[] memory a, uint256 lo, uint256 hi) private pure returns (uint256) {
        uint256 len = hi - lo;
        uint256 mid = lo + len / 2;
        if (len % 2 == 1) return a[mid];
        return (a[mid - 1] + a[mid]) / 2;
    }

    /// @dev Sorts a[0..n) ascending in place; n <= MAX_SOURCES, so insertion sort is the cheapest.
    function _insertionSort(uint256[] memory a, uint256 n) private pure {
        for (uint256 i = 1; i < n; ++i) {
            uint256 key = a[i];
            uint256 j = i;
            while (j > 0 && a[j - 1] > key) {
                a[j] = a[j - 1];
                --j;
            }
            a[j] = key;
        }
    }

    /// @dev The config of a listed market; reverts `UnknownMarket` otherwise.
    function _listed(bytes32 market) private view returns (MarketConfig memory cfg) {
        cfg = _config[market];
        if (!cfg.listed) revert UnknownMarket(market);
    }
}
