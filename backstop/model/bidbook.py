"""Reference model of StandingBidBook: discount levels, FIFO queues, the match cap, bid prices and escrow shares.

A liquidation visits the levels from the smallest discount up and each level's bids oldest first, at most
``max_matches`` bids in all. A long is bought at mark·(1 − discount) rounded up, a short taken over at
mark·(1 + discount) rounded down. A bid whose owner is the trader, or is itself in liquidation, or that is too
small to buy one wei of size, is cancelled (its escrow released to the owner) and counts against the cap.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from backstop.units import BPS, NOTIONAL_SCALE, mul_div_down, mul_div_up, notional_up


@dataclass
class Bid:
    id: int
    owner: str
    long: bool
    level: int
    left: int  # [usdc] notional still bid, at the fill price
    escrow: int  # [usdc]


@dataclass(frozen=True)
class BidFill:
    bid: int
    owner: str
    qty: int  # [wad]
    price: int  # [wad]
    notional: int  # [usdc] of the bid used
    escrow: int  # [usdc] moved into the owner's position


@dataclass
class BidBook:
    """One market's book. ``queues[(long, level)]`` lists bid ids oldest first."""

    levels: list[int]  # [bps] ascending
    max_matches: int
    bids: dict[int, Bid] = field(default_factory=dict)
    queues: dict[tuple[bool, int], list[int]] = field(default_factory=dict)
    withdrawable: dict[str, int] = field(default_factory=dict)
    next_id: int = 1

    def place(self, owner: str, long: bool, level: int, notional: int, escrow: int) -> int:
        bid = Bid(self.next_id, owner, long, level, notional, escrow)
        self.next_id += 1
        self.bids[bid.id] = bid
        self.queues.setdefault((long, level), []).append(bid.id)
        return bid.id

    def reduce(self, bid_id: int, notional: int) -> int:
        """Lowers the bid by ``notional`` and releases the same share of its escrow (rounded down)."""
        bid = self.bids[bid_id]
        if notional == bid.left:
            return self.cancel(bid_id)
        released = mul_div_down(bid.escrow, notional, bid.left)
        bid.left -= notional
        bid.escrow -= released
        self._release(bid.owner, released)
        return released

    def cancel(self, bid_id: int) -> int:
        bid = self.bids.pop(bid_id)
        self.queues[(bid.long, bid.level)].remove(bid_id)
        self._release(bid.owner, bid.escrow)
        return bid.escrow

    def depth(self, long: bool, level: int) -> int:
        return sum(self.bids[i].left for i in self.queues.get((long, level), []))

    def total_depth(self, long: bool) -> int:
        return sum(self.depth(long, level) for level in range(len(self.levels)))

    def absorb(self, trader: str, long: bool, qty: int, mark: int, in_liquidation: set[str] | frozenset[str] = frozenset()) -> list[BidFill]:
        """Fills up to ``qty`` [wad] of a liquidated position; returns the fills in order (skipped bids are cancelled)."""
        fills: list[BidFill] = []
        filled, budget = 0, self.max_matches
        for level, discount in enumerate(self.levels):
            if filled >= qty or budget == 0:
                break
            price = bid_price(long, mark, discount)
            for bid_id in list(self.queues.get((long, level), [])):
                if filled >= qty or budget == 0:
                    break
                budget -= 1
                fill = self._match(self.bids[bid_id], trader, qty - filled, price, in_liquidation)
                if fill is not None:
                    fills.append(fill)
                    filled += fill.qty
        return fills

    def _match(self, bid: Bid, trader: str, want: int, price: int, in_liquidation: set[str] | frozenset[str]) -> BidFill | None:
        cap = mul_div_down(bid.left, NOTIONAL_SCALE, price)
        if bid.owner == trader or cap == 0 or bid.owner in in_liquidation:
            self.cancel(bid.id)
            return None
        qty = min(want, cap)
        used = bid.left if qty == cap else min(bid.left, notional_up(qty, price))
        share = bid.escrow if used == bid.left else mul_div_up(bid.escrow, used, bid.left)
        bid.left -= used
        bid.escrow -= share
        if bid.left == 0:
            self.bids.pop(bid.id)
            self.queues[(bid.long, bid.level)].remove(bid.id)
        return BidFill(bid.id, bid.owner, qty, price, used, share)

    def _release(self, owner: str, amount: int) -> None:
        self.withdrawable[owner] = self.withdrawable.get(owner, 0) + amount


def bid_price(long: bool, mark: int, discount_bps: int) -> int:
    """The price [wad] a standing bid pays: below the mark for a long, above it for a short, rounded against the bidder."""
    if long:
        return mul_div_up(mark, BPS - discount_bps, BPS)
    return mul_div_down(mark, BPS + discount_bps, BPS)


def escrow_required(notional: int, initial_margin_bps: int) -> int:
    """The least escrow [usdc] a bid of ``notional`` needs: initial margin at the bracket of that notional."""
    return mul_div_up(notional, initial_margin_bps, BPS)


def level_at_or_above(levels: list[int] | tuple[int, ...], discount_bps: int) -> int | None:
    """Index of the first configured level whose discount is at least ``discount_bps`` (None if none is)."""
    for i, level in enumerate(levels):
        if level >= discount_bps:
            return i
    return None
