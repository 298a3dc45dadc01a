"""The replay loop: a crash scenario stepped through time against a deployed Backstop on a live chain.

Each step is two blocks whose timestamps follow the scenario's clock:
  1. the oracle block: every venue's price source moves to the scenario's price for that time, and the oracle
     is poked in every market whose auction watches for a fast fall (as a live venue's trades and poker bots
     do: the fall is measured from the prices pokes recorded, PriceOracle.recentHigh);
  2. the action block, one second later: keepers act as independent actors (backstop.replay.actors) — liquidate
     positions below maintenance margin, take auctions whose price beats their threshold (and unwind what they
     took against the market makers), restart stale auctions; ADL runs between the two where a trigger holds.
     Traders of the scenario who open or close during the replay (backstop.replay.traders) and standing bidders
     selling what they absorbed (backstop.replay.bidders) trade in it too.
Receipts and events feed the mirror (backstop.replay.mirror) that keepers and the report read; pool balances,
8-hour peaks and fund-risk flags are read from the chain after every step (in the round trip that fetches the
action block's receipts). An action block with no transaction is not mined on Anvil: those reads then see its
time and number through eth_call block overrides, so the report is the same as with it.

The hot path uses backstop.chain.fastchain (web3 straight to the node, batched blocks), never Ape calls.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from backstop.chain.abi import abi_of
from backstop.chain.blockspace import BlockSpace, summary
from backstop.chain.fastchain import FastChain, web3_contract
from backstop.replay.actors import KeeperActors
from backstop.replay.bidders import BidderUnwinds
from backstop.replay.builder import build_report
from backstop.replay.clock import KeeperClock
from backstop.replay.mirror import EventMirror
from backstop.replay.population import Population
from backstop.replay.state import ADL_ROUNDS, CONTRACTS, ReplayContext
from backstop.replay.traders import TraderActors
from backstop.units import USDC, WAD, notional_up

NODE_GAS_LIMIT = 10**12  # [gas] the replay's own node's block gas limit: far above any block it is handed


class Replay:
    """One replay of one scenario on one connected chain. Use `run_replay` for the whole life cycle."""

    def __init__(
        self, scenario: Any, system: Any, admin_key: str, path: Path | None = None, uri: str | None = None, chain: FastChain | None = None
    ) -> None:
        """`chain`: the FastChain to replay on (the embedded EVM's); else one connected to `uri`, by default the
        node Ape is connected to."""
        from eth_account import Account  # noqa: PLC0415

        if chain is None:
            if uri is None:
                from ape import chain as ape_chain  # noqa: PLC0415

                uri = ape_chain.provider.http_uri
            chain = FastChain.connect(uri)
        c = {name: web3_contract(chain.w3, str(getattr(system, attr).address), abi_of(getattr(system, attr))) for name, attr in CONTRACTS}
        for name, contract in c.items():
            chain.register(name, contract)
        src_abi = abi_of(next(iter(next(iter(system.sources.values())).values())))
        sources = {m: {v: web3_contract(chain.w3, str(src.address), src_abi) for v, src in venues.items()} for m, venues in system.sources.items()}
        self.ctx = ReplayContext(scenario, path, chain, c, sources, chain.wallet(Account.from_key(admin_key)))
        self.state = self.ctx.state
        self.mirror = EventMirror(self.ctx)
        self.actors = KeeperActors(self.ctx)
        self.traders = TraderActors(self.ctx, [])  # who opens or closes during the replay: known after `setup`
        self.bidders = BidderUnwinds(self.ctx, self.actors.available, self.actors.mm_for, self.actors.next_nonce)
        self.clock = KeeperClock(self.ctx, self._decide)
        self.last_look = 0  # [scenario seconds] the keepers' last look at the positions
        self.halted: set[tuple[str, str, int]] = set()  # (market, venue, halt start) whose stale answer is published
        self.tx_in_loop = 0
        self.loop_seconds = 0.0
        chain_spec = self.ctx.sc.chain  # the scenario's own transactions (prices, pokes) take no block space
        self.space = BlockSpace(chain_spec.block_gas_limit, chain_spec.block_time, exempt={self.ctx.admin.address})

    @property
    def chain(self) -> FastChain:
        return self.ctx.chain

    @property
    def c(self) -> dict[str, Any]:
        return self.ctx.c

    @property
    def admin(self) -> Any:
        return self.ctx.admin

    def _decide(self, t: int, marks: dict[str, int | None]) -> set:
        """The keys of what the keepers and traders would do at scenario second `t` on `marks` (the clock's question)."""
        intents = self.actors.decide(t, self.ctx.t0 + t + 1, marks, self.actors.free) + self.traders.decide(t, marks) + self.bidders.decide(t, marks)
        return {i.key for i in intents}

    def setup(self) -> dict[str, Any]:
        """Funds and opens the population, funds the keepers. Returns what happened."""
        self.state.flows.start(self.ctx.pool_balances())  # the seeds: nothing else has reached the fund yet
        population = Population(self.ctx, self.mirror)
        setup = population.setup()
        self.traders = TraderActors(self.ctx, population.trading)
        self.bidders = BidderUnwinds(self.ctx, self.actors.available, self.actors.mm_for, self.actors.next_nonce)
        return setup

    def run(self, on_step: Callable[[int], None] | None = None) -> None:
        """Steps through the scenario's grid; between grid points, keepers act at the seconds the clock finds."""
        start = time.perf_counter()
        sent0 = self.chain.sent_total
        grid = self.ctx.sc.times()
        if self.chain.is_dev:  # the node mines all it is handed: the scenario's block gas limit is kept in front of it
            self.chain.rpc("evm_setBlockGasLimit", [hex(NODE_GAS_LIMIT)])
        self.chain.space = self.space
        try:
            for i, t in enumerate(grid):
                self.state.t = t
                self._tick(t, record=True)
                if on_step:
                    on_step(t)
                if i + 1 < len(grid):
                    self._between(t, grid[i + 1])
            self._drain(None)  # what still waits for block space at the end is mined
        finally:
            self.chain.space = None
        self.loop_seconds = time.perf_counter() - start
        self.tx_in_loop = self.chain.sent_total - sent0

    def _between(self, t: int, nxt: int) -> None:
        """Keepers' actions between grid points `t` and `nxt`: each at the second its rule first holds (a price
        block at that second, the actions one second later), none within a second of a grid block."""
        start = t + 2
        while True:
            drained = self._drain(nxt)
            if drained is not None:  # the actors look again after the backlog's last block
                start = max(start, drained + 1)
            hit = self.clock.next_action(start, nxt - 2, self.mirror.version, self._observe) if start <= nxt - 2 else None
            if hit is None:
                return
            self.state.t = hit
            self._tick(hit, record=False, woken=self.clock.woken)
            start = hit + 2

    def _drain(self, until: int | None) -> int | None:
        """Mines what waits for block space, a block every `block_time` seconds, in blocks before scenario
        second `until` (None: all of it). While blocks are full the actors send nothing new: what they send would
        queue behind. Returns the scenario second of the last block it mined (None: none)."""
        ctx = self.ctx
        last = None
        while self.chain.backlog:
            ts = self.chain.last_timestamp + self.space.block_time
            if until is not None and ts >= ctx.t0 + until:
                break
            self.state.t = last = ts - ctx.t0
            self.mirror.mine(ts, "keepers")
        return last

    def _observe(self, a: int, b: int) -> None:
        self.actors.observe(a, b, self.clock.marks)

    def _tick(self, t: int, record: bool, woken: set | None = None) -> None:
        """One second of the replay: the venues move to the path's price at `t` (the price block), ADL runs where
        a trigger holds, the keepers act one second later (the action block); at grid points a series row."""
        ctx = self.ctx
        ts = ctx.t0 + t
        market = ctx.market
        for m, venues in ctx.sources.items():
            decimals = ctx.specs[m].source_decimals
            for venue, src in venues.items():
                price, age = market.feed(m, venue, t)
                answer = max(1, round(price * 10**decimals))
                if not age:
                    self.chain.call_fn(ctx.admin, src, "setAnswer", answer, label="price")
                elif (m, venue, t - age) not in self.halted:  # a stale venue's last answer, stamped once
                    self.halted.add((m, venue, t - age))
                    self.chain.call_fn(ctx.admin, src, "setAnswerAt", answer, ts - age, label="price")
            if ctx.specs[m].auction.drop_bps:  # the fall detector reads what pokes record: trades and bots poke
                self.chain.call_fn(ctx.admin, ctx.c["oracle"], "poke", ctx.mids[m], label="poke")
        for book in market.books.values():
            book.sample(t)
        # the oracle prices and the keepers' free balances are read in the round trip that fetches the receipts
        oracles = [(ctx.c["oracle"], "price", [mid]) for mid in ctx.mids.values()]
        values = self.mirror.mine(ts, "price", oracles + self.actors.free_reads())[1]
        marks = dict(zip(ctx.mids, values[: len(oracles)]))
        free: dict[str, int] | None = dict(zip((k.wallet.address for k in ctx.keepers), values[len(oracles) :]))
        for _ in range(ADL_ROUNDS):
            if not self.actors.deleverage(t, marks):
                break
            self.mirror.mine(None, "adl")
            free = None  # an ADL block may have changed them: read again
            if self.chain.backlog:  # the next round would plan on a state its execution has not reached yet
                break
        self._observe(self.last_look, t)
        self.last_look = max(self.last_look, t)
        version = self.mirror.version
        intents = self.actors.act(t, ts + 1, marks, free if free is not None else self.actors.free_balances())
        intents += self.traders.act(t, marks) + self.bidders.act(t, marks)
        values = self.mirror.mine(ts + 1, "keepers", self._record_reads() if record else [], skip_empty=True)[1]
        if self.mirror.version == version:  # nothing came of it: do not wake for the same actions again
            self.clock.found_futile((woken or set()) | {i.key for i in intents}, version)
        if record:
            self._record(t, marks, values)

    def _record_reads(self) -> list[tuple[Any, str, list]]:
        fund, auction = self.c["fund"], self.c["auction"]
        reads: list[tuple[Any, str, list]] = [(fund, "poolBalance", [b"\0" * 32]), (fund, "drawdownBps", [])]
        for mid in self.ctx.mids.values():
            reads += [(fund, "poolBalance", [mid]), (fund, "peak8h", [mid]), (fund, "fundRisk", [mid]), (auction, "inLiquidityRisk", [mid])]
        return reads

    def _record(self, t: int, marks: dict[str, int | None], values: list[Any]) -> None:
        """One row of the series from `values`, the answers to `_record_reads` after the step's last block."""
        glob, drawdown_bps = values[0], values[1]
        markets: dict[str, Any] = {}
        for i, m in enumerate(self.ctx.mids):
            sub, peak, risk, liquidity_risk = values[2 + 4 * i : 6 + 4 * i]
            mark = marks.get(m)
            oi = sum(notional_up(p.size, mark) for (pm, _), p in self.state.positions.items() if pm == m and p.size > 0) if mark else 0
            markets[m] = {
                "oracle": mark / WAD if mark is not None else None,
                "venues": {v: self.ctx.market.price(m, v, t) for v in self.ctx.sources[m]},
                "sub_pool": sub / USDC,
                "peak_8h": peak / USDC,
                "fund_risk": risk,
                "open_interest": oi / USDC,
                "liquidity_risk": bool(liquidity_risk),
                "drawdown_threshold": peak * (10_000 - drawdown_bps) / 10_000 / USDC,
            }
            book = self.ctx.market.books.get(m)
            if book is not None:  # with liquidity: the paths without this platform's flows, and the depth
                markets[m]["exogenous"] = {v: book.exogenous_price(v, t) for v in book.venues}
                markets[m]["depth"] = {v: book.depth(v, t) for v in book.venues}
        self.state.series.append({"t": t, "time": self.ctx.iso(t), "global_pool": glob / USDC, "markets": markets})

    def report(self, setup: dict[str, Any], wall: float, complete: bool, error: str | None, raw_tps: float | None) -> dict[str, Any]:
        """The report of this replay so far (see backstop.replay.builder)."""
        report = build_report(self.ctx, setup, wall, complete, error, raw_tps, self.tx_in_loop, self.loop_seconds)
        trading = self.traders.report()
        if trading is not None:
            report["trading"] = trading
        report["settlement"] = summary(self.space)
        return report
