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
