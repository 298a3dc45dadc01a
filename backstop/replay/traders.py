"""Traders who open and close during the replay: open interest that arrives mid-crash, panic closes, profit taking.

A trader of the scenario with an opening time (``opens`` / ``opens_at``) opens at the first second the engine
looks at or after it, at the oracle mark of that second; one with exit levels (``exits``) closes, once, at the
first second the mark has moved ``stop_loss_bps`` against its entry price or ``take_profit_bps`` in its favour.
Each trades against the market maker it was assigned at set-up (whose capital was sized for it): the market maker
submits the trade with the trader's signed order, as at set-up. Where the market has ``liquidity`` the trade
pays the slippage of the deepest venue's book and moves it (backstop.replay.market, layer ``traders``), and a
market order is cut to what the price band lets through.

The decisions are the keepers' kind (backstop.replay.actors.Intent): the clock (backstop.replay.clock) wakes the
engine at the second a trader's rule first holds, between grid points, as it does for keepers. What a trader
did is known from receipts: an opening or exit counts once its trade is mined; a trade that reverts is tried again
when the engine next looks, MAX_TRIES times at most.
"""

from __future__ import annotations

from typing import Any, Callable

from backstop.model import ledger as lm
from backstop.replay.intents import Intent, send_all
from backstop.replay.orders import price_market_order, send_mm_trade
from backstop.replay.population import opening_margin
from backstop.replay.state import ReplayContext, TraderSlot
from backstop.units import BPS, USDC, WAD, notional_up, to_usdc, to_wad

__all__ = ["MAX_TRIES", "TraderActors"]

MAX_TRIES = 3  # trades a trader sends for one opening or exit that all revert before it gives up
ORDER_NONCES = 2 * 10**9  # first nonce of the orders traders sign during the replay (set-up uses 1.., keepers 10**9..)


class TraderActors:
    """The traders who open or close during the replay, and what they did (the report's ``trading``)."""

    def __init__(self, ctx: ReplayContext, slots: list[TraderSlot]) -> None:
        self.ctx = ctx
        self.state = ctx.state
        self.openers = sorted((s for s in slots if not s.opened), key=lambda s: s.pos.opens_at)
        self._opened = 0  # openers before this index have opened
        self.exits = [s for s in slots if s.pos.stop_loss_bps is not None or s.pos.take_profit_bps is not None]
        self.slots = slots
        self.nonce = ORDER_NONCES

    def decide(self, t: int, marks: dict[str, int | None]) -> list[Intent]:
        """What the traders do at scenario second `t` on the oracle `marks` [wad]. Nothing is sent."""
        intents = []
        on_mined = self.state.on_mined  # a trade still waiting for block space is not sent again
        while self._opened < len(self.openers) and self.openers[self._opened].opened:
            self._opened += 1  # the opened prefix is done with
        for i in range(self._opened, len(self.openers)):
            s = self.openers[i]
            if s.pos.opens_at > t:
                break  # sorted by opening time
            if not s.opened and s.tries < MAX_TRIES and marks.get(s.pos.market) is not None and s.sent not in on_mined:
                intents.append(Intent(("open", s.index), None, self._open_sender(s, t, marks[s.pos.market])))
        frozen = self.state.pending_liquidation | self.state.in_auction
        for s in self.exits:
            if not s.opened or s.closed or s.tries >= MAX_TRIES or s.key in frozen or s.sent in on_mined:
                continue
            exit_ = self._exit(s, marks.get(s.pos.market))
            if exit_ is not None:
                intents.append(Intent(("close", s.index), None, self._close_sender(s, t, *exit_)))
        return intents

    def act(self, t: int, marks: dict[str, int | None]) -> list[Intent]:
        """Decides as `decide` and sends; returns what was sent."""
        return send_all(self.decide(t, marks))

    def _exit(self, s: TraderSlot, mark: int | None) -> tuple[str, int, int] | None:
        """(reason, units to close [wad], mark) if an exit level of `s` holds at `mark`, else None."""
        p = self.state.positions.get(s.key)
        if p is None or p.size == 0 or mark is None:
            return None
        long = p.size > 0
        favour = (mark - p.entry_price) * BPS // p.entry_price * (1 if long else -1)  # [bps] of the mark's move
        stop, take = s.pos.stop_loss_bps, s.pos.take_profit_bps
        reason = "stop_loss" if stop is not None and -favour >= stop else "take_profit" if take is not None and favour >= take else None
        if reason is None:
            return None
        if p.margin + lm.pnl(long, abs(p.size), p.entry_price, mark) <= 0:
            return None  # underwater: nothing left to save by closing; the liquidators' position
        qty = abs(p.size) if s.pos.close_fraction >= 1 else abs(p.size) * round(s.pos.close_fraction * 10**6) // 10**6
        return (reason, qty, mark) if qty > 0 else None

    def _open_sender(self, s: TraderSlot, t: int, mark: int) -> Callable[[], None]:
        def send() -> None:
            spec = self.ctx.specs[s.pos.market]
            long = s.pos.side == "long"
            full = to_wad(s.pos.size_usd) * WAD // mark  # [wad] its size_usd at the mark
            size, price, venue, notional = price_market_order(self.ctx, s.pos.market, t, full if long else -full, mark)
            if size == 0:
                return
            wanted = to_usdc(s.pos.size_usd / s.pos.leverage) * abs(size) // full  # its leverage on what the band let through
            self._send(s, t, "open", size, price, opening_margin(spec, long, abs(size), price, mark, wanted), venue, notional)

        return send

    def _close_sender(self, s: TraderSlot, t: int, reason: str, qty: int, mark: int) -> Callable[[], None]:
        def send() -> None:
            long = self.state.positions[s.key].size > 0
            size, price, venue, notional = price_market_order(self.ctx, s.pos.market, t, -qty if long else qty, mark)
            if size != 0:
                self._send(s, t, reason, size, price, 0, venue, notional)

        return send

    def _send(self, s: TraderSlot, t: int, kind: str, size: int, price: int, margin: int, venue: str | None, notional: float) -> None:
        """The trade of `size` units at `price` between trader `s` (posting `margin` [usdc]) and its market maker."""
        ctx = self.ctx
        m = s.pos.market
        tx = send_mm_trade(ctx, s.wallet, s.mm, m, size, price, margin, self._nonce, f"trade:{kind}", account_sends=False)
        s.tries += 1
        s.sent = tx
        book = ctx.market.books.get(m)

        def mined() -> None:
            if kind == "open":
                s.opened = True
            else:
                s.closed = True
            s.tries = 0
            if book is not None and venue is not None:
                book.flow(venue, t + 1, notional)
            self.state.trades.append({
                "t": t + 1, "time": ctx.iso(t + 1), "market": m, "trader": s.wallet.address, "kind": kind,
                "side": "buy" if size > 0 else "sell", "size": abs(size) / WAD, "price": price / WAD,
                "notional": notional_up(abs(size), price) / USDC,
            })

        self.state.on_mined[tx] = mined

    def _nonce(self) -> int:
        self.nonce += 1
        return self.nonce

    def report(self) -> dict[str, Any] | None:
        """report.json's ``trading`` section; None when no trader opens or closes during the replay."""
        if not self.slots:
            return None
        trades = self.state.trades
        count = lambda kind: sum(1 for r in trades if r["kind"] == kind)  # noqa: E731
        notional = lambda kinds: round(sum(r["notional"] for r in trades if r["kind"] in kinds), 6)  # noqa: E731
        return {
            "scheduled_opens": sum(1 for s in self.slots if s.pos.opens_at is not None),
            "opened": count("open"),
            "opened_notional": notional(("open",)),
            "with_exits": len(self.exits),
            "stop_losses": count("stop_loss"),
            "take_profits": count("take_profit"),
            "closed_notional": notional(("stop_loss", "take_profit")),
            "gave_up": sum(1 for s in self.slots if s.tries >= MAX_TRIES),
            "trades": trades,
        }
