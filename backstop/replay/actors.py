"""The keepers of a replay as independent actors: each with its own latency, failure rate, outages and capital,
liquidating, releasing queued liquidations, restarting stale auctions, taking attractive ones (and unwinding what
it took against the market makers) and executing ADL through the one ADL executor (backstop.keeper.adl)."""

from __future__ import annotations

import random
from typing import Any, Callable

from backstop.chain.fastchain import Wallet
from backstop.chain.orders import Order, sign_order
from backstop.keeper.rules import take_is_attractive, take_size
from backstop.model import ledger as lm
from backstop.model.auction import AuctionParams, is_stale
from backstop.replay.batches import batch_liquidations
from backstop.replay.clock import first_true
from backstop.replay.deleverage import Deleverager
from backstop.replay.flows import GLOBAL as GLOBAL_POOL
from backstop.replay.intents import Intent
from backstop.replay.state import AuctionMirror, KeeperState, ReplayContext, ReplayState
from backstop.units import notional_up, to_usdc

LOST_CAPITAL = "0x000000000000000000000000000000000000dEaD"  # where a keeper's lost capital goes (CapitalStep.lost)


def _liquidatable_at(ctx: ReplayContext, m: str, p: lm.Position, marks: dict[str, int | None]) -> bool:
    mark = marks.get(m)
    return mark is not None and ctx.liquidatable(m, p, mark)


def _in_liquidation(state: ReplayState) -> dict[str, set[str]]:
    """Market -> the traders whose position there is in liquidation (pending or in auction)."""
    out: dict[str, set[str]] = {}
    for m, trader in state.in_auction | state.pending_liquidation:
        out.setdefault(m, set()).add(trader)
    return out


class KeeperActors:
    """Every keeper's decisions at one second, sent as transactions into the next block."""

    def __init__(self, ctx: ReplayContext) -> None:
        self.ctx = ctx
        self.state = ctx.state
        self.order_nonce = 10**9  # nonces of the orders the engine signs after set-up
        self.adl = Deleverager(ctx)
        self.free: dict[str, int] = {}  # [usdc] each keeper's free balance as the chain last reported it
        self._up: dict[tuple[str, int], bool] = {}  # (keeper, second) -> available

    def available(self, k: KeeperState, t: int) -> bool:
        """Whether keeper `k` is up at scenario second `t`: outside its outages, and not failing this second.
        The failure draw is keyed by the keeper and the second, so it does not depend on how often the engine
        asks (the grid's step, the other keepers' actions); kept per keeper and second (the clock asks again)."""
        up = self._up.get((k.name, t))
        if up is None:
            if len(self._up) > 50_000:
                self._up.clear()
            up = self._up[(k.name, t)] = k.online(t) and (
                not k.spec.failure_rate or random.Random(f"{self.ctx.sc.seed}:{k.name}:{t}").random() >= k.spec.failure_rate
            )
        return up

    def decide(self, t: int, action_ts: int, marks: dict[str, int | None], free: dict[str, int]) -> list[Intent]:
        """What the keepers up at scenario second `t` do on the marks [wad], for the block at chain time
        `action_ts`, with free balances `free` [usdc]. Nothing is sent; nothing of the state changes."""
        waiting = self.ctx.chain.waiting_senders()  # a keeper whose transaction waits for block space sends no other
        online = [k for k in self.ctx.keepers if self.available(k, t) and k.wallet.address not in waiting]
        free = dict(free)
        intents: list[Intent] = []
        for k in online:
            intents += self._withdraw(k, t, free)
        by_latency = sorted(online, key=lambda k: k.spec.latency)
        intents += batch_liquidations(self.ctx, self._liquidations(t, marks, [k for k in by_latency if k.online(t, "liquidate")]), self.record_cascade, t)
        releasers = [k for k in online if k.online(t, "release")]
        if releasers:
            intents += self._releases(action_ts, releasers[0])
        intents += self._auctions(t, action_ts, marks, by_latency, free)
        return intents

    def act(self, t: int, action_ts: int, marks: dict[str, int | None], free: dict[str, int]) -> list[Intent]:
        """Decides as `decide` and sends; returns what was sent."""
        self.free = free
        intents = self.decide(t, action_ts, marks, free)
        for k in self.ctx.keepers:
            if self.available(k, t):
                k.online_steps += 1
        for intent in intents:
            intent.send()
        for k in self.ctx.keepers:
            k.acted(free.get(k.wallet.address, k.deposited))
        return intents

    def observe(self, a: int, b: int, marks_at: Callable[[int], dict[str, int | None]]) -> None:
        """Keepers watch every position continuously: those liquidatable at second `b` and not at the last look get
        the second they crossed maintenance in (a, b] as `first_liquidatable`; those no longer liquidatable lose it."""
        s = self.state
        marks_b = marks_at(b)
        pending, in_auction, crossed = s.pending_liquidation, s.in_auction, s.first_liquidatable
        liquidatable, bands = self.ctx.liquidatable, self.ctx.bands  # the hot loop of a replay: every position at every look
        for key, p in s.positions.items():
            if p.size == 0:
                if key in crossed and key not in pending and key not in in_auction:
                    del crossed[key]  # closed: no longer liquidatable (a reopened position crosses afresh)
                continue
            mark = marks_b.get(m := key[0])
            if mark is None or key in pending or key in in_auction:
                continue
            band = bands.get((m, p.size, p.margin, p.entry_price))  # inside its safe band: not liquidatable (what liquidatable() says first)
            if (band is not None and band[0] < mark < band[1]) or not liquidatable(m, p, mark):
                crossed.pop(key, None)
            elif key not in crossed:
                crossed[key] = first_true(a, b, lambda t, m=m, p=p: _liquidatable_at(self.ctx, m, p, marks_at(t))) if b > a else b

    def _withdraw(self, k: KeeperState, t: int, free: dict[str, int]) -> list[Intent]:
        target = int(k.capital * k.committed_fraction(t))
        amount = min(free[k.wallet.address], k.deposited - target) if k.deposited > target else 0
        if amount <= 0:
            return []
        free[k.wallet.address] -= amount

        lost = k.losing(t)

        def send() -> None:
            self.ctx.chain.call_fn(k.wallet, self.ctx.c["house"], "withdraw", amount, label=f"withdraw:{k.name}")
            if lost:  # gone: out of the keeper's wallet too
                self.ctx.chain.call_fn(k.wallet, self.ctx.c["usdc"], "transfer", LOST_CAPITAL, amount, label=f"lost:{k.name}")
                k.lost += amount
            k.deposited -= amount

        return [Intent(("withdraw", k.name, target), k, send)]

    def _liquidations(self, t: int, marks: dict[str, int | None], by_latency: list[KeeperState]) -> list[Intent]:
        """The fastest online keeper whose latency has passed since the position crossed maintenance."""
        s = self.state
        intents = []
        pending, in_auction = s.pending_liquidation, s.in_auction
        for key, first in s.first_liquidatable.items():  # only read here: observe() keeps it
            if first > t or key in pending or key in in_auction:
                continue
            m, trader = key
            p, mark = s.positions.get(key), marks.get(m)
            if p is None or p.size == 0 or mark is None or not self.ctx.liquidatable(m, p, mark):
                continue
            # whoever holds it (a keeper's or a bidder's position too): another keeper liquidates it
            k = next((k for k in by_latency if t - first >= k.spec.latency and k.wallet.address != trader), None)
            if k is not None:
                intents.append(Intent(("liquidate", key), k, self._liquidate_sender(k, key, t)))
        return intents

    def record_cascade(self, key: tuple[str, str], t: int) -> None:
        """The cascade generation of the liquidation of `key` sent at `t`, from the prices it is liquidated on."""
        m = key[0]
        if m in self.ctx.market.books:
            p = self.state.positions[key]
            self.state.generations[key] = self.ctx.market.cascade(m, t, lambda mark: self.ctx.liquidatable(m, p, mark), p.size > 0, self.ctx.specs[m])

    def _liquidate_sender(self, k: KeeperState, key: tuple[str, str], t: int) -> Callable[[], None]:
        def send() -> None:
            m, trader = key
            self.record_cascade(key, t)
            self.ctx.chain.call_fn(k.wallet, self.ctx.c["auction"], "liquidate", self.ctx.mids[m], trader, label=f"liquidate:{k.name}")
            self.state.pending_liquidation.add(key)
            k.liquidations += 1

        return send

    def _releases(self, action_ts: int, first: KeeperState) -> list[Intent]:
        """Bonds of ADL executions whose challenge window closed go back to their executors; the first online
        keeper releases the queued liquidations the throttle allows."""
        chain, c = self.ctx.chain, self.ctx.c
        intents = []
        for ex_id, ex in self.state.adl_executions.items():
            if not ex["released"] and action_ts > ex["ts"] + self.ctx.sc.adl.challenge_window:
                def send(ex_id: int = ex_id, ex: dict = ex) -> None:
                    chain.call_fn(first.wallet, c["adl"], "releaseBond", ex_id, label=f"releaseBond:{first.name}")
                    ex["released"] = True

                intents.append(Intent(("bond", ex_id), first, send))
        for m, ids in self.state.queued.items():
            after_buffer = action_ts >= self.state.buffer_until.get(m, 0)
            if ids and (after_buffer or m in self.ctx.bid_markets):
                def send(m: str = m) -> None:
                    chain.call_fn(first.wallet, c["auction"], "release", self.ctx.mids[m], 100, label=f"release:{first.name}")

                intents.append(Intent(("release", m, after_buffer), first, send))
        return intents

    def _auctions(self, t: int, action_ts: int, marks: dict[str, int | None], by_latency: list[KeeperState], free: dict[str, int]) -> list[Intent]:
        """Takes and restarts: the fastest keeper whose latency has passed since the auction started."""
        intents = []
        frozen_in = _in_liquidation(self.state)
        # each keeper's figures once a look, not once an auction: (keeper, latency, address, restarts, takes, discount)
        looks = [(k, k.spec.latency, k.wallet.address, k.online(t, "restart"), k.online(t, "take"), k.spec.take_discount_bps) for k in by_latency]
        for a in self.state.auctions.values():
            mark = marks.get(a.market)
            if mark is None or a.qty == 0:
                continue
            spec = self.ctx.specs[a.market]
            price = self.ctx.auction_price(a, action_ts)
            params = AuctionParams(spec.auction.buf_bps, spec.auction.stale_bps, spec.auction.tail)
            stale = is_stale(price, mark, action_ts - a.tic, params)
            frozen = frozen_in.get(a.market, set())
            worth: dict[int, int | None] = {}  # discount [bps] -> most to unwind (see `_worth`): the same for every keeper
            age = t - a.start_t
            for k, latency, address, restarts, takes, discount in looks:
                if age < latency or address in frozen:
                    continue  # a keeper whose own position is in liquidation cannot take (PositionInLiquidation)
                if stale:
                    if restarts:
                        intents.append(Intent(("redo", a.id, a.tic), k, self._redo_sender(k, a)))
                        break
                    continue
                if not takes or worth.get(discount) == 0:  # not worth it at this keeper's discount: nor for the next
                    continue
                take = self._take(k, a, t, price, mark, free, worth)
                if take is not None:
                    intents.append(take)
                    break
        return intents

    def _redo_sender(self, k: KeeperState, a: AuctionMirror) -> Callable[[], None]:
        def send() -> None:
            self.ctx.chain.call_fn(k.wallet, self.ctx.c["auction"], "redo", a.id, label=f"redo:{k.name}")
            k.restarts += 1

        return send

    def _worth(self, a: AuctionMirror, t: int, price: int, mark: int, discount_bps: int) -> int | None:
        """The most [wad] a keeper asking `discount_bps` would take of auction `a` at `price` for what it can
        unwind (None: no limit, no book; 0: not worth taking at all)."""
        if not take_is_attractive(price, mark, a.long, discount_bps):
            return 0
        book = self.ctx.market.books.get(a.market)
        if book is None:
            return None
        return book.most_to_unwind(book.deepest(t + 1), t + 1, a.long, price, mark, discount_bps, self.ctx.specs[a.market].price_band_bps)

    def _take(
        self, k: KeeperState, a: AuctionMirror, t: int, price: int, mark: int, free: dict[str, int], worth: dict[int, int | None]
    ) -> Intent | None:
        discount = k.spec.take_discount_bps
        if discount not in worth:
            worth[discount] = self._worth(a, t, price, mark, discount)
        most = worth[discount]
        if most == 0:
            return None
        spec = self.ctx.specs[a.market]
        book = self.ctx.market.books.get(a.market)
        venue = book.deepest(t + 1) if book else None
        im_bps = max(t.initial_margin_bps for t in spec.tiers)  # the top bracket's rate: a safe bound
        qty, margin = take_size(free[k.wallet.address], a.qty, price, mark, a.long, im_bps, to_usdc(spec.auction.dust), most)
        if qty == 0 or not self._coverable(a, qty, price):
            return None
        free[k.wallet.address] -= margin

        def send() -> None:
            chain, house = self.ctx.chain, self.ctx.c["house"]
            chain.call_fn(k.wallet, self.ctx.c["auction"], "take", a.id, qty, price, margin, k.wallet.address, b"", label=f"take:{k.name}")
            k.taken += 1
            k.sending += margin
            # unwind against a market maker at the oracle price (less the slippage on the deepest venue): capital freed
            mid = self.ctx.mids[a.market]
            size = -qty if a.long else qty  # keeper sells what it bought (or buys back what it shorted)
            at, notional = book.unwind_price(venue, t + 1, size, mark) if book else (mark, 0.0)
            mm = self.mm_for(a.market, -size)
            mm_order = Order(mm.address, mid, -size, at, notional_up(qty, mark) * 3 // 4, self.next_nonce(), 2**40)
            keeper_order = Order(k.wallet.address, mid, size, at, 0, self.next_nonce(), 2**40)
            sig = sign_order(mm_order, mm.account.key, chain.chain_id, house.address)
            data = chain.encode(house, "trade", [mm_order.as_tuple(), sig, keeper_order.as_tuple(), b""])
            tx = chain.send(k.wallet, house.address, data, f"unwind:{k.name}")
            if book is not None:
                generation = a.record.get("generation", 0)

                def traded() -> None:
                    k.slippage += book.trade(venue, t + 1, notional, generation)

                self.state.on_mined[tx] = traded

        return Intent(("take", a.id, k.name), k, send)

    def _coverable(self, a: AuctionMirror, qty: int, price: int) -> bool:
        """Whether the fund can pay the shortfall a take of `qty` at `price` would realise, as the auction
        requires (ShortfallBeyondFund): the pools' balances as the fund's events left them."""
        pos = self.state.positions.get((a.market, a.trader))
        if pos is None or qty > abs(pos.size):
            return True  # the mirror does not know the position: let the contract decide
        shortfall = lm.fill_shortfall(pos, qty, price)
        flows = self.state.flows
        return shortfall == 0 or shortfall <= flows.end(a.market) + flows.end(GLOBAL_POOL)

    def mm_for(self, market: str, mm_delta: int) -> Wallet:
        """The market maker for whom a change of `mm_delta` units reduces its position the most (so that
        absorbing a keeper's unwind frees its margin instead of needing more)."""
        def reduction(w: Wallet) -> int:
            p = self.state.positions.get((market, w.address))
            size = p.size if p else 0
            return min(abs(size), abs(mm_delta)) if size * mm_delta < 0 else -abs(size)

        frozen = self.state.in_auction | self.state.pending_liquidation
        makers = [w for w, _ in self.ctx.mms[market] if (market, w.address) not in frozen] or [w for w, _ in self.ctx.mms[market]]
        return max(makers, key=reduction)

    def next_nonce(self) -> int:
        self.order_nonce += 1
        return self.order_nonce

    # ------------------------------------------------------------------ ADL

    def deleverage(self, t: int, marks: dict[str, int | None]) -> bool:
        """One ADL round (see backstop.replay.deleverage). Returns whether any execution was sent."""
        return self.adl.round(t, marks)

    def free_reads(self) -> list[tuple[Any, str, list]]:
        """The reads of every keeper's free balance [usdc]."""
        return [(self.ctx.c["house"], "freeBalance", [k.wallet.address]) for k in self.ctx.keepers]

    def free_balances(self) -> dict[str, int]:
        return dict(zip((k.wallet.address for k in self.ctx.keepers), self.ctx.chain.view(self.free_reads())))
