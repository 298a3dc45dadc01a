// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IInsuranceFund} from "../interfaces/IInsuranceFund.sol";
import {UnknownMarket, UnknownParameter, ZeroAddress, ZeroAmount} from "../interfaces/Errors.sol";
import {FixedPointMath} from "../libraries/FixedPointMath.sol";

/// @title InsuranceFund
/// @notice Holds USDC in one global pool (GLOBAL = bytes32(0)) and one sub-pool per registered market.
///         USDC enters through typed deposits and leaves only two ways: `coverLoss` (a market's sub-pool
///         first, then the global pool) and a timelocked admin withdrawal. Every pool keeps one balance
///         snapshot per hour, from which the fund-risk flags that allow auto-deleveraging (ADL) are read.
/// @dev Snapshot model. Hour index h = timestamp / 3600 [hours]. The snapshot of hour h is the pool's balance
///      at the instant h * 3600 (the start of the hour). A pool's balance only changes in this contract's
///      functions, and each of them first calls `_record`, which writes the snapshots of every hour since
///      the last recorded one with the balance as it still is (before the change). Hours no one touched
///      carry the unchanged balance. Views compute the same values without writing, so a view never
///      depends on whether anyone called `snapshot`: recording only makes the history permanent.
///      The ring holds RING = 9 hourly slots, hours [H - 8, H] for the current hour H.
contract InsuranceFund is IInsuranceFund, AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    // --- Roles ---
    /// @notice May deposit the non-donation kinds (clearinghouse, liquidation engine, seeding deployer).
    bytes32 public constant CREDITOR_ROLE = keccak256("CREDITOR_ROLE");
    /// @notice May call `coverLoss` (the clearinghouse / liquidation engine).
    bytes32 public constant COVER_ROLE = keccak256("COVER_ROLE");

    // --- Constants ---
    /// @notice Id of the global pool.
    bytes32 public constant GLOBAL = bytes32(0);
    /// @notice fundRisk flag: sub-pool <= peak8h * (1 - drawdownBps).
    uint8 public constant DRAWDOWN_FROM_PEAK = 1;
    /// @notice fundRisk flag: sub-pool <= balance8hAgo * (1 - fastDropBps), when balance8hAgo > 0.
    uint8 public constant FAST_DROP = 2;
    /// @notice fundRisk flag: global pool <= globalFloor.
    uint8 public constant GLOBAL_DEPLETED = 4;
    /// @notice Hourly snapshot slots per pool: the current hour and the 8 before it.
    uint256 public constant RING = 9;
    uint256 internal constant _HOUR = 3600; // [seconds]
    /// @notice Upper bound of `withdrawalDelay` [seconds].
    uint256 public constant MAX_WITHDRAWAL_DELAY = 365 days;

    // --- Data ---
    /// @notice The fund's token (USDC, 6 decimals).
    IERC20 public immutable usdc;

    /// @notice Delay between scheduling and executing an admin withdrawal [seconds].
    uint256 public withdrawalDelay;
    /// @notice Drawdown from the 8-hour peak that raises DRAWDOWN_FROM_PEAK [bps]; default 3_000 (30%).
    uint256 public drawdownBps = 3_000;
    /// @notice Drop from the balance 8 hours ago that raises FAST_DROP [bps]; default 5_000 (50%).
    uint256 public fastDropBps = 5_000;
    /// @notice Global balance at or below which GLOBAL_DEPLETED is raised [usdc]; default 0.
    uint256 public globalFloor;

    /// @notice Sum of all pool balances [usdc].
    uint256 public totalPooled;
    /// @notice Number of withdrawals ever scheduled; ids start at 1.
    uint256 public withdrawalCount;

    struct Pool {
        uint256 balance; //     [usdc]
        uint256 lastHour; //    [hours] last hour whose snapshot was recorded; 0 = never
        uint256[RING] ring; //  [usdc] ring[h % RING] = snapshot of hour h, for h in [lastHour - 8, lastHour]
    }

    mapping(bytes32 pool => Pool) internal _pools;
    /// @notice Whether a market id is registered.
    mapping(bytes32 market => bool) public isMarket;
    mapping(uint256 id => Withdrawal) internal _withdrawals;

    /// @param usdc_ The USDC token (any ERC-20; moved through SafeERC20).
    /// @param admin Gets DEFAULT_ADMIN_ROLE and CREDITOR_ROLE (to seed the pools).
    /// @param withdrawalDelay_ Initial `withdrawalDelay` [seconds].
    constructor(IERC20 usdc_, address admin, uint256 withdrawalDelay_) {
        if (address(usdc_) == address(0) || admin == address(0)) revert ZeroAddress();
        if (withdrawalDelay_ > MAX_WITHDRAWAL_DELAY) {
            revert WithdrawalDelayTooLong(withdrawalDelay_, MAX_WITHDRAWAL_DELAY);
        }
        usdc = usdc_;
        withdrawalDelay = withdrawalDelay_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(CREDITOR_ROLE, admin);
        emit ParameterSet("withdrawalDelay", withdrawalDelay_);
        emit ParameterSet("drawdownBps", 3_000);
        emit ParameterSet("fastDropBps", 5_000);
        emit ParameterSet("globalFloor", 0);
    }

    // --- Administration ---

    /// @inheritdoc IInsuranceFund
    /// @dev Only DEFAULT_ADMIN_ROLE. Reverts GlobalIsNotAMarket for bytes32(0) and MarketAlreadyRegistered
    ///      for a second registration. Markets are never removed: a sub-pool's USDC must stay reachable.
    function addMarket(bytes32 market) external override onlyRole(DEFAULT_ADMIN_ROLE) {
        if (market == GLOBAL) revert GlobalIsNotAMarket();
        if (isMarket[market]) revert MarketAlreadyRegistered(market);
        isMarket[market] = true;
        emit MarketAdded(market);
    }

    /// @inheritdoc IInsuranceFund
    /// @dev Only DEFAULT_ADMIN_ROLE. A new withdrawalDelay applies to withdrawals scheduled afterwards.
    function file(bytes32 what, uint256 data) external override onlyRole(DEFAULT_ADMIN_ROLE) {
        if (what == "withdrawalDelay") {
            if (data > MAX_WITHDRAWAL_DELAY) revert WithdrawalDelayTooLong(data, MAX_WITHDRAWAL_DELAY);
            withdrawalDelay = data;
        } else if (what == "drawdownBps") {
            if (data > FixedPointMath.BPS) revert BpsAboveOne(what, data);
            drawdownBps = data;
        } else if (what == "fastDropBps") {
            if (data > FixedPointMath.BPS) revert BpsAboveOne(what, data);
            fastDropBps = data;
        } else if (what == "globalFloor") {
            globalFloor = data;
        } else {
            revert UnknownParameter(what);
        }
        emit ParameterSet(what, data);
    }

    // --- Inflows ---

    /// @inheritdoc IInsuranceFund
    /// @dev Donation is open to anyone; Seed, LiquidationSurplus, LiquidationPenalty and TailRiskMargin need
    ///      CREDITOR_ROLE (AccessControlUnauthorizedAccount otherwise). The caller must have approved the fund.
    ///      The pool is credited with the fund's actual balance increase, so a fee-on-transfer token cannot
    ///      make the pools claim more than the fund holds; `Inflow.amount` is that received amount.
    ///      Reverts ZeroAmount if `amount` or the received amount is 0, UnknownMarket for an unknown pool.
    function deposit(bytes32 pool, InflowKind kind, uint256 amount) external override nonReentrant {
        if (kind != InflowKind.Donation) _checkRole(CREDITOR_ROLE);
        if (amount == 0) revert ZeroAmount();
        Pool storage p = _pool(pool);
        _record(pool, p);

        uint256 before = usdc.balanceOf(address(this));
        usdc.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = usdc.balanceOf(address(this)) - before;
        if (received == 0) revert ZeroAmount();

        uint256 balance = p.balance + received;
        p.balance = balance;
        totalPooled += received;
        emit Inflow(pool, kind, msg.sender, received, balance);
    }

    // --- The waterfall ---

    /// @inheritdoc IInsuranceFund
    /// @dev Only COVER_ROLE. Reverts UnknownMarket if `market` is not registered (GLOBAL included),
    ///      ZeroAmount for 0, ZeroAddress for `to` = 0. Records both pools' snapshots first.
    ///      fromSubPool = min(amount, sub); fromGlobal = min(amount - fromSubPool, global);
    ///      uncovered = amount - fromSubPool - fromGlobal. No rounding is involved.
    function coverLoss(bytes32 market, uint256 amount, address to)
        external
        override
        onlyRole(COVER_ROLE)
        nonReentrant
        returns (uint256 uncovered)
    {
        if (!isMarket[market]) revert UnknownMarket(market);
        if (amount == 0) revert ZeroAmount();
        if (to == address(0)) revert ZeroAddress();
        Pool storage sub = _pools[market];
        Pool storage global = _pools[GLOBAL];
        _record(market, sub);
        _record(GLOBAL, global);

        uint256 fromSubPool = FixedPointMath.min(amount, sub.balance);
        uint256 fromGlobal = FixedPointMath.min(amount - fromSubPool, global.balance);
        uncovered = amount - fromSubPool - fromGlobal;

        sub.balance -= fromSubPool;
        global.balance -= fromGlobal;
        uint256 covered = fromSubPool + fromGlobal;
        totalPooled -= covered;
        if (covered > 0) usdc.safeTransfer(to, covered);
        emit LossCovered(market, amount, fromSubPool, fromGlobal, uncovered);
    }

    // --- Timelocked withdrawals ---

    /// @inheritdoc IInsuranceFund
    /// @dev Only DEFAULT_ADMIN_ROLE. Reverts UnknownMarket, ZeroAmount, ZeroAddress, or
    ///      InsufficientPoolBalance if the pool holds less than `amount` now. Nothing is reserved: the
    ///      balance is checked again at execution.
    function scheduleWithdrawal(bytes32 pool, uint256 amount, address to)
        external
        override
        onlyRole(DEFAULT_ADMIN_ROLE)
        returns (uint256 id)
    {
        Pool storage p = _pool(pool);
        if (amount == 0) revert ZeroAmount();
        if (to == address(0)) revert ZeroAddress();
        if (p.balance < amount) revert InsufficientPoolBalance(pool, p.balance, amount);
        id = ++withdrawalCount;
        uint256 executableAt = block.timestamp + withdrawalDelay;
        _withdrawals[id] = Withdrawal({
            pool: pool, to: to, amount: amount, executableAt: executableAt, status: WithdrawalStatus.Scheduled
        });
        emit WithdrawalScheduled(id, pool, to, amount, executableAt);
    }

    /// @inheritdoc IInsuranceFund
    /// @dev Only DEFAULT_ADMIN_ROLE. Reverts WithdrawalNotScheduled (unknown, executed or cancelled),
    ///      WithdrawalStillLocked before `executableAt`, InsufficientPoolBalance if the pool no longer holds
    ///      the amount (e.g. after covering losses). Records the pool's snapshot first.
    function executeWithdrawal(uint256 id) external override onlyRole(DEFAULT_ADMIN_ROLE) nonReentrant {
        Withdrawal storage w = _withdrawals[id];
        if (w.status != WithdrawalStatus.Scheduled) revert WithdrawalNotScheduled(id);
        if (block.timestamp < w.executableAt) revert WithdrawalStillLocked(id, w.executableAt);
        bytes32 pool = w.pool;
        uint256 amount = w.amount;
        Pool storage p = _pools[pool];
        if (p.balance < amount) revert InsufficientPoolBalance(pool, p.balance, amount);
        _record(pool, p);

        w.status = WithdrawalStatus.Executed;
        uint256 balance = p.balance - amount;
        p.balance = balance;
        totalPooled -= amount;
        usdc.safeTransfer(w.to, amount);
        emit WithdrawalExecuted(id, pool, w.to, amount, balance);
    }

    /// @inheritdoc IInsuranceFund
    /// @dev Only DEFAULT_ADMIN_ROLE. Reverts WithdrawalNotScheduled unless it is scheduled and not executed.
    function cancelWithdrawal(uint256 id) external override onlyRole(DEFAULT_ADMIN_ROLE) {
        Withdrawal storage w = _withdrawals[id];
        if (w.status != WithdrawalStatus.Scheduled) revert WithdrawalNotScheduled(id);
        w.status = WithdrawalStatus.Cancelled;
        emit WithdrawalCancelled(id);
    }

    // --- Snapshots ---

    /// @inheritdoc IInsuranceFund
    /// @dev Reverts UnknownMarket for an unknown pool. Emits Snapshot for each hour it records (at most 9).
    function snapshot(bytes32 pool) external override {
        _record(pool, _pool(pool));
    }

    /// @inheritdoc IInsuranceFund
    function peak8h(bytes32 pool) public view override returns (uint256 peak) {
        Pool storage p = _pool(pool);
        uint256 h = currentHour();
        peak = p.balance;
        for (uint256 i = 0; i < RING - 1; ++i) {
            if (h < i) break;
            peak = FixedPointMath.max(peak, _snapshotOf(p, h - i));
        }
    }

    /// @inheritdoc IInsuranceFund
    function balance8hAgo(bytes32 pool) public view override returns (uint256) {
        Pool storage p = _pool(pool);
        uint256 h = currentHour();
        return h < RING - 1 ? 0 : _snapshotOf(p, h - (RING - 1));
    }

    /// @inheritdoc IInsuranceFund
    /// @dev Reverts SnapshotOutsideWindow unless current hour - 8 <= hour <= current hour.
    function snapshotAt(bytes32 pool, uint256 hour) external view override returns (uint256) {
        Pool storage p = _pool(pool);
        uint256 h = currentHour();
        if (hour > h || hour + (RING - 1) < h) revert SnapshotOutsideWindow(hour);
        return _snapshotOf(p, hour);
    }

    /// @inheritdoc IInsuranceFund
    function currentHour() public view override returns (uint256) {
        return block.timestamp / _HOUR;
    }

    // --- Fund risk ---

    /// @inheritdoc IInsuranceFund
    /// @dev Rounding: both thresholds round UP and the comparisons are inclusive, so at every rounding
    ///      boundary a flag is raised rather than not: for the fund's safety (ADL becomes available a unit
    ///      earlier), against the trader (who may be deleveraged a unit earlier). DRAWDOWN_FROM_PEAK needs a
    ///      positive peak so a sub-pool that has been empty for 8 hours does not by itself allow ADL (the
    ///      global pool still backs it; GLOBAL_DEPLETED covers the case where it cannot).
    ///      Reverts UnknownMarket unless `market` is registered.
    function fundRisk(bytes32 market) public view override returns (uint8 flags) {
        if (!isMarket[market]) revert UnknownMarket(market);
        uint256 sub = _pools[market].balance;
        uint256 peak = peak8h(market);
        if (peak > 0 && sub <= FixedPointMath.mulDivUp(peak, FixedPointMath.BPS - drawdownBps, FixedPointMath.BPS)) {
            flags |= DRAWDOWN_FROM_PEAK;
        }
        uint256 ago = balance8hAgo(market);
        if (ago > 0 && sub <= FixedPointMath.mulDivUp(ago, FixedPointMath.BPS - fastDropBps, FixedPointMath.BPS)) {
            flags |= FAST_DROP;
        }
        if (_pools[GLOBAL].balance <= globalFloor) flags |= GLOBAL_DEPLETED;
    }

    /// @inheritdoc IInsuranceFund
    /// @dev Reverts UnknownMarket unless `market` is registered.
    function adlAllowed(bytes32 market) external view override returns (bool) {
        return fundRisk(market) != 0;
    }

    // --- Other views ---

    /// @inheritdoc IInsuranceFund
    function poolBalance(bytes32 pool) external view override returns (uint256) {
        return _pool(pool).balance;
    }

    /// @inheritdoc IInsuranceFund
    function withdrawal(uint256 id) external view override returns (Withdrawal memory) {
        return _withdrawals[id];
    }

    // --- Internals ---

    /// @dev The pool `pool`, which must be GLOBAL or a registered market.
    function _pool(bytes32 pool) internal view returns (Pool storage) {
        if (pool != GLOBAL && !isMarket[pool]) revert UnknownMarket(pool);
        return _pools[pool];
    }

    /// @dev Snapshot [usdc] of hour `h`, for current hour - 8 <= h <= current hour. Hours after the last
    ///      recorded one carry the current balance (nothing changed since); the others are in the ring,
    ///      which `_record` filled for every hour in [lastHour - 8, lastHour].
    function _snapshotOf(Pool storage p, uint256 h) internal view returns (uint256) {
        return h > p.lastHour ? p.balance : p.ring[h % RING];
    }

    /// @dev Writes the snapshots of hours (lastHour, current hour] (at most the last RING of them) with the
    ///      balance as it is now, before the caller changes it. Emits Snapshot per hour written.
    function _record(bytes32 pool, Pool storage p) internal {
        uint256 h = currentHour();
        uint256 last = p.lastHour;
        if (h <= last) return;
        uint256 first = last + 1;
        if (h >= RING && first < h - (RING - 1)) first = h - (RING - 1);
        uint256 balance = p.balance;
        for (uint256 hour = first; hour <= h; ++hour) {
            p.ring[hour % RING] = balance;
            emit Snapshot(pool, hour, balance);
        }
        p.lastHour = h;
    }
}
