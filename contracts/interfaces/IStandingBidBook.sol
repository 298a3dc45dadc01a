// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @notice Pre-funded standing bids for liquidations: keepers escrow USDC and commit to take over liquidated longs
///         (or shorts) of one market at a discount to the oracle price, up to a notional; the liquidation engine
///         fills frozen positions against these bids first, in the same transaction, best price for the protocol
///         first.
/// @dev Units: [usdc] 6 decimals, [wad] 18 decimals, [bps] 10_000 = 100%. Shared errors
///      (contracts/interfaces/Errors.sol): ZeroAmount (a notional, escrow or amount was zero), UnknownMarket (the
///      market has no discount levels), InvalidParameter (`maxMatches` outside 1..MAX_MATCHES).
interface IStandingBidBook {
    /// @notice A standing bid. `left` and `escrow` fall as it fills; a bid with nothing left is deleted.
    struct Bid {
        bytes32 market;
        address owner;
        bool long; // takes over liquidated longs (becomes long) if true, liquidated shorts otherwise
        uint8 level; // index into the market's discount levels
        uint64 next; // next bid in the level's FIFO (0: none)
        uint64 prev; // previous bid in the level's FIFO (0: none)
        uint96 left; // [usdc] notional it will still take, measured at the fill price
        uint96 escrow; // [usdc] escrow still backing `left`
    }

    // --- Errors (each named after the rule broken) ---

    /// @notice `level` is not below the market's `levels` discount levels.
    error LevelOutOfRange(uint256 level, uint256 levels);
    /// @notice The discount levels must be 1..MAX_LEVELS, strictly ascending, each below 10,000; `index` breaks it
    ///         (or is the count, when the count is wrong).
    error InvalidLevels(uint256 index);
    /// @notice Levels price existing bids: they may only be set while `market`'s book is empty.
    error BookNotEmpty(bytes32 market);
    /// @notice A bid's `escrow` [usdc] must cover initial margin (`required` [usdc]) on its notional.
    error EscrowBelowInitialMargin(uint256 escrow, uint256 required);
    /// @notice Only the bid's `owner` may change it, not `caller`.
    error NotBidOwner(address caller, address owner);
    /// @notice Bid `id` does not exist (never placed, cancelled or fully used).
    error NoSuchBid(uint256 id);
    /// @notice A reduction of `requested` [usdc] exceeds the `left` [usdc] notional of the bid.
    error ReductionAboveLeft(uint256 left, uint256 requested);
    /// @notice A withdrawal of `requested` [usdc] exceeds the `available` [usdc] released escrow.
    error InsufficientWithdrawable(uint256 available, uint256 requested);

    // --- Events ---

    /// @notice `market`'s discount levels [bps] were set, ascending.
    event LevelsSet(bytes32 indexed market, uint16[] discountBps);
    /// @notice One liquidation in `market` now visits at most `maxMatches` bids.
    event MaxMatchesSet(bytes32 indexed market, uint256 maxMatches);
    /// @notice Bid `id` of `owner` joined the back of `market`'s (`long`, `level`) queue at `discountBps` [bps], for
    ///         `notional` [usdc] backed by `escrow` [usdc].
    event BidPlaced(
        uint256 indexed id,
        bytes32 indexed market,
        address indexed owner,
        bool long,
        uint256 level,
        uint256 discountBps,
        uint256 notional,
        uint256 escrow
    );
    /// @notice Bid `id` was lowered by `notional` [usdc], releasing `released` [usdc] escrow; `left` [usdc] remains.
    event BidReduced(uint256 indexed id, uint256 notional, uint256 released, uint256 left);
    /// @notice Bid `id` was unlinked and `released` [usdc] of escrow went to `owner`'s withdrawable balance;
    ///         `skipped`: cancelled by a liquidation because its owner could not take.
    event BidCancelled(uint256 indexed id, address indexed owner, uint256 released, bool skipped);
    /// @notice Bid `id` took `qty` [wad] of liquidation `liquidation` at `price` [wad], using `notional` [usdc] of
    ///         the bid and `escrow` [usdc] of its escrow, moved into `owner`'s position.
    event BidFilled(
        uint256 indexed id,
        uint256 indexed liquidation,
        address indexed owner,
        uint256 qty,
        uint256 price,
        uint256 notional,
        uint256 escrow
    );
    /// @notice `amount` [usdc] of `owner`'s released escrow was paid out to its wallet.
    event Withdrawn(address indexed owner, uint256 amount);

    // --- Administration ---

    /// @notice Sets `market`'s discount levels [bps], strictly ascending, each below 10,000, at most MAX_LEVELS.
    ///         The market must be listed in the clearinghouse and its book empty (levels price existing bids).
    ///         Admin only.
    function setLevels(bytes32 market, uint16[] calldata discountBps) external;

    /// @notice Sets how many bids one liquidation may visit in `market` (1..MAX_MATCHES); what they do not
    ///         take goes to the auction. Admin only.
    function setMaxMatches(bytes32 market, uint256 n) external;

    // --- Bidders ---

    /// @notice Places a standing bid: take over liquidated longs (`long`) or shorts of `market` at discount level
    ///         `level`, up to `notional` [usdc] measured at the fill price, backed by `escrow` [usdc] pulled from
    ///         the caller's wallet (approve this contract first). `escrow` must cover initial margin on `notional`
    ///         at the market's bracket for that notional. The bid joins the back of its level's queue.
    /// @return id the bid's id.
    function placeBid(bytes32 market, bool long, uint256 level, uint256 notional, uint256 escrow)
        external
        returns (uint256 id);

    /// @notice Lowers bid `id`'s notional by `notional` [usdc] and releases the same share of its escrow (rounded
    ///         down) to the caller's withdrawable balance; reducing by all that is left cancels it. Bid owner only.
    function reduceBid(uint256 id, uint256 notional) external;

    /// @notice Cancels bid `id`: what is left of its escrow goes to the caller's withdrawable balance. Owner only.
    function cancelBid(uint256 id) external;

    /// @notice Pays `amount` [usdc] of the caller's released escrow out to its wallet.
    function withdraw(uint256 amount) external;

    // --- The engine ---

    /// @notice Fills up to `qty` [wad] of `trader`'s frozen position in `market` (long if `long`) against standing
    ///         bids priced from `mark` [wad]; each match settles through `Clearinghouse.liquidationFill` with
    ///         `penaltyBps`. `id` is the liquidation's id, for the events. Only the liquidation engine.
    /// @return filled [wad] how much of the position the bids took (0..qty).
    function absorb(
        uint256 id,
        bytes32 market,
        address trader,
        bool long,
        uint256 qty,
        uint256 mark,
        uint256 penaltyBps
    ) external returns (uint256 filled);

    // --- Views ---

    /// @notice `market`'s discount levels [bps], ascending.
    function levels(bytes32 market) external view returns (uint16[] memory);

    /// @notice One level's queue: its discount [bps], notional still bid [usdc], number of bids, oldest bid id.
    function depth(bytes32 market, bool long, uint256 level)
        external
        view
        returns (uint256 discountBps, uint256 notional, uint256 count, uint256 head);

    /// @notice Notional [usdc] bid on `market` for one side over all levels.
    function totalDepth(bytes32 market, bool long) external view returns (uint256);

    /// @notice Bid `id` as it stands (a cancelled or fully used bid reads as zero).
    function bid(uint256 id) external view returns (Bid memory);
}
