"""Reference model of the ADL queue: the ranking, the loss cap, the lights and the choice of counterparties.

It mirrors contracts/libraries/AdlMath.sol and AdlQueue's matching line by line, so that tests can compare
the contract's choice with it and executors (keepers, the replay engine, the `backstop adl-queue` command) can
compute the candidate list that AdlQueue.execute checks.

Leveraged profit = profit ratio ÷ margin ratio, for a position of |size| q, entry E, margin M and unrealised
profit U > 0 at the mark P (U rounded down, as PositionMath.pnl):
    profit ratio = U / (q·E),   margin ratio = (M + U) / (q·P),
    score [wad]  = ⌊U · P · 10¹⁸ / ((M + U) · E)⌋.
Higher scores rank first; equal scores rank by address, ascending (as 160-bit numbers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from backstop.model.ledger import Position, bankruptcy_price, close_liquidated_part, fill_shortfall, pnl, reduce_position
from backstop.units import BPS, NOTIONAL_SCALE, WAD, bps_down, mul_div_down, mul_div_up, notional_up


def unrealised_profit(p: Position, mark: int) -> int:
    """Unrealised profit [usdc] at `mark`, rounded down; 0 for a loss or no position."""
    if p.size == 0:
        return 0
    return max(pnl(p.size > 0, abs(p.size), p.entry_price, mark), 0)


def is_counterparty(p: Position, bankrupt_long: bool, mark: int) -> bool:
    """Whether `p` can absorb the bankruptcy of a position on side `bankrupt_long`: other side, in profit."""
    return p.size != 0 and (p.size > 0) != bankrupt_long and unrealised_profit(p, mark) > 0


def score(p: Position, mark: int) -> int:
    """Leveraged-profit score [wad] at `mark` (0 when not in profit)."""
    profit = unrealised_profit(p, mark)
    if profit == 0:
        return 0
    return mul_div_down(profit * WAD, mark, (p.margin + profit) * p.entry_price)


def rank_key(account: str, p: Position, mark: int) -> tuple[int, int]:
    """Sort key: ascending order of it is rank order (score descending, then address ascending)."""
    return (-score(p, mark), int(account, 16))


def capped_qty(p: Position, mark: int, gap: int, cap_bps: int) -> int:
    """The most units [wad] one ADL may close when each gives up `gap` [wad] of profit (see AdlMath.cappedQty)."""
    cap = bps_down(unrealised_profit(p, mark), cap_bps)
    return min(mul_div_down(cap, NOTIONAL_SCALE, gap), abs(p.size))


def lights(rank: int, eligible: int) -> int:
    """1–5 lights: 5 for the first fifth of the ranking (most at risk), 1 for the last; 0 when unranked."""
    if rank == 0 or rank > eligible:
        return 0
    return 5 - (rank - 1) * 5 // eligible


def ranking(
    positions: Mapping[str, Position],
    bankrupt_long: bool,
    mark: int,
    exclude: Iterable[str] = (),
) -> list[str]:
    """Every candidate to absorb a bankruptcy on side `bankrupt_long`, in rank order. `exclude`: accounts that
    cannot be chosen (frozen in liquidation, the bankrupt trader)."""
    skip = {a.lower() for a in exclude}
    eligible = [a for a, p in positions.items() if a.lower() not in skip and is_counterparty(p, bankrupt_long, mark)]
    return sorted(eligible, key=lambda a: rank_key(a, positions[a], mark))


@dataclass(frozen=True)
class Fill:
    account: str
    qty: int  # [wad]
    profit_taken: int  # [usdc]
    rank: int


@dataclass(frozen=True)
class Plan:
    """What an ADL of one liquidation requires (see AdlQueue._trigger)."""

    reason: str  # "uncovered" | "fund_risk" | "liquidity_risk"
    qty: int  # [wad]
    price: int  # [wad] the bankruptcy price
    mark: int  # [wad]
    uncovered: int  # [usdc]
    claimed: int = 0  # [usdc] what the listed claims take from the pools first
    claims: tuple[int, ...] = ()  # the other liquidations' ids the execution lists (AdlQueue.execute's `claims`)


@dataclass(frozen=True)
class Claim:
    """Another liquidation whose shortfall the pools must pay as well (an entry of AdlQueue.execute's `claims`)."""

    id: int
    market: str
    position: Position  # the frozen position
    qty: int  # [wad] what is left of the liquidation
    mark: int | None  # [wad] its market's oracle price (None: no usable price, the claim counts zero)

    @property
    def shortfall(self) -> int:
        """[usdc] Clearinghouse.fillShortfall of what is left at `mark`."""
        if not self.qty or self.mark is None:
            return 0
        return fill_shortfall(self.position, self.qty, self.mark)


def available_after_claims(market: str, pools: Mapping[str, int], global_pool: int, claims: Iterable[Claim]) -> tuple[int, int]:
    """AdlQueue._available: what the pools can still pay a liquidation of `market` [usdc] once `claims` are paid,
    and what those claims take from it [usdc]. A claim in `market` draws on its sub-pool and the global pool; one
    in another market only on the global pool, beyond that market's own sub-pool (`pools` maps market -> sub-pool
    balance [usdc])."""
    owed: dict[str, int] = {}
    for c in claims:
        owed[c.market] = owed.get(c.market, 0) + c.shortfall
    return available_after_owed(market, pools, global_pool, owed)


def available_after_owed(market: str, pools: Mapping[str, int], global_pool: int, owed: Mapping[str, int]) -> tuple[int, int]:
    """`available_after_claims` from the claims' sum per market (`owed`: market -> Σ shortfall [usdc])."""
    claimed = owed.get(market, 0)
    drawn = sum(max(o - pools.get(m, 0), 0) for m, o in owed.items() if m != market)
    spent = claimed + min(drawn, global_pool)
    return max(pools.get(market, 0) + global_pool - spent, 0), claimed


REASONS = ("uncovered", "fund_risk", "liquidity_risk")
MAX_CHALLENGE_WINDOW = 7 * 24 * 3_600  # [seconds] AdlQueue.file("challengeWindow"): at most 7 days


class NoTrigger(Exception):
    """No ADL trigger holds (AdlQueue reverts NoAdlTrigger or NotUnderwater)."""


def plan(
    trader: Position,
    qty: int,
    mark: int,
    fund_available: int,
    fund_risk: bool,
    liquidity_risk: bool,
    claimed: int = 0,
    claims: tuple[int, ...] = (),
) -> Plan:
    """The trigger and quantity for `qty` [wad] of the frozen position `trader` (see AdlQueue._trigger), the pools
    holding `fund_available` [usdc] once the listed `claims` took `claimed` [usdc] (see available_after_claims)."""
    long = trader.size > 0
    price = bankruptcy_price(trader.size, trader.entry_price, trader.margin)
    if (price <= mark) if long else (price >= mark):
        raise NoTrigger(f"not underwater: bankruptcy price {price} vs mark {mark}")
    gap = price - mark if long else mark - price
    shortfall = notional_up(qty, gap)
    uncovered = max(shortfall - fund_available, 0)
    if fund_risk:
        return Plan("fund_risk", qty, price, mark, uncovered, claimed, claims)
    if liquidity_risk:
        return Plan("liquidity_risk", qty, price, mark, uncovered, claimed, claims)
    if uncovered == 0:
        raise NoTrigger(f"the fund covers the shortfall {shortfall} with {fund_available}")
    return Plan("uncovered", min(qty, mul_div_up(uncovered, NOTIONAL_SCALE, gap)), price, mark, uncovered, claimed, claims)


def choose(
    positions: Mapping[str, Position],
    bankrupt_long: bool,
    qty: int,
    price: int,
    mark: int,
    cap_bps: int,
    exclude: Iterable[str] = (),
) -> list[Fill]:
    """The counterparties an ADL of `qty` [wad] at bankruptcy price `price` takes, in rank order, each up to its
    size and loss cap, stopping as soon as `qty` is closed. Raises ValueError when the market cannot absorb it."""
    gap = price - mark if bankrupt_long else mark - price
    fills: list[Fill] = []
    left = qty
    for rank, account in enumerate(ranking(positions, bankrupt_long, mark, exclude), start=1):
        if left == 0:
            break
        p = positions[account]
        fill = min(left, capped_qty(p, mark, gap, cap_bps))
        fills.append(Fill(account, fill, notional_up(fill, gap) if fill else 0, rank))
        left -= fill
    if left > 0:
        raise ValueError(f"the opposite side cannot absorb {left} more units within the loss cap")
    return fills


def apply_fill(bankrupt: Position, counterparty: Position, qty: int, price: int) -> tuple[int, int]:
    """Closes `qty` of both positions at `price` as Clearinghouse.adlFill does (the same position-level steps as
    backstop.model.ledger's Ledger.adl_fill); returns (the bankrupt part's equity, the counterparty's realised
    PnL) [usdc]. Margin shares move out of the positions (to free balances, not modelled here)."""
    equity = close_liquidated_part(bankrupt, qty, price)
    realized, _, _ = reduce_position(counterparty, qty, price)
    return equity, realized


__all__ = [
    "BPS",
    "Fill",
    "NoTrigger",
    "Plan",
    "MAX_CHALLENGE_WINDOW",
    "REASONS",
    "apply_fill",
    "capped_qty",
    "choose",
    "is_counterparty",
    "lights",
    "plan",
    "rank_key",
    "ranking",
    "score",
    "unrealised_profit",
]
