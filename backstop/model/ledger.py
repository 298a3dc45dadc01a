"""Reference model of the Clearinghouse and PositionMath: the same integer math, the same rounding.

Units as in the contracts: usdc (6 decimals), wad (18 decimals: prices and sizes), bps.
The fund is modelled by a callable ``cover(market, amount) -> uncovered`` so that the ledger and the fund
model (backstop.model.fund) can be combined or tested apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from backstop.units import BPS, NOTIONAL_SCALE, bps_down, bps_up, mul_div_down, mul_div_up, notional_down, notional_up

MAX_TIERS = 8  # Clearinghouse.MAX_TIERS: the most leverage brackets a market may list
MAX_PRICE_BAND_BPS = BPS // 2  # [bps] Clearinghouse._setPriceBand: a trade at most 50% from the oracle mark


class LedgerError(Exception):
    """A rule the Clearinghouse enforces with a named revert; the class name matches the Solidity error."""


class ZeroAmount(LedgerError): ...


class UnknownMarket(LedgerError): ...


class InsufficientFreeBalance(LedgerError): ...


class InsufficientPositionMargin(LedgerError): ...


class MarginBelowInitial(LedgerError): ...


class NotionalAboveTopTier(LedgerError): ...


class NoPosition(LedgerError): ...


class PriceOutsideBand(LedgerError): ...


class InvalidFillSize(LedgerError): ...


class PositionInLiquidation(LedgerError): ...


@dataclass(frozen=True)
class Tier:
    max_notional: int  # usdc, inclusive upper bound
    initial_margin_bps: int
    maintenance_margin_bps: int
    tail_risk_fee_bps: int = 0

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.max_notional, self.initial_margin_bps, self.maintenance_margin_bps, self.tail_risk_fee_bps)


@dataclass
class Position:
    size: int = 0  # wad, signed
    entry_price: int = 0  # wad
    margin: int = 0  # usdc


# --------------------------------------------------------------------------- PositionMath


def pnl(long: bool, closed: int, entry: int, price: int) -> int:
    """PnL [usdc] of `closed` units: profit rounded down, loss rounded up."""
    gain = price >= entry if long else price <= entry
    diff = abs(price - entry)
    return notional_down(closed, diff) if gain else -notional_up(closed, diff)


def average_entry(long: bool, held: int, entry: int, added: int, price: int) -> int:
    total = held + added
    value = held * entry + added * price
    return mul_div_up(value, 1, total) if long else value // total


def bankruptcy_price(size: int, entry: int, margin: int) -> int:
    q = abs(size)
    if q == 0:
        return 0
    cushion = mul_div_down(margin, NOTIONAL_SCALE, q)
    if size > 0:
        return 0 if cushion >= entry else entry - cushion
    return entry + cushion


def liquidation_price(size: int, entry: int, margin: int, mm_bps: int) -> int:
    q = abs(size)
    if q == 0:
        return 0
    margin_value = margin * NOTIONAL_SCALE
    if size > 0:
        value = q * entry
        if margin_value >= value or mm_bps >= BPS:
            return 0
        return mul_div_up(value - margin_value, BPS, q * (BPS - mm_bps))
    return mul_div_down(q * entry + margin_value, BPS, q * (BPS + mm_bps))


def below_maintenance(p: Position, tiers: list[Tier], mark: int) -> bool:
    """Clearinghouse.isLiquidatable for a position that is not frozen: equity below the maintenance
    requirement of its bracket at `mark`."""
    if p.size == 0:
        return False
    n = notional_up(abs(p.size), mark)
    equity = p.margin + pnl(p.size > 0, abs(p.size), p.entry_price, mark)
    return equity < bps_up(n, tier_for(tiers, n).maintenance_margin_bps)


def safe_band(p: Position, tiers: list[Tier]) -> tuple[int, int]:
    """Marks [wad] strictly between which `p` is surely above maintenance (below_maintenance False, no bracket
    overflow): a filter that spares the exact test for most positions most of the time, never a different answer.

    The band keeps the notional within the bracket it has at the entry price (its upper edge: the mark at which
    the notional leaves it), and there the position is safe above (a long; below, a short) its liquidation price
    at the largest maintenance rate of that bracket and the ones under it. Each edge is moved inwards by 1e-6 of
    itself and by three [usdc] units' worth of price, for the rounding of the exact test. (0, 0): no band."""
    q = abs(p.size)
    if q == 0:
        return 0, 0
    k = next((i for i, t in enumerate(tiers) if notional_up(q, p.entry_price) <= t.max_notional), None)
    if k is None:
        return 0, 0
    mm = max(t.maintenance_margin_bps for t in tiers[: k + 1])
    slack = -(-3 * NOTIONAL_SCALE // q) + 1  # [wad] three usdc units of notional, per unit of size
    cap = tiers[k].max_notional * NOTIONAL_SCALE // q
    hi = cap - cap // 1_000_000 - slack
    liq = liquidation_price(p.size, p.entry_price, p.margin, mm)
    if p.size > 0:
        lo = liq + liq // 1_000_000 + slack
    else:
        lo, hi = 0, min(hi, liq - liq // 1_000_000 - slack)
    return (lo, hi) if lo < hi else (0, 0)


def shrink(p: Position, long: bool, remaining: int) -> None:
    """PositionMath of Clearinghouse._shrink: `remaining` units left on side `long`; no units, no entry price."""
    p.size = remaining if long else -remaining
    if remaining == 0:
        p.entry_price = 0


def reduce_position(p: Position, closed: int, price: int) -> tuple[int, int, int]:
    """Clearinghouse._reduce on one position: closes `closed` units at `price`, the PnL goes to the margin and
    the closed share of the margin leaves the position. Returns (realised PnL, margin released, shortfall): a
    loss beyond the margin is the shortfall (the caller has the fund cover it) and leaves no margin."""
    long = p.size > 0
    held = abs(p.size)
    realized = pnl(long, closed, p.entry_price, price)
    margin_after = p.margin + realized
    shortfall = max(-margin_after, 0)
    margin = max(margin_after, 0)
    released = margin if closed == held else mul_div_down(margin, closed, held)
    p.margin = margin - released
    shrink(p, long, held - closed)
    return realized, released, shortfall


def fill_shortfall(p: Position, qty: int, price: int) -> int:
    """Clearinghouse.fillShortfall: the shortfall [usdc] a liquidation fill of `qty` units at `price` would
    realise (0 when its margin share covers its loss); `p` is left unchanged. LiquidationAuction refuses a take
    whose shortfall exceeds the market's sub-pool plus the global pool (ShortfallBeyondFund)."""
    return max(0, -close_liquidated_part(Position(p.size, p.entry_price, p.margin), qty, price))


def close_liquidated_part(p: Position, qty: int, price: int) -> int:
    """Clearinghouse._closeLiquidatedPart on one position: `qty` units of a frozen position close at `price`
    with their share of the margin (rounded down, all of it for the whole position). Returns that part's
    equity [usdc] (margin share + PnL): the caller pays a non-negative one out (less any penalty) or has the
    fund cover a negative one."""
    long = p.size > 0
    held = abs(p.size)
    if qty == 0 or qty > held:
        raise InvalidFillSize(qty, held)
    share = p.margin if qty == held else mul_div_down(p.margin, qty, held)
    p.margin -= share
    equity_part = share + pnl(long, qty, p.entry_price, price)
    shrink(p, long, held - qty)
    return equity_part


def tier_for(tiers: list[Tier], notional: int) -> Tier:
    for t in tiers:
        if notional <= t.max_notional:
            return t
    raise NotionalAboveTopTier(notional, tiers[-1].max_notional)


# --------------------------------------------------------------------------- Clearinghouse


@dataclass
class Ledger:
    """The Clearinghouse's state and rules, for one or more markets."""

    cover: Callable[[bytes, int], int]
    pay_fee: Callable[[bytes, int], None] = lambda market, amount: None
    pay_penalty: Callable[[bytes, int], None] = lambda market, amount: None
    tiers: dict[bytes, list[Tier]] = field(default_factory=dict)
    bands: dict[bytes, int] = field(default_factory=dict)
    free: dict[str, int] = field(default_factory=dict)
    positions: dict[tuple[bytes, str], Position] = field(default_factory=dict)
    bad_debt: dict[bytes, int] = field(default_factory=dict)
    usdc_held: int = 0  # USDC the Clearinghouse holds
    frozen: set[tuple[bytes, str]] = field(default_factory=set)  # (market, account) in liquidation

    def list_market(self, market: bytes, tiers: list[Tier], band_bps: int) -> None:
        self.tiers[market] = list(tiers)
        self.bands[market] = band_bps

    def position(self, market: bytes, account: str) -> Position:
        return self.positions.setdefault((market, account), Position())

    def deposit(self, account: str, amount: int) -> None:
        if amount == 0:
            raise ZeroAmount()
        self.free[account] = self.free.get(account, 0) + amount
        self.usdc_held += amount

    def withdraw(self, account: str, amount: int) -> None:
        if amount == 0:
            raise ZeroAmount()
        self._debit(account, amount)
        self.usdc_held -= amount

    def _debit(self, account: str, amount: int) -> None:
        available = self.free.get(account, 0)
        if amount > available:
            raise InsufficientFreeBalance(account, available, amount)
        self.free[account] = available - amount

    def _require_market(self, market: bytes) -> None:
        if market not in self.tiers:
            raise UnknownMarket(market)

    def check_band(self, market: bytes, price: int, mark: int) -> None:
        self._require_market(market)
        if abs(price - mark) > bps_down(mark, self.bands[market]):
            raise PriceOutsideBand(price, mark, self.bands[market])

    def trade(self, market: bytes, maker: str, taker: str, maker_delta: int, price: int, margins: tuple[int, int], mark: int) -> None:
        """A matched trade at `price`: the maker's position changes by `maker_delta` units, the taker's by its
        negation; the maker side applies first, as in the contract. Like every method here it is not atomic:
        to model a revert, copy the model (copy.deepcopy) before and restore it."""
        self.check_band(market, price, mark)
        self.apply_trade(market, maker, maker_delta, price, margins[0], mark)
        self.apply_trade(market, taker, -maker_delta, price, margins[1], mark)

    def apply_trade(self, market: bytes, account: str, delta: int, price: int, margin_in: int, mark: int) -> tuple[int, int]:
        """One side of a trade; returns (realised PnL, margin released)."""
        self._require_market(market)
        if (market, account) in self.frozen:
            raise PositionInLiquidation(account, market)
        p = self.position(market, account)
        realized, released, added = self._change_position(market, account, delta, price)
        if margin_in and p.size != 0:  # a trade that closes the position takes none of the order's margin
            self._debit(account, margin_in)
            p.margin += margin_in
        if added:
            self._charge_tail_risk_fee(market, p, added, price, mark)
            self.require_initial_margin(market, account, mark)
        return realized, released

    def _change_position(self, market: bytes, account: str, delta: int, price: int) -> tuple[int, int, int]:
        p = self.position(market, account)
        qty = abs(delta)
        realized = released = 0
        held = abs(p.size)
        if p.size != 0 and (p.size > 0) != (delta > 0):
            closed = min(qty, held)
            realized, released = self._reduce(market, account, p, closed, price)
            qty -= closed
            held -= closed
        if qty > 0:
            long = delta > 0
            p.entry_price = price if held == 0 else average_entry(long, held, p.entry_price, qty, price)
            p.size = held + qty if long else -(held + qty)
        return realized, released, qty

    def _reduce(self, market: bytes, account: str, p: Position, closed: int, price: int) -> tuple[int, int]:
        realized, released, shortfall = reduce_position(p, closed, price)
        if shortfall:
            self._cover_shortfall(market, shortfall)
        self.free[account] = self.free.get(account, 0) + released
        return realized, released

    def _charge_tail_risk_fee(self, market: bytes, p: Position, added: int, price: int, mark: int) -> None:
        total = notional_up(abs(p.size), mark)
        fee = bps_up(notional_up(added, price), tier_for(self.tiers[market], total).tail_risk_fee_bps)
        if fee:
            if fee > p.margin:
                raise InsufficientPositionMargin(p.margin, fee)
            p.margin -= fee
            self.usdc_held -= fee
            self.pay_fee(market, fee)

    def _cover_shortfall(self, market: bytes, shortfall: int) -> None:
        uncovered = self.cover(market, shortfall)
        self.usdc_held += shortfall - uncovered
        if uncovered:
            self.bad_debt[market] = self.bad_debt.get(market, 0) + uncovered

    def begin_liquidation(self, market: bytes, account: str) -> None:
        """Clearinghouse.beginLiquidation once it accepted: the position is frozen until fully closed."""
        if self.position(market, account).size == 0:
            raise NoPosition(account, market)
        self.frozen.add((market, account))

    def liquidation_fill(self, market: bytes, trader: str, keeper: str, qty: int, price: int, penalty_bps: int) -> tuple[int, int]:
        """Clearinghouse.liquidationFill: the trader's part closes at `price` (penalty to the sub-pool, the rest
        of its equity back to the trader, a negative equity covered by the fund); the keeper's position changes
        by the same signed size, fee-free; a keeper in liquidation itself is refused. Returns (equity of the part,
        penalty)."""
        if (market, keeper) in self.frozen:
            raise PositionInLiquidation(keeper, market)
        long = self.position(market, trader).size > 0
        equity_part, penalty = self._close_liquidated_part(market, trader, qty, price, penalty_bps)
        self._change_position(market, keeper, qty if long else -qty, price)
        return equity_part, penalty

    def adl_fill(self, market: bytes, trader: str, counterparty: str, qty: int, price: int) -> tuple[int, int]:
        """Clearinghouse.adlFill: `qty` of the frozen position closes at `price` (no penalty) against the opposite
        position of `counterparty`, whose part closes at the same price. Returns (the bankrupt part's equity,
        the counterparty's realised PnL)."""
        equity_part, _ = self._close_liquidated_part(market, trader, qty, price, 0)
        realized, _ = self._reduce(market, counterparty, self.position(market, counterparty), qty, price)
        return equity_part, realized

    def _close_liquidated_part(self, market: bytes, trader: str, qty: int, price: int, penalty_bps: int) -> tuple[int, int]:
        """The trader's side of a liquidation or ADL fill (Clearinghouse._closeLiquidatedPart)."""
        p = self.position(market, trader)
        full = qty == abs(p.size)
        equity_part = close_liquidated_part(p, qty, price)
        penalty = 0
        if equity_part >= 0:
            penalty = min(bps_up(notional_up(qty, price), penalty_bps), equity_part)
            self.free[trader] = self.free.get(trader, 0) + equity_part - penalty
            if penalty:
                self.usdc_held -= penalty
                self.pay_penalty(market, penalty)
        else:
            self._cover_shortfall(market, -equity_part)
        if full:
            self.frozen.discard((market, trader))
        return equity_part, penalty

    def fund_margin(self, market: bytes, payer: str, account: str, amount: int) -> bool:
        """Clearinghouse.fundMargin: `amount` of `payer`'s free balance into `account`'s position margin, or its
        free balance when it holds no position. Returns whether it went to the position."""
        if amount == 0:
            return False
        self._debit(payer, amount)
        p = self.position(market, account)
        if p.size != 0:
            p.margin += amount
            return True
        self.free[account] = self.free.get(account, 0) + amount
        return False

    def settle_keeper(self, market: bytes, keeper: str, margin: int, mark: int) -> None:
        p = self.position(market, keeper)
        if margin:
            self._debit(keeper, margin)
            p.margin += margin
        if p.size:
            self.require_initial_margin(market, keeper, mark)

    def require_initial_margin(self, market: bytes, account: str, mark: int) -> None:
        p = self.position(market, account)
        q = abs(p.size)
        n = notional_up(q, mark)
        required = bps_up(n, tier_for(self.tiers[market], n).initial_margin_bps)
        eq = p.margin + pnl(p.size > 0, q, p.entry_price, mark)
        if eq < required:
            raise MarginBelowInitial(account, market, eq, required)

    # views, at a given mark price

    def equity(self, market: bytes, account: str, mark: int) -> int:
        p = self.position(market, account)
        if p.size == 0:
            return p.margin
        return p.margin + pnl(p.size > 0, abs(p.size), p.entry_price, mark)

    def maintenance_requirement(self, market: bytes, account: str, mark: int) -> int:
        n = notional_up(abs(self.position(market, account).size), mark)
        return 0 if n == 0 else bps_up(n, tier_for(self.tiers[market], n).maintenance_margin_bps)

    def is_liquidatable(self, market: bytes, account: str, mark: int) -> bool:
        return below_maintenance(self.position(market, account), self.tiers[market], mark)

    def total_liabilities(self, marks: dict[bytes, int]) -> int:
        """Σ free + Σ margin + Σ unrealised PnL: what the Clearinghouse owes its traders."""
        total = sum(self.free.values())
        for (market, _), p in self.positions.items():
            total += p.margin
            if p.size:
                total += pnl(p.size > 0, abs(p.size), p.entry_price, marks[market])
        return total
