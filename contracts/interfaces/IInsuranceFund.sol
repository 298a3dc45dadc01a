// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @notice The USDC insurance fund: one global pool (id GLOBAL = bytes32(0)) and one sub-pool per market.
/// @dev This file is the fund's whole vocabulary: its kinds, events, errors and external functions, but for
///      the errors it shares with other contracts (contracts/interfaces/Errors.sol): ZeroAmount (amounts must be
///      positive; for deposits, what actually arrived must be positive), ZeroAddress (outflows need a recipient),
///      UnknownMarket (`market` is not a registered market or, where a pool is expected, not GLOBAL either) and
///      UnknownParameter (`what` names no parameter of the fund).
///      Units: [usdc] 6-decimal USDC amounts, [bps] basis points (10_000 = 100%), [seconds], [hours] = unix
///      timestamp / 3600 (an hour index).
interface IInsuranceFund {
    /// @notice Why USDC entered the fund; every inflow event carries one.
    enum InflowKind {
        Seed,
        LiquidationSurplus,
        LiquidationPenalty,
        TailRiskMargin,
        Donation
    }

    /// @notice Life of a timelocked withdrawal.
    enum WithdrawalStatus {
        None,
        Scheduled,
        Executed,
        Cancelled
    }

    /// @notice A timelocked admin withdrawal.
    struct Withdrawal {
        bytes32 pool;
        address to;
        uint256 amount; //        [usdc]
        uint256 executableAt; //  [seconds] unix time from which it may be executed
        WithdrawalStatus status;
    }

    // --- Events ---

    /// @notice `amount` [usdc] (what the fund actually received) entered `pool`, now `poolBalance` [usdc].
    event Inflow(
        bytes32 indexed pool, InflowKind indexed kind, address indexed from, uint256 amount, uint256 poolBalance
    );
    /// @notice A loss of `requested` [usdc] in `market` was paid from the sub-pool, then the global pool;
    ///         `uncovered` [usdc] is left for ADL.
    event LossCovered(
        bytes32 indexed market, uint256 requested, uint256 fromSubPool, uint256 fromGlobal, uint256 uncovered
    );
    /// @notice The balance [usdc] of `pool` at the start of hour `hour` [hours] was recorded.
    event Snapshot(bytes32 indexed pool, uint256 hour, uint256 balance);
    /// @notice `market` was registered and got an empty sub-pool.
    event MarketAdded(bytes32 indexed market);
    /// @notice The parameter `what` was set to `data` (unit as documented on the parameter).
    event ParameterSet(bytes32 indexed what, uint256 data);
    /// @notice Withdrawal `id` of `amount` [usdc] from `pool` to `to` was scheduled, executable from
    ///         `executableAt` [seconds].
    event WithdrawalScheduled(
        uint256 indexed id, bytes32 indexed pool, address indexed to, uint256 amount, uint256 executableAt
    );
    /// @notice Withdrawal `id` paid `amount` [usdc] from `pool` to `to`; the pool now holds `poolBalance` [usdc].
    event WithdrawalExecuted(
        uint256 indexed id, bytes32 indexed pool, address indexed to, uint256 amount, uint256 poolBalance
    );
    /// @notice Withdrawal `id` was cancelled before execution.
    event WithdrawalCancelled(uint256 indexed id);

    // --- Errors (each named after the rule broken) ---

    /// @notice GLOBAL (bytes32(0)) is the global pool; it cannot be registered as a market.
    error GlobalIsNotAMarket();
    /// @notice `market` is registered already.
    error MarketAlreadyRegistered(bytes32 market);
    /// @notice A [bps] parameter may not exceed 10_000.
    error BpsAboveOne(bytes32 what, uint256 bps);
    /// @notice The withdrawal delay may not exceed MAX_WITHDRAWAL_DELAY.
    error WithdrawalDelayTooLong(uint256 delay, uint256 maxDelay);
    /// @notice `pool` holds `balance` [usdc], less than the `amount` [usdc] asked of it.
    error InsufficientPoolBalance(bytes32 pool, uint256 balance, uint256 amount);
    /// @notice Withdrawal `id` is not waiting to be executed (never scheduled, executed or cancelled).
    error WithdrawalNotScheduled(uint256 id);
    /// @notice Withdrawal `id` may not be executed before `executableAt` [seconds].
    error WithdrawalStillLocked(uint256 id, uint256 executableAt);
    /// @notice `hour` [hours] is outside the snapshot window [current hour - 8, current hour].
    error SnapshotOutsideWindow(uint256 hour);

    // --- Inflows and the waterfall ---

    /// @notice Pulls `amount` [usdc] from the caller into `pool` (GLOBAL or a registered market), tagged `kind`.
    ///         Donations are open to anyone; the other kinds need CREDITOR_ROLE.
    function deposit(bytes32 pool, InflowKind kind, uint256 amount) external;

    /// @notice Pays up to `amount` [usdc] of a loss in `market` to `to`: from the market's sub-pool first,
    ///         then from the global pool. Returns `uncovered` [usdc], the part neither pool could pay (the
    ///         bankruptcy left for ADL); the caller must handle it. Needs COVER_ROLE.
    function coverLoss(bytes32 market, uint256 amount, address to) external returns (uint256 uncovered);

    /// @notice Balance [usdc] of `pool` (GLOBAL or a registered market; UnknownMarket otherwise).
    function poolBalance(bytes32 pool) external view returns (uint256);

    /// @notice Sum [usdc] of all pool balances; equals the USDC the fund holds (unless USDC was sent to it
    ///         outside `deposit`, which no pool owns).
    function totalPooled() external view returns (uint256);

    // --- Administration ---

    /// @notice Registers `market` with an empty sub-pool. Only DEFAULT_ADMIN_ROLE.
    function addMarket(bytes32 market) external;

    /// @notice Sets a parameter: "withdrawalDelay" [seconds] (at most MAX_WITHDRAWAL_DELAY), "drawdownBps"
    ///         [bps], "fastDropBps" [bps] (each at most 10_000), "globalFloor" [usdc]. Only DEFAULT_ADMIN_ROLE.
    function file(bytes32 what, uint256 data) external;

    /// @notice Schedules a withdrawal of `amount` [usdc] from `pool` to `to`, executable after
    ///         `withdrawalDelay` [seconds]. Returns its id (1, 2, ...). Only DEFAULT_ADMIN_ROLE.
    function scheduleWithdrawal(bytes32 pool, uint256 amount, address to) external returns (uint256 id);

    /// @notice Executes the scheduled withdrawal `id` once its delay has passed: pays its amount [usdc] from its
    ///         pool to its recipient. Only DEFAULT_ADMIN_ROLE.
    function executeWithdrawal(uint256 id) external;

    /// @notice Cancels the scheduled withdrawal `id`. Only DEFAULT_ADMIN_ROLE.
    function cancelWithdrawal(uint256 id) external;

    // --- Snapshots and fund risk ---

    /// @notice Records `pool`'s snapshots up to the current hour if an hour boundary passed since the last
    ///         one; a no-op otherwise. Anyone may call it; it changes no view's result.
    function snapshot(bytes32 pool) external;

    /// @notice The highest of `pool`'s snapshots of hours [H - 7, H] (H the current hour: every one of them
    ///         taken less than 8 hours ago) and its current balance [usdc].
    function peak8h(bytes32 pool) external view returns (uint256);

    /// @notice `pool`'s snapshot of hour H - 8 [usdc]: its balance at the start of the hour 8 hours before
    ///         the current hour H, i.e. the newest snapshot that is at least 8 hours old.
    function balance8hAgo(bytes32 pool) external view returns (uint256);

    /// @notice Fund-risk flags of `market` (a bit set):
    ///         DRAWDOWN_FROM_PEAK (1): peak8h > 0 and sub <= ceil(peak8h * (10_000 - drawdownBps) / 10_000);
    ///         FAST_DROP (2):          ago > 0 and sub <= ceil(ago * (10_000 - fastDropBps) / 10_000),
    ///                                 with ago = balance8hAgo(market);
    ///         GLOBAL_DEPLETED (4):    poolBalance(GLOBAL) <= globalFloor;
    ///         where sub = poolBalance(market), all in [usdc].
    function fundRisk(bytes32 market) external view returns (uint8 flags);

    /// @notice Whether auto-deleveraging may run in `market`: fundRisk(market) != 0.
    function adlAllowed(bytes32 market) external view returns (bool);

    /// @notice `pool`'s snapshot [usdc] of `hour` [hours]: its balance at the instant hour * 3600, for hours in
    ///         [current - 8, current].
    function snapshotAt(bytes32 pool, uint256 hour) external view returns (uint256);

    /// @notice The current hour index [hours] = block.timestamp / 3600.
    function currentHour() external view returns (uint256);

    // --- Other views ---

    /// @notice Whether `market` is a registered market.
    function isMarket(bytes32 market) external view returns (bool);

    /// @notice The withdrawal `id` (all zero, status None, if never scheduled).
    function withdrawal(uint256 id) external view returns (Withdrawal memory);
}
