// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IClearinghouse} from "../interfaces/IClearinghouse.sol";
import {IPriceOracle} from "../interfaces/IPriceOracle.sol";
import {IInsuranceFund} from "../interfaces/IInsuranceFund.sol";
import {LiquidationAuction} from "../liquidation/LiquidationAuction.sol";
import {FixedPointMath as FP} from "../libraries/FixedPointMath.sol";
import {AdlMath} from "../libraries/AdlMath.sol";

/// @title AdlQueue
/// @notice Auto-deleveraging, the last line of defence: a liquidation whose loss the fund cannot (or, under a
///         fund-risk or liquidity-risk trigger, should not) absorb is closed at the bankrupt position's
///         **bankruptcy price** against the most profitable, most leveraged positions on the other side, ranked
///         by leveraged profit (see AdlMath.score), fee-free, each counterparty losing at most `lossCapBps` of
///         its unrealised profit.
/// @dev Exact ranking at a gas cost flat in the number of positions, optimistically: the executor (anyone)
///      passes the counterparties in rank order, computed off-chain (backstop.model.adl); the contract checks
///      that every listed position is eligible, that the list is strictly ordered by (score desc, address asc)
///      at this block's oracle price, and that it closes exactly the quantity needed — O(1) per listed
///      counterparty. Completeness (no better-ranked position skipped) is not checkable in O(1), so the
///      executor posts a USDC bond of `minBond` plus all the profit it took; during `challengeWindow` anyone may
///      prove a skipped position ranked above the last one listed (its state at the execution comes from the
///      clearinghouse's checkpoints). A proven skip slashes the bond: every counterparty of that execution
///      claims back the profit taken from it, the challenger gets the rest. Unchallenged, the bond returns.
///      Minimality: only the quantity the trigger requires is closed (for an uncovered loss, just enough that
///      the fund covers the rest), and the profit taken equals the loss avoided at the oracle price.
contract AdlQueue is AccessControl, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice Why an ADL ran.
    enum Reason {
        Uncovered, // the fund could not cover the loss at the oracle price: only the uncovered part is closed
        FundRisk, // the market's sub-pool or the global pool is draining (InsuranceFund.fundRisk)
        LiquidityRisk // an auction of the market ended unfilled (LiquidationAuction.inLiquidityRisk)
    }

    /// @dev One ADL execution, kept for its challenge window; packed in five slots.
    struct Execution {
        bytes32 market;
        address executor;
        uint64 epoch; // the clearinghouse's ADL epoch of this execution
        bool bankruptLong; // the bankrupt position's side; counterparties are on the other
        bool challenged;
        bool bondReleased;
        uint128 mark; // [wad] oracle price used for ranking and the cap
        uint128 bond; // [usdc]
        uint128 profitTaken; // [usdc] Σ profit taken from the counterparties
        uint128 lastScore; // [wad] score of the last listed counterparty
        address lastAccount; // the last listed counterparty (ties rank by address, ascending)
        uint64 at; // [seconds] execution time
    }

    /// @notice What a trigger requires: why, how much [wad] at which bankruptcy price [wad], the oracle mark
    ///         [wad], and the loss [usdc] the fund could not cover at the mark.
    struct Plan {
        Reason reason;
        uint256 qty;
        uint256 price;
        uint256 mark;
        uint256 uncovered;
    }

    /// @dev Progress through a candidate list.
    struct Cursor {
        address trader; // the bankrupt position's holder
        uint256 qty; // [wad] left to close
        uint256 gap; // [wad] |bankruptcy price − mark|: the profit each unit gives up
        uint256 lastScore; // [wad] score of the previous candidate
        address last; // the previous candidate
        uint256 taken; // [usdc] profit taken so far
    }

    /// @dev A position's place in its market's ranking, for the rank view.
    struct RankKey {
        bytes32 market;
        address account;
        bool bankruptLong;
        uint256 mark;
        uint256 score;
    }

    error UnknownParameter(bytes32 what);
    error InvalidParameter(bytes32 what, uint256 data);
    error NothingToDeleverage(uint256 saleId);
    error NotUnderwater(uint256 saleId, uint256 bankruptcyPrice, uint256 mark);
    error NoAdlTrigger(bytes32 market, uint256 shortfall, uint256 available);
    error NotACandidate(address account, bytes32 market);
    error CandidatesOutOfOrder(uint256 index);
    error CandidatesExhausted(uint256 qtyLeft);
    error SurplusCandidates(uint256 index);
    error ChallengeWindowClosed(uint256 execution);
    error ChallengeWindowOpen(uint256 execution, uint256 closesAt);
    error AlreadyChallenged(uint256 execution);
    error BondAlreadyReleased(uint256 execution);
    error AlreadyListed(address account);
    error SkippedRanksBelow(address account, uint256 score);
    error NothingToClaim(uint256 execution, address account);
    error UnknownExecution(uint256 execution);

    event ParameterSet(bytes32 indexed what, uint256 data);
    /// @notice One ADL: `qty` of liquidation `saleId` closed at `price` (the bankruptcy price).
    event AdlExecuted(
        uint256 indexed execution,
        bytes32 indexed market,
        uint256 indexed saleId,
        address trader,
        Reason reason,
        uint256 qty,
        uint256 price,
        uint256 mark,
        uint256 profitTaken,
        uint256 uncovered,
        uint256 bond
    );
    /// @notice The billing record of one counterparty: typed "ADL" so a holder's history shows it as such.
    event ADL(
        uint256 indexed execution,
        address indexed trader,
        address indexed counterparty,
        bytes32 market,
        uint256 qty,
        uint256 price,
        uint256 profitTaken,
        uint256 rank
    );
    event Challenged(uint256 indexed execution, address indexed challenger, address indexed skipped, uint256 score);
    event CompensationClaimed(uint256 indexed execution, address indexed account, uint256 amount);
    event BondReleased(uint256 indexed execution, address indexed executor, uint256 amount);

    IClearinghouse public immutable clearinghouse;
    IPriceOracle public immutable oracle;
    IInsuranceFund public immutable fund;
    LiquidationAuction public immutable auction;
    IERC20 public immutable usdc;

    uint256 public lossCapBps = 10_000; // [bps] the most of a counterparty's unrealised profit one ADL may take
    uint256 public challengeWindow = 1 hours; // [seconds]
    uint256 public minBond; // [usdc] bond on top of the profit taken

    uint256 public executions; // ids are 1..executions
    mapping(uint256 id => Execution) internal _executions;
    /// @dev 1 + profit taken [usdc] for every listed counterparty of an execution; 0 for anyone not listed.
    mapping(uint256 id => mapping(address account => uint256)) internal _listed;

    constructor(
        IClearinghouse clearinghouse_,
        IPriceOracle oracle_,
        IInsuranceFund fund_,
        LiquidationAuction auction_,
        IERC20 usdc_,
        address admin
    ) {
        clearinghouse = clearinghouse_;
        oracle = oracle_;
        fund = fund_;
        auction = auction_;
        usdc = usdc_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @notice Sets "lossCapBps" [bps, 1..10_000], "challengeWindow" [seconds, ≤ 7 days] or "minBond" [usdc].
    ///         Admin only.
    function file(bytes32 what, uint256 data) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (what == "lossCapBps") {
            if (data == 0 || data > FP.BPS) revert InvalidParameter(what, data);
            lossCapBps = data;
        } else if (what == "challengeWindow") {
            if (data > 7 days) revert InvalidParameter(what, data);
            challengeWindow = data;
        } else if (what == "minBond") {
            minBond = data;
        } else {
            revert UnknownParameter(what);
        }
        emit ParameterSet(what, data);
    }

    // ------------------------------------------------------------------ execution

    /// @notice Closes what the trigger requires of liquidation `saleId` (running or queued) at the position's
    ///         bankruptcy price against `candidates`, listed in rank order (score desc, address asc) at this
    ///         block's oracle price. Each is filled up to its size and its loss cap, the rest spilling to the
    ///         next; the list must close the quantity exactly (no surplus candidates). The caller posts a bond
    ///         of `minBond` plus the profit taken (approve USDC first), returned after `challengeWindow`.
    ///         Anyone may call when a trigger holds (see `trigger`).
    function execute(uint256 saleId, address[] calldata candidates) external nonReentrant returns (uint256 id) {
        LiquidationAuction.Sale memory s = auction.sale(saleId);
        if (s.qty == 0) revert NothingToDeleverage(saleId);
        Plan memory plan = _trigger(saleId, s, oracle.poke(s.market));

        id = ++executions;
        Execution storage e = _executions[id];
        e.market = s.market;
        e.executor = msg.sender;
        e.epoch = clearinghouse.beginAdl(s.market);
        e.at = uint64(block.timestamp);
        e.bankruptLong = s.long;
        e.mark = SafeCast.toUint128(plan.mark);

        auction.handToAdl(saleId, plan.qty);
        uint256 taken = _match(id, e, s.trader, plan, candidates);
        uint256 bond = minBond + taken;
        e.profitTaken = SafeCast.toUint128(taken);
        e.bond = SafeCast.toUint128(bond);
        emit AdlExecuted(
            id, s.market, saleId, s.trader, plan.reason, plan.qty, plan.price, plan.mark, taken, plan.uncovered, bond
        );
        if (bond > 0) usdc.safeTransferFrom(msg.sender, address(this), bond);
    }

    /// @notice Proves that execution `id` skipped `skipped`, an eligible position ranked above its last listed
    ///         counterparty at the execution's price and able to take part of the loss. `hint` is the epoch of
    ///         the skipped position's first change after the execution, if it changed (see
    ///         Clearinghouse.positionAt). Slashes the bond: the counterparties may claim their profit back with
    ///         `claim`, the caller receives the rest. Anyone, within the challenge window.
    function challenge(uint256 id, address skipped, uint64 hint) external nonReentrant {
        Execution storage e = _execution(id);
        if (e.challenged) revert AlreadyChallenged(id);
        if (block.timestamp > e.at + challengeWindow) revert ChallengeWindowClosed(id);
        if (_listed[id][skipped] != 0) revert AlreadyListed(skipped);
        (IClearinghouse.Position memory p, bool frozen) = clearinghouse.positionAt(e.market, skipped, e.epoch, hint);
        uint256 mark = e.mark;
        if (frozen || !AdlMath.isCounterparty(p, e.bankruptLong, mark)) revert NotACandidate(skipped, e.market);
        uint256 score = AdlMath.score(p, mark);
        if (!AdlMath.ranksBefore(score, skipped, e.lastScore, e.lastAccount)) revert SkippedRanksBelow(skipped, score);
        e.challenged = true;
        e.bondReleased = true;
        uint256 reward = e.bond - e.profitTaken;
        emit Challenged(id, msg.sender, skipped, score);
        if (reward > 0) usdc.safeTransfer(msg.sender, reward);
    }

    /// @notice After a successful challenge of execution `id`, pays the caller back the profit taken from it.
    function claim(uint256 id) external nonReentrant {
        Execution storage e = _execution(id);
        uint256 listed = _listed[id][msg.sender];
        if (!e.challenged || listed <= 1) revert NothingToClaim(id, msg.sender);
        _listed[id][msg.sender] = 1;
        emit CompensationClaimed(id, msg.sender, listed - 1);
        usdc.safeTransfer(msg.sender, listed - 1);
    }

    /// @notice Returns execution `id`'s bond to its executor once the challenge window closed unchallenged.
    ///         Anyone may call.
    function releaseBond(uint256 id) external nonReentrant {
        Execution storage e = _execution(id);
        if (e.challenged) revert AlreadyChallenged(id);
        if (e.bondReleased) revert BondAlreadyReleased(id);
        uint256 closesAt = e.at + challengeWindow;
        if (block.timestamp <= closesAt) revert ChallengeWindowOpen(id, closesAt);
        e.bondReleased = true;
        emit BondReleased(id, e.executor, e.bond);
        if (e.bond > 0) usdc.safeTransfer(e.executor, e.bond);
    }

    // ------------------------------------------------------------------ views

    /// @notice Whether ADL may run on liquidation `saleId` now, why, how much of it [wad] it would close, at
    ///         which price [wad], and the loss [usdc] the fund could not cover at the oracle price.
    function trigger(uint256 saleId) external view returns (Plan memory) {
        LiquidationAuction.Sale memory s = auction.sale(saleId);
        if (s.qty == 0) revert NothingToDeleverage(saleId);
        return _trigger(saleId, s, oracle.price(s.market));
    }

    /// @notice `account`'s leveraged-profit score [wad] in `market` at the oracle price (0 if not profitable).
    function score(bytes32 market, address account) external view returns (uint256) {
        IClearinghouse.Position memory p = clearinghouse.getPosition(market, account);
        uint256 mark = oracle.price(market);
        if (p.size == 0 || AdlMath.unrealisedProfit(p, mark) == 0) return 0;
        return AdlMath.score(p, mark);
    }

    /// @notice Among the accounts `start .. start+count-1` of `market` (Clearinghouse.accountAt), how many are
    ///         ADL candidates on the same side as `account` (`eligible`) and how many of those rank before it
    ///         (`above`). Sum over pages for the rank (`1 + above`) and `lights(rank, eligible)`. A view for
    ///         holders and dashboards: its cost grows with `count`, so page through large markets.
    function rankPage(bytes32 market, address account, uint256 start, uint256 count)
        external
        view
        returns (uint256 above, uint256 eligible)
    {
        RankKey memory me = _rankKey(market, account);
        if (me.mark == 0) return (0, 0);
        uint256 end = FP.min(start + count, clearinghouse.accountCount(market));
        for (uint256 i = start; i < end; ++i) {
            (bool candidate, bool before) = _compare(me, clearinghouse.accountAt(market, i));
            if (candidate) ++eligible;
            if (before) ++above;
        }
    }

    /// @notice The 1–5 lights of rank `rank` among `eligible` candidates: 5 for the first fifth (most at risk),
    ///         1 for the last; 0 when not a candidate.
    function lights(uint256 rank, uint256 eligible) external pure returns (uint256) {
        return AdlMath.lights(rank, eligible);
    }

    function execution(uint256 id) external view returns (Execution memory) {
        return _executions[id];
    }

    /// @notice The profit [usdc] execution `id` took from `account`, and whether it was listed.
    function takenFrom(uint256 id, address account) external view returns (uint256 taken, bool listed) {
        uint256 v = _listed[id][account];
        return (v == 0 ? 0 : v - 1, v != 0);
    }

    // ------------------------------------------------------------------ internals

    /// @dev The trigger, the quantity it requires and the bankruptcy price. Fund or liquidity risk close what is
    ///      left of the liquidation; otherwise only what the fund cannot cover at the oracle price, rounded up.
    function _trigger(uint256 saleId, LiquidationAuction.Sale memory s, uint256 mark)
        internal
        view
        returns (Plan memory plan)
    {
        plan.mark = mark;
        plan.qty = s.qty;
        plan.price = clearinghouse.bankruptcyPrice(s.market, s.trader);
        if (s.long ? plan.price <= mark : plan.price >= mark) revert NotUnderwater(saleId, plan.price, mark);
        uint256 gap = s.long ? plan.price - mark : mark - plan.price;
        uint256 shortfall = FP.notionalUp(s.qty, gap);
        uint256 available = fund.poolBalance(s.market) + fund.poolBalance(bytes32(0));
        plan.uncovered = shortfall > available ? shortfall - available : 0;
        if (fund.adlAllowed(s.market)) {
            plan.reason = Reason.FundRisk;
        } else if (auction.inLiquidityRisk(s.market)) {
            plan.reason = Reason.LiquidityRisk;
        } else if (plan.uncovered > 0) {
            plan.reason = Reason.Uncovered;
            plan.qty = FP.min(s.qty, FP.mulDivUp(plan.uncovered, FP.NOTIONAL_SCALE, gap));
        } else {
            revert NoAdlTrigger(s.market, shortfall, available);
        }
    }

    /// @dev Fills the plan's quantity against the candidates in order, each eligible, ranked after the previous
    ///      one and within its loss cap. Returns the profit taken [usdc].
    function _match(uint256 id, Execution storage e, address trader, Plan memory plan, address[] calldata candidates)
        internal
        returns (uint256)
    {
        uint256 gap = e.bankruptLong ? plan.price - plan.mark : plan.mark - plan.price;
        Cursor memory cur = Cursor(trader, plan.qty, gap, 0, address(0), 0);
        uint256 n = candidates.length;
        for (uint256 i; i < n; ++i) {
            if (cur.qty == 0) revert SurplusCandidates(i);
            _fillCandidate(id, e, plan, cur, candidates[i], i);
        }
        if (cur.qty > 0) revert CandidatesExhausted(cur.qty);
        e.lastScore = SafeCast.toUint128(cur.lastScore);
        e.lastAccount = cur.last;
        return cur.taken;
    }

    /// @dev One step of `_match`: checks candidate `c` (at list index `i`) and closes what it can take.
    function _fillCandidate(uint256 id, Execution storage e, Plan memory plan, Cursor memory cur, address c, uint256 i)
        internal
    {
        bytes32 market = e.market;
        IClearinghouse.Position memory p = clearinghouse.getPosition(market, c);
        if (
            c == cur.trader || !AdlMath.isCounterparty(p, e.bankruptLong, plan.mark)
                || clearinghouse.inLiquidation(market, c)
        ) revert NotACandidate(c, market);
        uint256 sc = AdlMath.score(p, plan.mark);
        if (i > 0 && !AdlMath.ranksBefore(cur.lastScore, cur.last, sc, c)) revert CandidatesOutOfOrder(i);
        (cur.lastScore, cur.last) = (sc, c);

        uint256 fill = FP.min(cur.qty, AdlMath.cappedQty(p, plan.mark, cur.gap, lossCapBps));
        uint256 profit;
        if (fill > 0) {
            clearinghouse.adlFill(market, cur.trader, c, fill, plan.price);
            profit = FP.notionalUp(fill, cur.gap);
            cur.qty -= fill;
            cur.taken += profit;
        }
        _listed[id][c] = profit + 1;
        emit ADL(id, cur.trader, c, market, fill, plan.price, profit, i + 1);
    }

    /// @dev Whether `other` is a candidate on `account`'s side, and whether it ranks before `account`.
    /// @dev `account`'s ranking key at the oracle price; `mark` is 0 when it has no position.
    function _rankKey(bytes32 market, address account) internal view returns (RankKey memory me) {
        IClearinghouse.Position memory mine = clearinghouse.getPosition(market, account);
        if (mine.size == 0) return me;
        uint256 mark = oracle.price(market);
        // a long absorbs the bankruptcies of shorts and vice versa
        me = RankKey(market, account, mine.size < 0, mark, AdlMath.score(mine, mark));
    }

    function _compare(RankKey memory me, address other) internal view returns (bool candidate, bool before) {
        IClearinghouse.Position memory p = clearinghouse.getPosition(me.market, other);
        candidate = AdlMath.isCounterparty(p, me.bankruptLong, me.mark) && !clearinghouse.inLiquidation(me.market, other);
        before = candidate && other != me.account
            && AdlMath.ranksBefore(AdlMath.score(p, me.mark), other, me.score, me.account);
    }

    function _execution(uint256 id) internal view returns (Execution storage e) {
        e = _executions[id];
        if (e.epoch == 0) revert UnknownExecution(id);
    }
}
