"""What comes back from the chain: blocks mined, receipts read, events fed into the replay's mirror of the
positions and auctions and into the report's records. The engine's picture of the chain comes from here only."""

from __future__ import annotations

from typing import Any, Callable

from backstop.model import adl as adl_model
from backstop.model import ledger as lm
from backstop.replay.state import AuctionMirror, ReplayContext
from backstop.units import USDC, WAD

Handler = Callable[[dict[str, Any], int, int], None]  # (event args, scenario t, chain ts)


def new_record(id_: int | None, t: int, market: str, trader: str, long: bool, qty: int, mark: int) -> dict[str, Any]:
    """A new entry of the report's `liquidations`."""
    return {
        "id": id_, "t": t, "market": market, "trader": trader, "side": "long" if long else "short",
        "size": qty / WAD, "notional": qty * mark / WAD / WAD, "mark": mark / WAD,
        "filled_by": "unfilled", "fills": [], "restarts": 0, "shortfall": 0.0, "penalty": 0.0, "returned": 0.0,
    }


def _mark_filled(rec: dict[str, Any], via: str) -> None:
    rec["filled_by"] = via if rec["filled_by"] in ("unfilled", via) else "mixed"


class EventMirror:
    """Mines blocks and keeps the replay state in step with their receipts and events."""

    def __init__(self, ctx: ReplayContext) -> None:
        self.ctx = ctx
        self.state = ctx.state
        self.version = 0  # events handled so far: the clock's test of "something changed"
        self.handlers: dict[str, Handler] = {
            "PositionChanged": self._position_changed,
            "LiquidationBegun": self._liquidation_begun,
            "LiquidationSkipped": self._liquidation_skipped,
            "BidFilled": self._bid_filled,
            "StandingBidsFilled": self._standing_bids_filled,
            "LiquidationQueued": self._liquidation_queued,
            "BufferStarted": self._buffer_started,
            "AuctionStarted": self._auction_started,
            "AuctionTaken": self._auction_taken,
            "AuctionRestarted": self._auction_restarted,
            "AuctionFinished": self._auction_finished,
            "LiquidationFilled": self._liquidation_filled,
            "ShortfallSettled": self._shortfall_settled,
            "HandedToAdl": self._handed_to_adl,
            "Deleveraged": self._deleveraged,
            "ADL": self._adl_fill,
            "AdlExecuted": self._adl_executed,
            "IncentivePaid": self._incentive_paid,
            "BatchIncentivePaid": self._incentive_paid,
            "BidPlaced": self._bid_placed,
            "LossCovered": self._loss_covered,
        }

    def mine(
        self, timestamp: int | None, phase: str, reads: list[tuple[Any, str, list]] | None = None, skip_empty: bool = False
    ) -> tuple[list, list[Any]]:
        """Mines the pending transactions, feeds their events to the mirror; returns the receipts and the answers
        to `reads` (eth_calls after the block, fetched with the receipts). `skip_empty`: see FastChain.mine_and_view."""
        chain = self.ctx.chain
        receipts, values = chain.mine_and_view(timestamp, reads or [], skip_empty)
        space = chain.space
        for sent, receipt in receipts:
            done = self.state.on_mined.pop(sent.tx_hash, None)
            self.state.count_gas(sent.label.split(":")[0], receipt["gasUsed"])
            block_ts = chain.block_times.get(receipt["blockNumber"], chain.last_timestamp)
            if space is not None:
                space.record(sent, receipt, block_ts)
            if receipt["status"] != 1:
                label = f"{sent.label.split(':')[0]}: {chain.revert_reason(sent.tx_hash, args=False)}"  # counted by error name
                self.state.count_failure(label)
                if label.startswith("liquidate"):
                    self.state.pending_liquidation.clear()  # re-evaluated next step
                continue
            events = [(event, args) for _contract, event, args, _ in chain.decode(receipt)]
            for event, args in events:
                self.on_event(event, args, block_ts)
            self.state.flows.on_receipt(events, phase, self.ctx.pool_name)
            if done is not None:
                done()
        return receipts, values

    def on_event(self, event: str, args: dict[str, Any], ts: int) -> None:
        handler = self.handlers.get(event)
        if handler is not None:
            self.version += 1
            handler(args, ts - self.ctx.t0, ts)

    # ------------------------------------------------------------------ helpers

    def _market(self, args: dict[str, Any]) -> str:
        return self.ctx.names[bytes(args["market"])]

    def _add(self, key: str, amount: float) -> None:
        self.state.totals[key] = self.state.totals.get(key, 0) + amount

    def record_for(self, market: str, trader: str) -> dict[str, Any] | None:
        """The latest liquidation record of `trader` in `market`."""
        for rec in reversed(self.state.liquidations):
            if rec["market"] == market and rec["trader"] == trader:
                return rec
        return None

    def _open_record(self, id_: int, t: int, market: str, trader: str, long: bool, qty: int, mark: int) -> dict[str, Any]:
        """The record `LiquidationBegun` opened for this liquidation (now given its id), or a new one."""
        rec = self.record_for(market, trader)
        if rec is not None and rec["id"] in (None, id_):
            rec["id"] = id_
            return rec
        rec = new_record(id_, t, market, trader, long, qty, mark)
        self.state.liquidations.append(rec)
        return rec

    def _shrink(self, market: str, account: str, qty: int) -> None:
        """A frozen position lost `qty` units (and their margin share) to a liquidation or ADL fill."""
        pos = self.state.positions.get((market, account))
        if pos is not None:
            held = abs(pos.size)
            share = pos.margin if qty == held else pos.margin * qty // max(held, 1)
            pos.margin -= share
            pos.size = (held - qty) * (1 if pos.size > 0 else -1)

    def _unqueue(self, market: str, id_: int) -> bool:
        queue = self.state.queued.get(market, [])
        if id_ in queue:
            queue.remove(id_)
            return True
        return False

    # ------------------------------------------------------------------ positions and liquidations

    def _position_changed(self, args: dict[str, Any], t: int, ts: int) -> None:
        key = (self._market(args), args["account"])
        self.state.positions[key] = lm.Position(args["size"], args["entryPrice"], args["margin"])

    def _liquidation_skipped(self, args: dict[str, Any], t: int, ts: int) -> None:
        """A liquidateMany passed over this trader (backstop.replay.batches): not pending any more, counted by
        its revert's name beside the failed transactions."""
        self.state.pending_liquidation.discard((self._market(args), args["trader"]))
        reason = self.ctx.chain.error_name(bytes(args["reason"]), args=False)
        self.state.count_failure(f"liquidateMany skipped: {reason}")

    def _liquidation_begun(self, args: dict[str, Any], t: int, ts: int) -> None:
        # the record is opened here: standing bids may fill before any auction
        size = args["size"]
        market, trader = self._market(args), args["account"]
        rec = new_record(None, t, market, trader, size > 0, abs(size), args["mark"])
        if market in self.ctx.market.books:
            rec["generation"], rec["impact_only"] = self.state.generations.pop((market, trader), (0, False))
        self.state.liquidations.append(rec)

    def _bid_filled(self, args: dict[str, Any], t: int, ts: int) -> None:
        rec = next((r for r in reversed(self.state.liquidations) if r["id"] in (args["liquidation"], None)), None)
        if rec is not None:
            rec["id"] = args["liquidation"]
            fill = {"t": t, "keeper": self.ctx.keeper_name(args["owner"]), "qty": args["qty"] / WAD, "price": args["price"] / WAD, "via": "standing_bid"}
            rec["fills"].append(fill)
            _mark_filled(rec, "standing_bid")

    def _standing_bids_filled(self, args: dict[str, Any], t: int, ts: int) -> None:
        if args["left"] != 0:
            return
        # all taken: no auction, no queue
        m = self._market(args)
        self._unqueue(m, args["id"])
        self.state.pending_liquidation.discard((m, args["trader"]))
        self.state.in_auction.discard((m, args["trader"]))

    def _liquidation_queued(self, args: dict[str, Any], t: int, ts: int) -> None:
        m = self._market(args)
        self._open_record(args["id"], t, m, args["trader"], args["long"], args["qty"], args["mark"])
        self.state.queued.setdefault(m, []).append(args["id"])
        self.state.pending_liquidation.discard((m, args["trader"]))
        self.state.in_auction.add((m, args["trader"]))

    def _buffer_started(self, args: dict[str, Any], t: int, ts: int) -> None:
        m = self._market(args)
        self.state.buffer_until[m] = max(self.state.buffer_until.get(m, 0), args["until"])
        self.state.buffers.append({"t": t, "market": m, "drop_bps": args["dropBps"], "until_t": args["until"] - self.ctx.t0})

    def _liquidation_filled(self, args: dict[str, Any], t: int, ts: int) -> None:
        m = self._market(args)
        rec = self.record_for(m, args["account"])
        if rec is not None:
            rec["penalty"] += args["penalty"] / USDC
            rec["returned"] += args["returned"] / USDC
        self._add("penalties", args["penalty"] / USDC)
        self._shrink(m, args["account"], args["qty"])

    def _shortfall_settled(self, args: dict[str, Any], t: int, ts: int) -> None:
        rec = self.record_for(self._market(args), args["account"])
        if rec is not None:
            rec["shortfall"] += args["shortfall"] / USDC
        self._add("shortfall", args["shortfall"] / USDC)
        self._add("bad_debt", args["uncovered"] / USDC)

    # ------------------------------------------------------------------ auctions

    def _auction_started(self, args: dict[str, Any], t: int, ts: int) -> None:
        m = self._market(args)
        if self._unqueue(m, args["id"]):  # released from the queue: its record exists already
            record = next(r for r in self.state.liquidations if r["id"] == args["id"])
            record["released_t"] = t
        else:
            record = self._open_record(args["id"], t, m, args["trader"], args["long"], args["qty"], args["anchor"])
        self.state.auctions[args["id"]] = AuctionMirror(
            args["id"], m, args["trader"], args["long"], args["qty"], args["anchor"], args["top"], ts, t, record
        )
        self.state.pending_liquidation.discard((m, args["trader"]))
        self.state.in_auction.add((m, args["trader"]))

    def _auction_taken(self, args: dict[str, Any], t: int, ts: int) -> None:
        a = self.state.auctions[args["id"]]
        a.qty = args["left"]
        a.record["fills"].append({"t": t, "keeper": args["keeper"], "qty": args["qty"] / WAD, "price": args["price"] / WAD, "via": "auction"})
        _mark_filled(a.record, "auction")

    def _auction_restarted(self, args: dict[str, Any], t: int, ts: int) -> None:
        a = self.state.auctions[args["id"]]
        a.anchor, a.top, a.tic = args["anchor"], args["top"], ts
        a.record["restarts"] += 1

    def _auction_finished(self, args: dict[str, Any], t: int, ts: int) -> None:
        a = self.state.auctions.pop(args["id"], None)
        if a is not None:
            self.state.in_auction.discard((a.market, a.trader))

    def _incentive_paid(self, args: dict[str, Any], t: int, ts: int) -> None:
        self._add("keeper_incentives", args["amount"] / USDC)
        keeper = next((k for k in self.ctx.keepers if k.wallet.address == args["keeper"]), None)
        if keeper is not None:
            keeper.incentives += args["amount"]

    def _bid_placed(self, args: dict[str, Any], t: int, ts: int) -> None:
        keeper = next((k for k in self.ctx.keepers if k.wallet.address == args["owner"]), None)
        if keeper is not None:
            keeper.bids.append(args["id"])

    def _loss_covered(self, args: dict[str, Any], t: int, ts: int) -> None:
        self._add("fund_used", (args["fromSubPool"] + args["fromGlobal"]) / USDC)

    # ------------------------------------------------------------------ ADL

    def _handed_to_adl(self, args: dict[str, Any], t: int, ts: int) -> None:
        a = self.state.auctions.get(args["id"])
        if a is not None:
            a.qty = args["left"]
        elif args["left"] == 0:
            for ids in self.state.queued.values():
                if args["id"] in ids:
                    ids.remove(args["id"])

    def _deleveraged(self, args: dict[str, Any], t: int, ts: int) -> None:
        m = self._market(args)
        rec = self.record_for(m, args["account"])
        if rec is not None:
            rec["fills"].append({"t": t, "keeper": args["counterparty"], "qty": args["qty"] / WAD, "price": args["price"] / WAD, "via": "adl"})
            _mark_filled(rec, "adl")
        self._shrink(m, args["account"], args["qty"])
        if self.state.positions.get((m, args["account"]), lm.Position()).size == 0:
            self.state.in_auction.discard((m, args["account"]))

    def _adl_fill(self, args: dict[str, Any], t: int, ts: int) -> None:
        m = self._market(args)
        entry = {
            "t": t, "market": m, "bankrupt": args["trader"],
            "counterparty": args["counterparty"], "rank": args["rank"], "size": args["qty"] / WAD,
            "price": args["price"] / WAD, "profit_taken": args["profitTaken"] / USDC, "reason": "",
            "execution": args["execution"],
        }
        scored = self.state.adl_scores.get((m, args["counterparty"]))
        if scored is not None:  # as the executor ranked it (the queue checked the same order)
            entry["score"], entry["lights"] = scored[0] / WAD, scored[1]
        self.state.adl.append(entry)
        self._unhedge(m, args, t)

    def _unhedge(self, m: str, args: dict[str, Any], t: int) -> None:
        """With ``liquidity.hedging``: a market maker ADL deleveraged unwinds that much of its hedge on the
        deepest venue's book (it held the other side of the bankrupt position: a sale when that was a long)."""
        book = self.ctx.market.books.get(m)
        if book is None or not book.liq.hedging or args["counterparty"] not in {w.address for w, _ in self.ctx.mms.get(m, [])}:
            return
        rec = self.record_for(m, args["trader"])
        long = rec is None or rec["side"] == "long"
        notional = (-1 if long else 1) * args["qty"] * args["price"] / WAD / WAD
        book.hedge(book.deepest(t), t, notional, rec.get("generation", 0) if rec else 0)

    def _adl_executed(self, args: dict[str, Any], t: int, ts: int) -> None:
        reason = adl_model.REASONS[args["reason"]]
        for entry in self.state.adl:
            if entry.get("execution") == args["execution"]:
                entry["reason"] = reason
                entry["uncovered"], entry["claimed"] = args["uncovered"] / USDC, args["claimed"] / USDC
        self.state.adl_executions[args["execution"]] = {
            "ts": ts, "released": False,
            "profit_taken": args["profitTaken"] / USDC, "uncovered": args["uncovered"] / USDC, "claimed": args["claimed"] / USDC,
            "reason": reason,
        }
