"""The keepers of a replay as independent actors: each with its own latency, failure rate, outages and capital,
liquidating, releasing queued liquidations, restarting stale auctions, taking attractive ones (and unwinding what
it took against the market makers) and executing ADL through the one ADL executor (backstop.keeper.adl)."""

from __future__ import annotations

from typing import Any

from backstop.chain.fastchain import Wallet
from backstop.chain.orders import Order, sign_order
from backstop.keeper.adl import AdlExecutor, CannotAbsorb
from backstop.keeper.rules import take_is_attractive, take_size
from backstop.model import adl as adl_model
from backstop.model import ledger as lm
from backstop.model.auction import AuctionParams, is_stale
from backstop.model.fund import GLOBAL
from backstop.replay.state import AuctionMirror, KeeperState, ReplayContext
from backstop.units import notional_up, to_usdc

NO_ADL_ABSORBER = "adl: the opposite side cannot absorb it"  # the report's failed_transactions label


class KeeperActors:
    """Every keeper's decisions in one step, sent as transactions into the step's action block."""

    def __init__(self, ctx: ReplayContext) -> None:
        self.ctx = ctx
        self.state = ctx.state
        self.order_nonce = 10**9  # nonces of the orders the engine signs after set-up
        self.free: dict[str, int] = {}  # [usdc] each keeper's free balance as this step's decisions spend it
        self.executor = AdlExecutor(ctx.chain, ctx.c["adl"], ctx.sc.adl.loss_cap_bps)

    def act(self, t: int, action_ts: int, marks: dict[str, int | None], free: dict[str, int]) -> None:
        """The keepers online at scenario time `t` act on the marks [wad]; their transactions go into the block at
        chain time `action_ts`. `free`: their free balances [usdc] at the start of the step."""
        self.free = free
        online = []
        for k in self.ctx.keepers:
            if k.online(t) and k.rng.random() >= k.spec.failure_rate:
                online.append(k)
                k.online_steps += 1
                self._adjust_capital(k, t)
        by_latency = sorted(online, key=lambda k: k.spec.latency)
        self._liquidate(t, marks, by_latency)
        if online:
            self._release(action_ts, online[0])
        self._auctions(t, action_ts, marks, by_latency)

    def _liquidate(self, t: int, marks: dict[str, int | None], by_latency: list[KeeperState]) -> None:
        """Liquidations: the fastest online keeper whose latency has passed since the position became liquidatable."""
        s = self.state
        for key, p in list(s.positions.items()):
            m, trader = key
            mark = marks.get(m)
            if p.size == 0 or mark is None or trader in self.ctx.special:
                continue
            if key in s.pending_liquidation or key in s.in_auction:
                continue
            if not self.ctx.liquidatable(m, p, mark):
                s.first_liquidatable.pop(key, None)
                continue
            first = s.first_liquidatable.setdefault(key, t)
            for k in by_latency:
                if t - first >= k.spec.latency:
                    self.ctx.chain.call_fn(k.wallet, self.ctx.c["auction"], "liquidate", self.ctx.mids[m], trader, label=f"liquidate:{k.name}")
                    s.pending_liquidation.add(key)
                    k.liquidations += 1
                    break

    def _release(self, action_ts: int, first: KeeperState) -> None:
        """Bonds of ADL executions whose challenge window closed go back to their executors; the first online
        keeper releases the queued liquidations the throttle allows."""
        chain, c = self.ctx.chain, self.ctx.c
        for ex_id, ex in list(self.state.adl_executions.items()):
            if not ex["released"] and action_ts > ex["ts"] + self.ctx.sc.adl.challenge_window:
                chain.call_fn(first.wallet, c["adl"], "releaseBond", ex_id, label=f"releaseBond:{first.name}")
                ex["released"] = True
        for m, ids in self.state.queued.items():
            if ids and (action_ts >= self.state.buffer_until.get(m, 0) or m in self.ctx.bid_markets):
                chain.call_fn(first.wallet, c["auction"], "release", self.ctx.mids[m], 100, label=f"release:{first.name}")

    def _auctions(self, t: int, action_ts: int, marks: dict[str, int | None], by_latency: list[KeeperState]) -> None:
        """Takes and restarts: the fastest keeper whose latency has passed since the auction started."""
        for a in list(self.state.auctions.values()):
            mark = marks.get(a.market)
            if mark is None or a.qty == 0:
                continue
            spec = self.ctx.specs[a.market]
            price = self.ctx.auction_price(a, action_ts)
            params = AuctionParams(spec.auction.buf_bps, spec.auction.stale_bps, spec.auction.tail)
            stale = is_stale(price, mark, action_ts - a.tic, params)
            for k in by_latency:
                if t - a.start_t < k.spec.latency:
                    continue
                if stale:
                    self.ctx.chain.call_fn(k.wallet, self.ctx.c["auction"], "redo", a.id, label=f"redo:{k.name}")
                    k.restarts += 1
                    break
                if self._take(k, a, price, mark):
                    break

    def _take(self, k: KeeperState, a: AuctionMirror, price: int, mark: int) -> bool:
        if not take_is_attractive(price, mark, a.long, k.spec.take_discount_bps):
            return False
        spec = self.ctx.specs[a.market]
        im_bps = max(t.initial_margin_bps for t in spec.tiers)  # the top bracket's rate: a safe bound
        qty, margin = take_size(self.free[k.wallet.address], a.qty, price, mark, a.long, im_bps, to_usdc(spec.auction.dust))
        if qty == 0:
            return False
        self.free[k.wallet.address] -= margin
        chain, house = self.ctx.chain, self.ctx.c["house"]
        chain.call_fn(k.wallet, self.ctx.c["auction"], "take", a.id, qty, price, margin, k.wallet.address, b"", label=f"take:{k.name}")
        a.qty -= qty  # optimistic; corrected from events
        k.taken += 1
        # unwind against a market maker at the oracle price, so the keeper's capital is free again
        mid = self.ctx.mids[a.market]
        size = -qty if a.long else qty  # keeper sells what it bought (or buys back what it shorted)
        mm = self._mm_for(a.market, -size)
        mm_order = Order(mm.address, mid, -size, mark, notional_up(qty, mark) * 3 // 4, self._nonce(), 2**40)
        keeper_order = Order(k.wallet.address, mid, size, mark, 0, self._nonce(), 2**40)
        sig = sign_order(mm_order, mm.account.key, chain.chain_id, house.address)
        data = chain.encode(house, "trade", [mm_order.as_tuple(), sig, keeper_order.as_tuple(), b""])
        chain.send(k.wallet, house.address, data, f"unwind:{k.name}")
        return True

    def _adjust_capital(self, k: KeeperState, t: int) -> None:
        target = int(k.capital * k.committed_fraction(t))
        if k.deposited > target:
            free = self.free[k.wallet.address]
            amount = min(free, k.deposited - target)
            self.free[k.wallet.address] -= amount
            if amount > 0:
                self.ctx.chain.call_fn(k.wallet, self.ctx.c["house"], "withdraw", amount, label=f"withdraw:{k.name}")
                k.deposited -= amount

    def _mm_for(self, market: str, mm_delta: int) -> Wallet:
        """The market maker for whom a change of `mm_delta` units reduces its position the most (so that
        absorbing a keeper's unwind frees its margin instead of needing more)."""
        def reduction(w: Wallet) -> int:
            p = self.state.positions.get((market, w.address))
            size = p.size if p else 0
            return min(abs(size), abs(mm_delta)) if size * mm_delta < 0 else -abs(size)

        return max((w for w, _ in self.ctx.mms[market]), key=reduction)

    def _nonce(self) -> int:
        self.order_nonce += 1
        return self.order_nonce

    # ------------------------------------------------------------------ ADL

    def deleverage(self, t: int, marks: dict[str, int | None]) -> bool:
        """One ADL round: every liquidation whose ADL trigger holds is executed by the fastest online keeper
        against the reference ranking. The positions are read fresh from the chain once per market and side;
        each execution's fills are then applied to that copy (see AdlExecutor.execute), so the next execution's
        list is ranked on the state the previous one leaves: all go into one block, in order. Returns whether
        any was sent."""
        online = [k for k in self.ctx.keepers if k.online(t)]
        if not online:
            return False
        executor = min(online, key=lambda k: k.spec.latency)
        books: dict[tuple[str, bool], dict[str, lm.Position]] = {}
        sent = False
        for id_, m, trader, long in self._sales():
            mark = marks.get(m)
            if mark is not None:
                sent |= self._deleverage_one(executor, id_, m, trader, long, mark, books)
        return sent

    def _sales(self) -> list[tuple[int, str, str, bool]]:
        """(id, market, trader, long) of every running auction and queued liquidation, by id."""
        sales = [(a.id, a.market, a.trader, a.long) for a in self.state.auctions.values() if a.qty > 0]
        for m, ids in self.state.queued.items():
            for id_ in ids:
                rec = next((r for r in self.state.liquidations if r["id"] == id_), None)
                if rec is not None:
                    sales.append((id_, m, rec["trader"], rec["side"] == "long"))
        return sorted(sales)

    def _deleverage_one(
        self, executor: KeeperState, id_: int, m: str, trader: str, long: bool, mark: int, books: dict[tuple[str, bool], dict[str, lm.Position]]
    ) -> bool:
        c, mid = self.ctx.c, self.ctx.mids[m]
        sale, pos, sub, glob, risk, liquidity = self.ctx.chain.view([
            (c["auction"], "sale", [id_]),
            (c["house"], "getPosition", [mid, trader]),
            (c["fund"], "poolBalance", [mid]),
            (c["fund"], "poolBalance", [GLOBAL]),
            (c["fund"], "adlAllowed", [mid]),
            (c["auction"], "inLiquidityRisk", [mid]),
        ])
        qty = sale[4] if sale else 0
        if not qty or pos is None:
            return False
        bankrupt = lm.Position(*pos)
        try:
            plan = adl_model.plan(bankrupt, qty, mark, sub + glob, bool(risk), bool(liquidity))
        except adl_model.NoTrigger:
            return False
        if (m, long) not in books:
            accounts = [a for (mm, a), p in self.state.positions.items() if mm == m and p.size != 0 and (p.size > 0) != long]
            books[(m, long)] = self.executor.read_book(c["house"], mid, accounts)[0]
        frozen = {tr for (mm, tr) in self.state.in_auction if mm == m}
        try:
            self.executor.execute(executor.wallet, id_, books[(m, long)], plan, long, frozen | {trader}, bankrupt, f"adl:{executor.name}")
        except CannotAbsorb:
            self.state.count_failure(NO_ADL_ABSORBER)
            return False
        return True

    def free_reads(self) -> list[tuple[Any, str, list]]:
        """The reads of every keeper's free balance [usdc]."""
        return [(self.ctx.c["house"], "freeBalance", [k.wallet.address]) for k in self.ctx.keepers]

    def free_balances(self) -> dict[str, int]:
        return dict(zip((k.wallet.address for k in self.ctx.keepers), self.ctx.chain.view(self.free_reads())))
