// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @notice The margin ledger: USDC accounts, markets with leverage tiers, isolated perpetual positions.
/// @dev Units: [usdc] 6 decimals; [wad] 18 decimals (prices in USD per base unit, sizes in base units);
///      [bps] 10_000 = 100%.
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
        uint256 margin; // [usdc] moved from the free balance into the position when the order fills
        uint256 nonce; // any value: makes otherwise equal orders distinct
        uint256 deadline; // [seconds] unix time after which the order is void
    }

    error ZeroAmount();
    error UnknownMarket(bytes32 market);
    error MarketAlreadyListed(bytes32 market);
    error InvalidTiers(uint256 index);
    error InvalidPriceBand(uint256 bandBps);
    error InsufficientFreeBalance(address account, uint256 available, uint256 requested);
    error InsufficientPositionMargin(uint256 available, uint256 requested);
    error MarginBelowInitial(address account, bytes32 market, int256 equity, uint256 required);
    error NotionalAboveTopTier(bytes32 market, uint256 notional, uint256 maxNotional);
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

    event Deposited(address indexed account, uint256 amount);
    event Withdrawn(address indexed account, uint256 amount);
    event MarketListed(bytes32 indexed market, uint256 priceBandBps);
    event TiersSet(bytes32 indexed market, Tier[] tiers);
    event PriceBandSet(bytes32 indexed market, uint256 priceBandBps);
    event MarginAdded(bytes32 indexed market, address indexed account, uint256 amount);
    event MarginRemoved(bytes32 indexed market, address indexed account, uint256 amount);
    event TradeSettled(
        bytes32 indexed market,
        address indexed buyer,
        address indexed seller,
        uint256 size,
        uint256 price,
        bytes32 makerDigest,
        bytes32 takerDigest
    );
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
    event TailRiskMarginPaid(bytes32 indexed market, address indexed account, uint256 amount);
    event BadDebtRealized(
        bytes32 indexed market, address indexed account, uint256 shortfall, uint256 covered, uint256 uncovered
    );
    event OrderCancelled(address indexed account, bytes32 digest);
    event LiquidationBegun(
        bytes32 indexed market, address indexed account, int256 size, uint256 mark, int256 equity, uint256 maintenance
    );
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
    event MarginFunded(bytes32 indexed market, address indexed from, address indexed account, uint256 amount, bool toPosition);

    event Deleveraged(
        bytes32 indexed market,
        address indexed account,
        address indexed counterparty,
        uint256 qty,
        uint256 price,
        int256 equityPart,
        int256 counterpartyRealized
    );
    event PositionCheckpointed(bytes32 indexed market, address indexed account, uint64 epoch, uint64 since);

    function deposit(uint256 amount) external;
    function withdraw(uint256 amount) external;
    function freeBalance(address account) external view returns (uint256);
    function getPosition(bytes32 market, address account) external view returns (Position memory);
    function equity(bytes32 market, address account) external view returns (int256);
    function isLiquidatable(bytes32 market, address account) external view returns (bool);
    function bankruptcyPrice(bytes32 market, address account) external view returns (uint256);
    function inLiquidation(bytes32 market, address account) external view returns (bool);
    function beginLiquidation(bytes32 market, address account) external returns (int256 size, uint256 mark);
    function liquidationFill(
        bytes32 market,
        address account,
        address keeper,
        uint256 qty,
        uint256 price,
        uint256 penaltyBps
    ) external returns (int256 equityPart, uint256 penalty);
    function settleKeeper(bytes32 market, address keeper, uint256 margin) external;
    function notional(bytes32 market, address account) external view returns (uint256);
    function beginAdl(bytes32 market) external returns (uint64 epoch);
    function adlFill(bytes32 market, address account, address counterparty, uint256 qty, uint256 price)
        external
        returns (int256 realized);
    function positionAt(bytes32 market, address account, uint64 epoch, uint64 hint)
        external
        view
        returns (Position memory p, bool frozen);
    function adlEpoch(bytes32 market) external view returns (uint64);
    function accountCount(bytes32 market) external view returns (uint256);
    function accountAt(bytes32 market, uint256 index) external view returns (address);
    function tierFor(bytes32 market, uint256 notional) external view returns (Tier memory);
    function fundMargin(bytes32 market, address account, uint256 amount) external;
}
