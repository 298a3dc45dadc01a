"""Reference model of LiquidationAuction's price and staleness rules.

A long position is sold starting at top = anchor·(1 + buf) and falling along the curve; a short one mirrors
it around the anchor (the oracle price at start or restart): price = 2·anchor − curve(top, elapsed), at least 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from backstop.units import BPS, bps_down, mul_div_up

Curve = Callable[[int, int], int]  # (top [wad], elapsed [seconds]) -> price [wad]


@dataclass(frozen=True)
class AuctionParams:
    buf_bps: int
    stale_bps: int
    tail: int  # [seconds]


def top_price(anchor: int, buf_bps: int) -> int:
    return mul_div_up(anchor, BPS + buf_bps, BPS)


def auction_price(long: bool, anchor: int, top: int, elapsed: int, curve: Curve) -> int:
    fall = curve(top, elapsed)
    if long:
        return fall
    mirror = 2 * anchor
    return 0 if fall >= mirror else mirror - fall


def is_stale(price: int, mark: int, elapsed: int, params: AuctionParams) -> bool:
    return elapsed > params.tail or abs(price - mark) > bps_down(mark, params.stale_bps)


def incentive(notional: int, tip: int, chip_bps: int, cap: int, dust: int = 0) -> int:
    """What whoever starts or restarts an auction earns [usdc] (before the fund's ability to pay); nothing for
    a notional below `dust` [usdc], so dust positions cannot farm the flat tip."""
    if notional < dust:
        return 0
    return min(tip + bps_down(notional, chip_bps), cap)


@dataclass
class FallWatch:
    """LiquidationAuction's fast-fall detector (``_watchFall``) for one market: the fall of the mark from the
    oracle's recent high starts a buffer period of ``buffer_base · drop / drop_bps`` seconds, at most
    ``buffer_max``; only a deeper fall from the same high (re)starts one."""

    drop_bps: int  # [bps] 0: never buffers
    buffer_base: int  # [seconds]
    buffer_max: int  # [seconds]
    ref_price: int = 0  # [wad] the recent high the fall was last measured from
    last_drop_bps: int = 0  # [bps]
    buffer_until: int = 0  # [seconds]

    def watch(self, now: int, high: int, mark: int) -> tuple[bool, int | None]:
        """A `liquidate` or `release` at ``now`` [seconds] reads ``mark`` [wad] and the oracle's recent
        ``high`` [wad]. Returns whether the market is in a buffer period, and the drop [bps] of a
        ``BufferStarted`` it emits (None if none)."""
        if self.drop_bps == 0:
            return False, None
        if high != self.ref_price:
            self.ref_price, self.last_drop_bps = high, 0
        started = None
        if mark < high:
            drop = (high - mark) * BPS // high
            if drop > self.last_drop_bps:
                self.last_drop_bps = drop
                if drop >= self.drop_bps:
                    until = now + min(mul_div_up(self.buffer_base, drop, self.drop_bps), self.buffer_max)
                    if until > self.buffer_until:
                        self.buffer_until, started = until, drop
        return now < self.buffer_until, started
