// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IClearinghouse} from "../interfaces/IClearinghouse.sol";
import {UnknownMarket, ZeroAmount} from "../interfaces/Errors.sol";
import {IPriceOracle} from "../interfaces/IPriceOracle.sol";
import {IInsuranceFund} from "../interfaces/IInsuranceFund.sol";
import {FixedPointMath as FP} from "../libraries/FixedPointMath.sol";
import {PositionMath} from "../libraries/PositionMath.sol";

/// @title Clearinghouse
/// @notice USDC margin accounts and isolated perpetual positions, settled on-chain from off-chain matching.
///         A trader's USDC sits in a free balance until an order moves part of it into a position's isolated
///         margin. Each side of a trade consents by an EIP-712 signature or by submitting the trade itself.
///         Markets have notional brackets (tiers): larger positions get lower leverage, a higher maintenance
///         rate and a tail-risk fee paid into the market's insurance sub-pool at open.
/// @dev Solvency: USDC held + Σ badDebt = Σ free balances + Σ margins + Σ unrealised PnL (+ rounding dust,
///      always in the system's favour). Σ unrealised PnL does not depend on the price: sizes net to zero.
contract Clearinghouse is IClearinghouse, AccessControl, ReentrancyGuardTransient, EIP712 {
    using SafeERC20 for IERC20;

    bytes32 public constant MARKET_ADMIN_ROLE = keccak256("MARKET_ADMIN_ROLE");
    /// @notice The liquidation engine: may freeze a liquidatable position and fill it to keepers.
    bytes32 public constant LIQUIDATOR_ROLE = keccak256("LIQUIDATOR_ROLE");
    /// @notice The ADL queue: may close a frozen position against opposite positions at its bankruptcy price.
    bytes32 public constant ADL_ROLE = keccak256("ADL_ROLE");
    bytes32 public constant ORDER_TYPEHASH = keccak256(
        "Order(address account,bytes32 market,int256 sizeDelta,uint256 limitPrice,uint256 margin,uint256 nonce,uint256 deadline)"
    );
    uint256 public constant MAX_TIERS = 8;

    struct Market {
        bool listed;
        uint16 priceBandBps; // [bps] the most a trade price may differ from the oracle mark
    }

    IERC20 public immutable usdc;
    IPriceOracle public immutable oracle;
    IInsuranceFund public immutable fund;

    mapping(address account => uint256) public freeBalance; // [usdc]
    mapping(bytes32 market => Market) public markets;
    mapping(bytes32 market => Tier[]) internal _tiers;
    /// @dev A position as stored, in two slots: its exposure, then its margin and bookkeeping.
    struct Record {
        int128 size; // [wad] base units; > 0 long, < 0 short
        uint128 entryPrice; // [wad] average entry price
        uint128 margin; // [usdc] collateral isolated in this position
        uint64 epoch; // the ADL epoch of the position's last change (see `positionEpoch`)
        bool frozen; // in liquidation: only the liquidation engine may change it (see `inLiquidation`)
        bool known; // listed in `_accounts` (the account held a position in the market once)
    }

    mapping(bytes32 market => mapping(address account => Record)) internal _positions;
    mapping(bytes32 market => uint256) public badDebt; // [usdc] losses neither margin nor the fund covered
    mapping(bytes32 digest => bool) public orderUsed;

    /// @notice Every account that ever held a position in a market, in order of first opening: what the ADL
    ///         rank views walk. Pushed once per (market, account), never removed.
    mapping(bytes32 market => address[]) internal _accounts;
    /// @notice ADL executions so far in a market. Execution `e` ran on the positions as they were when it began;
    ///         the first change of a position after it keeps that state in `_checkpoints` so that a challenge
    ///         can still prove, later, how the position ranked at execution `e`.
    mapping(bytes32 market => uint64) public adlEpoch;
    mapping(bytes32 market => mapping(address account => mapping(uint64 epoch => Checkpoint))) internal _checkpoints;

    constructor(IERC20 usdc_, IPriceOracle oracle_, IInsuranceFund fund_, address admin)
        EIP712("Backstop Clearinghouse", "1")
    {
        usdc = usdc_;
        oracle = oracle_;
        fund = fund_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(MARKET_ADMIN_ROLE, admin);
        usdc_.forceApprove(address(fund_), type(uint256).max);
    }

    // ------------------------------------------------------------------ markets

    /// @inheritdoc IClearinghouse
    function listMarket(bytes32 market, Tier[] calldata tiers, uint256 priceBandBps)
        external
        override
        onlyRole(MARKET_ADMIN_ROLE)
    {
        if (markets[market].listed) revert MarketAlreadyListed(market);
        markets[market].listed = true;
        emit MarketListed(market, priceBandBps);
        _setPriceBand(market, priceBandBps);
        _setTiers(market, tiers);
    }

    /// @inheritdoc IClearinghouse
    function setTiers(bytes32 market, Tier[] calldata tiers) external override onlyRole(MARKET_ADMIN_ROLE) {
        _requireListed(market);
        _setTiers(market, tiers);
    }

    /// @inheritdoc IClearinghouse
    function setPriceBand(bytes32 market, uint256 priceBandBps) external override onlyRole(MARKET_ADMIN_ROLE) {
        _requireListed(market);
        _setPriceBand(market, priceBandBps);
    }

    /// @inheritdoc IClearinghouse
    function tiers(bytes32 market) external view override returns (Tier[] memory) {
        return _tiers[market];
    }

    /// @inheritdoc IClearinghouse
    function tierFor(bytes32 market, uint256 notional) public view override returns (Tier memory) {
        Tier[] storage ts = _tiers[market];
        uint256 n = ts.length;
        if (n == 0) revert UnknownMarket(market);
        for (uint256 i; i < n; ++i) {
            if (notional <= ts[i].maxNotional) return ts[i];
        }
        revert NotionalAboveTopTier(market, notional, ts[n - 1].maxNotional);
    }

    // ------------------------------------------------------------------ USDC accounts

    /// @inheritdoc IClearinghouse
    function deposit(uint256 amount) external override nonReentrant {
        if (amount == 0) revert ZeroAmount();
        // pulled first: an amount the caller cannot pay fails with the token's error, never an overflow
        usdc.safeTransferFrom(msg.sender, address(this), amount);
        freeBalance[msg.sender] += amount;
        emit Deposited(msg.sender, amount);
    }

    /// @inheritdoc IClearinghouse
    function withdraw(uint256 amount) external override nonReentrant {
        if (amount == 0) revert ZeroAmount();
        _debitFree(msg.sender, amount);
        emit Withdrawn(msg.sender, amount);
        usdc.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IClearinghouse
    function addMargin(bytes32 market, uint256 amount) external override nonReentrant {
        if (amount == 0) revert ZeroAmount();
        Record storage p = _positionOf(market, msg.sender);
        _requireNotInLiquidation(market, msg.sender);
        _debitFree(msg.sender, amount);
        _touch(market, msg.sender);
        p.margin = _u128(p.margin + amount);
        emit MarginAdded(market, msg.sender, amount);
    }

    /// @inheritdoc IClearinghouse
    function removeMargin(bytes32 market, uint256 amount) external override nonReentrant {
        if (amount == 0) revert ZeroAmount();
        Record storage p = _positionOf(market, msg.sender);
        _requireNotInLiquidation(market, msg.sender);
        if (amount > p.margin) revert InsufficientPositionMargin(p.margin, amount);
        _touch(market, msg.sender);
        p.margin -= uint128(amount);
        freeBalance[msg.sender] += amount;
        emit MarginRemoved(market, msg.sender, amount);
        _requireInitialMargin(market, msg.sender, p, oracle.poke(market));
    }

    // ------------------------------------------------------------------ trades

    /// @inheritdoc IClearinghouse
    function orderDigest(Order calldata order) public view override returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    ORDER_TYPEHASH,
                    order.account,
                    order.market,
                    order.sizeDelta,
                    order.limitPrice,
                    order.margin,
                    order.nonce,
                    order.deadline
                )
            )
        );
    }

    /// @inheritdoc IClearinghouse
    function trade(Order calldata maker, bytes calldata makerSig, Order calldata taker, bytes calldata takerSig)
        external
        override
        nonReentrant
    {
        bytes32 market = maker.market;
        _requireListed(market);
        if (
            taker.market != market || maker.sizeDelta == 0 || maker.sizeDelta == type(int256).min
                || taker.sizeDelta != -maker.sizeDelta
        ) {
            revert OrdersMismatched();
        }
        if (maker.account == taker.account) revert SelfTrade(maker.account);
        bytes32 makerDigest = _consume(maker, makerSig);
        bytes32 takerDigest = _consume(taker, takerSig);
        uint256 mark = _checkTradePrice(market, maker.limitPrice, taker);

        _applyTrade(market, maker, maker.limitPrice, mark);
        _applyTrade(market, taker, maker.limitPrice, mark);
        bool takerBuys = taker.sizeDelta > 0;
        emit TradeSettled(
            market,
            takerBuys ? taker.account : maker.account,
            takerBuys ? maker.account : taker.account,
            FP.abs(maker.sizeDelta),
            maker.limitPrice,
            makerDigest,
            takerDigest
        );
    }

    /// @inheritdoc IClearinghouse
    function cancelOrder(Order calldata order) external override {
        if (order.account != msg.sender) revert NotOrderOwner(msg.sender, order.account);
        bytes32 digest = orderDigest(order);
        if (orderUsed[digest]) revert OrderAlreadyUsed(digest);
        orderUsed[digest] = true;
        emit OrderCancelled(msg.sender, digest);
    }

    // ------------------------------------------------------------------ liquidation (LIQUIDATOR_ROLE)

    /// @inheritdoc IClearinghouse
    function beginLiquidation(bytes32 market, address account)
        external
        override
        onlyRole(LIQUIDATOR_ROLE)
        returns (int256 size, uint256 mark)
    {
        Record storage p = _positionOf(market, account);
        _requireNotInLiquidation(market, account);
        mark = oracle.poke(market);
        uint256 q = FP.abs(p.size);
        uint256 n = FP.notionalUp(q, mark);
        int256 eq = _int(p.margin) + PositionMath.pnl(p.size > 0, q, p.entryPrice, mark);
        uint256 maintenance = FP.bpsUp(n, tierFor(market, n).maintenanceMarginBps);
        if (eq >= int256(maintenance)) revert NotLiquidatable(account, market, eq, maintenance);
        _touch(market, account);
        p.frozen = true;
        size = p.size;
        emit LiquidationBegun(market, account, size, mark, eq, maintenance);
    }

    /// @inheritdoc IClearinghouse
    function liquidationFill(
        bytes32 market,
        address account,
        address keeper,
        uint256 qty,
        uint256 price,
        uint256 penaltyBps
    ) external override onlyRole(LIQUIDATOR_ROLE) returns (int256 equityPart, uint256 penalty) {
        if (!_positions[market][account].frozen) revert NotInLiquidation(account, market);
        if (keeper == account) revert SelfTrade(account);
        // a frozen position changes only by its own liquidation: were a keeper in liquidation to take, its
        // frozen size would no longer be what its auction sells, and that auction could never finish
        _requireNotInLiquidation(market, keeper);
        bool long = _positions[market][account].size > 0;
        (equityPart, penalty) = _closeLiquidatedPart(market, account, qty, price, penaltyBps);
        emit LiquidationFilled(
            market, account, keeper, qty, price, equityPart, penalty, equityPart > 0 ? uint256(equityPart) - penalty : 0
        );
        if (penalty > 0) fund.deposit(market, IInsuranceFund.InflowKind.LiquidationPenalty, penalty);

        int256 delta = long ? int256(qty) : -int256(qty);
        (int256 realized, uint256 released,) = _changePosition(market, keeper, delta, price);
        Record storage k = _positions[market][keeper];
        emit PositionChanged(market, keeper, delta, price, k.size, k.entryPrice, k.margin, realized, released);
    }

    /// @inheritdoc IClearinghouse
    function settleKeeper(bytes32 market, address keeper, uint256 margin) external override onlyRole(LIQUIDATOR_ROLE) {
        Record storage k = _positions[market][keeper];
        if (margin > 0) {
            _debitFree(keeper, margin);
            _touch(market, keeper);
            k.margin = _u128(k.margin + margin);
            emit MarginAdded(market, keeper, margin);
        }
        if (k.size != 0) _requireInitialMargin(market, keeper, k, oracle.poke(market));
    }

    /// @inheritdoc IClearinghouse
    function fundMargin(bytes32 market, address account, uint256 amount) external override onlyRole(LIQUIDATOR_ROLE) {
        if (amount == 0) return;
        _debitFree(msg.sender, amount);
        Record storage p = _positions[market][account];
        bool toPosition = p.size != 0;
        if (toPosition) {
            _touch(market, account); // keeps the position as it was for an ADL execution running now
            p.margin = _u128(p.margin + amount);
        } else {
            freeBalance[account] += amount;
        }
        emit MarginFunded(market, msg.sender, account, amount, toPosition);
    }

    // ------------------------------------------------------------------ auto-deleveraging (ADL_ROLE)

    /// @inheritdoc IClearinghouse
    function beginAdl(bytes32 market) external override onlyRole(ADL_ROLE) returns (uint64 epoch) {
        _requireListed(market);
        epoch = ++adlEpoch[market];
    }

    /// @inheritdoc IClearinghouse
    function adlFill(bytes32 market, address account, address counterparty, uint256 qty, uint256 price)
        external
        override
        onlyRole(ADL_ROLE)
        returns (int256 realized)
    {
        if (!_positions[market][account].frozen) revert NotInLiquidation(account, market);
        if (counterparty == account) revert SelfTrade(account);
        Record storage p = _positions[market][account];
        Record storage c = _positionOf(market, counterparty);
        _requireNotInLiquidation(market, counterparty);
        if ((c.size > 0) == (p.size > 0)) revert SameSide(counterparty, market);
        if (qty > FP.abs(c.size)) revert InvalidFillSize(qty, FP.abs(c.size));
        (int256 equityPart,) = _closeLiquidatedPart(market, account, qty, price, 0);
        _touch(market, counterparty, true);
        _settleFunding(market, counterparty);
        uint256 released;
        (realized, released) = _reduce(market, counterparty, c, qty, price);
        emit Deleveraged(market, account, counterparty, qty, price, equityPart, realized);
        emit PositionChanged(
            market,
            counterparty,
            p.size > 0 ? int256(qty) : -int256(qty),
            price,
            c.size,
            c.entryPrice,
            c.margin,
            realized,
            released
        );
    }

    /// @inheritdoc IClearinghouse
    function positionAt(bytes32 market, address account, uint64 epoch, uint64 hint)
        external
        view
        override
        returns (Position memory p, bool frozen)
    {
        if (epoch == 0 || epoch > adlEpoch[market]) revert UnknownAdlEpoch(market, epoch);
        Record storage r = _positions[market][account];
        if (r.epoch < epoch) return (_position(r), r.frozen);
        Checkpoint storage cp = _checkpoints[market][account][hint];
        if (!cp.taken || cp.since >= epoch || hint < epoch) revert NoCheckpoint(account, epoch, hint);
        return (Position(cp.size, cp.entryPrice, cp.margin), false);
    }

    /// @inheritdoc IClearinghouse
    function accountCount(bytes32 market) external view override returns (uint256) {
        return _accounts[market].length;
    }

    /// @inheritdoc IClearinghouse
    function accountAt(bytes32 market, uint256 index) external view override returns (address) {
        return _accounts[market][index];
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IClearinghouse
    function getPosition(bytes32 market, address account) external view override returns (Position memory) {
        return _position(_positions[market][account]);
    }

    /// @inheritdoc IClearinghouse
    function inLiquidation(bytes32 market, address account) public view override returns (bool) {
        return _positions[market][account].frozen;
    }

    /// @inheritdoc IClearinghouse
    function positionEpoch(bytes32 market, address account) external view override returns (uint64) {
        return _positions[market][account].epoch;
    }

    /// @inheritdoc IClearinghouse
    function unrealizedPnl(bytes32 market, address account) public view override returns (int256) {
        Record storage p = _positions[market][account];
        if (p.size == 0) return 0;
        return PositionMath.pnl(p.size > 0, FP.abs(p.size), p.entryPrice, oracle.price(market));
    }

    /// @inheritdoc IClearinghouse
    function equity(bytes32 market, address account) public view override returns (int256) {
        return _int(_positions[market][account].margin) + unrealizedPnl(market, account);
    }

    /// @inheritdoc IClearinghouse
    function notional(bytes32 market, address account) public view override returns (uint256) {
        return FP.notionalUp(FP.abs(_positions[market][account].size), oracle.price(market));
    }

    /// @inheritdoc IClearinghouse
    function marginRatio(bytes32 market, address account) external view override returns (int256) {
        uint256 n = notional(market, account);
        if (n == 0) return 0;
        return equity(market, account) * int256(FP.WAD) / int256(n);
    }

    /// @inheritdoc IClearinghouse
    function maintenanceRequirement(bytes32 market, address account) public view override returns (uint256) {
        uint256 n = notional(market, account);
        if (n == 0) return 0;
        return FP.bpsUp(n, tierFor(market, n).maintenanceMarginBps);
    }

    /// @inheritdoc IClearinghouse
    function initialRequirement(bytes32 market, address account) external view override returns (uint256) {
        uint256 n = notional(market, account);
        if (n == 0) return 0;
        return FP.bpsUp(n, tierFor(market, n).initialMarginBps);
    }

    /// @inheritdoc IClearinghouse
    function isLiquidatable(bytes32 market, address account) external view override returns (bool) {
        Record storage p = _positions[market][account];
        if (p.size == 0 || p.frozen) return false;
        return equity(market, account) < int256(maintenanceRequirement(market, account));
    }

    /// @inheritdoc IClearinghouse
    function bankruptcyPrice(bytes32 market, address account) external view override returns (uint256) {
        Record storage p = _positions[market][account];
        return PositionMath.bankruptcyPrice(p.size, p.entryPrice, p.margin);
    }

    /// @inheritdoc IClearinghouse
    /// @dev The same arithmetic as `_closeLiquidatedPart`: the part's margin share rounded down (all of it for
    ///      the whole position) plus its PnL at `price`.
    function fillShortfall(bytes32 market, address account, uint256 qty, uint256 price)
        external
        view
        override
        returns (uint256)
    {
        Record storage p = _positions[market][account];
        uint256 held = FP.abs(p.size);
        if (qty == 0 || qty > held) revert InvalidFillSize(qty, held);
        uint256 marginShare = qty == held ? p.margin : FP.mulDivDown(p.margin, qty, held);
        int256 equityPart = int256(marginShare) + PositionMath.pnl(p.size > 0, qty, p.entryPrice, price);
        return equityPart < 0 ? uint256(-equityPart) : 0;
    }

    /// @inheritdoc IClearinghouse
    function liquidationPrice(bytes32 market, address account) external view override returns (uint256) {
        Record storage p = _positions[market][account];
        if (p.size == 0) return 0;
        uint256 mm = tierFor(market, notional(market, account)).maintenanceMarginBps;
        return PositionMath.liquidationPrice(p.size, p.entryPrice, p.margin, mm);
    }

    // ------------------------------------------------------------------ internals

    function _setTiers(bytes32 market, Tier[] calldata tiers_) internal {
        uint256 n = tiers_.length;
        if (n == 0 || n > MAX_TIERS) revert InvalidTiers(n);
        delete _tiers[market];
        for (uint256 i; i < n; ++i) {
            Tier calldata t = tiers_[i];
            bool bad = t.maintenanceMarginBps == 0 || t.initialMarginBps <= t.maintenanceMarginBps
                || t.initialMarginBps > FP.BPS || t.tailRiskFeeBps > FP.BPS || t.maxNotional == 0;
            if (i > 0) {
                Tier calldata prev = tiers_[i - 1];
                bad = bad || t.maxNotional <= prev.maxNotional || t.initialMarginBps < prev.initialMarginBps
                    || t.maintenanceMarginBps < prev.maintenanceMarginBps;
            }
            if (bad) revert InvalidTiers(i);
            _tiers[market].push(t);
        }
        emit TiersSet(market, tiers_);
    }

    function _setPriceBand(bytes32 market, uint256 priceBandBps) internal {
        if (priceBandBps == 0 || priceBandBps > FP.BPS / 2) revert InvalidPriceBand(priceBandBps);
        markets[market].priceBandBps = uint16(priceBandBps);
        emit PriceBandSet(market, priceBandBps);
    }

    function _requireListed(bytes32 market) internal view {
        if (!markets[market].listed) revert UnknownMarket(market);
    }

    function _positionOf(bytes32 market, address account) internal view returns (Record storage p) {
        _requireListed(market);
        p = _positions[market][account];
        if (p.size == 0) revert NoPosition(account, market);
    }

    function _requireNotInLiquidation(bytes32 market, address account) internal view {
        if (_positions[market][account].frozen) revert PositionInLiquidation(account, market);
    }

    function _debitFree(address account, uint256 amount) internal {
        uint256 available = freeBalance[account];
        if (amount > available) revert InsufficientFreeBalance(account, available, amount);
        freeBalance[account] = available - amount;
    }

    /// @dev Checks expiry, replay and consent, then marks the order used.
    function _consume(Order calldata order, bytes calldata signature) internal returns (bytes32 digest) {
        digest = orderDigest(order);
        if (block.timestamp > order.deadline) revert OrderExpired(digest, order.deadline);
        if (orderUsed[digest]) revert OrderAlreadyUsed(digest);
        if (msg.sender != order.account && !SignatureChecker.isValidSignatureNow(order.account, digest, signature)) {
            revert BadSignature(order.account, digest);
        }
        orderUsed[digest] = true;
    }

    /// @dev The execution price must satisfy the taker's limit and lie within the band around the oracle
    ///      mark; returns the mark (also recorded by the oracle as its last accepted price).
    function _checkTradePrice(bytes32 market, uint256 price, Order calldata taker) internal returns (uint256 mark) {
        if (taker.sizeDelta > 0 ? price > taker.limitPrice : price < taker.limitPrice) {
            revert PriceBeyondLimit(taker.account, price, taker.limitPrice);
        }
        mark = oracle.poke(market);
        uint256 band = markets[market].priceBandBps;
        uint256 gap = price > mark ? price - mark : mark - price;
        if (gap > FP.bpsDown(mark, band)) revert PriceOutsideBand(price, mark, band);
    }

    /// @dev Applies one side of a trade: changes the position (the reduced part releases its margin), then
    ///      moves the order's margin in, charges the tail-risk fee on what was added and requires initial
    ///      margin if the position grew. A trade that closes the position takes none of the order's margin:
    ///      there is no position left for it to back, and margin left on a closed position could never be
    ///      removed (removeMargin needs a position).
    function _applyTrade(bytes32 market, Order calldata order, uint256 price, uint256 mark) internal {
        address account = order.account;
        _requireNotInLiquidation(market, account);
        Record storage p = _positions[market][account];
        (int256 realized, uint256 released, uint256 added) = _changePosition(market, account, order.sizeDelta, price);
        // the order's margin backs what the position is after the trade, so a flip does not release it
        if (order.margin > 0 && p.size != 0) {
            _debitFree(account, order.margin);
            p.margin = _u128(p.margin + order.margin);
        }
        if (added > 0) {
            _chargeTailRiskFee(market, account, p, added, price, mark);
            _requireInitialMargin(market, account, p, mark);
        }
        emit PositionChanged(
            market, account, order.sizeDelta, price, p.size, p.entryPrice, p.margin, realized, released
        );
    }

    /// @dev Changes `account`'s position by `delta` units at `price`: the opposite exposure is reduced first
    ///      (realising PnL), whatever is left grows the position. Returns the units added.
    function _changePosition(bytes32 market, address account, int256 delta, uint256 price)
        internal
        returns (int256 realized, uint256 released, uint256 added)
    {
        _settleFunding(market, account);
        _touch(market, account);
        Record storage p = _positions[market][account];
        uint256 qty = FP.abs(delta);
        uint256 held = FP.abs(p.size);
        if (p.size != 0 && (p.size > 0) != (delta > 0)) {
            uint256 closed = FP.min(qty, held);
            (realized, released) = _reduce(market, account, p, closed, price);
            qty -= closed;
            held -= closed;
        }
        if (qty > 0) {
            if (!p.known) {
                p.known = true;
                _accounts[market].push(account);
            }
            bool long = delta > 0;
            p.entryPrice = _u128(held == 0 ? price : PositionMath.averageEntry(long, held, p.entryPrice, qty, price));
            uint256 grown = held + qty;
            if (grown > uint128(type(int128).max)) revert PositionTooLarge(grown, uint128(type(int128).max));
            int128 size = int128(uint128(grown));
            p.size = long ? size : -size;
            added = qty;
        }
    }

    /// @dev Closes `closed` units at `price`: PnL goes to the margin, the closed share of the margin to the
    ///      free balance; a loss beyond the margin is covered by the fund and what it cannot cover is bad debt.
    function _reduce(bytes32 market, address account, Record storage p, uint256 closed, uint256 price)
        internal
        returns (int256 realized, uint256 released)
    {
        bool long = p.size > 0;
        uint256 held = FP.abs(p.size);
        realized = PositionMath.pnl(long, closed, p.entryPrice, price);
        int256 marginAfter = _int(p.margin) + realized;
        uint256 margin;
        if (marginAfter < 0) {
            _coverShortfall(market, account, uint256(-marginAfter));
        } else {
            margin = uint256(marginAfter);
        }
        released = closed == held ? margin : FP.mulDivDown(margin, closed, held);
        p.margin = _u128(margin - released);
        freeBalance[account] += released;
        _shrink(p, long, held - closed);
    }

    /// @dev The trader's side of a liquidation fill (see liquidationFill).
    function _closeLiquidatedPart(bytes32 market, address account, uint256 qty, uint256 price, uint256 penaltyBps)
        internal
        returns (int256 equityPart, uint256 penalty)
    {
        Record storage p = _positions[market][account];
        bool long = p.size > 0;
        uint256 held = FP.abs(p.size);
        if (qty == 0 || qty > held) revert InvalidFillSize(qty, held);
        _touch(market, account);
        uint256 marginShare = qty == held ? p.margin : FP.mulDivDown(p.margin, qty, held);
        p.margin -= uint128(marginShare);
        equityPart = int256(marginShare) + PositionMath.pnl(long, qty, p.entryPrice, price);
        if (equityPart >= 0) {
            penalty = FP.min(FP.bpsUp(FP.notionalUp(qty, price), penaltyBps), uint256(equityPart));
            freeBalance[account] += uint256(equityPart) - penalty;
        } else {
            _coverShortfall(market, account, uint256(-equityPart));
        }
        _shrink(p, long, held - qty);
        if (held == qty) p.frozen = false;
    }

    function _shrink(Record storage p, bool long, uint256 remaining) internal {
        int128 size = int128(uint128(remaining)); // remaining <= the size held, which fits
        p.size = long ? size : -size;
        if (remaining == 0) p.entryPrice = 0;
    }

    /// @dev The tail-risk fee of the bracket the grown position falls in, on the `added` notional at `price`,
    ///      paid from the position's margin into the market's insurance sub-pool.
    function _chargeTailRiskFee(
        bytes32 market,
        address account,
        Record storage p,
        uint256 added,
        uint256 price,
        uint256 mark
    ) internal {
        uint256 total = FP.notionalUp(FP.abs(p.size), mark);
        uint256 fee = FP.bpsUp(FP.notionalUp(added, price), tierFor(market, total).tailRiskFeeBps);
        if (fee == 0) return;
        if (fee > p.margin) revert InsufficientPositionMargin(p.margin, fee);
        p.margin -= uint128(fee);
        emit TailRiskMarginPaid(market, account, fee);
        fund.deposit(market, IInsuranceFund.InflowKind.TailRiskMargin, fee);
    }

    function _requireInitialMargin(bytes32 market, address account, Record storage p, uint256 mark) internal view {
        uint256 q = FP.abs(p.size);
        uint256 n = FP.notionalUp(q, mark);
        uint256 required = FP.bpsUp(n, tierFor(market, n).initialMarginBps);
        int256 eq = _int(p.margin) + PositionMath.pnl(p.size > 0, q, p.entryPrice, mark);
        if (eq < int256(required)) revert MarginBelowInitial(account, market, eq, required);
    }

    /// @dev A loss beyond the position's margin: the fund pays what it can into this contract (sub-pool
    ///      first, then global); the rest is bad debt, evented, for the ADL queue to absorb.
    function _coverShortfall(bytes32 market, address account, uint256 shortfall) internal {
        uint256 uncovered = fund.coverLoss(market, shortfall, address(this));
        if (uncovered > 0) badDebt[market] += uncovered;
        emit ShortfallSettled(market, account, shortfall, shortfall - uncovered, uncovered);
    }

    /// @dev Call before any change of `account`'s position in `market` (size, entry, margin or frozen flag): the
    ///      first change after an ADL execution keeps the state that execution saw, valid for every execution
    ///      since the position's previous change. Nothing is kept when no challenge could need it: for a frozen
    ///      position (never a candidate), or for a counterparty that the current execution itself is closing
    ///      (`inAdl`) when no earlier execution saw its state.
    function _touch(bytes32 market, address account, bool inAdl) internal {
        uint64 epoch = adlEpoch[market];
        if (epoch == 0) return;
        Record storage p = _positions[market][account];
        uint64 last = p.epoch;
        if (last == epoch) return;
        p.epoch = epoch;
        if (p.frozen || (inAdl && last + 1 == epoch)) return;
        _checkpoints[market][account][epoch] = Checkpoint(p.size, p.entryPrice, p.margin, last, true);
        emit PositionCheckpointed(market, account, epoch, last);
    }

    function _touch(bytes32 market, address account) internal {
        _touch(market, account, false);
    }

    /// @dev Funding payments are out of scope for now. When they land, they settle here, before every change
    ///      of a position, by moving accrued funding between the position's margin and the market.
    // solhint-disable-next-line no-empty-blocks
    function _settleFunding(bytes32 market, address account) internal {}

    /// @dev The stored record as the interface's Position.
    function _position(Record storage r) internal view returns (Position memory) {
        return Position(r.size, r.entryPrice, r.margin);
    }

    function _u128(uint256 x) internal pure returns (uint128) {
        return SafeCast.toUint128(x);
    }

    function _int(uint128 x) internal pure returns (int256) {
        return int256(uint256(x));
    }
}
