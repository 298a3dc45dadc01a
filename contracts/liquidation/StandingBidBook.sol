// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IClearinghouse} from "../interfaces/IClearinghouse.sol";
import {IStandingBidBook} from "../interfaces/IStandingBidBook.sol";
import {InvalidParameter, UnknownMarket, ZeroAmount} from "../interfaces/Errors.sol";
import {FixedPointMath as FP} from "../libraries/FixedPointMath.sol";

/// @title StandingBidBook
/// @notice Pre-funded standing bids for liquidations. Before a crash, a keeper escrows USDC and commits to take
///         over liquidated longs (or shorts) of one market at a discount to the oracle price, up to a notional.
///         `LiquidationAuction.liquidate` (and `release`) fill frozen positions against these bids first, in the
///         same transaction, best price for the protocol first; only what they do not take goes to the auction.
/// @dev Design: a bounded number of discount levels per market (at most MAX_LEVELS, ascending) and, per
///      (market, side, level), a FIFO doubly linked list of bids. Placing appends at the tail, cancelling
///      unlinks in O(1), a fully used bid is unlinked as it fills: no tombstones. A liquidation visits at most
///      `maxMatches[market]` bids (filled or skipped) over at most MAX_LEVELS levels, so its gas does not grow
///      with the number of bidders. (A Liquity-style product-sum pool per level was the alternative; FIFO
///      lists were chosen because each bidder then owns a plain position with its own entry price, settled by
///      the same `liquidationFill` as an auction take.)
///      Prices: a long is bought at `mark·(1 − discount)` (rounded up), a short taken over at `mark·(1 + discount)`
///      (rounded down): both against the bidder.
///      Escrow: held as this contract's free balance in the clearinghouse. A bid's escrow must cover the initial
///      margin of its whole notional at the bracket of that notional. A fill uses `used` of the bid's notional
///      (at the fill price) and moves the same share of its escrow (rounded up) into the bidder's position, so
///      the escrow share covers the initial margin of the part taken at the fill price; the instant gain
///      (mark − price per unit) covers the difference to initial margin at the mark. No further margin check is
///      made, so the bidder's own state cannot make a liquidation revert.
///      Robustness: a bid whose owner is the liquidated trader, or whose owner's position in the market is itself
///      in liquidation, is cancelled when a liquidation reaches it and its escrow refunded to the owner's
///      withdrawable balance (it counts against `maxMatches`). So is a bid too small to take one wei of size.
contract StandingBidBook is IStandingBidBook, AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice The liquidation engine: may fill frozen positions against the book.
    bytes32 public constant ENGINE_ROLE = keccak256("ENGINE_ROLE");
    uint256 public constant MAX_LEVELS = 8;
    uint256 public constant MAX_MATCHES = 64; // the most `maxMatches` may be set to

    /// @notice One (market, side, level) FIFO: its ends, number of bids and notional.
    struct Level {
        uint64 head;
        uint64 tail;
        uint32 count;
        uint96 depth; // [usdc] Σ left of its bids
    }

    IClearinghouse public immutable clearinghouse;
    IERC20 public immutable usdc;

    mapping(bytes32 market => uint16[]) internal _levels; // [bps] ascending discounts
    mapping(bytes32 market => uint256) public maxMatches; // bids visited per liquidation at most
    mapping(bytes32 market => mapping(bool long => Level[MAX_LEVELS])) internal _books;
    mapping(bytes32 market => mapping(bool long => uint256)) public sideDepth; // [usdc] Σ depth over levels
    mapping(uint256 id => Bid) internal _bids;
    mapping(address owner => uint256) public withdrawable; // [usdc] released escrow, paid out by `withdraw`
    uint64 public bidCount; // bids ever placed; ids are 1..bidCount

    constructor(IClearinghouse clearinghouse_, IERC20 usdc_, address admin) {
        clearinghouse = clearinghouse_;
        usdc = usdc_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        usdc_.forceApprove(address(clearinghouse_), type(uint256).max);
    }

    // ------------------------------------------------------------------ administration

    /// @inheritdoc IStandingBidBook
    function setLevels(bytes32 market, uint16[] calldata discountBps) external override onlyRole(DEFAULT_ADMIN_ROLE) {
        clearinghouse.tierFor(market, 0); // reverts UnknownMarket for an unlisted market
        if (sideDepth[market][true] != 0 || sideDepth[market][false] != 0) revert BookNotEmpty(market);
        uint256 n = discountBps.length;
        if (n == 0 || n > MAX_LEVELS) revert InvalidLevels(n);
        for (uint256 i; i < n; ++i) {
            if (discountBps[i] >= FP.BPS || (i > 0 && discountBps[i] <= discountBps[i - 1])) revert InvalidLevels(i);
        }
        _levels[market] = discountBps;
        emit LevelsSet(market, discountBps);
    }

    /// @inheritdoc IStandingBidBook
    function setMaxMatches(bytes32 market, uint256 n) external override onlyRole(DEFAULT_ADMIN_ROLE) {
        if (n == 0 || n > MAX_MATCHES) revert InvalidParameter("maxMatches", n);
        maxMatches[market] = n;
        emit MaxMatchesSet(market, n);
    }

    // ------------------------------------------------------------------ bidders

    /// @inheritdoc IStandingBidBook
    function placeBid(bytes32 market, bool long, uint256 level, uint256 notional, uint256 escrow)
        external
        override
        nonReentrant
        returns (uint256 id)
    {
        if (notional == 0 || escrow == 0) revert ZeroAmount();
        uint256 levels = _levels[market].length;
        if (levels == 0) revert UnknownMarket(market);
        if (level >= levels) revert LevelOutOfRange(level, levels);
        uint256 required = FP.bpsUp(notional, clearinghouse.tierFor(market, notional).initialMarginBps);
        if (escrow < required) revert EscrowBelowInitialMargin(escrow, required);

        id = _append(market, long, level, notional, escrow);
        usdc.safeTransferFrom(msg.sender, address(this), escrow);
        clearinghouse.deposit(escrow);
    }

    /// @inheritdoc IStandingBidBook
    function reduceBid(uint256 id, uint256 notional) external override nonReentrant {
        if (notional == 0) revert ZeroAmount();
        Bid storage b = _ownBid(id);
        uint256 left = b.left;
        if (notional > left) revert ReductionAboveLeft(left, notional);
        if (notional == left) {
            _cancel(id, b, false);
            return;
        }
        uint256 released = FP.mulDivDown(b.escrow, notional, left);
        b.left = uint96(left - notional);
        b.escrow -= uint96(released);
        _books[b.market][b.long][b.level].depth -= uint96(notional);
        sideDepth[b.market][b.long] -= notional;
        withdrawable[msg.sender] += released;
        emit BidReduced(id, notional, released, b.left);
    }

    /// @inheritdoc IStandingBidBook
    function cancelBid(uint256 id) external override nonReentrant {
        _cancel(id, _ownBid(id), false);
    }

    /// @inheritdoc IStandingBidBook
    function withdraw(uint256 amount) external override nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 available = withdrawable[msg.sender];
        if (amount > available) revert InsufficientWithdrawable(available, amount);
        withdrawable[msg.sender] = available - amount;
        emit Withdrawn(msg.sender, amount);
        clearinghouse.withdraw(amount);
        usdc.safeTransfer(msg.sender, amount);
    }

    // ------------------------------------------------------------------ the engine

    /// @inheritdoc IStandingBidBook
    /// @dev Visits the levels from the smallest discount up and each level's bids oldest first, at most
    ///      `maxMatches[market]` bids in all. Only ENGINE_ROLE (the liquidation auction), checked first: every
    ///      caller but the engine is refused, even on an empty side. No reentrancy guard is needed: it calls only
    ///      the clearinghouse (and through it the fund), never a bidder.
    function absorb(
        uint256 id,
        bytes32 market,
        address trader,
        bool long,
        uint256 qty,
        uint256 mark,
        uint256 penaltyBps
    ) external override returns (uint256 filled) {
        _checkRole(ENGINE_ROLE);
        if (sideDepth[market][long] == 0) return 0;
        return _absorb(Fill(id, market, trader, long, 0, penaltyBps), qty, mark);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IStandingBidBook
    function levels(bytes32 market) external view override returns (uint16[] memory) {
        return _levels[market];
    }

    /// @inheritdoc IStandingBidBook
    function depth(bytes32 market, bool long, uint256 level)
        external
        view
        override
        returns (uint256 discountBps, uint256 notional, uint256 count, uint256 head)
    {
        uint256 levels_ = _levels[market].length;
        if (level >= levels_) revert LevelOutOfRange(level, levels_);
        Level storage lvl = _books[market][long][level];
        return (_levels[market][level], lvl.depth, lvl.count, lvl.head);
    }

    /// @inheritdoc IStandingBidBook
    function totalDepth(bytes32 market, bool long) external view override returns (uint256) {
        return sideDepth[market][long];
    }

    /// @inheritdoc IStandingBidBook
    function bid(uint256 id) external view override returns (Bid memory) {
        return _bids[id];
    }

    // ------------------------------------------------------------------ internals

    /// @dev What stays the same across the matches of one liquidation.
    struct Fill {
        uint256 id;
        bytes32 market;
        address trader;
        bool long;
        uint256 price; // [wad] of the level being matched
        uint256 penaltyBps;
    }

    /// @dev The matching loop of `absorb`: levels from the smallest discount, each level oldest bid first.
    function _absorb(Fill memory f, uint256 qty, uint256 mark) internal returns (uint256 filled) {
        uint16[] storage discounts = _levels[f.market];
        uint256 budget = maxMatches[f.market];
        uint256 n = discounts.length;
        for (uint256 level; level < n && filled < qty && budget > 0; ++level) {
            uint256 bidId = _books[f.market][f.long][level].head;
            if (bidId == 0) continue;
            uint256 d = discounts[level];
            f.price = f.long ? FP.mulDivUp(mark, FP.BPS - d, FP.BPS) : FP.mulDivDown(mark, FP.BPS + d, FP.BPS);
            while (bidId != 0 && filled < qty && budget > 0) {
                --budget;
                Bid storage b = _bids[bidId];
                uint256 next = b.next;
                filled += _match(f, bidId, b, qty - filled);
                bidId = next;
            }
        }
    }

    /// @dev Fills up to `want` [wad] against bid `bidId` at `f.price`, or cancels it if its owner cannot take.
    function _match(Fill memory f, uint256 bidId, Bid storage b, uint256 want) internal returns (uint256 qty) {
        address owner = b.owner;
        uint256 cap = FP.mulDivDown(b.left, FP.NOTIONAL_SCALE, f.price); // [wad] the most size `left` buys
        if (owner == f.trader || cap == 0 || clearinghouse.inLiquidation(f.market, owner)) {
            _cancel(bidId, b, true);
            return 0;
        }
        qty = FP.min(want, cap);
        uint256 share = _use(f, bidId, b, qty, qty == cap);
        clearinghouse.liquidationFill(f.market, f.trader, owner, qty, f.price, f.penaltyBps);
        clearinghouse.fundMargin(f.market, owner, share);
    }

    /// @dev Uses the notional of bid `bidId` that `qty` takes at `f.price` (all of it when `all`) and the same
    ///      share of its escrow (rounded up); unlinks the bid once nothing is left. Returns the escrow share.
    function _use(Fill memory f, uint256 bidId, Bid storage b, uint256 qty, bool all) internal returns (uint256 share) {
        uint256 left = b.left;
        uint256 used = all ? left : FP.min(left, FP.notionalUp(qty, f.price));
        share = used == left ? b.escrow : FP.mulDivUp(b.escrow, used, left);
        b.left = uint96(left - used);
        b.escrow -= uint96(share);
        _books[f.market][f.long][b.level].depth -= uint96(used);
        sideDepth[f.market][f.long] -= used;
        emit BidFilled(bidId, f.id, b.owner, qty, f.price, used, share);
        if (used == left) _cancel(bidId, b, false); // nothing left to bid: unlink (its escrow is all used)
    }

    /// @dev Stores a new bid of the caller and links it at the tail of its level's FIFO.
    function _append(bytes32 market, bool long, uint256 level, uint256 notional, uint256 escrow)
        internal
        returns (uint256 id)
    {
        id = ++bidCount;
        Level storage lvl = _books[market][long][level];
        _bids[id] = Bid({
            market: market,
            owner: msg.sender,
            long: long,
            level: uint8(level),
            next: 0,
            prev: lvl.tail,
            left: SafeCast.toUint96(notional),
            escrow: SafeCast.toUint96(escrow)
        });
        if (lvl.tail == 0) lvl.head = uint64(id);
        else _bids[lvl.tail].next = uint64(id);
        lvl.tail = uint64(id);
        lvl.count += 1;
        lvl.depth += uint96(notional);
        sideDepth[market][long] += notional;
        emit BidPlaced(id, market, msg.sender, long, level, _levels[market][level], notional, escrow);
    }

    /// @dev Unlinks bid `id` in O(1), releases what is left of it to its owner's withdrawable balance, deletes it.
    function _cancel(uint256 id, Bid storage b, bool skipped) internal {
        Level storage lvl = _books[b.market][b.long][b.level];
        if (b.prev == 0) lvl.head = b.next;
        else _bids[b.prev].next = b.next;
        if (b.next == 0) lvl.tail = b.prev;
        else _bids[b.next].prev = b.prev;
        lvl.count -= 1;
        uint256 left = b.left;
        uint256 released = b.escrow;
        if (left > 0) {
            lvl.depth -= uint96(left);
            sideDepth[b.market][b.long] -= left;
        }
        address owner = b.owner;
        if (released > 0 || left > 0) {
            withdrawable[owner] += released;
            emit BidCancelled(id, owner, released, skipped);
        }
        delete _bids[id];
    }

    function _ownBid(uint256 id) internal view returns (Bid storage b) {
        b = _bids[id];
        if (b.owner == address(0)) revert NoSuchBid(id);
        if (b.owner != msg.sender) revert NotBidOwner(msg.sender, b.owner);
    }
}
