// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IClearinghouse} from "../interfaces/IClearinghouse.sol";
import {IPriceOracle} from "../interfaces/IPriceOracle.sol";
import {IInsuranceFund} from "../interfaces/IInsuranceFund.sol";
import {ILiquidationAuction} from "../interfaces/ILiquidationAuction.sol";
import {IAdlQueue} from "../interfaces/IAdlQueue.sol";
import {InvalidParameter, UnknownParameter} from "../interfaces/Errors.sol";
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
contract AdlQueue is IAdlQueue, AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

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

    IClearinghouse public immutable clearinghouse;
    IPriceOracle public immutable oracle;
    IInsuranceFund public immutable fund;
    ILiquidationAuction public immutable auction;
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
        ILiquidationAuction auction_,
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

    /// @inheritdoc IAdlQueue
    function file(bytes32 what, uint256 data) external override onlyRole(DEFAULT_ADMIN_ROLE) {
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

    /// @inheritdoc IAdlQueue
    function execute(uint256 saleId, uint256[] calldata claims, address[] calldata candidates)
        external
        override
        nonReentrant
        returns (uint256 id)
    {
        ILiquidationAuction.Sale memory s = auction.sale(saleId);
        if (s.qty == 0) revert NothingToDeleverage(saleId);
        Plan memory plan = _trigger(saleId, s, oracle.poke(s.market), claims);

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
            id,
            s.market,
            saleId,
            s.trader,
            plan.reason,
            plan.qty,
            plan.price,
            plan.mark,
            taken,
            plan.uncovered,
            plan.claimed,
            bond
        );
        if (bond > 0) usdc.safeTransferFrom(msg.sender, address(this), bond);
    }

    /// @inheritdoc IAdlQueue
    function challenge(uint256 id, address skipped, uint64 hint) external override nonReentrant {
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

    /// @inheritdoc IAdlQueue
    function claim(uint256 id) external override nonReentrant {
        Execution storage e = _execution(id);
        uint256 listed = _listed[id][msg.sender];
        if (!e.challenged || listed <= 1) revert NothingToClaim(id, msg.sender);
        _listed[id][msg.sender] = 1;
        emit CompensationClaimed(id, msg.sender, listed - 1);
        usdc.safeTransfer(msg.sender, listed - 1);
    }

    /// @inheritdoc IAdlQueue
    function releaseBond(uint256 id) external override nonReentrant {
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

    /// @inheritdoc IAdlQueue
    function trigger(uint256 saleId, uint256[] calldata claims) external view override returns (Plan memory) {
        ILiquidationAuction.Sale memory s = auction.sale(saleId);
        if (s.qty == 0) revert NothingToDeleverage(saleId);
        return _trigger(saleId, s, oracle.price(s.market), claims);
    }

    /// @inheritdoc IAdlQueue
    function score(bytes32 market, address account) external view override returns (uint256) {
        IClearinghouse.Position memory p = clearinghouse.getPosition(market, account);
        uint256 mark = oracle.price(market);
        if (p.size == 0 || AdlMath.unrealisedProfit(p, mark) == 0) return 0;
        return AdlMath.score(p, mark);
    }

    /// @inheritdoc IAdlQueue
    function rankPage(bytes32 market, address account, uint256 start, uint256 count)
        external
        view
        override
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

    /// @inheritdoc IAdlQueue
    function lights(uint256 rank, uint256 eligible) external pure override returns (uint256) {
        return AdlMath.lights(rank, eligible);
    }

    /// @inheritdoc IAdlQueue
    function execution(uint256 id) external view override returns (Execution memory) {
        return _executions[id];
    }

    /// @inheritdoc IAdlQueue
    function takenFrom(uint256 id, address account) external view override returns (uint256 taken, bool listed) {
        uint256 v = _listed[id][account];
        return (v == 0 ? 0 : v - 1, v != 0);
    }

    // ------------------------------------------------------------------ internals

    /// @dev The trigger, the quantity it requires and the bankruptcy price. Fund or liquidity risk close what is
    ///      left of the liquidation; otherwise only what the pools cannot cover at the oracle price, rounded up,
    ///      once the listed `claims` (other liquidations' shortfalls at this block's prices) are paid from them.
    function _trigger(uint256 saleId, ILiquidationAuction.Sale memory s, uint256 mark, uint256[] calldata claims)
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
        uint256 available;
        (available, plan.claimed) = _available(saleId, s.market, mark, claims);
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

    /// @dev What the pools can pay liquidation `saleId` of `market` [usdc] after the listed `claims`, and what
    ///      those claim from it [usdc]. A claim is another liquidation (running or queued) and its shortfall were
    ///      it sold at this block's oracle price (`mark` in `market`): in `market` it draws on the sub-pool and
    ///      the global pool; in another market only on the global pool, beyond that market's own sub-pool.
    ///      Ids must strictly increase (no claim counted twice) and exclude `saleId`; a claim with nothing left,
    ///      not underwater, or in a market without a price counts zero, so a list can only undercount: an
    ///      executor can make ADL run sooner only by the shortfall that the pools would really be asked for.
    function _available(uint256 saleId, bytes32 market, uint256 mark, uint256[] calldata claims)
        internal
        view
        returns (uint256 available, uint256 claimed)
    {
        uint256 n = claims.length;
        bytes32[] memory others = new bytes32[](n); // the other markets listed, and what their claims add up to
        uint256[] memory owed = new uint256[](n);
        uint256 count;
        for (uint256 i; i < n; ++i) {
            if (claims[i] == saleId || (i > 0 && claims[i] <= claims[i - 1])) revert InvalidClaimList(i);
            (bytes32 m, uint256 shortfall) = _claim(claims[i], market, mark);
            if (shortfall == 0) continue;
            if (m == market) {
                claimed += shortfall;
                continue;
            }
            uint256 k;
            while (k < count && others[k] != m) ++k;
            if (k == count) others[count++] = m;
            owed[k] += shortfall;
        }
        uint256 globalPool = fund.poolBalance(bytes32(0));
        uint256 drawn; // [usdc] what the other markets' claims take from the global pool
        for (uint256 k; k < count; ++k) {
            uint256 own = fund.poolBalance(others[k]);
            if (owed[k] > own) drawn += owed[k] - own;
        }
        uint256 pools = fund.poolBalance(market) + globalPool;
        uint256 spent = claimed + FP.min(drawn, globalPool);
        available = pools > spent ? pools - spent : 0;
    }

    /// @dev Liquidation `id`'s market and its shortfall [usdc] were what is left of it sold at this block's price
    ///      (`mark` in `market`, the oracle's elsewhere; 0 with nothing left or without a price).
    function _claim(uint256 id, bytes32 market, uint256 mark) internal view returns (bytes32, uint256) {
        ILiquidationAuction.Sale memory c = auction.sale(id);
        if (c.qty == 0) return (c.market, 0);
        if (c.market != market) {
            try oracle.price(c.market) returns (uint256 p) {
                mark = p;
            } catch {
                return (c.market, 0);
            }
        }
        return (c.market, clearinghouse.fillShortfall(c.market, c.trader, c.qty, mark));
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
        candidate =
            AdlMath.isCounterparty(p, me.bankruptLong, me.mark) && !clearinghouse.inLiquidation(me.market, other);
        before = candidate && other != me.account
            && AdlMath.ranksBefore(AdlMath.score(p, me.mark), other, me.score, me.account);
    }

    function _execution(uint256 id) internal view returns (Execution storage e) {
        e = _executions[id];
        if (e.epoch == 0) revert UnknownExecution(id);
    }
}
