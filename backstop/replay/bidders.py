"""Standing bidders who sell what their bids absorbed at a pace they set (``standing_bid.unwind``).

A bid that absorbs a liquidation leaves its owner holding the position. Without ``unwind`` the bidder holds it to
the end (the report's ``mark_to_market`` shows it); with ``unwind: {notional_usd, every}`` it sells, in every
slot of ``every`` seconds in which it holds some, up to ``notional_usd`` of it at the oracle mark: against a
market maker and, in a market with ``liquidity``, through the deepest venue's book, paying its slippage and
moving its price like a keeper's unwind (as liquidation flow of the latest cascade generation it absorbed).
The clock wakes for the first second of each slot; the bidder's ``unwind`` role can fail separately
(``outages[].roles``), and a position of its own in liquidation is not sold.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from backstop.replay.intents import Intent, send_all
from backstop.replay.orders import price_market_order, send_mm_trade
from backstop.replay.state import KeeperState, ReplayContext
from backstop.units import WAD, notional_up, to_wad

__all__ = ["BidderUnwinds"]


class BidderUnwinds:
    """Every standing bidder with an ``unwind`` pace: what it sells at each second the engine looks."""

    def __init__(self, ctx: ReplayContext, available: Callable[[KeeperState, int], bool], mm_for: Callable[[str, int], Any], nonce: Callable[[], int]) -> None:
        """`available(k, t)`: keeper k is up at t (KeeperActors.available); `mm_for(market, mm_delta)`: the market
        maker to trade with; `nonce()`: the next order nonce of the engine's own orders."""
        self.ctx = ctx
        self.state = ctx.state
        self.available = available
        self.mm_for = mm_for
        self.nonce = nonce
        self.bidders = [k for k in ctx.keepers if k.spec.standing_bid is not None and k.spec.standing_bid.unwind is not None]
        self.slot: dict[tuple[str, str], int] = {}  # (keeper, market) -> the last slot it sold in

    def decide(self, t: int, marks: dict[str, int | None]) -> list[Intent]:
        """The sales of the bidders up at scenario second `t` on the oracle `marks` [wad]. Nothing is sent."""
        intents = []
        frozen = self.state.pending_liquidation | self.state.in_auction
        waiting = self.ctx.chain.waiting_senders()  # a bidder whose transaction waits for block space sends no other
        for k in self.bidders:
            if not self.available(k, t) or not k.online(t, "unwind") or k.wallet.address in waiting:
                continue
            pace = k.spec.standing_bid.unwind
            slot = t // pace.every
            for m in self.ctx.specs:
                key = (m, k.wallet.address)
                p, mark = self.state.positions.get(key), marks.get(m)
                if p is None or p.size == 0 or mark is None or key in frozen or self.slot.get((k.name, m), -1) >= slot:
                    continue
                qty = min(abs(p.size), to_wad(pace.notional_usd) * WAD // mark)
                if qty > 0:
                    intents.append(Intent(("unwind", k.name, m, slot), k, self._sender(k, m, t, slot, -qty if p.size > 0 else qty, mark)))
        return intents

    def act(self, t: int, marks: dict[str, int | None]) -> list[Intent]:
        """Decides as `decide` and sends; returns what was sent."""
        return send_all(self.decide(t, marks))

    def _sender(self, k: KeeperState, m: str, t: int, slot: int, size: int, mark: int) -> Callable[[], None]:
        def send() -> None:
            self.slot[(k.name, m)] = slot  # one sale per slot, mined or not: the next slot sells again
            size_, price, venue, notional = price_market_order(self.ctx, m, t, size, mark)
            if size_ == 0:
                return
            tx = send_mm_trade(self.ctx, k.wallet, self.mm_for(m, -size_), m, size_, price, 0, self.nonce, f"bid-unwind:{k.name}", account_sends=True)
            book = self.ctx.market.books.get(m)
            generation = self._generation(k, m)

            def mined() -> None:
                k.unwound += notional_up(abs(size_), price)
                if book is not None and venue is not None:
                    k.slippage += book.trade(venue, t + 1, notional, generation)

            self.state.on_mined[tx] = mined

        return send

    def _generation(self, k: KeeperState, m: str) -> int:
        """The latest cascade generation among the liquidations in `m` that k's bids absorbed (0 for none)."""
        mine = (k.name, k.wallet.address)
        return max(
            (r.get("generation", 0) for r in self.state.liquidations
             if r["market"] == m and any(f["via"] == "standing_bid" and f["keeper"] in mine for f in r["fills"])),
            default=0,
        )
