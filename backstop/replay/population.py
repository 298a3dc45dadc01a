"""The replay's set-up: the scenario's traders, market makers, keepers and standing bids put on the chain."""

from __future__ import annotations

from typing import Any

from backstop.chain.fastchain import Wallet, derive_account
from backstop.chain.orders import Order, sign_order
from backstop.model import ledger as lm
from backstop.model.bidbook import escrow_required, level_at_or_above
from backstop.model.fund import HOUR
from backstop.replay.mirror import EventMirror
from backstop.replay.state import ADL_BOND_RESERVE, MM_MARGIN_SHARE, MM_NOTIONAL_CAP, KeeperState, ReplayContext, TraderSlot
from backstop.units import USDC, WAD, bps_up, notional_up, to_usdc, to_wad

LATER_DEPOSIT_SLACK = 1.1  # a trader opening during the replay deposits its margin at t = 0 prices times this


class Population:
    """Funds and opens the population, funds the keepers, places the standing bids."""

    def __init__(self, ctx: ReplayContext, mirror: EventMirror) -> None:
        self.ctx = ctx
        self.mirror = mirror
        self.notes: list[str] = []
        self.trading: list[TraderSlot] = []  # the traders who open or close during the replay (set by `setup`)

    def setup(self) -> dict[str, Any]:
        """Puts everyone on the chain; returns what happened (the report's `run.setup`)."""
        ctx = self.ctx
        ctx.chain.set_automine(False)
        traders = ctx.sc.traders()
        t_wallets = [Wallet(derive_account(ctx.sc.seed, "trader", i)) for i in range(len(traders))]  # fresh: nonce 0
        plans = [self.plan(tp) if tp.opens_at is None else self.plan_later(tp) for tp in traders]
        assignments, mm_capital = self._market_makers(traders, plans)
        mm_of = {i: mm for mm, i in assignments}
        mm_wallets = {w.address: w for ws in ctx.mms.values() for w, _ in ws}
        for k, spec in enumerate(ctx.sc.keepers_expanded()):
            wallet = Wallet(derive_account(ctx.sc.seed, "keeper", k))
            capital = to_usdc(spec.capital)
            ctx.keepers.append(KeeperState(spec, wallet, capital, capital))
        everyone: list[tuple[Wallet, int]] = [(w, to_usdc(p["deposit_usd"])) for w, p in zip(t_wallets, plans)]
        everyone += [(mm_wallets[a], amount + to_usdc(1_000)) for a, amount in mm_capital.items()]
        everyone += [(k.wallet, k.capital) for k in ctx.keepers]
        self._deposit(everyone)
        receipts = self._open(traders, plans, t_wallets, [(mm, i) for mm, i in assignments if traders[i].opens_at is None])
        ctx.t0 = self.start_time()  # the scenario's t = 0
        self.trading = [
            TraderSlot(i, tp, t_wallets[i], mm_of[i], opened=tp.opens_at is None) for i, tp in enumerate(traders) if tp.trades_in_replay
        ]
        later = sum(1 for tp in traders if tp.opens_at is not None)
        return {
            "notes": self.notes,
            "traders": len(traders),
            **({"opening_later": later} if later else {}),
            "opened": sum(1 for _, r in receipts if r["status"] == 1),
            "clamped_leverage": sum(p["clamped"] for p in plans),
            "market_makers": len(mm_wallets),
            "keepers": len(ctx.keepers),
        }

    def _market_makers(self, traders: list[Any], plans: list[dict[str, Any]]) -> tuple[list[tuple[Wallet, int]], dict[str, int]]:
        """Enough market makers per market to keep each under the notional cap, each trader assigned to the least
        loaded one. Returns the (market maker, trader index) assignments and each market maker's capital [usdc]."""
        ctx = self.ctx
        for name in ctx.specs:
            total = sum(p["notional_usd"] for p, tp in zip(plans, traders) if tp.market == name)
            count = max(1, int(total // MM_NOTIONAL_CAP) + 1)
            ctx.mms[name] = [(Wallet(derive_account(ctx.sc.seed, f"mm-{name}", i)), 0.0) for i in range(count)]
        mm_capital = {w.address: 0 for ws in ctx.mms.values() for w, _ in ws}
        assignments: list[tuple[Wallet, int]] = []
        for name, ws in ctx.mms.items():
            loads = [0.0 for _ in ws]
            for i, (plan, tp) in enumerate(zip(plans, traders)):
                if tp.market != name:
                    continue
                j = min(range(len(ws)), key=lambda k: loads[k])
                loads[j] += plan["notional_usd"]
                assignments.append((ws[j][0], i))
                mm_capital[ws[j][0].address] += to_usdc(plan["notional_usd"] * MM_MARGIN_SHARE)
        return assignments, mm_capital

    def _deposit(self, everyone: list[tuple[Wallet, int]]) -> None:
        """Mint, approve, deposit; standing bids' escrow; keepers' approval of the ADL queue for bonds."""
        ctx = self.ctx
        usdc, house, book = ctx.c["usdc"], ctx.c["house"], ctx.c["book"]
        # a block orders transactions of different senders freely: what depends on a mint goes in a later block
        for wallet, amount in everyone:
            ctx.chain.call_fn(ctx.admin, usdc, "mint", wallet.address, amount)
        for k in ctx.keepers:
            ctx.chain.call_fn(ctx.admin, usdc, "mint", k.wallet.address, to_usdc(ADL_BOND_RESERVE))
        self.mirror.mine(None, "setup")
        bids = self.standing_bids()
        for wallet, escrow, _ in bids:
            ctx.chain.call_fn(ctx.admin, usdc, "mint", wallet.address, escrow)
        for wallet, amount in everyone:
            ctx.chain.call_fn(wallet, usdc, "approve", house.address, 2**256 - 1)
            ctx.chain.call_fn(wallet, house, "deposit", amount)
        for wallet, escrow, args in bids:
            ctx.chain.call_fn(wallet, usdc, "approve", book.address, escrow)
            ctx.chain.call_fn(wallet, book, "placeBid", *args, escrow, label="bid")
        for k in ctx.keepers:
            ctx.chain.call_fn(k.wallet, usdc, "approve", ctx.c["adl"].address, 2**256 - 1)
        self.mirror.mine(None, "setup")

    def _open(self, traders: list[Any], plans: list[dict[str, Any]], t_wallets: list[Wallet], assignments: list[tuple[Wallet, int]]) -> list:
        """Opens every trader's position: its market maker submits the trade, the trader signs."""
        ctx = self.ctx
        house = ctx.c["house"]
        for mm, i in assignments:
            tp, plan, tw = traders[i], plans[i], t_wallets[i]
            mid = ctx.mids[tp.market]
            size = plan["size"] if tp.side == "long" else -plan["size"]
            trader_order = Order(tw.address, mid, size, plan["price"], plan["margin"], i + 1, 2**40)
            mm_order = Order(mm.address, mid, -size, plan["price"], to_usdc(plan["notional_usd"] * MM_MARGIN_SHARE), i + 1, 2**40)
            sig = sign_order(trader_order, tw.account.key, ctx.chain.chain_id, house.address)
            data = ctx.chain.encode(house, "trade", [mm_order.as_tuple(), b"", trader_order.as_tuple(), sig])
            ctx.chain.send(mm, house.address, data, "open")
        receipts, _ = self.mirror.mine(None, "open")
        return receipts

    def standing_bids(self) -> list[tuple[Wallet, int, tuple]]:
        """Each keeper's standing bid, placed per market and per side at the nearest configured level at or above
        its discount, for up to `max_notional_usd` each; the escrow (initial margin on that notional) is minted
        on top of the keeper's capital. Returns (wallet, escrow, placeBid arguments) and adds the notes."""
        ctx = self.ctx
        bids: list[tuple[Wallet, int, tuple]] = []
        placed: list[str] = []
        for k in ctx.keepers:
            sb = k.spec.standing_bid
            if sb is None:
                continue
            for m, spec in ctx.specs.items():
                level = level_at_or_above(spec.book.levels, sb.discount_bps)
                if level is None:
                    self.notes.append(f"standing bid of {k.name} not placed in {m}: no level at or above {sb.discount_bps} bps")
                    continue
                notional = to_usdc(sb.max_notional_usd)
                escrow = escrow_required(notional, lm.tier_for(list(spec.tiers), notional).initial_margin_bps)
                for long in (True, False):
                    bids.append((k.wallet, escrow, (ctx.mids[m], long, level, notional)))
                    k.escrow += escrow
                ctx.bid_markets.add(m)
                placed.append(
                    f"{k.name} in {m} at {spec.book.levels[level]} bps (asked {sb.discount_bps}), "
                    f"${sb.max_notional_usd:,.0f} per side, escrow ${escrow / USDC:,.0f} per side"
                )
        if placed:
            self.notes.append("standing bids (escrow minted on top of capital): " + "; ".join(placed))
        return bids

    def start_time(self) -> int:
        """The chain time of the scenario's t = 0: in an hour after the set-up's, at the scenario start's offset
        within its hour. The fund snapshots hourly and its fund-risk status (which starts ADL) reads those
        snapshots, so a replay must see the same hour boundaries at the same scenario times on every run."""
        start = int(self.ctx.start().timestamp())
        next_hour = (self.ctx.chain.last_timestamp // HOUR + 1) * HOUR
        return next_hour + (start - next_hour) % HOUR

    def plan(self, tp: Any) -> dict[str, Any]:
        """Size, price and margin for one trader's opening order at set-up (see `opening_plan`)."""
        mark = to_wad(self.ctx.sc.oracle_start_price(tp.market))
        plan = opening_plan(self.ctx.specs[tp.market], tp, to_wad(tp.entry_price), mark)
        return {**plan, "deposit_usd": plan["margin"] / USDC + 1}

    def plan_later(self, tp: Any) -> dict[str, Any]:
        """The deposit of a trader who opens during the replay: its margin at the t = 0 price with a margin of
        error (LATER_DEPOSIT_SLACK; the size is fixed at the mark when it opens, see TraderActors)."""
        plan = self.plan(tp)
        return {**plan, "deposit_usd": plan["margin"] / USDC * LATER_DEPOSIT_SLACK + 1, "clamped": False}


def opening_plan(spec: Any, tp: Any, price: int, mark: int) -> dict[str, Any]:
    """Size [wad], price [wad] and margin [usdc] of trader position `tp`'s opening order at `price` with the oracle
    at `mark` (market `spec`); see `opening_margin` (`clamped`: the margin was raised above the leverage's)."""
    size = to_wad(tp.size_usd) * WAD // price
    wanted = to_usdc(tp.size_usd / tp.leverage)
    margin = opening_margin(spec, tp.side == "long", size, price, mark, wanted)
    return {"size": size, "price": price, "margin": margin, "notional_usd": tp.size_usd, "clamped": margin > wanted}


def opening_margin(spec: Any, long: bool, size: int, price: int, mark: int, wanted: int) -> int:
    """The margin [usdc] of an opening of `size` units [wad] at `price` [wad] with the oracle at `mark`: `wanted`
    (what the trader's leverage asks), raised to what the bracket's initial margin (with 2% to spare), the
    tail-risk fee and the loss of an entry away from the mark need."""
    notional = notional_up(size, max(mark, price))
    tier = lm.tier_for(list(spec.tiers), notional)
    adverse = max(0, -lm.pnl(long, size, price, mark))
    fee = bps_up(notional_up(size, price), tier.tail_risk_fee_bps)
    floor = bps_up(notional, tier.initial_margin_bps) * 102 // 100 + fee + adverse
    return max(wanted, floor)
