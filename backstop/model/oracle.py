"""Reference model of contracts/oracle/PriceOracle.sol: staleness, normalisation, median, deviation band and
jump bound, in exact integers. Tests require the contract's ``price()`` to equal ``oracle_price()`` to the wei.

Units: prices are [wad] (18 decimals), deviations and jumps [bps], ages and windows [seconds].
"""

from __future__ import annotations

from dataclasses import dataclass

from backstop.units import BPS

MAX_SOURCES = 16
MAX_SOURCE_DECIMALS = 36
MAX_PRICE_WAD = 2**128 - 1  # type(uint128).max: above it a source is treated as broken


@dataclass(frozen=True)
class SourceAnswer:
    """One source's ``latestRoundData`` as the contract sees it."""

    answer: int  # raw, in the source's decimals
    decimals: int
    updated_at: int  # [seconds] unix time
    reverted: bool = False  # the call to latestRoundData reverted


@dataclass(frozen=True)
class OracleConfig:
    max_age: int  # [seconds]
    max_deviation_bps: int  # [bps]
    min_sources: int
    max_jump_bps: int = 0  # [bps], 0 = no jump bound
    jump_window: int = 0  # [seconds]


class OracleError(Exception):
    """Base of the errors named after PriceOracle's custom errors."""


class NotEnoughSources(OracleError):
    def __init__(self, usable: int, required: int) -> None:
        super().__init__(f"{usable} usable sources, {required} required")
        self.usable = usable
        self.required = required


class PriceJumpTooLarge(OracleError):
    def __init__(self, last: int, next_: int) -> None:
        super().__init__(f"median {next_} jumped too far from last accepted {last}")
        self.last = last
        self.next = next_


def to_wad(answer: int, decimals: int) -> int:
    """``answer`` in ``decimals`` (0..36) as [wad], rounded down; 0 if above MAX_PRICE_WAD."""
    if not 0 <= decimals <= MAX_SOURCE_DECIMALS:
        raise ValueError(f"decimals must be 0..{MAX_SOURCE_DECIMALS}, got {decimals}")
    if answer < 0:
        raise ValueError("to_wad takes a non-negative answer")
    wad = answer * 10 ** (18 - decimals) if decimals <= 18 else answer // 10 ** (decimals - 18)
    return wad if wad <= MAX_PRICE_WAD else 0


def usable_price(src: SourceAnswer, now: int, max_age: int) -> int:
    """The source's price [wad], or 0 when it reverted, answered <= 0, is older than ``max_age``, is stamped in
    the future, or normalises to 0 or above MAX_PRICE_WAD."""
    if src.reverted or src.answer <= 0 or src.updated_at > now or now - src.updated_at > max_age:
        return 0
    return to_wad(src.answer, src.decimals)


def median(sorted_values: list[int]) -> int:
    """Median of an ascending, non-empty list; an even count gives the mean of the middle two, rounded down."""
    n = len(sorted_values)
    if n == 0:
        raise ValueError("median of no values")
    mid = n // 2
    if n % 2 == 1:
        return sorted_values[mid]
    return (sorted_values[mid - 1] + sorted_values[mid]) // 2


def beyond(x: int, ref: int, bps: int) -> bool:
    """Whether ``x`` lies strictly more than ``bps`` away from ``ref``: |x - ref| * BPS > bps * ref."""
    return abs(x - ref) * BPS > bps * ref


def median_with_band(answers: list[SourceAnswer], now: int, cfg: OracleConfig) -> tuple[int, int]:
    """The final median [wad] and how many sources it used, without the jump bound."""
    prices = sorted(p for p in (usable_price(a, now, cfg.max_age) for a in answers) if p != 0)
    if len(prices) < cfg.min_sources:
        raise NotEnoughSources(len(prices), cfg.min_sources)
    first = median(prices)
    kept = [p for p in prices if not beyond(p, first, cfg.max_deviation_bps)]
    if len(kept) < cfg.min_sources:
        raise NotEnoughSources(len(kept), cfg.min_sources)
    return median(kept), len(kept)


def oracle_price(
    answers: list[SourceAnswer], now: int, cfg: OracleConfig, last: tuple[int, int] | None = None
) -> int:
    """What ``PriceOracle.price()`` returns at time ``now`` [seconds]; ``last`` is the last accepted
    (price [wad], time [seconds]) or None if the market was never poked. Raises NotEnoughSources or
    PriceJumpTooLarge as the contract reverts."""
    if cfg.min_sources < 1:
        raise ValueError("min_sources must be at least 1")
    price, _ = median_with_band(answers, now, cfg)
    if last is not None and cfg.max_jump_bps != 0:
        last_price, last_time = last
        if now - last_time < cfg.jump_window and beyond(price, last_price, cfg.max_jump_bps):
            raise PriceJumpTooLarge(last_price, price)
    return price


@dataclass
class RecentHigh:
    """PriceOracle's record of a market's recent high (``setHighWindow``, ``poke``, ``recentHigh``): the highest
    accepted price [wad] per bucket of ``window // 2`` seconds, for the current and the previous bucket.
    ``window`` = 0 records nothing."""

    window: int = 0  # [seconds]
    high: int = 0  # [wad] highest price poked in bucket `index`
    index: int = 0  # now // (window // 2) at the bucket's first poke
    previous: int = 0  # [wad] the high of bucket `index - 1`, or 0

    def __post_init__(self) -> None:
        if self.window == 1:
            raise ValueError("a high window must be 0 or at least 2 seconds (HighWindowTooShort)")

    def record(self, now: int, price: int) -> None:
        """A poke accepted ``price`` [wad] at ``now`` [seconds]."""
        if self.window == 0:
            return
        index = now // (self.window // 2)
        if index == self.index:
            self.high = max(self.high, price)
            return
        self.previous = self.high if index == self.index + 1 else 0
        self.high, self.index = price, index

    def recent(self, now: int) -> int:
        """``recentHigh`` at ``now``: the highest price poked over the last ``window / 2`` to ``window`` seconds."""
        if self.window == 0:
            return 0
        index = now // (self.window // 2)
        if index == self.index:
            return max(self.high, self.previous)
        return self.high if index == self.index + 1 else 0
