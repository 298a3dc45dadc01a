"""A pure-Python reference model of contracts/fund/InsuranceFund.sol, driven by explicit timestamps.

It mirrors the contract's arithmetic to the unit: the pools, the loss waterfall (`cover_loss`), the hourly
snapshot ring, `peak_8h`, `balance_8h_ago` and the fund-risk flags. Amounts are integer [usdc], rates [bps],
times [seconds]; an hour index is timestamp // 3600.

Snapshot semantics (as in the contract): the snapshot of hour h is the pool's balance at the instant
h * 3600. Every balance change first records the snapshots of the hours since the last recorded one with
the balance before the change; views compute unrecorded hours as the current balance.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from backstop.units import BPS, mul_div_up

GLOBAL: bytes = b"\0" * 32
HOUR = 3600  # [seconds]
RING = 9  # hourly slots: the current hour and the 8 before it

DRAWDOWN_FROM_PEAK = 1
FAST_DROP = 2
GLOBAL_DEPLETED = 4


class UnknownMarket(Exception):
    """The market (or pool) is not registered."""


class InsufficientPoolBalance(Exception):
    """A pool holds less than the amount asked of it."""


def hour_of(timestamp: int) -> int:
    """Hour index [hours] of a unix timestamp [seconds]."""
    return timestamp // HOUR


@dataclass
class PoolModel:
    """One pool: balance [usdc], the last recorded hour, and ring[h % 9] = snapshot of hour h."""

    balance: int = 0
    last_hour: int = 0
    ring: list[int] = field(default_factory=lambda: [0] * RING)

    def record(self, timestamp: int) -> list[tuple[int, int]]:
        """Records the snapshots of hours (last_hour, now] (at most the last 9) with the current balance.

        Returns the (hour, balance) pairs written, as the contract's Snapshot events.
        """
        h = hour_of(timestamp)
        if h <= self.last_hour:
            return []
        first = max(self.last_hour + 1, h - (RING - 1))
        written = []
        for hour in range(first, h + 1):
            self.ring[hour % RING] = self.balance
            written.append((hour, self.balance))
        self.last_hour = h
        return written

    def snapshot_of(self, hour: int) -> int:
        """Snapshot [usdc] of `hour`, valid for current hour - 8 <= hour <= current hour."""
        return self.balance if hour > self.last_hour else self.ring[hour % RING]


@dataclass(frozen=True)
class Cover:
    """The outcome of one cover_loss call, all [usdc]."""

    requested: int
    from_sub_pool: int
    from_global: int
    uncovered: int

    @property
    def covered(self) -> int:
        return self.from_sub_pool + self.from_global


@dataclass
class InsuranceFundModel:
    """The fund's pools and risk parameters. Markets must be added before use."""

    drawdown_bps: int = 3_000
    fast_drop_bps: int = 5_000
    global_floor: int = 0
    pools: dict[bytes, PoolModel] = field(default_factory=lambda: {GLOBAL: PoolModel()})
    total_in: int = 0  # [usdc] all deposits ever
    total_out: int = 0  # [usdc] all covers and withdrawals ever

    # --- pools ---

    def add_market(self, market: bytes) -> None:
        if market == GLOBAL or market in self.pools:
            raise ValueError(f"cannot register {market!r}")
        self.pools[market] = PoolModel()

    def pool(self, pool: bytes) -> PoolModel:
        try:
            return self.pools[pool]
        except KeyError:
            raise UnknownMarket(pool) from None

    def market(self, market: bytes) -> PoolModel:
        if market == GLOBAL:
            raise UnknownMarket(market)
        return self.pool(market)

    def pool_balance(self, pool: bytes) -> int:
        return self.pool(pool).balance

    def total_pooled(self) -> int:
        return sum(p.balance for p in self.pools.values())

    # --- state changes ---

    def deposit(self, pool: bytes, amount: int, timestamp: int) -> int:
        """Credits `amount` [usdc] to `pool` at `timestamp`; returns the new pool balance."""
        if amount <= 0:
            raise ValueError("ZeroAmount")
        p = self.pool(pool)
        p.record(timestamp)
        p.balance += amount
        self.total_in += amount
        return p.balance

    def cover_loss(self, market: bytes, amount: int, timestamp: int) -> Cover:
        """The waterfall: the market's sub-pool first, then the global pool; the rest is uncovered."""
        if amount <= 0:
            raise ValueError("ZeroAmount")
        sub = self.market(market)
        glob = self.pools[GLOBAL]
        sub.record(timestamp)
        glob.record(timestamp)
        from_sub = min(amount, sub.balance)
        from_global = min(amount - from_sub, glob.balance)
        sub.balance -= from_sub
        glob.balance -= from_global
        self.total_out += from_sub + from_global
        return Cover(amount, from_sub, from_global, amount - from_sub - from_global)

    def withdraw(self, pool: bytes, amount: int, timestamp: int) -> int:
        """An executed admin withdrawal of `amount` [usdc]; returns the new pool balance."""
        p = self.pool(pool)
        if p.balance < amount:
            raise InsufficientPoolBalance(pool, p.balance, amount)
        p.record(timestamp)
        p.balance -= amount
        self.total_out += amount
        return p.balance

    def snapshot(self, pool: bytes, timestamp: int) -> list[tuple[int, int]]:
        return self.pool(pool).record(timestamp)

    # --- views ---

    def snapshot_at(self, pool: bytes, hour: int, timestamp: int) -> int:
        h = hour_of(timestamp)
        if hour > h or hour + (RING - 1) < h:
            raise ValueError(f"hour {hour} outside the snapshot window of hour {h}")
        return self.pool(pool).snapshot_of(hour)

    def peak_8h(self, pool: bytes, timestamp: int) -> int:
        """Max of the snapshots of hours [H - 7, H] and the current balance [usdc]."""
        p = self.pool(pool)
        h = hour_of(timestamp)
        return max([p.balance] + [p.snapshot_of(h - i) for i in range(RING - 1) if h >= i])

    def balance_8h_ago(self, pool: bytes, timestamp: int) -> int:
        """Snapshot of hour H - 8 [usdc]."""
        p = self.pool(pool)
        h = hour_of(timestamp)
        return 0 if h < RING - 1 else p.snapshot_of(h - (RING - 1))

    def fund_risk(self, market: bytes, timestamp: int) -> int:
        """Flags; thresholds round up and compare inclusively (for the fund, against the trader)."""
        sub = self.market(market).balance
        flags = 0
        peak = self.peak_8h(market, timestamp)
        if peak > 0 and sub <= mul_div_up(peak, BPS - self.drawdown_bps, BPS):
            flags |= DRAWDOWN_FROM_PEAK
        ago = self.balance_8h_ago(market, timestamp)
        if ago > 0 and sub <= mul_div_up(ago, BPS - self.fast_drop_bps, BPS):
            flags |= FAST_DROP
        if self.pools[GLOBAL].balance <= self.global_floor:
            flags |= GLOBAL_DEPLETED
        return flags

    def adl_allowed(self, market: bytes, timestamp: int) -> bool:
        return self.fund_risk(market, timestamp) != 0
