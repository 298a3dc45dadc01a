"""The replay engine: play a crash scenario against a freshly deployed Backstop on a live local chain.

One replay: deploy with the scenario's parameters (through Ape), fund and open the trader population, then
step through time. Each step is two blocks whose timestamps follow the scenario's clock:
  1. the oracle block: every venue's price source moves to the scenario's price for that time;
  2. the action block, one second later: keepers act as independent actors with their own latency, failure
     rate, outages and capital — liquidate positions below maintenance margin, take auctions whose price beats
     their threshold (and unwind what they took against the market makers), restart stale auctions.
Receipts and events feed a mirror of the positions and auctions that keepers and the report read; pool
balances, 8-hour peaks and fund-risk flags are read from the chain after every step (in the round trip that
fetches the action block's receipts). An action block with no transaction is not mined on Anvil: those reads
then see its time and number through eth_call block overrides, so the report is the same as with it.

The hot path uses backstop.chain.fastchain (web3 straight to the node, batched blocks), never Ape calls.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import ExitStack
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from backstop.chain.node import local_anvil
from backstop.chain.fastchain import ChainDied, FastChain, Wallet, derive_account, raw_throughput, web3_contract
from backstop.keeper.bot import take_is_attractive, take_size
from backstop.model import adl as adl_model
from backstop.model import ledger as lm
from backstop.model.auction import AuctionParams, auction_price, is_stale
from backstop.model.bidbook import escrow_required, level_at_or_above
from backstop.model.curves import linear_down, stairstep_down
from backstop.chain.orders import Order, sign_order
from backstop.errors import BackstopError
from backstop.units import RAY, USDC, WAD, bps_up, market_id, notional_up, to_usdc, to_wad

REPORT_SCHEMA = 1
MM_NOTIONAL_CAP = 4_000_000  # [USD] per market-maker account and market (the top tier allows $10M at 2x)
MM_MARGIN_SHARE = 0.75  # margin a market maker posts per unit of notional it takes on (the top bracket needs 0.5)
ADL_BOND_RESERVE = 5_000_000  # [USD] mock USDC each keeper holds outside the clearinghouse for ADL bonds
ADL_ROUNDS = 2  # ADL rounds per step at most (one catches up on what the first could not foresee)
ADL_GAS = 20_000_000
GLOBAL_POOL = b"\0" * 32


@dataclass
class AuctionMirror:
    id: int
    market: str
    trader: str
    long: bool
    qty: int
    anchor: int
    top: int
    tic: int
    start_t: int
    record: dict[str, Any]


@dataclass
class KeeperState:
    spec: Any
    wallet: Wallet
    capital: int  # [usdc] committed at start
    deposited: int  # [usdc] currently in the clearinghouse (free + margin)
    rng: random.Random
    taken: int = 0
    liquidations: int = 0
    restarts: int = 0
    online_steps: int = 0

    @property
    def name(self) -> str:
        return self.spec.name

    def online(self, t: int) -> bool:
        return not any(o.start <= t < o.end for o in self.spec.outages)

    def committed_fraction(self, t: int) -> float:
        fraction = 1.0
        for point in self.spec.capital_schedule:
            if point.t <= t:
                fraction = point.fraction
        return fraction


@dataclass
class ReplayState:
    t: int = 0
    positions: dict[tuple[str, str], lm.Position] = field(default_factory=dict)  # (market, address) -> mirror
    auctions: dict[int, AuctionMirror] = field(default_factory=dict)
    liquidations: list[dict[str, Any]] = field(default_factory=list)
    series: list[dict[str, Any]] = field(default_factory=list)
    failed_txs: dict[str, int] = field(default_factory=dict)
    totals: dict[str, float] = field(default_factory=dict)
    first_liquidatable: dict[tuple[str, str], int] = field(default_factory=dict)
    pending_liquidation: set[tuple[str, str]] = field(default_factory=set)
    in_auction: set[tuple[str, str]] = field(default_factory=set)
    queued: dict[str, list[int]] = field(default_factory=dict)  # market -> queued liquidation ids
    buffer_until: dict[str, int] = field(default_factory=dict)  # market -> [chain seconds]
    buffers: list[dict[str, Any]] = field(default_factory=list)
    adl: list[dict[str, Any]] = field(default_factory=list)  # one entry per ADL fill (report `adl[]`)
    adl_executions: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> executor, time, reason, ...


class Replay:
    """One replay of one scenario on one connected chain. Use `run_replay` for the whole life cycle."""

    def __init__(self, scenario: Any, system: Any, admin_key: str, path: Path | None = None) -> None:
        self.sc = scenario
        self.path = path
        self.system = system
        self.specs = {s.name: s for s in scenario.market_specs()}
        self.mids = {name: market_id(name) for name in self.specs}
        self.names = {mid: name for name, mid in self.mids.items()}
        from ape import chain as ape_chain  # noqa: PLC0415

        uri = ape_chain.provider.http_uri
        self.chain = FastChain.connect(uri)
        w3 = self.chain.w3
        self.c = {
            name: web3_contract(w3, str(getattr(system, attr).address), _abi(getattr(system, attr)))
            for name, attr in (
                ("usdc", "usdc"),
                ("oracle", "oracle"),
                ("fund", "fund"),
                ("house", "clearinghouse"),
                ("auction", "auction"),
                ("book", "book"),
                ("adl", "adl"),
            )
        }
        for name, contract in self.c.items():
            self.chain.register(name, contract)
        src_abi = _abi(next(iter(next(iter(system.sources.values())).values())))
        self.sources = {
            m: {v: web3_contract(w3, str(src.address), src_abi) for v, src in venues.items()} for m, venues in system.sources.items()
        }
        self.admin = self.chain.wallet(_account_from_key(admin_key))
        self.state = ReplayState()
        self.mms: dict[str, list[tuple[Wallet, float]]] = {}
        self.keepers: list[KeeperState] = []
        self.t0 = 0
        self.special: set[str] = set()  # keepers and market makers: never liquidated by the actors
        self.order_nonce = 10**9  # nonces of the orders the engine signs after set-up
        self.bid_markets: set[str] = set()  # markets with standing bids: `release` offers them queued liquidations
        self.tx_in_loop = 0
        self.loop_seconds = 0.0

    # -------------------------------------------------------------- set-up

    def setup(self) -> dict[str, Any]:
        """Funds and opens the population, funds the keepers. Returns what happened."""
        self.chain.set_automine(False)
        seed = self.sc.seed
        traders = self.sc.traders()
        t_wallets = [Wallet(derive_account(seed, "trader", i)) for i in range(len(traders))]  # fresh: nonce 0
        plans = [self._plan(tp) for tp in traders]

        # market makers: enough accounts per market to keep each under the notional cap
        for name in self.specs:
            total = sum(p["notional_usd"] for p, tp in zip(plans, traders) if tp.market == name)
            count = max(1, int(total // MM_NOTIONAL_CAP) + 1)
            self.mms[name] = [(Wallet(derive_account(seed, f"mm-{name}", i)), 0.0) for i in range(count)]

        usdc, house = self.c["usdc"], self.c["house"]
        mm_capital = {w.address: 0 for ws in self.mms.values() for w, _ in ws}
        assignments: list[tuple[Wallet, int]] = []
        for name, ws in self.mms.items():
            loads = [0.0 for _ in ws]
            for i, (plan, tp) in enumerate(zip(plans, traders)):
                if tp.market != name:
                    continue
                j = min(range(len(ws)), key=lambda k: loads[k])
                loads[j] += plan["notional_usd"]
                assignments.append((ws[j][0], i))
                mm_capital[ws[j][0].address] += to_usdc(plan["notional_usd"] * MM_MARGIN_SHARE)
        mm_wallets = {w.address: w for ws in self.mms.values() for w, _ in ws}

        # keepers
        for k, spec in enumerate(self.sc.keepers_expanded()):
            wallet = Wallet(derive_account(seed, "keeper", k))
            capital = to_usdc(spec.capital)
            self.keepers.append(KeeperState(spec, wallet, capital, capital, random.Random(f"{seed}:{spec.name}")))

        # deposits: mint, approve, deposit
        everyone: list[tuple[Wallet, int]] = [(w, to_usdc(p["deposit_usd"])) for w, p in zip(t_wallets, plans)]
        everyone += [(mm_wallets[a], amount + to_usdc(1_000)) for a, amount in mm_capital.items()]
        everyone += [(k.wallet, k.capital) for k in self.keepers]
        # a block orders transactions of different senders freely: what depends on a mint goes in a later block
        for wallet, amount in everyone:
            self.chain.call_fn(self.admin, usdc, "mint", wallet.address, amount)
        for k in self.keepers:
            self.chain.call_fn(self.admin, usdc, "mint", k.wallet.address, to_usdc(ADL_BOND_RESERVE))
        self._mine_and_track(None, "setup")
        bids = self._standing_bids()
        for wallet, escrow, _ in bids:
            self.chain.call_fn(self.admin, usdc, "mint", wallet.address, escrow)
        for wallet, amount in everyone:
            self.chain.call_fn(wallet, usdc, "approve", house.address, 2**256 - 1)
            self.chain.call_fn(wallet, house, "deposit", amount)
        for wallet, escrow, args in bids:
            self.chain.call_fn(wallet, usdc, "approve", self.c["book"].address, escrow)
            self.chain.call_fn(wallet, self.c["book"], "placeBid", *args, escrow, label="bid")
        for k in self.keepers:
            self.chain.call_fn(k.wallet, usdc, "approve", self.c["adl"].address, 2**256 - 1)
        self._mine_and_track(None, "setup")

        # open positions: the market maker submits, the trader signs
        opened = 0
        for mm, i in assignments:
            tp, plan, tw = traders[i], plans[i], t_wallets[i]
            mid = self.mids[tp.market]
            size = plan["size"] if tp.side == "long" else -plan["size"]
            trader_order = Order(tw.address, mid, size, plan["price"], plan["margin"], i + 1, 2**40)
            mm_order = Order(mm.address, mid, -size, plan["price"], to_usdc(plan["notional_usd"] * MM_MARGIN_SHARE), i + 1, 2**40)
            sig = sign_order(trader_order, tw.account.key, self.chain.chain_id, house.address)
            data = self.chain.encode(house, "trade", [mm_order.as_tuple(), b"", trader_order.as_tuple(), sig])
            self.chain.send(mm, house.address, data, "open")
        receipts, _ = self._mine_and_track(None, "open")
        self.t0 = self._start_time()  # the scenario's t = 0
        opened = sum(1 for sent, r in receipts if r["status"] == 1)
        self.special = {k.wallet.address for k in self.keepers} | set(mm_wallets)
        notes = self._bid_notes
        return {"notes": notes, "traders": len(traders), "opened": opened, "clamped_leverage": sum(p["clamped"] for p in plans), "market_makers": len(mm_wallets), "keepers": len(self.keepers)}

    def _standing_bids(self) -> list[tuple[Wallet, int, tuple]]:
        """Each keeper's standing bid, placed per market and per side at the nearest configured level at or above
        its discount, for up to `max_notional_usd` each; the escrow (initial margin on that notional) is minted
        on top of the keeper's capital. Returns (wallet, escrow, placeBid arguments) and sets the notes."""
        bids: list[tuple[Wallet, int, tuple]] = []
        placed: list[str] = []
        self._bid_notes: list[str] = []
        for k in self.keepers:
            sb = k.spec.standing_bid
            if sb is None:
                continue
            for m, spec in self.specs.items():
                level = level_at_or_above(spec.book.levels, sb.discount_bps)
                if level is None:
                    self._bid_notes.append(f"standing bid of {k.name} not placed in {m}: no level at or above {sb.discount_bps} bps")
                    continue
                notional = to_usdc(sb.max_notional_usd)
                escrow = escrow_required(notional, lm.tier_for(list(spec.tiers), notional).initial_margin_bps)
                for long in (True, False):
                    bids.append((k.wallet, escrow, (self.mids[m], long, level, notional)))
                self.bid_markets.add(m)
                placed.append(f"{k.name} in {m} at {spec.book.levels[level]} bps (asked {sb.discount_bps}), ${sb.max_notional_usd:,.0f} per side, escrow ${escrow / USDC:,.0f} per side")
        if placed:
            self._bid_notes.append("standing bids (escrow minted on top of capital): " + "; ".join(placed))
        return bids

    def _start_time(self) -> int:
        """The chain time of the scenario's t = 0: in an hour after the set-up's, at the scenario start's offset
        within its hour. The fund snapshots hourly and its fund-risk status (which starts ADL) reads those
        snapshots, so a replay must see the same hour boundaries at the same scenario times on every run."""
        try:
            start = int(datetime.fromisoformat(str(self.sc.start).replace("Z", "+00:00")).timestamp())
        except ValueError:
            start = 0
        next_hour = (self.chain.last_timestamp // 3_600 + 1) * 3_600
        return next_hour + (start - next_hour) % 3_600

    def _plan(self, tp: Any) -> dict[str, Any]:
        """Size, price and margin for one trader's opening order; leverage is clamped to what its bracket allows."""
        spec = self.specs[tp.market]
        mark = to_wad(self.sc.oracle_start_price(tp.market))
        price = to_wad(tp.entry_price)
        size = to_wad(tp.size_usd) * WAD // price
        notional = notional_up(size, max(mark, price))
        tier = lm.tier_for(list(spec.tiers), notional)
        wanted = to_usdc(tp.size_usd / tp.leverage)
        adverse = max(0, -lm.pnl(tp.side == "long", size, price, mark))
        fee = bps_up(notional_up(size, price), tier.tail_risk_fee_bps)
        floor = bps_up(notional, tier.initial_margin_bps) * 102 // 100 + fee + adverse
        margin = max(wanted, floor)
        return {"size": size, "price": price, "margin": margin, "notional_usd": tp.size_usd, "deposit_usd": margin / USDC + 1, "clamped": margin > wanted}

    # -------------------------------------------------------------- the loop

    def run(self, on_step: Callable[[int], None] | None = None) -> None:
        start = time.perf_counter()
        sent0 = self.chain.sent_total
        for t in self.sc.times():
            self.state.t = t
            self._step(t)
            if on_step:
                on_step(t)
        self.loop_seconds = time.perf_counter() - start
        self.tx_in_loop = self.chain.sent_total - sent0

    def _step(self, t: int) -> None:
        ts = self.t0 + t
        for m, venues in self.sources.items():
            decimals = self.specs[m].source_decimals
            for venue, src in venues.items():
                answer = max(1, round(self.sc.venue_price(m, venue, t) * 10**decimals))
                self.chain.call_fn(self.admin, src, "setAnswer", answer, label="price")
        # the oracle prices and the keepers' free balances are read in the round trip that fetches the receipts
        oracles, balances = self._oracle_reads(), self._free_reads()
        values = self._mine_and_track(ts, "price", oracles + balances)[1]
        marks = dict(zip(self.mids, values[: len(oracles)]))
        free: dict[str, int] | None = dict(zip((k.wallet.address for k in self.keepers), values[len(oracles) :]))
        for _ in range(ADL_ROUNDS):
            if not self._deleverage(t, marks):
                break
            self._mine_and_track(None, "adl")
            free = None  # an ADL block may have changed them: read again
        self._keepers_act(t, ts + 1, marks, free)
        self._record(t, marks, self._mine_and_track(ts + 1, "keepers", self._record_reads(), skip_empty=True)[1])

    def _keepers_act(self, t: int, action_ts: int, marks: dict[str, int | None], free: dict[str, int] | None = None) -> None:
        self._free = free if free is not None else self._free_balances()
        online = []
        for k in self.keepers:
            if k.online(t) and k.rng.random() >= k.spec.failure_rate:
                online.append(k)
                k.online_steps += 1
                self._adjust_capital(k, t)
        # 1. liquidations: the fastest online keeper whose latency has passed
        for key, p in list(self.state.positions.items()):
            m, trader = key
            mark = marks.get(m)
            if p.size == 0 or mark is None or self._is_keeper_or_mm(trader):
                continue
            if key in self.state.pending_liquidation or key in self.state.in_auction:
                continue
            if not self._liquidatable(m, p, mark):
                self.state.first_liquidatable.pop(key, None)
                continue
            first = self.state.first_liquidatable.setdefault(key, t)
            for k in sorted(online, key=lambda k: k.spec.latency):
                if t - first >= k.spec.latency:
                    self.chain.call_fn(k.wallet, self.c["auction"], "liquidate", self.mids[m], trader, label=f"liquidate:{k.name}")
                    self.state.pending_liquidation.add(key)
                    k.liquidations += 1
                    break
        # bonds of ADL executions whose challenge window closed go back to their executors
        for ex_id, ex in list(self.state.adl_executions.items()):
            if online and not ex["released"] and action_ts > ex["ts"] + self.sc.adl.challenge_window:
                self.chain.call_fn(online[0].wallet, self.c["adl"], "releaseBond", ex_id, label=f"releaseBond:{online[0].name}")
                ex["released"] = True
        # 2. queued liquidations: the first online keeper releases what the throttle allows
        for m, ids in self.state.queued.items():
            if ids and online and (action_ts >= self.state.buffer_until.get(m, 0) or m in self.bid_markets):
                self.chain.call_fn(online[0].wallet, self.c["auction"], "release", self.mids[m], 100, label=f"release:{online[0].name}")
        # 3. takes and restarts
        for a in list(self.state.auctions.values()):
            mark = marks.get(a.market)
            if mark is None or a.qty == 0:
                continue
            spec = self.specs[a.market]
            price = self._auction_price(a, action_ts)
            params = AuctionParams(spec.auction.buf_bps, spec.auction.stale_bps, spec.auction.tail)
            stale = is_stale(price, mark, action_ts - a.tic, params)
            for k in sorted(online, key=lambda k: k.spec.latency):
                if t - a.start_t < k.spec.latency:
                    continue
                if stale:
                    self.chain.call_fn(k.wallet, self.c["auction"], "redo", a.id, label=f"redo:{k.name}")
                    k.restarts += 1
                    break
                if self._take(k, a, price, mark):
                    break

    def _deleverage(self, t: int, marks: dict[str, int | None]) -> bool:
        """One ADL round: every liquidation whose ADL trigger holds is executed by the fastest online keeper
        against the reference ranking. The positions are read fresh from the chain once per market and side;
        each execution's fills are then applied to that copy (backstop.model.adl.apply_fill), so the next
        execution's list is ranked on the state the previous one leaves: all go into one block, in order.
        Returns whether any was sent."""
        online = [k for k in self.keepers if k.online(t)]
        if not online:
            return False
        executor = min(online, key=lambda k: k.spec.latency)
        sales = [(a.id, a.market, a.trader, a.long) for a in self.state.auctions.values() if a.qty > 0]
        for m, ids in self.state.queued.items():
            for id_ in ids:
                rec = next((r for r in self.state.liquidations if r["id"] == id_), None)
                if rec is not None:
                    sales.append((id_, m, rec["trader"], rec["side"] == "long"))
        books: dict[tuple[str, bool], dict[str, lm.Position]] = {}
        sent = False
        for id_, m, trader, long in sorted(sales):
            mark = marks.get(m)
            if mark is None:
                continue
            mid = self.mids[m]
            sale, pos, sub, glob, risk, liquidity = self.chain.view([
                (self.c["auction"], "sale", [id_]),
                (self.c["house"], "getPosition", [mid, trader]),
                (self.c["fund"], "poolBalance", [mid]),
                (self.c["fund"], "poolBalance", [GLOBAL_POOL]),
                (self.c["fund"], "adlAllowed", [mid]),
                (self.c["auction"], "inLiquidityRisk", [mid]),
            ])
            qty = sale[4] if sale else 0
            if not qty or pos is None:
                continue
            bankrupt = lm.Position(*pos)
            try:
                plan = adl_model.plan(bankrupt, qty, mark, sub + glob, bool(risk), bool(liquidity))
            except adl_model.NoTrigger:
                continue
            if (m, long) not in books:
                accounts = [a for (mm, a), p in self.state.positions.items() if mm == m and p.size != 0 and (p.size > 0) != long]
                fresh = self.chain.view([(self.c["house"], "getPosition", [mid, a]) for a in accounts])
                books[(m, long)] = {a: lm.Position(*p) for a, p in zip(accounts, fresh) if p is not None}
            book = books[(m, long)]
            frozen = {tr for (mm, tr) in self.state.in_auction if mm == m}
            try:
                fills = adl_model.choose(book, long, plan.qty, plan.price, mark, self.sc.adl.loss_cap_bps, exclude=frozen | {trader})
            except ValueError:
                self.state.failed_txs["adl: the opposite side cannot absorb it"] = self.state.failed_txs.get("adl: the opposite side cannot absorb it", 0) + 1
                continue
            for f in fills:
                if f.qty:
                    adl_model.apply_fill(bankrupt, book[f.account], f.qty, plan.price)
            data = self.chain.encode(self.c["adl"], "execute", [id_, [f.account for f in fills]])
            self.chain.send(executor.wallet, self.c["adl"].address, data, f"adl:{executor.name}", gas=ADL_GAS)
            sent = True
        return sent

    def _take(self, k: KeeperState, a: AuctionMirror, price: int, mark: int) -> bool:
        if not take_is_attractive(price, mark, a.long, k.spec.take_discount_bps):
            return False
        spec = self.specs[a.market]
        im_bps = max(t.initial_margin_bps for t in spec.tiers)  # the top bracket's rate: a safe bound
        qty, margin = take_size(self._free[k.wallet.address], a.qty, price, mark, a.long, im_bps, to_usdc(spec.auction.dust))
        if qty == 0:
            return False
        self._free[k.wallet.address] -= margin
        mid = self.mids[a.market]
        self.chain.call_fn(k.wallet, self.c["auction"], "take", a.id, qty, price, margin, k.wallet.address, b"", label=f"take:{k.name}")
        a.qty -= qty  # optimistic; corrected from events
        k.taken += 1
        # unwind against a market maker at the oracle price, so the keeper's capital is free again
        size = -qty if a.long else qty  # keeper sells what it bought (or buys back what it shorted)
        mm = self._mm_for(a.market, -size)
        mm_order = Order(mm.address, mid, -size, mark, notional_up(qty, mark) * 3 // 4, self._nonce(), 2**40)
        keeper_order = Order(k.wallet.address, mid, size, mark, 0, self._nonce(), 2**40)
        sig = sign_order(mm_order, mm.account.key, self.chain.chain_id, self.c["house"].address)
        data = self.chain.encode(self.c["house"], "trade", [mm_order.as_tuple(), sig, keeper_order.as_tuple(), b""])
        self.chain.send(k.wallet, self.c["house"].address, data, f"unwind:{k.name}")
        return True

    def _adjust_capital(self, k: KeeperState, t: int) -> None:
        target = int(k.capital * k.committed_fraction(t))
        if k.deposited > target:
            free = self._free[k.wallet.address]
            amount = min(free, k.deposited - target)
            self._free[k.wallet.address] -= amount
            if amount > 0:
                self.chain.call_fn(k.wallet, self.c["house"], "withdraw", amount, label=f"withdraw:{k.name}")
                k.deposited -= amount

    # -------------------------------------------------------------- chain reads

    def _oracle_reads(self) -> list[tuple[Any, str, list]]:
        """The oracle price of every market (None where it reverts: too few sources, or a jump)."""
        return [(self.c["oracle"], "price", [self.mids[m]]) for m in self.mids]

    def _free_reads(self) -> list[tuple[Any, str, list]]:
        return [(self.c["house"], "freeBalance", [k.wallet.address]) for k in self.keepers]

    def _free_balances(self) -> dict[str, int]:
        return dict(zip((k.wallet.address for k in self.keepers), self.chain.view(self._free_reads())))

    def _record_reads(self) -> list[tuple[Any, str, list]]:
        fund, auction = self.c["fund"], self.c["auction"]
        reads: list[tuple[Any, str, list]] = [(fund, "poolBalance", [b"\0" * 32]), (fund, "drawdownBps", [])]
        for mid in self.mids.values():
            reads += [(fund, "poolBalance", [mid]), (fund, "peak8h", [mid]), (fund, "fundRisk", [mid]), (auction, "inLiquidityRisk", [mid])]
        return reads

    def _record(self, t: int, marks: dict[str, int | None], values: list[Any]) -> None:
        """One row of the series from `values`, the answers to `_record_reads` after the step's last block."""
        glob, drawdown_bps = values[0], values[1]
        markets: dict[str, Any] = {}
        for i, m in enumerate(self.mids):
            sub, peak, risk, liquidity_risk = values[2 + 4 * i : 6 + 4 * i]
            mark = marks.get(m)
            oi = sum(notional_up(p.size, mark) for (pm, _), p in self.state.positions.items() if pm == m and p.size > 0) if mark else 0
            markets[m] = {
                "oracle": mark / WAD if mark is not None else None,
                "venues": {v: self.sc.venue_price(m, v, t) for v in self.sources[m]},
                "sub_pool": sub / USDC,
                "peak_8h": peak / USDC,
                "fund_risk": risk,
                "open_interest": oi / USDC,
                "liquidity_risk": bool(liquidity_risk),
                "drawdown_threshold": peak * (10_000 - drawdown_bps) / 10_000 / USDC,
            }
        self.state.series.append({"t": t, "time": self._iso(t), "global_pool": glob / USDC, "markets": markets})

    # -------------------------------------------------------------- events

    def _mine_and_track(
        self, timestamp: int | None, phase: str, reads: list[tuple[Any, str, list]] | None = None, skip_empty: bool = False
    ) -> tuple[list, list[Any]]:
        """Mines the pending transactions, feeds their events to the mirror; returns the receipts and the answers
        to `reads` (eth_calls after the block, fetched with the receipts). `skip_empty`: see FastChain.mine_and_view."""
        receipts, values = self.chain.mine_and_view(timestamp, reads or [], skip_empty)
        for sent, receipt in receipts:
            if receipt["status"] != 1:
                label = f"{sent.label.split(':')[0]}: {self.chain.revert_reason(sent.tx_hash)}"
                self.state.failed_txs[label] = self.state.failed_txs.get(label, 0) + 1
                if label.startswith("liquidate"):
                    self.state.pending_liquidation.clear()  # re-evaluated next step
                continue
            block_ts = self.chain.block_times.get(receipt["blockNumber"], self.chain.last_timestamp)
            for contract, event, args, _ in self.chain.decode(receipt):
                self._on_event(contract, event, args, block_ts)
        return receipts, values

    def _on_event(self, contract: str, event: str, args: dict[str, Any], ts: int) -> None:
        t = ts - self.t0
        totals = self.state.totals
        if event == "PositionChanged":
            key = (self.names[bytes(args["market"])], args["account"])
            self.state.positions[key] = lm.Position(args["size"], args["entryPrice"], args["margin"])
        elif event == "LiquidationBegun":  # the record is opened here: standing bids may fill before any auction
            m = self.names[bytes(args["market"])]
            size = args["size"]
            self.state.liquidations.append(self._new_record(None, t, m, args["account"], size > 0, abs(size), args["mark"]))
        elif event == "BidFilled":
            rec = next((r for r in reversed(self.state.liquidations) if r["id"] in (args["liquidation"], None)), None)
            if rec is not None:
                rec["id"] = args["liquidation"]
                keeper = next((k.name for k in self.keepers if k.wallet.address == args["owner"]), args["owner"])
                rec["fills"].append({"t": t, "keeper": keeper, "qty": args["qty"] / WAD, "price": args["price"] / WAD, "via": "standing_bid"})
                rec["filled_by"] = "standing_bid" if rec["filled_by"] in ("unfilled", "standing_bid") else "mixed"
        elif event == "StandingBidsFilled" and args["left"] == 0:  # all taken: no auction, no queue
            m = self.names[bytes(args["market"])]
            queue = self.state.queued.get(m, [])
            if args["id"] in queue:
                queue.remove(args["id"])
            self.state.pending_liquidation.discard((m, args["trader"]))
            self.state.in_auction.discard((m, args["trader"]))
        elif event == "LiquidationQueued":
            m = self.names[bytes(args["market"])]
            self._open_record(args["id"], t, m, args["trader"], args["long"], args["qty"], args["mark"])
            self.state.queued.setdefault(m, []).append(args["id"])
            self.state.pending_liquidation.discard((m, args["trader"]))
            self.state.in_auction.add((m, args["trader"]))
        elif event == "BufferStarted":
            m = self.names[bytes(args["market"])]
            self.state.buffer_until[m] = max(self.state.buffer_until.get(m, 0), args["until"])
            self.state.buffers.append({"t": t, "market": m, "drop_bps": args["dropBps"], "until_t": args["until"] - self.t0})
        elif event == "AuctionStarted":
            m = self.names[bytes(args["market"])]
            queue = self.state.queued.get(m, [])
            if args["id"] in queue:  # released from the queue: its record exists already
                queue.remove(args["id"])
                record = next(r for r in self.state.liquidations if r["id"] == args["id"])
                record["released_t"] = t
            else:
                record = self._open_record(args["id"], t, m, args["trader"], args["long"], args["qty"], args["anchor"])
            self.state.auctions[args["id"]] = AuctionMirror(args["id"], m, args["trader"], args["long"], args["qty"], args["anchor"], args["top"], ts, t, record)
            self.state.pending_liquidation.discard((m, args["trader"]))
            self.state.in_auction.add((m, args["trader"]))
        elif event == "AuctionTaken":
            a = self.state.auctions[args["id"]]
            a.qty = args["left"]
            a.record["fills"].append({"t": t, "keeper": args["keeper"], "qty": args["qty"] / WAD, "price": args["price"] / WAD, "via": "auction"})
            a.record["filled_by"] = "auction" if a.record["filled_by"] in ("unfilled", "auction") else "mixed"
        elif event == "AuctionRestarted":
            a = self.state.auctions[args["id"]]
            a.anchor, a.top, a.tic = args["anchor"], args["top"], ts
            a.record["restarts"] += 1
        elif event == "AuctionFinished":
            a = self.state.auctions.pop(args["id"], None)
            if a is not None:
                self.state.in_auction.discard((a.market, a.trader))
        elif event == "LiquidationFilled":
            rec = self._record_for(self.names[bytes(args["market"])], args["account"])
            if rec is not None:
                rec["penalty"] += args["penalty"] / USDC
                rec["returned"] += args["returned"] / USDC
            totals["penalties"] = totals.get("penalties", 0) + args["penalty"] / USDC
            self._shrink_mirror(self.names[bytes(args["market"])], args["account"], args["qty"])
        elif event == "BadDebtRealized":
            m = self.names[bytes(args["market"])]
            rec = self._record_for(m, args["account"])
            if rec is not None:
                rec["shortfall"] += args["shortfall"] / USDC
            totals["shortfall"] = totals.get("shortfall", 0) + args["shortfall"] / USDC
            totals["bad_debt"] = totals.get("bad_debt", 0) + args["uncovered"] / USDC
        elif event == "HandedToAdl":
            a = self.state.auctions.get(args["id"])
            if a is not None:
                a.qty = args["left"]
            elif args["left"] == 0:
                for ids in self.state.queued.values():
                    if args["id"] in ids:
                        ids.remove(args["id"])
        elif event == "Deleveraged":
            m = self.names[bytes(args["market"])]
            rec = self._record_for(m, args["account"])
            if rec is not None:
                rec["fills"].append({"t": t, "keeper": args["counterparty"], "qty": args["qty"] / WAD, "price": args["price"] / WAD, "via": "adl"})
                rec["filled_by"] = "adl" if rec["filled_by"] in ("unfilled", "adl") else "mixed"
            self._shrink_mirror(m, args["account"], args["qty"])
            if self.state.positions.get((m, args["account"]), lm.Position()).size == 0:
                self.state.in_auction.discard((m, args["account"]))
        elif event == "ADL":
            self.state.adl.append({
                "t": t, "market": self.names[bytes(args["market"])], "bankrupt": args["trader"],
                "counterparty": args["counterparty"], "rank": args["rank"], "size": args["qty"] / WAD,
                "price": args["price"] / WAD, "profit_taken": args["profitTaken"] / USDC, "reason": "",
                "execution": args["execution"],
            })
        elif event == "AdlExecuted":
            reason = adl_model.REASONS[args["reason"]]
            for entry in self.state.adl:
                if entry.get("execution") == args["execution"]:
                    entry["reason"] = reason
            self.state.adl_executions[args["execution"]] = {
                "ts": ts, "released": False,
                "profit_taken": args["profitTaken"] / USDC, "uncovered": args["uncovered"] / USDC, "reason": reason,
            }
        elif event == "IncentivePaid":
            totals["keeper_incentives"] = totals.get("keeper_incentives", 0) + args["amount"] / USDC
        elif event == "LossCovered":
            covered = args["fromSubPool"] + args["fromGlobal"]
            totals["fund_used"] = totals.get("fund_used", 0) + covered / USDC

    @staticmethod
    def _new_record(id_: int | None, t: int, market: str, trader: str, long: bool, qty: int, mark: int) -> dict[str, Any]:
        return {
            "id": id_, "t": t, "market": market, "trader": trader, "side": "long" if long else "short",
            "size": qty / WAD, "notional": qty * mark / WAD / WAD, "mark": mark / WAD,
            "filled_by": "unfilled", "fills": [], "restarts": 0, "shortfall": 0.0, "penalty": 0.0, "returned": 0.0,
        }

    def _open_record(self, id_: int, t: int, market: str, trader: str, long: bool, qty: int, mark: int) -> dict[str, Any]:
        """The record `LiquidationBegun` opened for this liquidation (now given its id), or a new one."""
        rec = self._record_for(market, trader)
        if rec is not None and rec["id"] in (None, id_):
            rec["id"] = id_
            return rec
        rec = self._new_record(id_, t, market, trader, long, qty, mark)
        self.state.liquidations.append(rec)
        return rec

    def _shrink_mirror(self, market: str, account: str, qty: int) -> None:
        """A frozen position lost `qty` units (and their margin share) to a liquidation or ADL fill."""
        pos = self.state.positions.get((market, account))
        if pos is not None:
            held = abs(pos.size)
            share = pos.margin if qty == held else pos.margin * qty // max(held, 1)
            pos.margin -= share
            pos.size = (held - qty) * (1 if pos.size > 0 else -1)

    def _record_for(self, market: str, trader: str) -> dict[str, Any] | None:
        for rec in reversed(self.state.liquidations):
            if rec["market"] == market and rec["trader"] == trader:
                return rec
        return None

    # -------------------------------------------------------------- helpers

    def _liquidatable(self, m: str, p: lm.Position, mark: int) -> bool:
        try:
            return lm.below_maintenance(p, list(self.specs[m].tiers), mark)
        except lm.NotionalAboveTopTier:
            return True  # grown past the top bracket by the price: let the contract decide

    def _auction_price(self, a: AuctionMirror, ts: int) -> int:
        spec = self.specs[a.market].auction
        if spec.curve == "linear":
            curve = lambda top, e: linear_down(top, e, spec.tau)  # noqa: E731
        else:
            cut = int(round(spec.cut * RAY))
            curve = lambda top, e: stairstep_down(top, e, spec.step, cut)  # noqa: E731
        return auction_price(a.long, a.anchor, a.top, max(0, ts - a.tic), curve)

    def _is_keeper_or_mm(self, address: str) -> bool:
        return address in self.special

    def _mm_for(self, market: str, mm_delta: int) -> Wallet:
        """The market maker for whom a change of `mm_delta` units reduces its position the most (so that
        absorbing a keeper's unwind frees its margin instead of needing more)."""
        def reduction(w: Wallet) -> int:
            p = self.state.positions.get((market, w.address))
            size = p.size if p else 0
            return min(abs(size), abs(mm_delta)) if size * mm_delta < 0 else -abs(size)

        return max((w for w, _ in self.mms[market]), key=reduction)

    def _nonce(self) -> int:
        self.order_nonce += 1
        return self.order_nonce

    def _iso(self, t: int) -> str:
        try:
            start = datetime.fromisoformat(str(self.sc.start).replace("Z", "+00:00"))
        except ValueError:
            start = datetime(1970, 1, 1, tzinfo=timezone.utc)
        return (start + timedelta(seconds=t)).isoformat()

    # -------------------------------------------------------------- the report

    def report(self, setup: dict[str, Any], wall: float, complete: bool, error: str | None, raw_tps: float | None) -> dict[str, Any]:
        s = self.state
        series = s.series
        fund_start = _fund_total(series[0]) if series else 0.0
        fund_end = _fund_total(series[-1]) if series else 0.0
        peak, drawdown = 0.0, 0.0
        for row in series:
            total = _fund_total(row)
            peak = max(peak, total)
            if peak > 0:
                drawdown = max(drawdown, (peak - total) / peak * 100)
        waiting = {i for ids in s.queued.values() for i in ids}
        for rec in s.liquidations:
            if rec["fills"] and (rec["id"] in waiting or any(a.record is rec and a.qty > 0 for a in s.auctions.values())):
                rec["filled_by"] = "partial"
        by = lambda kind: sum(1 for r in s.liquidations if r["filled_by"] == kind)  # noqa: E731
        tps = self.tx_in_loop / self.loop_seconds if self.loop_seconds else 0.0
        return {
            "schema": REPORT_SCHEMA,
            "scenario": {
                "name": self.sc.name,
                "file": str(self.path or ""),
                "sha256": self.sc.sha256 or "",
                "description": self.sc.description,
                "sources": list(self.sc.sources),
                "synthetic": list(self.sc.synthetic)
                + ["market makers: synthetic counterparties of every opening trade, which also absorb keepers' unwinds at the oracle price",
                   f"ADL bonds: each keeper holds ${ADL_BOND_RESERVE:,} of mock USDC outside the clearinghouse to bond the ADL executions it runs"],
                "seed": self.sc.seed,
            },
            "parameters": json.loads(self.sc.model_dump_json()) if hasattr(self.sc, "model_dump_json") else {},
            "run": {"network": "anvil", "wall_seconds": round(wall, 2), "steps": len(series), "complete": complete, "error": error, "setup": setup, "failed_transactions": dict(sorted(s.failed_txs.items()))},
            "series": series,
            "liquidations": s.liquidations,
            "adl": [{k: v for k, v in e.items() if k != "execution"} for e in s.adl],
            "buffers": s.buffers,
            "keepers": [
                {"name": k.name, "liquidations": k.liquidations, "takes": k.taken, "restarts": k.restarts, "online_steps": k.online_steps, "capital": k.capital / USDC}
                for k in self.keepers
            ],
            "totals": {
                "liquidations": len(s.liquidations),
                "liquidated_notional": round(sum(r["notional"] for r in s.liquidations), 2),
                "filled_by_standing_bids": by("standing_bid"),
                "filled_by_auction": by("auction"),
                "partially_filled": by("partial"),
                "unfilled": by("unfilled"),
                "queued_at_end": sum(len(ids) for ids in s.queued.values()),
                "restarts": sum(r["restarts"] for r in s.liquidations),
                "penalties": round(s.totals.get("penalties", 0.0), 6),
                "keeper_incentives": round(s.totals.get("keeper_incentives", 0.0), 6),
                "shortfall": round(s.totals.get("shortfall", 0.0), 6),
                "fund_used": round(s.totals.get("fund_used", 0.0), 6),
                "bad_debt": round(s.totals.get("bad_debt", 0.0), 6),
                "fund_start": fund_start,
                "fund_end": fund_end,
                "peak_drawdown_pct": round(drawdown, 4),
                "adl_notional": round(sum(e["size"] * e["price"] for e in s.adl), 2),
                "adl_victims": len({(e["market"], e["counterparty"]) for e in s.adl}),
                "adl_profit_taken": round(sum(e["profit_taken"] for e in s.adl), 6),
                "profit_haircut_beyond_need": round(
                    sum(max(0.0, x["profit_taken"] - x["uncovered"]) for x in s.adl_executions.values()), 6
                ),
            },
            "throughput": {
                "transactions": self.tx_in_loop,
                "seconds": round(self.loop_seconds, 3),
                "tx_per_s": round(tps, 1),
                "raw_anvil_tx_per_s": round(raw_tps, 1) if raw_tps else None,
                "ratio": round(tps / raw_tps, 3) if raw_tps else None,
            },
        }


def _fund_total(row: dict[str, Any]) -> float:
    return row["global_pool"] + sum(m["sub_pool"] for m in row["markets"].values())


def _abi(contract: Any) -> list[dict[str, Any]]:
    return [item.model_dump(mode="json", by_alias=True, exclude_none=True) for item in contract.contract_type.abi]


def _account_from_key(key: str):
    from eth_account import Account  # noqa: PLC0415

    return Account.from_key(key)



# ------------------------------------------------------------------ the whole life cycle

NETWORKS = {"hardhat": "ethereum:local:hardhat"}  # "anvil" (the default): a node started here, see backstop.chain.node


class ReplayFailed(BackstopError, RuntimeError):
    """A replay that could not finish; its partial report was written to `out_dir`."""

    def __init__(self, message: str, out_dir: Path | None) -> None:
        super().__init__(message)
        self.out_dir = out_dir


def run_replay(
    scenario_path: Path | str,
    out_dir: Path | str,
    network: str | None = None,
    progress: bool = True,
    overrides: dict[str, Any] | None = None,
    measure_raw: bool = True,
    variant: str | None = None,
    on_step: Callable[[int], None] | None = None,
    resumed: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Replays `scenario_path` on `network` (default: a local Anvil that it starts and stops), writes the report
    folder `out_dir` and returns the report. A malformed scenario fails before anything is deployed; a chain
    that dies mid-replay or an interrupt writes the partial report and raises ReplayFailed (see
    `resume_replay`). `resumed` is recorded as `run.resumed` (what the run replaced)."""
    from backstop.scenario.document import load_scenario  # noqa: PLC0415

    scenario = load_scenario(Path(scenario_path))
    if variant:
        scenario = scenario.variant(variant)
    if overrides:
        scenario = scenario.with_overrides(overrides)
    out = Path(out_dir)
    with ExitStack() as stack:
        if network in (None, "anvil"):
            choice = stack.enter_context(local_anvil()).uri
        else:
            choice = NETWORKS.get(network, network)
        return _replay_on(scenario, Path(scenario_path), out, choice, progress, measure_raw, on_step, resumed)


class NothingToResume(RuntimeError):
    """`resume_replay` found a complete report: there is nothing left to run."""


def resume_replay(
    out_dir: Path | str,
    network: str | None = None,
    progress: bool = True,
    measure_raw: bool = True,
    on_step: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Finishes the replay whose partial report is in `out_dir`: the same scenario file (checked by its SHA-256)
    with the same overrides, replayed from t = 0 on a fresh chain into the same folder. A replay is
    deterministic (prices, population and keepers come from the scenario and its seed; hours fall at the same
    scenario times), so the finished report equals the one an uninterrupted run writes; the partial run's
    error and step count are kept in `run.resumed`. Raises ReplayFailed when the report is missing or
    unreadable or the scenario file changed, NothingToResume when the report is already complete."""
    out = Path(out_dir)
    path = out / "report.json"
    try:
        previous = json.loads(path.read_text())
        run = previous["run"]
        file, sha = previous["scenario"]["file"], previous["scenario"]["sha256"]
    except FileNotFoundError:
        raise ReplayFailed(f"nothing to resume: {path} does not exist", None) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ReplayFailed(f"cannot resume from {path}: not a Backstop report ({exc!r})", None) from None
    if run.get("complete"):
        raise NothingToResume(f"{path} is a complete report: nothing to resume")
    scenario_file = Path(file)
    if not scenario_file.is_file():
        raise ReplayFailed(f"cannot resume: the scenario file {file} named by {path} does not exist", None)
    now = hashlib.sha256(scenario_file.read_bytes()).hexdigest()
    if sha and now != sha:
        raise ReplayFailed(
            f"cannot resume: {file} changed since the partial run (sha256 {sha[:12]}… then, {now[:12]}… now); "
            f"replay it afresh with `backstop replay {file}`",
            None,
        )
    resumed = {"error": run.get("error"), "steps": run.get("steps"), "started_at": run.get("started_at"), "restarted_from_t": 0}
    return run_replay(
        scenario_file, out, network=network, progress=progress, overrides=run.get("overrides") or None,
        measure_raw=measure_raw, on_step=on_step, resumed=resumed,
    )


def _replay_on(
    scenario: Any,
    scenario_path: Path,
    out: Path,
    choice: str,
    progress: bool,
    measure_raw: bool,
    on_step: Callable[[int], None] | None,
    resumed: dict[str, Any] | None = None,
) -> dict[str, Any]:
    from ape import accounts, networks  # noqa: PLC0415

    from backstop.chain.deploy import AdlSpec, deploy_system  # noqa: PLC0415
    from backstop.report.markdown import write_report  # noqa: PLC0415

    wall0 = time.perf_counter()
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    try:
        context = networks.parse_network_choice(choice)
        provider = context.__enter__()
    except Exception as exc:  # noqa: BLE001 - ape raises many kinds for an unreachable network
        raise ReplayFailed(f"cannot connect to network {choice!r}: {exc}", None) from exc
    try:
        admin = accounts.test_accounts[0]
        rules = scenario.adl
        system = deploy_system(
            admin,
            scenario.market_specs(),
            global_seed=scenario.fund.global_seed,
            adl=AdlSpec(rules.loss_cap_bps, rules.challenge_window, rules.min_bond),
        )
        for what, value in (
            ("drawdownBps", scenario.fund.drawdown_bps),
            ("fastDropBps", scenario.fund.fast_drop_bps),
            ("globalFloor", to_usdc(scenario.fund.global_floor)),
        ):
            system.fund.file(what.encode().ljust(32, b"\0"), value, sender=admin)
        replay = Replay(scenario, system, admin.private_key, path=scenario_path)
        setup: dict[str, Any] = {}
        error: str | None = None
        raw_tps: float | None = None
        try:
            setup = replay.setup()
            bar = _progress(len(scenario.times()), scenario.name) if progress else None

            def step_done(t: int) -> None:
                if bar:
                    bar.update(1)
                if on_step:
                    on_step(t)

            replay.run(on_step=step_done)
            if bar:
                bar.close()
            if measure_raw:
                raw_tps = raw_throughput(replay.chain, replay.admin, replay.c["usdc"])
        except ChainDied as exc:
            error = f"the chain died at t={replay.state.t}s: {exc}"
        except KeyboardInterrupt:
            error = f"interrupted at t={replay.state.t}s"
        report = replay.report(setup, time.perf_counter() - wall0, error is None, error, raw_tps)
        report["run"]["network"] = choice
        report["run"]["started_at"] = started_at
        report["run"]["overrides"] = scenario.overrides
        if resumed:
            report["run"]["resumed"] = resumed
        events = _all_events(replay) if error is None else None
        write_report(report, out, events=events)
        try:
            replay.chain.set_automine(True)
        except ChainDied:
            pass
        del provider
    finally:
        try:
            context.__exit__(None, None, None)
        except Exception:  # noqa: BLE001 - a dead node cannot be disconnected cleanly; nothing is lost
            pass
    if error:
        raise ReplayFailed(f"{error}; partial report in {out}", out)
    return report


def _progress(total: int, name: str):
    from tqdm import tqdm  # noqa: PLC0415

    return tqdm(total=total, desc=f"replay {name}", unit="step", dynamic_ncols=True)


def _all_events(replay: Replay) -> list[dict[str, Any]]:
    """Every event of Backstop's contracts over the whole run, decoded, in chain order."""
    chain = replay.chain
    out: list[dict[str, Any]] = []
    addresses = [c.address for c in replay.c.values()]
    latest = int(chain.rpc("eth_blockNumber"), 16)
    for start in range(0, latest + 1, 2_000):
        logs = chain.rpc("eth_getLogs", [{"fromBlock": hex(start), "toBlock": hex(min(latest, start + 1_999)), "address": addresses}])
        receipt = {"logs": [_format_log(chain, log) for log in logs]}
        for contract, event, args, log in chain.decode(receipt):
            out.append({
                "block": log["blockNumber"],
                "tx": "0x" + bytes(log["transactionHash"]).hex(),
                "log_index": log["logIndex"],
                "contract": contract,
                "event": event,
                "args": {k: _plain(v) for k, v in args.items()},
            })
    return out


def _format_log(chain: FastChain, log: dict[str, Any]) -> Any:
    from web3._utils.method_formatters import log_entry_formatter  # noqa: PLC0415

    return log_entry_formatter(log)


def _plain(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
