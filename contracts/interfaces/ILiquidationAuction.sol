// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IAuctionCurve} from "./IAuctionCurve.sol";
import {IStandingBidBook} from "./IStandingBidBook.sol";

/// @notice The liquidation engine: freezes positions below maintenance margin and sells them by Dutch auction to
///         keepers, after offering them to the standing bids; throttles how much notional is in auction at once
///         (caps, a buffer period after a fast fall, a FIFO queue per market); hands what the ADL queue takes over.
/// @dev Units: [usdc] 6 decimals, [wad] 18 decimals, [bps] 10_000 = 100%, [seconds]. Shared errors
///      (contracts/interfaces/Errors.sol): UnknownMarket (the market has no auction curve), UnknownParameter
///      (`file` names no parameter), InvalidParameter (a value out of range, a zero curve, a bad `handToAdl` qty).
interface ILiquidationAuction {
    /// @notice A market's auction parameters, each set with `file`.
    struct Config {
        IAuctionCurve curve; // price curve of the auction
        uint16 penaltyBps; // [bps] of each fill's notional, from the trader's equity to the sub-pool
        uint16 bufBps; // [bps] how far in the protocol's favour the auction starts
        uint16 staleBps; // [bps] an auction is stale once its price is this far from the oracle price
        uint32 tail; // [seconds] an auction is stale once this old
        uint16 chipBps; // [bps] of the notional, paid to whoever starts or restarts an auction
        uint64 tip; // [usdc] flat incentive to whoever starts or restarts an auction
        uint64 tipCap; // [usdc] the most one incentive may pay
        uint64 dust; // [usdc] the least notional a partial take may leave behind
        uint32 riskWindow; // [seconds] how long a market stays in liquidity risk after an unfilled auction
        uint64 hole; // [usdc] the most notional in auction at once in this market (0: no cap)
        uint16 dropBps; // [bps] a fall this large from the oracle's recent high starts a buffer period; the
        // fall's window is the oracle's high window (IPriceOracle.setHighWindow), 0 there: no fall is seen
        uint32 bufferBase; // [seconds] buffer length for a fall of exactly `dropBps`; longer for faster falls
        uint32 bufferMax; // [seconds] the longest buffer period
    }

    /// @notice A market's throttle state: the recent high the fall was last measured from, and the buffer.
    struct Throttle {
        uint128 refPrice; // [wad] the oracle's recent high when the fall was last measured
        uint64 bufferUntil; // [seconds] new liquidations wait in the queue until then
        uint16 lastDropBps; // [bps] the deepest fall measured from `refPrice`
    }

    /// @notice One liquidation. Packed in four slots: starting an auction is one of the hot paths of a crash.
    ///         `tic == 0` marks a liquidation waiting in its market's queue.
    struct Sale {
        bytes32 market;
        address trader;
        bool long; // the liquidated position's side; the keeper takes the same side
        uint64 tic; // [seconds] start or restart time
        uint128 qty; // [wad] left to sell
        uint128 anchor; // [wad] oracle price at start or restart
        uint128 top; // [wad] anchor·(1 + buf): the curve's starting point
        uint128 notional; // [usdc] counted against the caps while the auction runs (at its start price)
    }

    // --- Errors (each named after the rule broken) ---

    /// @notice Liquidation `id` is not a running auction (for `handToAdl`: has nothing left).
    error NotActive(uint256 id);
    /// @notice Auction `id` is stale (too old, or its price too far from the oracle): restart it with `redo`.
    error AuctionStale(uint256 id);
    /// @notice Auction `id` is fresh: only a stale auction may be restarted.
    error AuctionNotStale(uint256 id);
    /// @notice A take must ask for a positive quantity.
    error ZeroTake();
    /// @notice The auction `price` [wad] is worse for the taker than its `limit` [wad].
    error PriceBeyondLimit(uint256 price, uint256 limit);
    /// @notice A partial take may not leave less than `dust` [usdc] of notional (`remainingNotional` [usdc]).
    error WouldLeaveDust(uint256 remainingNotional, uint256 dust);
    /// @notice Without callback data the taker `who` must be the `caller`.
    error NotTaker(address caller, address who);
    /// @notice Taker contract `who` did not return `onAuctionTake`'s selector.
    error TakerRefused(address who);
    /// @notice With callback data the taker `who` must be a contract.
    error TakerHasNoCode(address who);
    /// @notice A take of auction `id` would realise a `shortfall` [usdc] (a price below the position's
    ///         bankruptcy price) beyond the `available` [usdc] the market's sub-pool and the global pool hold:
    ///         it would create bad debt that ADL can avoid, so the sale waits for ADL (or a better price).
    error ShortfallBeyondFund(uint256 id, uint256 shortfall, uint256 available);
    /// @notice Liquidation `id` is not waiting in its market's queue.
    error NotQueued(uint256 id);

    // --- Events ---

    /// @notice `market`'s auctions now use `curve` (which also enables the market).
    event CurveSet(bytes32 indexed market, address curve);
    /// @notice `market`'s parameter `what` was set to `data` (unit as documented on `file`).
    event ParameterSet(bytes32 indexed market, bytes32 indexed what, uint256 data);
    /// @notice Auction `id` of `trader`'s position in `market` (`long`, `qty` [wad]) started at oracle price
    ///         `anchor` [wad], curve top `top` [wad].
    event AuctionStarted(
        uint256 indexed id,
        bytes32 indexed market,
        address indexed trader,
        bool long,
        uint256 qty,
        uint256 anchor,
        uint256 top
    );
    /// @notice `keeper` took `qty` [wad] of auction `id` at `price` [wad]; `left` [wad] is still for sale.
    event AuctionTaken(uint256 indexed id, address indexed keeper, uint256 qty, uint256 price, uint256 left);
    /// @notice Stale auction `id` restarted at oracle price `anchor` [wad], curve top `top` [wad].
    event AuctionRestarted(uint256 indexed id, uint256 anchor, uint256 top);
    /// @notice Auction `id` has nothing left for sale and left the running auctions.
    event AuctionFinished(uint256 indexed id);
    /// @notice The fund paid `keeper` `amount` [usdc] for starting or restarting liquidation `id`; `unpaid` [usdc]
    ///         of the incentive it could not cover.
    event IncentivePaid(uint256 indexed id, address indexed keeper, uint256 amount, uint256 unpaid);
    /// @notice The fund paid `keeper` `amount` [usdc] for the liquidations `firstId` to `lastId` that one
    ///         `liquidateMany` started (the sum of their incentives, each computed as for `liquidate`); `unpaid`
    ///         [usdc] of it the fund could not cover.
    event BatchIncentivePaid(
        uint256 indexed firstId, uint256 indexed lastId, address indexed keeper, uint256 amount, uint256 unpaid
    );
    /// @notice Auction `id` went unfilled: `market` is in liquidity risk from `at` [seconds].
    event LiquidityRiskFlagged(bytes32 indexed market, uint256 indexed id, uint256 at);
    /// @notice Liquidation `id` (`long`, `qty` [wad] of `trader`'s position, frozen at `mark` [wad]) waits in
    ///         `market`'s queue: a buffer period (`buffer`) or full caps keep it out of auction.
    event LiquidationQueued(
        uint256 indexed id,
        bytes32 indexed market,
        address indexed trader,
        bool long,
        uint256 qty,
        uint256 mark,
        bool buffer
    );
    /// @notice A fall of `dropBps` [bps] started a buffer period in `market` until `until` [seconds].
    event BufferStarted(bytes32 indexed market, uint256 dropBps, uint256 until);
    /// @notice The cap on notional in auction across markets is now `hole` [usdc] (0: no cap).
    event GlobalHoleSet(uint256 hole);
    /// @notice Liquidations now try the standing-bid book `book` first (0: none).
    event BookSet(address book);
    /// @notice Standing bids took `qty` [wad] of liquidation `id` of `trader` in `market`; `left` [wad] remains.
    event StandingBidsFilled(
        uint256 indexed id, bytes32 indexed market, address indexed trader, uint256 qty, uint256 left
    );
    /// @notice The ADL queue took over `qty` [wad] of liquidation `id`; `left` [wad] remains.
    event HandedToAdl(uint256 indexed id, uint256 qty, uint256 left);
    /// @notice `liquidateMany` passed over `trader`: its liquidation would have reverted with `reason` (the
    ///         revert data: `NotLiquidatable`, `PositionInLiquidation`, ...). Nothing of it changed.
    event LiquidationSkipped(bytes32 indexed market, address indexed trader, bytes reason);

    // --- Administration ---

    /// @notice Sets the price curve of `market`'s auctions (this also enables the market). Admin only.
    function setCurve(bytes32 market, IAuctionCurve curve) external;

    /// @notice Sets one parameter of `market`: "penaltyBps", "bufBps", "staleBps", "chipBps", "dropBps" [bps];
    ///         "tail", "riskWindow", "bufferBase", "bufferMax" [seconds]; "tip", "tipCap", "dust",
    ///         "hole" [usdc]. Admin only.
    function file(bytes32 market, bytes32 what, uint256 data) external;

    /// @notice Sets the standing-bid book that `liquidate` and `release` try before the auction (0: none). Admin only.
    function setBook(IStandingBidBook book_) external;

    /// @notice Caps the notional [usdc] in auction across all markets (0: no cap). Admin only.
    function setGlobalHole(uint256 hole) external;

    // --- The auction's life ---

    /// @notice Freezes `trader`'s position in `market` (it must be below maintenance margin at the oracle
    ///         price and not already in liquidation) and starts an auction for all of it — or, while the market
    ///         is in a buffer period or its auction caps are full, puts it in the market's queue (see `release`).
    ///         Standing bids (`book`) are tried first, in the same transaction: what they take never enters the
    ///         auction or the queue, nor counts against the caps. The caller earns the keeper incentive on the
    ///         whole position either way: freezing the position is the work. Anyone.
    function liquidate(bytes32 market, address trader) external returns (uint256 id);

    /// @notice `liquidate` for each of `traders` in `market`, in order, in one transaction: the oracle is read
    ///         once for all of them (PriceOracle keeps a transaction's price). A trader whose position cannot be
    ///         frozen (`Clearinghouse.beginLiquidation` reverts: not below maintenance, already in liquidation,
    ///         no position, no usable price) is skipped with `LiquidationSkipped`, not a revert of the batch; a
    ///         revert after the freeze reverts the batch, as it would a `liquidate`. The caller's incentives are
    ///         summed and paid once, after the last liquidation (`BatchIncentivePaid`), from what the pools hold
    ///         then. Returns each trader's sale id (0: skipped). Anyone.
    function liquidateMany(bytes32 market, address[] calldata traders) external returns (uint256[] memory ids);

    /// @notice Releases up to `maxCount` queued liquidations of `market`, oldest first, at the current oracle
    ///         price. Each is first offered to the standing bids — even during a buffer period and whatever the
    ///         caps: the buffer adapts to standing-bid depth, since what pre-funded bids absorb cannot flood the
    ///         auction. What they leave starts an auction once the market is out of its buffer period and the caps
    ///         have room; otherwise it stays at the head of the queue. Anyone may call.
    /// @return started how many queued liquidations left the queue (auction started or fully absorbed).
    function release(bytes32 market, uint256 maxCount) external returns (uint256 started);

    /// @notice Takes up to `maxQty` [wad] of auction `id` at its current price for `who`, who becomes the owner
    ///         of that part of the position. `limit` [wad] is the worst price accepted: the most `who` pays for
    ///         a long, the least it accepts for a short. Then `margin` [usdc] moves from `who`'s free balance in
    ///         the clearinghouse into its position, which must meet initial margin. With `data`, `who` (a
    ///         contract) is called first with `onAuctionTake` and may fund its free balance there; otherwise
    ///         `who` must be the caller. Anyone may name any taker contract: it must check `caller` itself.
    function take(uint256 id, uint256 maxQty, uint256 limit, uint256 margin, address who, bytes calldata data)
        external
        returns (uint256 qty, uint256 price);

    /// @notice Restarts auction `id` from the current oracle price once it is stale (too old, or its price too
    ///         far from the oracle), flags the market as in liquidity risk (the auction ended unfilled), and pays
    ///         the caller the keeper incentive. Anyone may call; a fresh auction cannot be restarted.
    function redo(uint256 id) external;

    /// @notice Hands `qty` [wad] of liquidation `id` (running or queued) to the ADL queue, which closes it at the
    ///         position's bankruptcy price against opposite positions. Releases its share of the caps and
    ///         finishes a running auction when nothing is left. Only ADL_ROLE.
    function handToAdl(uint256 id, uint256 qty) external;

    // --- Views ---

    /// @notice The current price [wad] of auction `id`, whether it is stale (needs `redo`), and what is left [wad].
    function getStatus(uint256 id) external view returns (uint256 price, bool stale, uint256 qty);

    /// @notice `market`'s auction parameters.
    function config(bytes32 market) external view returns (Config memory);

    /// @notice Liquidation `id`: running (`tic` > 0, and listed by `active`), queued (`tic` == 0) or done (`qty` == 0).
    ///         One the standing bids took whole at its start keeps no record: all fields read 0 (its events,
    ///         `StandingBidsFilled` and the bids' `BidFilled`, are its history).
    function sale(uint256 id) external view returns (Sale memory);

    /// @notice Ids of the running auctions.
    function active() external view returns (uint256[] memory);

    /// @notice How many auctions are running.
    function activeCount() external view returns (uint256);

    /// @notice Ids of `market`'s liquidations waiting in its queue, oldest first.
    function queued(bytes32 market) external view returns (uint256[] memory ids);

    /// @notice True while `market` is in a buffer period (new liquidations wait in its queue).
    function inBuffer(bytes32 market) external view returns (bool);

    /// @notice The market's cap [usdc] on notional in auction now: `hole` scaled down by how much faster than
    ///         `dropBps` the price last fell from the oracle's recent high (`hole · dropBps / lastDrop`); 0 means no
    ///         cap.
    function effectiveHole(bytes32 market) external view returns (uint256);

    /// @notice True while `market` is in liquidity risk: an auction of it went unfilled within `riskWindow`.
    function inLiquidityRisk(bytes32 market) external view returns (bool);
}
