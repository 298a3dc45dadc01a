"""The replay's report: report.json's content built from the replay state (see docs/report-schema.md)."""

from __future__ import annotations

import json
from typing import Any

from backstop.model import ledger as lm
from backstop.replay.state import ADL_BOND_RESERVE, ReplayContext, ReplayState
from backstop.report.schema import HOLDER_KINDS, SCHEMA_VERSION
from backstop.units import USDC, WAD, to_usdc, to_wad


def build_report(
    ctx: ReplayContext,
    setup: dict[str, Any],
    wall: float,
    complete: bool,
    error: str | None,
    raw_tps: float | None,
    tx_in_loop: int,
    loop_seconds: float,
) -> dict[str, Any]:
    """The report.json of a replay (complete or not) from its state: see docs/report-schema.md."""
    s = ctx.state
    series = s.series
    fund_start = _fund_total(series[0]) if series else 0.0
    fund_end = _fund_total(series[-1]) if series else 0.0
    drawdown = max(
        (_drawdown(m) for row in series for m in row["markets"].values()), default=0.0
    )
    waiting = {i for ids in s.queued.values() for i in ids}
    for rec in s.liquidations:
        if rec["fills"] and (rec["id"] in waiting or any(a.record is rec and a.qty > 0 for a in s.auctions.values())):
            rec["filled_by"] = "partial"
    tps = tx_in_loop / loop_seconds if loop_seconds else 0.0
    holdings = mark_to_market(ctx)
    totals = _totals(s, fund_start, fund_end, drawdown, sum(h["negative_equity"] for h in holdings))
    bonds = _held_bonds(ctx)
    try:
        on_chain: dict[str, int] | None = ctx.pool_balances()
    except Exception:  # noqa: BLE001 - a dead node: the end balances are unknown, the flows are still shown
        on_chain = None
    return {
        "schema": SCHEMA_VERSION,
        "scenario": {
            "name": ctx.sc.name,
            "file": str(ctx.path or ""),
            "sha256": ctx.sc.sha256 or "",
            "description": ctx.sc.description,
            "sources": list(ctx.sc.sources),
            "synthetic": list(ctx.sc.synthetic)
            + [
                "market makers: synthetic counterparties of every opening trade, which also absorb keepers' unwinds at the oracle price",
                f"ADL bonds: each keeper holds ${ADL_BOND_RESERVE:,} of mock USDC outside the clearinghouse to bond the ADL executions it runs",
            ],
            "seed": ctx.sc.seed,
        },
        "parameters": json.loads(ctx.sc.model_dump_json()) if hasattr(ctx.sc, "model_dump_json") else {},
        "run": {
            "network": "anvil",
            "wall_seconds": round(wall, 2),
            "steps": len(series),
            "complete": complete,
            "error": error,
            "setup": setup,
            "failed_transactions": dict(sorted(s.failed_txs.items())),
            "gas": dict(sorted(s.gas.items())),
            "chain_id": ctx.chain.chain_id,
            "contracts": addresses(ctx),
        },
        "series": series,
        "liquidations": s.liquidations,
        "adl": list(s.adl),
        "buffers": s.buffers,
        "keepers": [_keeper_row(k, s, _keeper_wealth(ctx, k, bonds), ctx.market.active) for k in ctx.keepers],
        "mark_to_market": holdings,
        "fund_flows": s.flows.rows(on_chain),
        "published": [f.compare(totals[f.metric]) for f in getattr(ctx.sc, "published", [])],
        "totals": totals,
        "impact": ctx.market.report(),
        "throughput": {
            "transactions": tx_in_loop,
            "seconds": round(loop_seconds, 3),
            "tx_per_s": round(tps, 1),
            "raw_anvil_tx_per_s": round(raw_tps, 1) if raw_tps else None,
            "ratio": round(tps / raw_tps, 3) if raw_tps else None,
        },
    }


CONTRACT_NAMES = {  # the engine's name of each contract -> its contract name (what deploy prints and cast users know)
    "usdc": "MockUSDC", "oracle": "PriceOracle", "fund": "InsuranceFund", "house": "Clearinghouse",
    "auction": "LiquidationAuction", "book": "StandingBidBook", "adl": "AdlQueue",
}


def addresses(ctx: ReplayContext) -> dict[str, str]:
    """Every deployed contract's address by contract name; price sources as `MockPriceSource:<market>:<venue>`."""
    out = {CONTRACT_NAMES.get(name, name): str(c.address) for name, c in ctx.c.items()}
    for m, venues in ctx.sources.items():
        out.update({f"MockPriceSource:{m}:{v}": str(src.address) for v, src in venues.items()})
    return out


def holder_kind(ctx: ReplayContext, account: str) -> str:
    """trader, keeper, bidder (a keeper with a standing bid) or market_maker."""
    if any(w.address == account for ws in ctx.mms.values() for w, _ in ws):
        return "market_maker"
    keeper = next((k for k in ctx.keepers if k.wallet.address == account), None)
    if keeper is None:
        return "trader"
    return "bidder" if keeper.spec.standing_bid is not None else "keeper"


def mark_to_market(ctx: ReplayContext) -> list[dict[str, Any]]:
    """The positions open at the end (the mirror, which follows every PositionChanged and fill), marked at each
    market's last oracle price in the series, summed by kind of holder."""
    last = ctx.state.series[-1]["markets"] if ctx.state.series else {}
    rows = {kind: {"kind": kind, "positions": 0, "notional": 0.0, "unrealised_pnl": 0.0, "negative_equity": 0.0, "underwater": 0} for kind in HOLDER_KINDS}
    for (m, account), p in ctx.state.positions.items():
        mark = (last.get(m) or {}).get("oracle")
        if p.size == 0 or mark is None:
            continue
        mark_wad = to_wad(mark)
        pnl = lm.pnl(p.size > 0, abs(p.size), p.entry_price, mark_wad) / USDC
        equity = p.margin / USDC + pnl
        row = rows[holder_kind(ctx, account)]
        row["positions"] += 1
        row["notional"] += abs(p.size) * mark / WAD
        row["unrealised_pnl"] += pnl
        if equity < 0:
            row["negative_equity"] -= equity
            row["underwater"] += 1
    return [{**r, **{k: round(r[k], 6) for k in ("notional", "unrealised_pnl", "negative_equity")}} for r in rows.values()]


def _totals(s: ReplayState, fund_start: float, fund_end: float, drawdown: float, negative_equity: float) -> dict[str, Any]:
    """The report's `totals`."""
    by = lambda kind: sum(1 for r in s.liquidations if r["filled_by"] == kind)  # noqa: E731
    return {
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
        "negative_equity": round(negative_equity, 6),
        "fund_start": fund_start,
        "fund_end": fund_end,
        "peak_drawdown_pct": round(drawdown, 4),
        "adl_notional": round(sum(e["size"] * e["price"] for e in s.adl), 2),
        "adl_filled": sum(1 for r in s.liquidations if any(f["via"] == "adl" for f in r["fills"])),
        "adl_victims": len({(e["market"], e["counterparty"]) for e in s.adl}),
        "adl_profit_taken": round(sum(e["profit_taken"] for e in s.adl), 6),
        "profit_haircut_beyond_need": round(sum(max(0.0, x["profit_taken"] - x["uncovered"]) for x in s.adl_executions.values()), 6),
    }


def _keeper_row(k: Any, s: ReplayState, wealth: float | None, impact: bool = False) -> dict[str, Any]:
    """The report's row of keeper `k`: its counts, capital, incentives, what it bought and its PnL (`wealth` at
    the end, see _keeper_wealth, less what it started with; None when the chain could not be read); with
    market impact (`impact`), the slippage it paid unwinding."""
    mine = (k.name, k.wallet.address)
    bought = sum(f["qty"] * f["price"] for r in s.liquidations for f in r["fills"] if f["via"] != "adl" and f["keeper"] in mine)
    row = {
        "name": k.name, "liquidations": k.liquidations, "takes": k.taken, "restarts": k.restarts,
        "online_steps": k.online_steps, "capital": k.capital / USDC, "capital_used": k.peak_used / USDC, "address": k.wallet.address,
        "incentives": k.incentives / USDC, "bought_notional": round(bought, 6),
    }
    if impact:
        row["slippage"] = round(k.slippage, 6)
    if k.spec.standing_bid is not None and k.spec.standing_bid.unwind is not None:
        row["unwound_notional"] = k.unwound / USDC
    if k.lost:
        row["capital_lost"] = k.lost / USDC
    if wealth is not None:
        row["pnl"] = round(wealth - (k.capital + k.escrow + to_usdc(ADL_BOND_RESERVE)) / USDC, 6)
    return row


def _held_bonds(ctx: ReplayContext) -> dict[str, int] | None:
    """Executor -> Σ bonds [usdc] of its ADL executions the queue still holds (neither released nor slashed by a
    challenge), read once for every keeper; None when the chain cannot be read."""
    held: dict[str, int] = {}
    try:
        executions = ctx.chain.view([(ctx.c["adl"], "execution", [x]) for x in ctx.state.adl_executions])
        for e in executions:  # (market, executor, epoch, bankruptLong, challenged, bondReleased, mark, bond, ...)
            if e is None:
                raise ValueError("an ADL execution the replay ran cannot be read")
            if not e[4] and not e[5]:
                held[e[1]] = held.get(e[1], 0) + e[7]
    except Exception:  # noqa: BLE001 - a dead node: the bonds are unknown
        return None
    return held


def _keeper_wealth(ctx: ReplayContext, k: Any, bonds: dict[str, int] | None) -> float | None:
    """Keeper `k`'s USDC at the end [USD], wherever it is: its wallet (incentives, withdrawn capital), its
    clearinghouse free balance and positions (margin + PnL at each market's last oracle price), its standing-bid
    escrow still in the book (in live bids or released to it) and the bonds of its ADL executions not yet
    released (a slashed bond is lost). None when the chain cannot be read."""
    last = ctx.state.series[-1]["markets"] if ctx.state.series else {}
    me = k.wallet.address
    if bonds is None:
        return None
    try:
        house, book = ctx.c["house"], ctx.c["book"]
        reads = [(ctx.c["usdc"], "balanceOf", [me]), (house, "freeBalance", [me]), (book, "withdrawable", [me])]
        held = ctx.chain.view(reads + [(book, "bid", [bid]) for bid in k.bids])
        if any(v is None for v in held[:3]):
            return None
        usdc = sum(held[:3]) + sum(b[7] for b in held[3:] if b is not None)  # Bid.escrow; None: NoSuchBid (used up or cancelled)
    except Exception:  # noqa: BLE001 - a dead node: the wealth is unknown
        return None
    usdc += bonds.get(me, 0)
    wealth = usdc / USDC
    for (m, account), p in ctx.state.positions.items():
        mark = (last.get(m) or {}).get("oracle")
        if account == me and p.size != 0 and mark is not None:
            wealth += p.margin / USDC + lm.pnl(p.size > 0, abs(p.size), p.entry_price, to_wad(mark)) / USDC
    return wealth


def _drawdown(m: dict[str, Any]) -> float:
    """A sub-pool's drawdown from its 8-hour peak in percent: the measure of the ADL trigger's
    DRAWDOWN_FROM_PEAK (`InsuranceFund.peak8h`, the highest of the hourly snapshots of the last 8 hours)."""
    peak = m["peak_8h"]
    return max(0.0, (peak - m["sub_pool"]) / peak * 100) if peak > 0 else 0.0


def _fund_total(row: dict[str, Any]) -> float:
    return row["global_pool"] + sum(m["sub_pool"] for m in row["markets"].values())
