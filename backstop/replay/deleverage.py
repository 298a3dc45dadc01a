"""The replay's ADL executor: one round of AdlQueue executions, all sent into one block.

Every liquidation left (running or queued) is judged after the claims of all the others: the uncovered trigger
(AdlQueue._trigger) counts the shortfall every other underwater liquidation would realise at this block's prices,
so that many auctions each coverable alone but not together are deleveraged before their takes drain the pools
(#16 §4 rule 1). The deepest under water go first: closing a unit of a larger gap removes more of the excess, so
the counterparties give up fewer units for the same loss avoided.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from backstop.keeper.adl import AdlExecutor, CannotAbsorb
from backstop.model import adl as adl_model
from backstop.model import ledger as lm
from backstop.model.fund import GLOBAL
from backstop.replay.state import KeeperState, ReplayContext

NO_ADL_ABSORBER = "adl: the opposite side cannot absorb it"  # the report's failed_transactions label


@dataclass
class _Left:
    """A liquidation with something left, as the round's reads found it and its executions leave it."""

    id: int
    market: str
    trader: str
    long: bool
    position: lm.Position  # the frozen position: executions of this round apply their fills to it
    qty: int  # [wad] what is left of the liquidation

    def claim(self, mark: int | None) -> adl_model.Claim:
        return adl_model.Claim(self.id, self.market, self.position, self.qty, mark)

    def gap(self, mark: int | None) -> int:
        """[wad] how far the mark is beyond the bankruptcy price (0: not under water, or no mark)."""
        if mark is None or not self.qty:
            return 0
        price = lm.bankruptcy_price(self.position.size, self.position.entry_price, self.position.margin)
        return max(price - mark if self.long else mark - price, 0)


class _Claims:
    """The round's claims on the fund: each liquidation's shortfall at the marks and their sum per market, so that
    judging a sale after all the others costs O(markets), not O(sales) (adl_model.available_after_owed, the
    reference's own arithmetic); `update` after an execution changes a sale."""

    def __init__(self, left: list[_Left], marks: dict[str, int | None]) -> None:
        self.marks = marks
        self.owed = {s.id: s.claim(marks.get(s.market)).shortfall for s in left}  # [usdc]
        self.by_market: dict[str, int] = {}
        self.left = left
        for s in left:
            self.by_market[s.market] = self.by_market.get(s.market, 0) + self.owed[s.id]

    def available(self, sale: _Left, pools: dict[str, int], glob: int) -> tuple[int, int]:
        """(what the pools can pay `sale` after every other claim, what the others in its market claim) [usdc]."""
        others = {**self.by_market, sale.market: self.by_market[sale.market] - self.owed[sale.id]}
        return adl_model.available_after_owed(sale.market, pools, glob, others)

    def listed(self, sale: _Left) -> tuple[int, ...]:
        """The ids the execution of `sale` lists: every other liquidation with a shortfall, ascending."""
        return tuple(sorted(s.id for s in self.left if s is not sale and self.owed[s.id] > 0))

    def update(self, sale: _Left) -> None:
        owed = sale.claim(self.marks.get(sale.market)).shortfall
        self.by_market[sale.market] += owed - self.owed[sale.id]
        self.owed[sale.id] = owed


class Deleverager:
    """Executes every ADL whose trigger holds, by the fastest online keeper, against the reference ranking."""

    def __init__(self, ctx: ReplayContext) -> None:
        self.ctx = ctx
        self.state = ctx.state
        self.executor = AdlExecutor(ctx.chain, ctx.c["adl"], ctx.sc.adl.loss_cap_bps)

    def round(self, t: int, marks: dict[str, int | None]) -> bool:
        """One ADL round. What the triggers need is read in one round trip (nothing is mined between the
        reads; running auctions and their frozen positions come from the mirror); the positions of each market
        and side once; each execution's fills are then applied to that copy
        (see AdlExecutor.execute), so the next execution's trigger, claims and list are computed on the state the
        previous one leaves: all go into one block, in order. Returns whether any was sent."""
        if "adl" in self.ctx.chain.waiting_kinds():
            return False  # an execution waits for block space: the next is planned on the state it leaves
        online = [k for k in self.ctx.keepers if k.online(t, "adl")]
        sales = [s for s in self._sales() if marks.get(s[1]) is not None]
        if not online or not sales:
            return False
        executor = min(online, key=lambda k: k.spec.latency)
        c = self.ctx.c
        markets = sorted({m for _, m, _, _ in sales})
        reads = [(c["fund"], "poolBalance", [GLOBAL])]
        for m in markets:
            mid = self.ctx.mids[m]
            reads += [(c["fund"], "poolBalance", [mid]), (c["fund"], "adlAllowed", [mid]), (c["auction"], "inLiquidityRisk", [mid])]
        # a running auction's size and its frozen position are the mirror's (the events make them exact); a
        # queued liquidation's are read from the chain, with the fund
        auctions, positions = self.state.auctions, self.state.positions
        queued = [(id_, m, trader, long) for id_, m, trader, long in sales if id_ not in auctions]
        for id_, m, trader, _ in queued:
            reads += [(c["auction"], "sale", [id_]), (c["house"], "getPosition", [self.ctx.mids[m], trader])]
        values = self.ctx.chain.view(reads)
        glob = values[0]
        fund = {m: values[1 + 3 * i : 4 + 3 * i] for i, m in enumerate(markets)}
        rest = values[1 + 3 * len(markets) :]
        read = {q[0]: (rest[2 * i][4] if rest[2 * i] else 0, rest[2 * i + 1]) for i, q in enumerate(queued)}
        left = []
        for id_, m, trader, long in sales:
            if id_ in auctions:
                qty, mirrored = auctions[id_].qty, positions.get((m, trader))
                position = dataclasses.replace(mirrored) if mirrored is not None else None  # a copy: the round's fills apply to it
            else:
                qty, raw = read[id_]
                position = lm.Position(*raw) if raw is not None else None
            if qty and position is not None:
                left.append(_Left(id_, m, trader, long, position, qty))
        pools = {m: f[0] for m, f in fund.items()}
        claims = _Claims(left, marks)
        books: dict[tuple[str, bool], dict[str, lm.Position]] = {}
        sent = False
        for sale in sorted(left, key=lambda s: (-s.gap(marks[s.market]), s.id)):
            if not sale.qty:
                continue
            available, claimed = claims.available(sale, pools, glob)
            _, risk, liquidity = fund[sale.market]
            try:
                plan = adl_model.plan(sale.position, sale.qty, marks[sale.market], available, bool(risk), bool(liquidity), claimed)
            except adl_model.NoTrigger:
                continue
            plan = dataclasses.replace(plan, claims=claims.listed(sale))
            sent |= self._execute(executor, sale, plan, books)
            claims.update(sale)
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

    def _execute(self, executor: KeeperState, sale: _Left, plan: adl_model.Plan, books: dict[tuple[str, bool], dict[str, lm.Position]]) -> bool:
        m, long = sale.market, sale.long
        if (m, long) not in books:
            accounts = [a for (mm, a), p in self.state.positions.items() if mm == m and p.size != 0 and (p.size > 0) != long]
            books[(m, long)] = self.executor.read_book(self.ctx.c["house"], self.ctx.mids[m], accounts)[0]
        frozen = {tr for (mm, tr) in self.state.in_auction if mm == m}
        try:
            self.executor.execute(
                executor.wallet, sale.id, books[(m, long)], plan, long, frozen | {sale.trader}, sale.position, f"adl:{executor.name}"
            )
            self.state.adl_scores.update({(m, a): v for a, v in self.executor.last_scores.items()})
            sale.qty -= plan.qty
        except CannotAbsorb:
            self.state.count_failure(NO_ADL_ABSORBER)
            return False
        return True
