// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IClearinghouse} from "../interfaces/IClearinghouse.sol";
import {IPriceOracle} from "../interfaces/IPriceOracle.sol";
import {IInsuranceFund} from "../interfaces/IInsuranceFund.sol";
import {IAuctionCurve} from "../interfaces/IAuctionCurve.sol";
import {IAuctionTaker} from "../interfaces/IAuctionTaker.sol";
import {IStandingBidBook} from "../interfaces/IStandingBidBook.sol";
import {ILiquidationAuction} from "../interfaces/ILiquidationAuction.sol";
import {InvalidParameter, UnknownMarket, UnknownParameter} from "../interfaces/Errors.sol";
import {FixedPointMath as FP} from "../libraries/FixedPointMath.sol";

/// @title LiquidationAuction
/// @notice Liquidates positions that the oracle puts below maintenance margin, by Dutch auction to keepers.
///         `liquidate` freezes the position and starts an auction; `take` passes any part of it to a keeper at
///         the current auction price (the keeper may pay inside a callback); `redo` restarts an auction that is
///         too old or whose price has moved too far from the oracle. Whoever starts or restarts an auction
///         earns a flat tip plus a share of the notional, capped, paid by the insurance fund.
/// @dev Prices: a long position is sold to keepers starting at `top = mark·(1 + buf)` and falling along the
///      market's curve; a short one mirrors it around the starting mark, starting at `mark·(1 − buf)` and
///      rising. Settlement (penalty, surplus back to the trader, shortfall to the fund, bad debt) happens in
///      `Clearinghouse.liquidationFill`.
contract LiquidationAuction is ILiquidationAuction, AccessControl, ReentrancyGuardTransient {
    /// @notice The ADL queue: may take over what is left of a liquidation to close it at its bankruptcy price.
    bytes32 public constant ADL_ROLE = keccak256("ADL_ROLE");

    IClearinghouse public immutable clearinghouse;
    IPriceOracle public immutable oracle;
    IInsuranceFund public immutable fund;

    mapping(bytes32 market => Config) internal _configs;
    mapping(uint256 id => Sale) internal _sales;
    mapping(bytes32 market => uint256) public liquidityRiskAt; // [seconds] last time an auction went unfilled
    mapping(bytes32 market => Throttle) public throttles;
    mapping(bytes32 market => uint256) public dirt; // [usdc] notional in auction in the market
    uint256 public globalHole; // [usdc] the most notional in auction across markets (0: no cap)
    uint256 public globalDirt; // [usdc] notional in auction across markets
    mapping(bytes32 market => uint256[]) internal _queue;
    mapping(bytes32 market => uint256) public queueHead; // index of the next queued liquidation to release
    uint256 public kicks; // liquidations ever started; ids are 1..kicks
    uint256[] internal _active;
    mapping(uint256 id => uint256) internal _activeIndex; // position in _active, plus one
    IStandingBidBook public book; // pre-funded standing bids, tried before the auction (0: none)

    constructor(IClearinghouse clearinghouse_, IPriceOracle oracle_, IInsuranceFund fund_, address admin) {
        clearinghouse = clearinghouse_;
        oracle = oracle_;
        fund = fund_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    // ------------------------------------------------------------------ administration

    /// @inheritdoc ILiquidationAuction
    function setCurve(bytes32 market, IAuctionCurve curve) external override onlyRole(DEFAULT_ADMIN_ROLE) {
        if (address(curve) == address(0)) revert InvalidParameter("curve", 0);
        _configs[market].curve = curve;
        emit CurveSet(market, address(curve));
    }

    /// @inheritdoc ILiquidationAuction
    function file(bytes32 market, bytes32 what, uint256 data) external override onlyRole(DEFAULT_ADMIN_ROLE) {
        Config storage c = _configs[market];
        if (what == "penaltyBps") c.penaltyBps = _bps(what, data);
        else if (what == "bufBps") c.bufBps = _bps(what, data);
        else if (what == "staleBps") c.staleBps = _bps(what, data);
        else if (what == "chipBps") c.chipBps = _bps(what, data);
        else if (what == "tail") c.tail = uint32(_fits(what, data, type(uint32).max));
        else if (what == "riskWindow") c.riskWindow = uint32(_fits(what, data, type(uint32).max));
        else if (what == "tip") c.tip = uint64(_fits(what, data, type(uint64).max));
        else if (what == "tipCap") c.tipCap = uint64(_fits(what, data, type(uint64).max));
        else if (what == "dust") c.dust = uint64(_fits(what, data, type(uint64).max));
        else if (what == "hole") c.hole = uint64(_fits(what, data, type(uint64).max));
        else if (what == "dropBps") c.dropBps = _bps(what, data);
        else if (what == "bufferBase") c.bufferBase = uint32(_fits(what, data, type(uint32).max));
        else if (what == "bufferMax") c.bufferMax = uint32(_fits(what, data, type(uint32).max));
        else revert UnknownParameter(what);
        emit ParameterSet(market, what, data);
    }

    /// @inheritdoc ILiquidationAuction
    function setBook(IStandingBidBook book_) external override onlyRole(DEFAULT_ADMIN_ROLE) {
        book = book_;
        emit BookSet(address(book_));
    }

    /// @inheritdoc ILiquidationAuction
    function setGlobalHole(uint256 hole) external override onlyRole(DEFAULT_ADMIN_ROLE) {
        globalHole = hole;
        emit GlobalHoleSet(hole);
    }

    // ------------------------------------------------------------------ the auction's life

    /// @inheritdoc ILiquidationAuction
    function liquidate(bytes32 market, address trader) external override nonReentrant returns (uint256 id) {
        Config storage c = _config(market);
        (int256 size, uint256 mark) = clearinghouse.beginLiquidation(market, trader);
        uint256 incentive;
        (id, incentive) = _liquidate(market, c, trader, size, mark);
        _payIncentive(id, market, incentive);
    }

    /// @inheritdoc ILiquidationAuction
    function liquidateMany(bytes32 market, address[] calldata traders)
        external
        override
        nonReentrant
        returns (uint256[] memory ids)
    {
        Config storage c = _config(market);
        ids = new uint256[](traders.length);
        uint256 firstId = kicks + 1;
        uint256 owed; // [usdc] Σ the incentives of the batch's liquidations
        for (uint256 i; i < traders.length; ++i) {
            try clearinghouse.beginLiquidation(market, traders[i]) returns (int256 size, uint256 mark) {
                uint256 incentive;
                (ids[i], incentive) = _liquidate(market, c, traders[i], size, mark);
                owed += incentive;
            } catch (bytes memory reason) {
                emit LiquidationSkipped(market, traders[i], reason);
            }
        }
        if (owed > 0) {
            uint256 unpaid = fund.coverLoss(market, owed, msg.sender);
            emit BatchIncentivePaid(firstId, kicks, msg.sender, owed - unpaid, unpaid);
        }
    }

    /// @dev The liquidation of `trader`'s position of `size` [wad], frozen at `mark` [wad]: standing bids first,
    ///      then the queue or an auction for the rest. Returns the sale id and the caller's incentive [usdc], which
    ///      the caller pays (one payment for a whole `liquidateMany`). A liquidation
    ///      the standing bids take whole writes no sale record (four new slots, ~45k gas): its events are its
    ///      history, and `sale(id)` reads as empty.
    function _liquidate(bytes32 market, Config storage c, address trader, int256 size, uint256 mark)
        internal
        returns (uint256 id, uint256 incentive)
    {
        bool buffer = _watchFall(market, c, mark);
        id = ++kicks;
        bool long = size > 0;
        uint256 qty = FP.abs(size);
        uint256 notional = FP.notionalDown(qty, mark);
        qty -= _absorb(id, market, trader, long, qty, c, mark);
        // what the standing bids took is done: only the rest is queued or auctioned
        if (qty > 0) {
            Sale storage s = _sales[id];
            s.market = market;
            s.trader = trader;
            s.long = long;
            s.qty = SafeCast.toUint128(qty);
            if (buffer || _queue[market].length > queueHead[market] || !_hasRoom(market, c, FP.notionalDown(qty, mark)))
            {
                _queue[market].push(id);
                emit LiquidationQueued(id, market, trader, long, qty, mark, buffer);
            } else {
                _launch(id, s, c, mark);
            }
        }
        incentive = _incentive(c, notional);
    }

    /// @inheritdoc ILiquidationAuction
    function release(bytes32 market, uint256 maxCount) external override nonReentrant returns (uint256 started) {
        Config storage c = _config(market);
        uint256 mark = oracle.poke(market);
        bool buffer = _watchFall(market, c, mark);
        uint256[] storage q = _queue[market];
        uint256 head = queueHead[market];
        while (started < maxCount && head < q.length) {
            uint256 id = q[head];
            Sale storage s = _sales[id];
            if (s.qty == 0) {
                ++head; // all of it went to the ADL queue while it waited
                continue;
            }
            s.qty -= uint128(_absorb(id, market, s.trader, s.long, s.qty, c, mark));
            if (s.qty > 0) {
                if (buffer || !_hasRoom(market, c, FP.notionalDown(s.qty, mark))) break;
                _launch(id, s, c, mark);
            }
            ++head;
            ++started;
        }
        queueHead[market] = head;
    }

    /// @inheritdoc ILiquidationAuction
    function take(uint256 id, uint256 maxQty, uint256 limit, uint256 margin, address who, bytes calldata data)
        external
        override
        nonReentrant
        returns (uint256 qty, uint256 price)
    {
        if (maxQty == 0) revert ZeroTake();
        if (data.length == 0 && who != msg.sender) revert NotTaker(msg.sender, who);
        if (data.length > 0 && who.code.length == 0) revert TakerHasNoCode(who);
        Sale storage s = _activeSale(id);
        Config storage c = _configs[s.market];
        bool stale;
        // a poke, not a read: settleKeeper's margin check below pokes too, and the oracle reads its sources once
        (price, stale) = _status(s, c, oracle.poke(s.market));
        if (stale) revert AuctionStale(id);
        if (s.long ? price > limit : price < limit) revert PriceBeyondLimit(price, limit);

        bytes32 market = s.market;
        qty = _fill(id, s, c, maxQty, price, who);

        if (data.length > 0) {
            bytes4 ok = IAuctionTaker(who).onAuctionTake(msg.sender, market, qty, price, data);
            if (ok != IAuctionTaker.onAuctionTake.selector) revert TakerRefused(who);
        }
        clearinghouse.settleKeeper(market, who, margin);
    }

    /// @inheritdoc ILiquidationAuction
    function redo(uint256 id) external override nonReentrant {
        Sale storage s = _activeSale(id); // queued liquidations are not active: they wait for `release`
        Config storage c = _configs[s.market];
        uint256 mark = oracle.poke(s.market);
        (, bool stale) = _status(s, c, mark);
        if (!stale) revert AuctionNotStale(id);
        liquidityRiskAt[s.market] = block.timestamp;
        emit LiquidityRiskFlagged(s.market, id, block.timestamp);
        _start(s, c, mark);
        emit AuctionRestarted(id, s.anchor, s.top);
        _payIncentive(id, s.market, _incentive(c, FP.notionalDown(s.qty, mark)));
    }

    /// @inheritdoc ILiquidationAuction
    function handToAdl(uint256 id, uint256 qty) external override onlyRole(ADL_ROLE) nonReentrant {
        Sale storage s = _sales[id];
        uint256 held = s.qty;
        if (held == 0) revert NotActive(id);
        if (qty == 0 || qty > held) revert InvalidParameter("qty", qty);
        uint256 left = held - qty;
        _shrinkSale(s, qty);
        emit HandedToAdl(id, qty, left);
        if (left == 0 && s.tic != 0) _finish(id);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc ILiquidationAuction
    function getStatus(uint256 id) external view override returns (uint256 price, bool stale, uint256 qty) {
        Sale storage s = _activeSale(id);
        (price, stale) = _status(s, _configs[s.market], oracle.price(s.market));
        qty = s.qty;
    }

    /// @inheritdoc ILiquidationAuction
    function config(bytes32 market) external view override returns (Config memory) {
        return _configs[market];
    }

    /// @inheritdoc ILiquidationAuction
    function sale(uint256 id) external view override returns (Sale memory) {
        return _sales[id];
    }

    /// @inheritdoc ILiquidationAuction
    function active() external view override returns (uint256[] memory) {
        return _active;
    }

    /// @inheritdoc ILiquidationAuction
    function activeCount() external view override returns (uint256) {
        return _active.length;
    }

    /// @inheritdoc ILiquidationAuction
    function queued(bytes32 market) external view override returns (uint256[] memory ids) {
        uint256[] storage q = _queue[market];
        uint256 head = queueHead[market];
        ids = new uint256[](q.length - head);
        for (uint256 i; i < ids.length; ++i) {
            ids[i] = q[head + i];
        }
    }

    /// @inheritdoc ILiquidationAuction
    function inBuffer(bytes32 market) external view override returns (bool) {
        return block.timestamp < throttles[market].bufferUntil;
    }

    /// @inheritdoc ILiquidationAuction
    function effectiveHole(bytes32 market) external view override returns (uint256) {
        return _effectiveHole(market, _configs[market]);
    }

    /// @inheritdoc ILiquidationAuction
    function inLiquidityRisk(bytes32 market) external view override returns (bool) {
        uint256 at = liquidityRiskAt[market];
        return at != 0 && block.timestamp <= at + _configs[market].riskWindow;
    }

    // ------------------------------------------------------------------ internals

    /// @dev Fills as much of frozen sale `id` (`qty` [wad] of `trader`'s position) as the standing bids take at
    ///      `mark`, before any auction. Returns the size they took [wad].
    function _absorb(uint256 id, bytes32 market, address trader, bool long, uint256 qty, Config storage c, uint256 mark)
        internal
        returns (uint256 filled)
    {
        if (address(book) == address(0)) return 0;
        filled = book.absorb(id, market, trader, long, qty, mark, c.penaltyBps);
        if (filled > 0) emit StandingBidsFilled(id, market, trader, filled, qty - filled);
    }

    function _start(Sale storage s, Config storage c, uint256 mark) internal {
        s.anchor = SafeCast.toUint128(mark);
        s.top = SafeCast.toUint128(FP.mulDivUp(mark, FP.BPS + c.bufBps, FP.BPS));
        s.tic = uint64(block.timestamp);
    }

    /// @dev Passes up to `maxQty` of sale `id` to `who` at `price` (never leaving dust), releases its share of
    ///      the caps, and finishes the auction when nothing is left.
    function _fill(uint256 id, Sale storage s, Config storage c, uint256 maxQty, uint256 price, address who)
        internal
        returns (uint256 qty)
    {
        qty = FP.min(maxQty, s.qty);
        uint256 left = s.qty - qty;
        if (left > 0 && FP.notionalDown(left, price) < c.dust) {
            revert WouldLeaveDust(FP.notionalDown(left, price), c.dust);
        }
        _requireCoverable(id, s, qty, price);
        _shrinkSale(s, qty);
        clearinghouse.liquidationFill(s.market, s.trader, who, qty, price, c.penaltyBps);
        emit AuctionTaken(id, who, qty, price, left);
        if (left == 0) _finish(id);
    }

    /// @dev A take must not create bad debt that ADL could avoid: the shortfall it would realise (a price below
    ///      the bankruptcy price) must fit in what the market's sub-pool and the global pool hold, which pay it.
    function _requireCoverable(uint256 id, Sale storage s, uint256 qty, uint256 price) internal view {
        uint256 shortfall = clearinghouse.fillShortfall(s.market, s.trader, qty, price);
        if (shortfall == 0) return;
        uint256 available = fund.poolBalance(s.market) + fund.poolBalance(bytes32(0)) /* the global pool */;
        if (shortfall > available) revert ShortfallBeyondFund(id, shortfall, available);
    }

    /// @dev Removes `qty` from the sale and its share of the notional from the caps (a queued sale holds none).
    function _shrinkSale(Sale storage s, uint256 qty) internal {
        uint256 freed = qty == s.qty ? s.notional : FP.mulDivDown(s.notional, qty, s.qty);
        s.notional -= uint128(freed);
        dirt[s.market] -= freed;
        globalDirt -= freed;
        s.qty = uint128(s.qty - qty);
    }

    /// @dev Starts the auction of a frozen position at `mark` and counts it against the caps.
    function _launch(uint256 id, Sale storage s, Config storage c, uint256 mark) internal {
        _start(s, c, mark);
        uint256 notional = FP.notionalDown(s.qty, mark);
        s.notional = SafeCast.toUint128(notional);
        dirt[s.market] += notional;
        globalDirt += notional;
        _activeIndex[id] = _active.length + 1;
        _active.push(id);
        emit AuctionStarted(id, s.market, s.trader, s.long, s.qty, s.anchor, s.top);
    }

    /// @dev Whether `notional` [usdc] more fits under `market`'s cap and the global cap (each open while nothing is
    ///      in auction under it).
    function _hasRoom(bytes32 market, Config storage c, uint256 notional) internal view returns (bool) {
        uint256 hole = _effectiveHole(market, c);
        if (hole != 0 && dirt[market] != 0 && dirt[market] + notional > hole) return false;
        return globalHole == 0 || globalDirt == 0 || globalDirt + notional <= globalHole;
    }

    /// @dev `effectiveHole` of `market`, whose config is `c`.
    function _effectiveHole(bytes32 market, Config storage c) internal view returns (uint256) {
        uint256 drop = throttles[market].lastDropBps;
        if (c.hole == 0 || c.dropBps == 0 || drop <= c.dropBps) return c.hole;
        return FP.mulDivDown(c.hole, c.dropBps, drop);
    }

    /// @dev Measures the fall of `mark` [wad] from the oracle's recent high (the highest price any poke recorded
    ///      over the oracle's high window, so a fall during a keeper outage is seen by the first call after it)
    ///      and starts a buffer period when it reaches `dropBps`: length `bufferBase · drop / dropBps`, at most
    ///      `bufferMax` (a fall twice as fast buffers twice as long). Only a deeper fall from the same high than
    ///      already measured (re)starts a buffer: the same fall read again does not keep the market buffering.
    ///      Returns whether the market is in a buffer period.
    function _watchFall(bytes32 market, Config storage c, uint256 mark) internal returns (bool) {
        Throttle storage t = throttles[market];
        if (c.dropBps == 0) return false;
        (uint256 high,) = oracle.recentHigh(market);
        if (high != t.refPrice) {
            t.refPrice = SafeCast.toUint128(high);
            t.lastDropBps = 0;
        }
        if (mark < high) {
            uint256 drop = FP.mulDivDown(high - mark, FP.BPS, high);
            if (drop > t.lastDropBps) {
                t.lastDropBps = uint16(drop);
                if (drop >= c.dropBps) {
                    uint256 until = block.timestamp + FP.min(FP.mulDivUp(c.bufferBase, drop, c.dropBps), c.bufferMax);
                    if (until > t.bufferUntil) {
                        t.bufferUntil = uint64(until);
                        emit BufferStarted(market, drop, until);
                    }
                }
            }
        }
        return block.timestamp < t.bufferUntil;
    }

    /// @dev The auction price for the sale's side, and whether the auction is stale.
    function _status(Sale storage s, Config storage c, uint256 mark) internal view returns (uint256 price, bool stale) {
        uint256 elapsed = block.timestamp - s.tic;
        uint256 fall = c.curve.price(s.top, elapsed); // from top toward zero
        if (s.long) {
            price = fall;
        } else {
            uint256 mirror = 2 * uint256(s.anchor);
            price = fall >= mirror ? 0 : mirror - fall;
        }
        uint256 gap = price > mark ? price - mark : mark - price;
        stale = elapsed > c.tail || gap > FP.bpsDown(mark, c.staleBps);
    }

    /// @dev The incentive [usdc] for starting or restarting a liquidation of `notional` [usdc]: a flat tip plus a
    ///      share of the notional, capped. Nothing below `dust` notional: otherwise opening dust positions and
    ///      liquidating them would farm the flat tip from the fund (Maker's `chost` rule).
    function _incentive(Config storage c, uint256 notional) internal view returns (uint256) {
        if (notional < c.dust) return 0;
        return FP.min(c.tip + FP.bpsDown(notional, c.chipBps), c.tipCap);
    }

    /// @dev Pays the caller `amount` [usdc] from the fund for starting or restarting liquidation `id`.
    function _payIncentive(uint256 id, bytes32 market, uint256 amount) internal {
        if (amount == 0) return;
        uint256 unpaid = fund.coverLoss(market, amount, msg.sender);
        emit IncentivePaid(id, msg.sender, amount - unpaid, unpaid);
    }

    function _finish(uint256 id) internal {
        // a finished auction's notional was released from the caps by its last take
        uint256 index = _activeIndex[id] - 1;
        uint256 last = _active[_active.length - 1];
        _active[index] = last;
        _activeIndex[last] = index + 1;
        _active.pop();
        delete _activeIndex[id];
        emit AuctionFinished(id);
    }

    function _activeSale(uint256 id) internal view returns (Sale storage s) {
        if (_activeIndex[id] == 0) revert NotActive(id);
        s = _sales[id];
    }

    function _config(bytes32 market) internal view returns (Config storage c) {
        c = _configs[market];
        if (address(c.curve) == address(0)) revert UnknownMarket(market);
    }

    function _bps(bytes32 what, uint256 data) internal pure returns (uint16) {
        return uint16(_fits(what, data, FP.BPS));
    }

    function _fits(bytes32 what, uint256 data, uint256 maxValue) internal pure returns (uint256) {
        if (data > maxValue) revert InvalidParameter(what, data);
        return data;
    }
}
