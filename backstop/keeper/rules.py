"""The decision rules every Backstop keeper applies, shared by the replay's keeper actors and by `KeeperBot`:
- `take_is_attractive`: an auction is worth taking once its price is at least `discount_bps` better for the
  keeper than the oracle price;
- `take_size`: how much of it the keeper's free balance can carry, and with what margin.
"""

from __future__ import annotations

from backstop.units import BPS, NOTIONAL_SCALE, notional_up

MARGIN_BUFFER_PCT = 110  # keepers post 10% more than initial margin when they take


def take_is_attractive(price: int, mark: int, long: bool, discount_bps: int) -> bool:
    """Whether an auction price [wad] is at least `discount_bps` better for the keeper than the oracle `mark`:
    below it when buying a liquidated long, above it when taking over a liquidated short."""
    if price == 0:
        return False
    if long:
        return price * BPS <= mark * (BPS - discount_bps)
    return price * BPS >= mark * (BPS + discount_bps)


def take_size(
    free: int, qty_left: int, price: int, mark: int, long: bool, im_bps: int, dust: int, most: int | None = None
) -> tuple[int, int]:
    """(units [wad], margin [usdc]) a keeper with `free` [usdc] takes of an auction with `qty_left` units, at
    most `most` units (None: no limit of its own): margin per unit is the initial margin at the mark plus any
    gap the keeper pays above it, with a 10% buffer. A part that would leave less than twice the auction's
    `dust` [usdc] behind becomes all or nothing."""
    gap = max(0, (price - mark) if long else (mark - price))
    per_unit = (mark * im_bps // BPS + gap) * MARGIN_BUFFER_PCT // 100
    affordable = free * NOTIONAL_SCALE // max(per_unit, 1)
    if most is not None:
        affordable = min(affordable, most)
    qty = min(qty_left, affordable)
    left = qty_left - qty
    if left and notional_up(left, price) < 2 * dust:
        qty = qty_left if affordable >= qty_left else 0
    margin = notional_up(qty, per_unit)
    if qty == 0 or margin > free:
        return 0, 0
    return qty, margin
