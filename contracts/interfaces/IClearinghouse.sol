// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @notice The margin ledger: USDC accounts, markets with leverage tiers, isolated perpetual positions.
/// @dev Units: [usdc] 6 decimals; [wad] 18 decimals (prices in USD per base unit, sizes in base units);
///      [bps] 10_000 = 100%. Shared errors (contracts/interfaces/Errors.sol): ZeroAmount (an amount to move was
///      zero), UnknownMarket (`market` is not listed).
interface IClearinghouse {
    /// @notice A notional bracket of a market. Positions whose notional at the mark is at most `maxNotional`
    ///         (and above the previous bracket's) use this bracket's rates.
    struct Tier {
        uint128 maxNotional; // [usdc] upper bound of the bracket, inclusive
        uint16 initialMarginBps; // [bps] margin to open or grow; max leverage = 10_000 / initialMarginBps
        uint16 maintenanceMarginBps; // [bps] below this the position is liquidatable
        uint16 tailRiskFeeBps; // [bps] of added notional, paid into the market's insurance sub-pool at open
    }

    /// @notice An isolated position of one account in one market.
    struct Position {
        int256 size; // [wad] base units; > 0 long, < 0 short
        uint256 entryPrice; // [wad] average entry price
        uint256 margin; // [usdc] collateral isolated in this position
    }

    /// @notice A position as an ADL execution saw it, kept at the position's first change after that execution.
    ///         Packed in two slots: it is written on a hot path of a crash.
    struct Checkpoint {
        int128 size; // [wad]
        uint128 entryPrice; // [wad]
        uint128 margin; // [usdc]
        uint64 since; // the ADL epoch of the change before: the state held for executions since+1 .. the key
        bool taken; // distinguishes a kept empty position from no checkpoint
    }

    /// @notice A trader's consent to a trade, signed with EIP-712 or submitted by the trader itself.
    struct Order {
        address account;
        bytes32 market;
        int256 sizeDelta; // [wad] > 0 buys, < 0 sells
        uint256 limitPrice; // [wad] worst acceptable price; the maker's limit is the execution price
        uint256 margin; // [usdc] moved from the free balance into the position when the order fills (not
        //                 when the fill closes the position: then nothing is moved)
        uint256 nonce; // any value: makes otherwise equal orders distinct
        uint256 deadline; // [seconds] unix time after which the order is void
    }

    // --- Errors (each named after the rule broken) ---

    error MarketAlreadyListed(bytes32 market);
    error InvalidTiers(uint256 index);
    error InvalidPriceBand(uint256 bandBps);
    error InsufficientFreeBalance(address account, uint256 available, uint256 requested);
    error InsufficientPositionMargin(uint256 available, uint256 requested);
    error MarginBelowInitial(address account, bytes32 market, int256 equity, uint256 required);
    error NotionalAboveTopTier(bytes32 market, uint256 notional, uint256 maxNotional);
    /// @notice A position of `size` [wad] base units is more than a position record holds (`maxSize`, 2^127 − 1).
    error PositionTooLarge(uint256 size, uint256 maxSize);
    error NoPosition(address account, bytes32 market);
    error OrderExpired(bytes32 digest, uint256 deadline);
    error OrderAlreadyUsed(bytes32 digest);
    error BadSignature(address account, bytes32 digest);
    error OrdersMismatched();
    error SelfTrade(address account);
    error PriceBeyondLimit(address account, uint256 price, uint256 limitPrice);
    error PriceOutsideBand(uint256 price, uint256 mark, uint256 bandBps);
    error NotOrderOwner(address caller, address account);
    error PositionInLiquidation(address account, bytes32 market);
    error NotInLiquidation(address account, bytes32 market);
    error NotLiquidatable(address account, bytes32 market, int256 equity, uint256 maintenance);
    error InvalidFillSize(uint256 qty, uint256 held);
    error SameSide(address counterparty, bytes32 market);
    error UnknownAdlEpoch(bytes32 market, uint64 epoch);
    error NoCheckpoint(address account, uint64 epoch, uint64 hint);

    // --- Events ---

    /// @notice `amount` [usdc] moved from `account`'s wallet into its free balance.
    event Deposited(address indexed account, uint256 amount);
    /// @notice `amount` [usdc] of `account`'s free balance was paid out to its wallet.
    event Withdrawn(address indexed account, uint256 amount);
    /// @notice `market` was listed with a trade price band of `priceBandBps` [bps].
    event MarketListed(bytes32 indexed market, uint256 priceBandBps);
    /// @notice `market`'s notional brackets were set to `tiers`.
    event TiersSet(bytes32 indexed market, Tier[] tiers);
    /// @notice `market`'s trade price band around the oracle mark is now `priceBandBps` [bps].
    event PriceBandSet(bytes32 indexed market, uint256 priceBandBps);
    /// @notice `amount` [usdc] moved from `account`'s free balance into its position margin in `market`.
    event MarginAdded(bytes32 indexed market, address indexed account, uint256 amount);
    /// @notice `amount` [usdc] of `account`'s position margin in `market` moved to its free balance.
    event MarginRemoved(bytes32 indexed market, address indexed account, uint256 amount);
    /// @notice A matched pair of orders settled: `size` [wad] from `seller` to `buyer` at `price` [wad].
    event TradeSettled(
        bytes32 indexed market,
        address indexed buyer,
        address indexed seller,
        uint256 size,
        uint256 price,
        bytes32 makerDigest,
        bytes32 takerDigest
    );
    /// @notice `account`'s position in `market` changed by `sizeDelta` [wad] at `price` [wad] and is now `size`,
    ///         `entryPrice` [wad], `margin` [usdc]; `realizedPnl` [usdc] was realised and `marginReleased` [usdc]
    ///         went to the free balance.
    event PositionChanged(
        bytes32 indexed market,
        address indexed account,
        int256 sizeDelta,
        uint256 price,
        int256 size,
        uint256 entryPrice,
        uint256 margin,
        int256 realizedPnl,
        uint256 marginReleased
    );
    /// @notice `amount` [usdc] of `account`'s margin paid the tail-risk fee into `market`'s sub-pool.
    event TailRiskMarginPaid(bytes32 indexed market, address indexed account, uint256 amount);
    /// @notice A loss of `shortfall` [usdc] beyond `account`'s margin was settled: the fund `covered` [usdc]
    ///         and `uncovered` [usdc] became bad debt of `market` (none when `uncovered` is 0).
    event ShortfallSettled(
        bytes32 indexed market, address indexed account, uint256 shortfall, uint256 covered, uint256 uncovered
    );
    /// @notice `account` voided its order of EIP-712 digest `digest`.
    event OrderCancelled(address indexed account, bytes32 digest);
    /// @notice `account`'s position in `market` (`size` [wad]) was frozen for liquidation at `mark` [wad], with
    ///         `equity` [usdc] below `maintenance` [usdc].
    event LiquidationBegun(
        bytes32 indexed market, address indexed account, int256 size, uint256 mark, int256 equity, uint256 maintenance
    );
    /// @notice `qty` [wad] of `account`'s frozen position passed to `keeper` at `price` [wad]: `equityPart` [usdc]
    ///         backed it, `penalty` [usdc] went to the sub-pool and `returned` [usdc] to the trader.
    event LiquidationFilled(
        bytes32 indexed market,
        address indexed account,
        address indexed keeper,
        uint256 qty,
        uint256 price,
        int256 equityPart,
        uint256 penalty,
        uint256 returned
    );
    /// @notice `from` moved `amount` [usdc] of its free balance to `account`: into its position margin in `market`
    ///         (`toPosition`) or its free balance.
    event MarginFunded(
        bytes32 indexed market, address indexed from, address indexed account, uint256 amount, bool toPosition
    );
    /// @notice ADL closed `qty` [wad] of `account`'s frozen position against `counterparty` at `price` [wad]; the
    ///         bankrupt part's equity was `equityPart` [usdc], the counterparty realised `counterpartyRealized` [usdc].
    event Deleveraged(
        bytes32 indexed market,
        address indexed account,
        address indexed counterparty,
        uint256 qty,
        uint256 price,
        int256 equityPart,
        int256 counterpartyRealized
    );
    /// @notice The first change of `account`'s position after ADL execution `epoch` kept its state; valid for
    ///         the executions since+1 .. epoch.
    event PositionCheckpointed(bytes32 indexed market, address indexed account, uint64 epoch, uint64 since);

    // --- Markets ---

    /// @notice Lists `market` with its notional brackets. Only MARKET_ADMIN_ROLE.
    /// @param tiers brackets in increasing `maxNotional`; initial margin above maintenance, neither falling
    ///        from one bracket to the next (so leverage never rises with size).
    /// @param priceBandBps [bps] the most a trade price may differ from the oracle mark, 1..5_000.
    function listMarket(bytes32 market, Tier[] calldata tiers, uint256 priceBandBps) external;

    /// @notice Replaces `market`'s brackets (validated as in listMarket). Only MARKET_ADMIN_ROLE.
    function setTiers(bytes32 market, Tier[] calldata tiers) external;

    /// @notice Sets the trade price band [bps] around the oracle mark. Only MARKET_ADMIN_ROLE.
    function setPriceBand(bytes32 market, uint256 priceBandBps) external;

    /// @notice `market`'s notional brackets, in increasing `maxNotional`.
    function tiers(bytes32 market) external view returns (Tier[] memory);

    /// @notice The bracket that applies to a position of `notional` [usdc].
    function tierFor(bytes32 market, uint256 notional) external view returns (Tier memory);

    // --- USDC accounts ---

    /// @notice Moves `amount` [usdc] from the caller into its free balance.
    function deposit(uint256 amount) external;

    /// @notice Pays `amount` [usdc] of the caller's free balance out. Margin inside positions is moved to the
    ///         free balance first with `removeMargin`, which keeps each position above initial margin.
    function withdraw(uint256 amount) external;

    /// @notice Moves `amount` [usdc] from the caller's free balance into its position's margin in `market`.
    function addMargin(bytes32 market, uint256 amount) external;

    /// @notice Moves `amount` [usdc] of the caller's position margin in `market` to its free balance; the
    ///         position must still meet initial margin at the oracle price afterwards.
    function removeMargin(bytes32 market, uint256 amount) external;

    /// @notice `account`'s free balance [usdc]: USDC it may withdraw or move into a position.
    function freeBalance(address account) external view returns (uint256);

    // --- Trades ---

    /// @notice The EIP-712 digest a trader signs for `order`.
    function orderDigest(Order calldata order) external view returns (bytes32);

    /// @notice Settles a matched pair of orders at the maker's limit price. Anyone may submit; each order
    ///         needs its account's EIP-712 signature unless that account is the submitter. Orders fill once,
    ///         in full. The price must lie within the market's band around the oracle mark, and every side
    ///         that grows its position must meet initial margin at the mark afterwards.
    function trade(Order calldata maker, bytes calldata makerSig, Order calldata taker, bytes calldata takerSig)
        external;

    /// @notice Voids one of the caller's orders before it fills.
    function cancelOrder(Order calldata order) external;

    // --- Liquidation (LIQUIDATOR_ROLE) ---

    /// @notice Freezes `account`'s position in `market` for liquidation, if the oracle price puts it below
    ///         maintenance margin. From here only `liquidationFill` changes it. Only LIQUIDATOR_ROLE.
    /// @return size [wad] the frozen position's size; mark [wad] the oracle price used.
    function beginLiquidation(bytes32 market, address account) external returns (int256 size, uint256 mark);

    /// @notice Passes `qty` [wad] of `account`'s frozen position to `keeper` at `price` [wad]. The trader's part
    ///         closes at `price`; from the equity backing that part (its share of the margin plus the PnL) the
    ///         penalty (`penaltyBps` of the fill's notional, at most that equity) goes to the market's
    ///         sub-pool and the rest back to the trader's free balance; negative equity is a shortfall the fund
    ///         covers, and what it cannot cover is bad debt. The keeper's position changes by the same signed
    ///         size at `price`, fee-free and without a margin check: the engine calls `settleKeeper` after
    ///         the keeper has paid. A keeper whose own position in `market` is in liquidation is refused
    ///         (PositionInLiquidation). Only LIQUIDATOR_ROLE.
    function liquidationFill(
        bytes32 market,
        address account,
        address keeper,
        uint256 qty,
        uint256 price,
        uint256 penaltyBps
    ) external returns (int256 equityPart, uint256 penalty);

    /// @notice After a take: moves `margin` [usdc] from `keeper`'s free balance into its position and requires
    ///         the position, if any is left, to meet initial margin at the oracle price. Only LIQUIDATOR_ROLE.
    function settleKeeper(bytes32 market, address keeper, uint256 margin) external;

    /// @notice Moves `amount` [usdc] of the caller's free balance into `account`'s position margin in `market`,
    ///         or into `account`'s free balance when it holds no position there (a fill that closed an opposite
    ///         position). The standing-bid book uses it to pass a filled bid's escrow share into the bidder's
    ///         position. No margin check: it only adds margin, so it can never make a liquidation revert.
    ///         Only LIQUIDATOR_ROLE.
    function fundMargin(bytes32 market, address account, uint256 amount) external;

    /// @notice Whether `account`'s position in `market` is frozen for liquidation: only the liquidation engine
    ///         (and the ADL queue) may change it.
    function inLiquidation(bytes32 market, address account) external view returns (bool);

    /// @notice The ADL epoch (`adlEpoch`) when `account`'s position in `market` last changed (0: not since ADL
    ///         began in the market): a checkpoint of it is kept under the epoch of each change after one.
    function positionEpoch(bytes32 market, address account) external view returns (uint64);

    // --- Auto-deleveraging (ADL_ROLE) ---

    /// @notice Starts ADL execution number `adlEpoch + 1` in `market`: from now on, the first change of any
    ///         position keeps its state as it was during this execution (see `positionAt`). Only ADL_ROLE.
    function beginAdl(bytes32 market) external returns (uint64 epoch);

    /// @notice Closes `qty` [wad] of `account`'s frozen position against `counterparty`'s opposite position at
    ///         `price`, the frozen position's bankruptcy price when the ADL began (`bankruptcyPrice`; the ADL
    ///         queue fixes it once, as later partial closes move it by rounding), fee-free and without penalty.
    ///         The bankrupt part's equity is zero up to rounding (dust in the trader's favour goes to its free
    ///         balance, a dust shortfall to the fund); the counterparty's matched part closes at that price and
    ///         its realised PnL and margin share go to its free balance. Only ADL_ROLE, which chooses the
    ///         counterparty.
    /// @return realized [usdc] the counterparty's realised PnL.
    function adlFill(bytes32 market, address account, address counterparty, uint256 qty, uint256 price)
        external
        returns (int256 realized);

    /// @notice `account`'s position in `market` as it was during ADL execution `epoch`, and whether it was
    ///         frozen for liquidation then. If the position changed after that execution, `hint` must be the
    ///         epoch of its first change after it (from the `PositionCheckpointed` event); otherwise any value.
    ///         Reverts NoCheckpoint when the position changed since but no checkpoint covers `epoch`: it was then
    ///         frozen for liquidation, or being closed by that very execution.
    function positionAt(bytes32 market, address account, uint64 epoch, uint64 hint)
        external
        view
        returns (Position memory p, bool frozen);

    /// @notice ADL executions so far in `market` (the epoch of the latest).
    function adlEpoch(bytes32 market) external view returns (uint64);

    /// @notice How many accounts ever held a position in `market` (see `accountAt`).
    function accountCount(bytes32 market) external view returns (uint256);

    /// @notice The `index`-th account (0-based, in order of first opening) that held a position in `market`.
    function accountAt(bytes32 market, uint256 index) external view returns (address);

    // --- Positions at the oracle price ---

    /// @notice `account`'s isolated position in `market` (all zero without one).
    function getPosition(bytes32 market, address account) external view returns (Position memory);

    /// @notice Unrealised PnL [usdc] at the oracle price (profit rounded down, loss up).
    function unrealizedPnl(bytes32 market, address account) external view returns (int256);

    /// @notice Margin plus unrealised PnL [usdc]; negative once the position is past its bankruptcy price.
    function equity(bytes32 market, address account) external view returns (int256);

    /// @notice Notional [usdc] at the oracle price, rounded up.
    function notional(bytes32 market, address account) external view returns (uint256);

    /// @notice Equity over notional [wad] (1e18 = 100%); zero without a position.
    function marginRatio(bytes32 market, address account) external view returns (int256);

    /// @notice Notional × the bracket's maintenance rate [usdc], rounded up.
    function maintenanceRequirement(bytes32 market, address account) external view returns (uint256);

    /// @notice Notional × the bracket's initial rate [usdc], rounded up.
    function initialRequirement(bytes32 market, address account) external view returns (uint256);

    /// @notice True when the position's equity is below its maintenance requirement at the oracle price and
    ///         it is not already in liquidation: a keeper may start its liquidation now.
    function isLiquidatable(bytes32 market, address account) external view returns (bool);

    /// @notice The price [wad] at which equity is zero.
    function bankruptcyPrice(bytes32 market, address account) external view returns (uint256);

    /// @notice The shortfall [usdc] a liquidation fill of `qty` [wad] of `account`'s position at `price` [wad]
    ///         would realise: the loss of that part beyond its share of the margin (0 when it is covered).
    ///         Reverts InvalidFillSize when `qty` is 0 or above the position's size.
    function fillShortfall(bytes32 market, address account, uint256 qty, uint256 price)
        external
        view
        returns (uint256);

    /// @notice The price [wad] at which equity meets the maintenance requirement, using the bracket of the
    ///         position's notional at the current oracle price.
    function liquidationPrice(bytes32 market, address account) external view returns (uint256);
}
