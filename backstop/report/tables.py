"""report.md's tables beyond the summary: the replay beside the published figures, the markets hour by hour, the
keepers, how auctions filled (discount and time to fill) and the traders who traded during the replay.

Each function takes the report dict and returns Markdown lines; like the rest of report.md they render whatever
is present ("none" for a missing section).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from typing import Any

from backstop.model.fund import HOUR
from backstop.report.access import as_dict, as_int, as_list, as_number
from backstop.report.format import fmt_count, fmt_num, fmt_price, fmt_t, fmt_usd, table
from backstop.report.series import market_names, time_steps

__all__ = ["adl_explanation", "auction_fills", "keepers", "markets_by_hour", "published", "settlement", "trading"]

USD_METRICS = {"liquidated_notional", "shortfall", "bad_debt", "fund_used", "adl_notional"}


def _metric(metric: str, value: Any) -> str:
    return fmt_usd(value) if metric in USD_METRICS else fmt_count(value)


def published(report: Mapping[str, Any]) -> list[str]:
    rows = [as_dict(r) for r in as_list(report.get("published"))]
    lines = ["## Replay against published figures", ""]
    if not rows:
        return lines + ["The scenario cites no published figure to compare with (its `published` list is empty)."]
    lines += [
        "The published figures of the real crash the scenario cites, beside the replay's. The replay's traders, "
        "keepers and fund are synthetic (see Synthetic parts) and cover one venue's book, so a gap is expected: "
        "it measures how much of the real crash this replay reproduces, and is stated, not hidden.",
        "",
    ]
    body = []
    for r in rows:
        metric = str(r.get("metric", ""))
        low, high = r.get("low"), r.get("high")
        span = _metric(metric, low) if low == high else f"{_metric(metric, low)} – {_metric(metric, high)}"
        ratio = as_number(r.get("ratio"))
        body.append((
            r.get("figure", "n/a"), f"`{metric}`", span, _metric(metric, r.get("replayed")), _metric(metric, r.get("gap")),
            "n/a" if ratio is None else f"{ratio:.2%}", r.get("source", ""), r.get("note", ""),
        ))
    return lines + table(("figure", "metric", "published", "replayed", "gap to the range", "replayed / published",
                          "source", "scope"), body, "llrrrrll")


def markets_by_hour(report: Mapping[str, Any]) -> list[str]:
    """Per hour and market: the oracle price and open interest at the hour's last step, and the liquidations
    started, their notional and the ADL notional within the hour."""
    lines = ["## Markets by hour", "",
             "Oracle price and open interest (long side, at the oracle price) at the last step of each hour; "
             "liquidations started, their notional and the notional ADL closed within the hour.", ""]
    steps = time_steps(report)
    if not steps:
        return lines + ["none: the series is empty."]
    markets = market_names({"series": report.get("series")})
    last: dict[int, dict[str, Any]] = {}
    times: dict[int, Any] = {}
    for step in steps:
        last[step["t"] // HOUR] = as_dict(step.get("markets"))
        times[step["t"] // HOUR] = step.get("time")
    liq: dict[tuple[int, str], list[float]] = {}
    for x in as_list(report.get("liquidations")):
        x = as_dict(x)
        t = as_int(x.get("t"), -1)
        if t >= 0:
            cell = liq.setdefault((t // HOUR, str(x.get("market"))), [0, 0.0, 0.0])
            cell[0] += 1
            cell[1] += as_number(x.get("notional")) or 0.0
    for e in as_list(report.get("adl")):
        e = as_dict(e)
        t = as_int(e.get("t"), -1)
        if t >= 0:
            cell = liq.setdefault((t // HOUR, str(e.get("market"))), [0, 0.0, 0.0])
            cell[2] += (as_number(e.get("size")) or 0.0) * (as_number(e.get("price")) or 0.0)
    header = ["hour", "time (UTC)"]
    for m in markets:
        header += [f"{m} price [USD]", f"{m} open interest [USD]", f"{m} liquidations", f"{m} liquidated [USD]", f"{m} ADL [USD]"]
    body = []
    for hour in sorted(last):
        row = [str(hour), str(times[hour] or "n/a").replace("+00:00", "Z")]
        for m in markets:
            state = as_dict(last[hour].get(m))
            n, notional, adl = liq.get((hour, m), [0, 0.0, 0.0])
            row += [fmt_price(state.get("oracle")), fmt_usd(state.get("open_interest")), fmt_count(n), fmt_usd(notional), fmt_usd(adl)]
        body.append(row)
    return lines + table(header, body, "rl" + "rrrrr" * len(markets))


def keepers(report: Mapping[str, Any]) -> list[str]:
    rows = [as_dict(r) for r in as_list(report.get("keepers"))]
    lines = ["## Keepers", ""]
    if not rows:
        return lines + ["none: the scenario has no keeper."]
    lines += ["What each keeper did: liquidations it started, auction takes, restarts of stale auctions, the steps "
              "it was online, the capital it committed and the most of it tied up at one action (the margin of the "
              "takes it sent at once), the incentives the fund paid it, the notional it "
              "bought (auction takes and standing-bid fills) and its PnL (all its USDC at the end, positions at the "
              "last oracle price, less what it started with).", ""]
    slippage = any("slippage" in r for r in rows)  # with price impact: what unwinding into the books cost
    body = [
        (r.get("name", "n/a"), fmt_count(r.get("liquidations")), fmt_count(r.get("takes")), fmt_count(r.get("restarts")),
         fmt_count(r.get("online_steps")), fmt_usd(r.get("capital")), fmt_usd(r.get("capital_used")), fmt_usd(r.get("incentives")),
         fmt_usd(r.get("bought_notional")), *((fmt_usd(r.get("slippage")),) if slippage else ()), fmt_usd(r.get("pnl")))
        for r in rows
    ]
    header = ("keeper", "liquidations", "takes", "restarts", "online steps", "capital [USD]", "capital used [USD]", "incentives [USD]", "bought [USD]",
              *(("slippage [USD]",) if slippage else ()), "PnL [USD]")
    return lines + table(header, body, "l" + "r" * (len(header) - 1))


def _quantiles(values: list[float]) -> tuple[float, float, float, float]:
    """min, median, 90th percentile, max."""
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    return ordered[0], statistics.median(ordered), p90, ordered[-1]


def auction_fills(report: Mapping[str, Any]) -> list[str]:
    """The distribution of auction takes' discount to the liquidation's mark and of the time from the start of
    the liquidation to the take."""
    lines = ["## Auction fills", ""]
    discounts, waits = [], []
    for x in as_list(report.get("liquidations")):
        x = as_dict(x)
        mark, start = as_number(x.get("mark")), as_int(x.get("t"), -1)
        long = x.get("side") == "long"
        for f in as_list(x.get("fills")):
            f = as_dict(f)
            price, t = as_number(f.get("price")), as_int(f.get("t"), -1)
            if f.get("via") != "auction" or not mark or price is None or t < 0 or start < 0:
                continue
            discounts.append((mark - price) / mark * 100 if long else (price - mark) / mark * 100)
            waits.append(t - start)
    if not discounts:
        return lines + ["none: no auction take in this run."]
    lines += [f"{len(discounts)} auction takes. Discount: how far below the mark at the liquidation's start a long "
              "sold (above it, a short bought back), in percent; negative when the price paid beat the mark. Time "
              "to fill: from the start of the liquidation to the take.", ""]
    d, w = _quantiles(discounts), _quantiles([float(x) for x in waits])
    return lines + table(
        ("", "min", "median", "90th percentile", "max"),
        (("discount [%]", *(fmt_num(v) for v in d)), ("time to fill", *(fmt_t(int(v)) for v in w))),
        "lrrrr",
    )


ADL_DOMINATES = 0.5  # the share of liquidations closed by ADL from which report.md explains why
ADL_REASON_WORDS = {  # AdlQueue's Reason, as report.md explains it
    "uncovered": "the fund could not cover the loss at the mark, so ADL closed the part it could not pay for.",
    "fund_risk": "the fund-risk status allowed ADL (a sub-pool at its drawdown threshold or fast drop, or the "
    "global pool at its floor), even where the fund could still pay.",
    "liquidity_risk": "an auction of the market went stale and was restarted (the auction's liquidity-risk signal): "
    "keepers did not take it at the auction's prices before it moved too far from the mark.",
}


def adl_explanation(report: Mapping[str, Any]) -> list[str]:
    """When most liquidations ended in ADL, or none was taken by a keeper, what the report says about why:
    the ADL triggers that fired, what the keepers did and the transactions of theirs that failed. Empty
    otherwise."""
    liqs = [as_dict(x) for x in as_list(report.get("liquidations"))]
    if not liqs:
        return []
    adl_filled = [x for x in liqs if any(as_dict(f).get("via") == "adl" for f in as_list(x.get("fills")))]
    keepers = [as_dict(k) for k in as_list(report.get("keepers"))]
    takes = sum(as_int(k.get("takes"), 0) for k in keepers)
    if len(adl_filled) < ADL_DOMINATES * len(liqs) and takes > 0:
        return []
    lines = ["## Why ADL closed most liquidations" if adl_filled else "## Why no keeper took an auction", ""]
    reasons: dict[str, int] = {}
    for e in as_list(report.get("adl")):
        reason = str(as_dict(e).get("reason") or "unknown")
        reasons[reason] = reasons.get(reason, 0) + 1
    restarts = sum(as_int(x.get("restarts"), 0) for x in liqs)
    lines.append(f"- {len(adl_filled)} of {len(liqs)} liquidations were closed (wholly or partly) against ADL "
                 f"counterparties; the ADL fills' triggers: "
                 + (", ".join(f"`{r}` ×{n}" for r, n in sorted(reasons.items(), key=lambda kv: -kv[1])) or "none") + ".")
    lines.append(f"- Keepers took {fmt_count(takes)} auctions and restarted stale ones {fmt_count(restarts)} times "
                 "(an auction is stale when its price has moved too far from the oracle mark or its time ran out: "
                 "the market fell faster than the auction's curve).")
    failed = {k: v for k, v in as_dict(as_dict(report.get("run")).get("failed_transactions")).items() if not str(k).startswith(("open", "setup"))}
    if failed:
        top = sorted(failed.items(), key=lambda kv: -as_int(kv[1], 0))[:5]
        lines.append("- Keepers' transactions that reverted, by reason: " + ", ".join(f"`{k}` ×{fmt_count(v)}" for k, v in top) + ".")
    offline = [str(k.get("name")) for k in keepers if as_int(k.get("online_steps"), 0) == 0]
    if offline:
        lines.append(f"- Offline for the whole replay: {', '.join(offline)}.")
    for reason in sorted(reasons, key=lambda r: -reasons[r]):
        if reason in ADL_REASON_WORDS:
            lines.append(f"- `{reason}`: {ADL_REASON_WORDS[reason]}")
    lines.append("- A finding or an artefact? It is a finding of the rules when the keepers were online with capital "
                 "and could not fill at the auction's prices; an artefact of the scenario when its keepers could not "
                 "act (offline, without capital, or a grid too coarse for the fall: check `backstop replay --check-step`).")
    return lines


TRADE_LABELS = {"open": "opened", "stop_loss": "stop loss (panic close)", "take_profit": "take profit"}


def trading(report: Mapping[str, Any]) -> list[str]:
    """The traders who opened or closed during the replay, by market and kind; nothing when the scenario has none."""
    section = as_dict(report.get("trading"))
    if not section:
        return []
    lines = [
        "## Trading during the replay",
        "",
        f"{fmt_count(section.get('scheduled_opens'))} traders were due to open during the replay and "
        f"{fmt_count(section.get('opened'))} did; {fmt_count(section.get('with_exits'))} had a stop loss or take "
        f"profit. Each traded with its market maker at the oracle mark (less the book's slippage where the market "
        f"has `liquidity`, whose prices these trades move too). {fmt_count(section.get('gave_up'))} gave up after "
        "three reverted trades.",
        "",
    ]
    rows: dict[tuple[str, str], list[float]] = {}
    for trade in as_list(section.get("trades")):
        t = as_dict(trade)
        row = rows.setdefault((str(t.get("market", "")), str(t.get("kind", ""))), [0, 0.0, None, None])
        row[0] += 1
        row[1] += as_number(t.get("notional")) or 0.0
        ts = as_int(t.get("t"))
        if ts is not None:
            row[2] = ts if row[2] is None else min(row[2], ts)
            row[3] = ts if row[3] is None else max(row[3], ts)
    if not rows:
        return lines + ["No trade was mined."]
    body = [
        (market, TRADE_LABELS.get(kind, kind), fmt_count(n), fmt_usd(notional), fmt_t(first) if first is not None else "n/a",
         fmt_t(last) if last is not None else "n/a")
        for (market, kind), (n, notional, first, last) in sorted(rows.items())
    ]
    return lines + table(("market", "trade", "count", "notional [USD]", "first", "last"), body, "llrrrr")


def settlement(report: Mapping[str, Any]) -> list[str]:
    """Block space: how many liquidations waited how long for a block; nothing in a report without it."""
    section = as_dict(report.get("settlement"))
    if not section:
        return []
    waited = as_int(section.get("liquidations_waited")) or 0
    lines = [
        "## Settlement capacity",
        "",
        f"Blocks of {fmt_count(section.get('block_gas_limit'))} gas, one every {fmt_count(section.get('block_time'))} s "
        f"while transactions wait (the scenario's `chain`). {fmt_count(section.get('blocks'))} blocks were mined, "
        f"{fmt_count(section.get('full_blocks'))} of them full; the busiest used "
        f"{fmt_count(section.get('peak_block_gas'))} gas. {fmt_count(section.get('transactions_waited'))} transactions "
        f"waited for a later block than the one they were sent for.",
        "",
    ]
    if not waited:
        return lines + [f"None of the {fmt_count(section.get('liquidations'))} liquidations waited for block space."]
    lines += [
        f"{fmt_count(waited)} of the {fmt_count(section.get('liquidations'))} liquidations waited for block space: "
        f"{as_number(section.get('mean_wait_s')) or 0:.1f} s on average, {fmt_count(section.get('longest_wait_s'))} s at most.",
        "",
    ]
    body = []
    for row in as_list(section.get("waits")):
        r = as_dict(row)
        high = r.get("up_to_s")
        span = f"over {fmt_count(r.get('over_s'))} s" if high is None else f"{fmt_count(r.get('over_s'))}–{fmt_count(high)} s"
        body.append((span, fmt_count(r.get("liquidations"))))
    return lines + table(("waited", "liquidations"), body, "lr")
