"""report.md: a replay's report dict rendered for a risk engineer.

``render_markdown(report)`` renders the scenario and its sources, what is synthetic, the totals, the fund hour
by hour, the largest liquidations, the ADL victims, the chart links, the parameters and whether the run
completed. It renders whatever is present: a missing or malformed section becomes "none"/"n/a" text, and the
problems ``validate_report`` finds are listed at the end.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from backstop.report import tables
from backstop.report.access import as_dict, as_int, as_list, as_number
from backstop.report.charts import CHART_FILES
from backstop.report.format import (
    cell,
    fmt_as,
    fmt_count,
    fmt_num,
    fmt_pct,
    fmt_price,
    fmt_t,
    fmt_usd,
    fund_risk_words,
    short_account,
    table,
)
from backstop.report.impact import impact
from backstop.report.schema import FILLED_BY, Throughput, Totals, summary_fields
from backstop.report.series import drawdown_pct, hourly_rows, market_names, time_steps
from backstop.report.validate import validate_report

__all__ = ["MAX_ADL_ROWS", "TOP_LIQUIDATIONS", "render_markdown"]

TOP_LIQUIDATIONS = 20  # rows in the largest-liquidations table
MAX_ADL_ROWS = 50  # ADL events listed; the rest stay in report.json


def _header(report: Mapping[str, Any]) -> list[str]:
    sc = as_dict(report.get("scenario"))
    run = as_dict(report.get("run"))
    name = sc.get("name") or "unnamed scenario"
    lines = [f"# Backstop replay: {name}", ""]
    if run.get("complete") is True:
        lines.append("**Run status: complete.**")
    else:
        lines.append("**Partial report: the run did not complete.** " + _run_error(run))
    lines.append("")
    if sc.get("description"):
        lines += [str(sc["description"]), ""]
    lines.append(
        f"Scenario file `{sc.get('file', 'n/a')}` (sha256 `{sc.get('sha256', 'n/a')}`), seed {sc.get('seed', 'n/a')}."
    )
    lines += ["", "### Sources", ""]
    sources = [s for s in as_list(sc.get("sources"))]
    lines += [f"- {s}" for s in sources] if sources else ["- none listed"]
    lines += ["", "## Synthetic parts", ""]
    synthetic = as_list(sc.get("synthetic"))
    if synthetic:
        lines += ["These inputs are invented, not taken from the sources:", ""]
        lines += [f"- {s}" for s in synthetic]
    else:
        lines.append("None: the scenario declares no synthetic inputs.")
    return lines


def _run_error(run: Mapping[str, Any]) -> str:
    error = run.get("error")
    return f"Error: `{cell(error)}`." if error else "No error was recorded."


def _summary(report: Mapping[str, Any]) -> list[str]:
    totals = as_dict(report.get("totals"))
    lines = ["## Summary", ""]
    lines += table(
        ("metric", "value", "unit"),
        ((label, fmt_as(kind, totals.get(key)), unit) for key, label, unit, kind in summary_fields(Totals)),
        "lrl",
    )
    lines += ["", *(f"- {note}" for note in SUMMARY_NOTES)]
    tp = as_dict(report.get("throughput"))
    lines += ["", "### Throughput", ""]
    lines += table(
        ("metric", "value", "unit"),
        ((label, fmt_as(kind, tp.get(key)), unit) for key, label, unit, kind in summary_fields(Throughput)),
        "lrl",
    )
    return lines


SUMMARY_NOTES = (
    "Peak sub-pool drawdown: the largest fall of a market's sub-pool below its 8-hour peak "
    "(`InsuranceFund.peak8h`, the highest hourly snapshot of the last 8 hours), the measure the ADL trigger's "
    "drawdown flag reads; the only drawdown this report shows.",
    "ADL victims count the profitable counterparties deleveraged; liquidations filled by ADL count the bankrupt "
    "positions they were closed against.",
    "Profit haircut beyond need: profit the ADL took from its victims beyond the loss the fund could not cover "
    "(an ADL allowed by the fund-risk or liquidity-risk status closes positions the fund could still have paid for).",
)

FLOW_LABELS = {  # report.json's flow kinds, as the fund flow table names them
    "liquidation_penalties": "liquidation penalties",
    "liquidation_surplus": "liquidation surplus",
    "tail_risk_fees_at_opening": "tail-risk fees of the positions opened before t = 0",
    "tail_risk_fees": "tail-risk fees during the replay",
    "donations": "donations",
    "seeds_after_deployment": "seeds deposited after deployment",
    "shortfalls_covered": "shortfalls covered (losses beyond a position's margin)",
    "kick_incentives": "keeper incentives: starting auctions",
    "restart_incentives": "keeper incentives: restarting stale auctions",
    "withdrawals": "withdrawals",
}


def _fund_flows(report: Mapping[str, Any]) -> list[str]:
    rows = [as_dict(r) for r in as_list(report.get("fund_flows"))]
    lines = [
        "## Fund flows",
        "",
        "Every pool's USDC from deployment to the end, from the fund's events: start + inflows − outflows = end. "
        "`end on chain` is `InsuranceFund.poolBalance` read when the report was written; a difference other "
        "than 0 means the replay missed an event.",
        "",
    ]
    if not rows:
        return lines + ["none"]
    pools = [str(r.get("pool", "n/a")) for r in rows]

    def line(label: str, values: list[float | None]) -> list[str]:
        known = [v for v in values if v is not None]
        return [label, *(fmt_usd(v) for v in values), fmt_usd(sum(known)) if len(known) == len(values) else "n/a"]

    body = [line("start: seeds at deployment", [as_number(r.get("start")) for r in rows])]
    for side, sign in (("inflows", "+"), ("outflows", "−")):
        kinds = [k for r in rows for k in as_dict(r.get(side))]
        for kind in dict.fromkeys(kinds):
            values = [as_number(as_dict(r.get(side)).get(kind)) or 0.0 for r in rows]
            if any(values):
                body.append(line(f"{sign} {FLOW_LABELS.get(kind, kind)}", values))
    body.append(line("= end", [as_number(r.get("end")) for r in rows]))
    body.append(line("end on chain", [as_number(r.get("end_on_chain")) for r in rows]))
    body.append(line("difference", [as_number(r.get("difference")) for r in rows]))
    header = ["", *(f"{'global pool' if p == 'global' else p + ' sub-pool'} [USD]" for p in pools), "all pools [USD]"]
    return lines + table(header, body, "l" + "r" * (len(pools) + 1))


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        out: list[tuple[str, Any]] = []
        for key in sorted(value, key=str):
            out += _flatten(value[key], f"{prefix}.{key}" if prefix else str(key))
        return out
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        out = []
        for i, item in enumerate(value):
            out += _flatten(item, f"{prefix}[{i}]")
        return out
    return [(prefix, value)]


def _parameters(report: Mapping[str, Any]) -> list[str]:
    params = _flatten(as_dict(report.get("parameters")))
    lines = ["## Parameters", ""]
    if not params:
        return lines + ["none"]
    return lines + table(
        ("parameter", "value"), ((f"`{k}`", json.dumps(v, sort_keys=True, default=str)) for k, v in params)
    )


def _fund_by_hour(report: Mapping[str, Any]) -> list[str]:
    rows = hourly_rows(report)
    markets = market_names({"series": report.get("series")})
    lines = [
        "## Fund by hour",
        "",
        "State at the last step of each hour; a sub-pool's drawdown is from its 8-hour peak (`InsuranceFund.peak8h`, "
        "the ADL trigger's measure); fund-risk flags are those raised at any step of the hour.",
        "",
    ]
    if not rows:
        return lines + ["none: the series is empty."]
    header = ["hour", "time", "global pool [USD]"]
    for m in markets:
        header += [f"{m} pool [USD]", f"{m} 8h peak [USD]", f"{m} drawdown", f"{m} fund risk"]
    body = []
    for row in rows:
        cells = [
            str(row["hour"]),
            row.get("time") or fmt_t(row.get("t")),
            fmt_usd(row["global_pool"]),
        ]
        for m in markets:
            mk = row["markets"].get(m)
            if mk is None:
                cells += ["n/a", "n/a", "n/a", "n/a"]
            else:
                cells += [
                    fmt_usd(mk["sub_pool"]),
                    fmt_usd(mk["peak_8h"]),
                    fmt_pct(drawdown_pct(mk["sub_pool"], mk["peak_8h"])),
                    fund_risk_words(row["flags"].get(m, 0)),
                ]
        body.append(cells)
    return lines + table(header, body, "rlr" + "rrrl" * len(markets))


def _liquidations(report: Mapping[str, Any]) -> list[str]:
    liqs = [x for x in as_list(report.get("liquidations")) if isinstance(x, dict)]
    lines = ["## Liquidations", ""]
    counts = {k: 0 for k in FILLED_BY}
    notional = {k: 0.0 for k in FILLED_BY}
    for liq in liqs:
        key = liq.get("filled_by") if liq.get("filled_by") in counts else None
        if key is None:
            continue
        counts[key] += 1
        notional[key] += as_number(liq.get("notional")) or 0.0
    lines += ["### By how filled", ""]
    lines += table(
        ("filled by", "count", "notional [USD]"),
        ((k, fmt_count(counts[k]), fmt_usd(notional[k])) for k in FILLED_BY),
        "lrr",
    )
    lines += ["", f"### Largest {TOP_LIQUIDATIONS} by notional", ""]
    if not liqs:
        return lines + ["none: no liquidations in this run."]
    top = sorted(liqs, key=lambda x: (-(as_number(x.get("notional")) or 0.0), as_int(x.get("id"), 0)))[:TOP_LIQUIDATIONS]
    header = ("id", "t", "market", "trader", "side", "size", "notional [USD]", "mark [USD]", "filled by",
              "fills", "restarts", "shortfall [USD]", "penalty [USD]", "returned [USD]")
    body = [
        (
            liq.get("id", "n/a"),
            fmt_t(liq.get("t")),
            liq.get("market", "n/a"),
            short_account(liq.get("trader")),
            liq.get("side", "n/a"),
            fmt_num(liq.get("size"), 4),
            fmt_usd(liq.get("notional")),
            fmt_price(liq.get("mark")),
            liq.get("filled_by", "n/a"),
            len(as_list(liq.get("fills"))),
            fmt_count(liq.get("restarts")),
            fmt_usd(liq.get("shortfall")),
            fmt_usd(liq.get("penalty")),
            fmt_usd(liq.get("returned")),
        )
        for liq in top
    ]
    lines += table(header, body, "rllllrrrlrrrrr")
    if len(liqs) > TOP_LIQUIDATIONS:
        lines += ["", f"{len(liqs) - TOP_LIQUIDATIONS} smaller liquidations are in report.json."]
    return lines


def _adl(report: Mapping[str, Any]) -> list[str]:
    events = [x for x in as_list(report.get("adl")) if isinstance(x, dict)]
    lines = ["## ADL victims", ""]
    if not events:
        return lines + ["No ADL events."]
    victims: dict[str, dict[str, Any]] = {}
    for e in events:
        v = victims.setdefault(str(e.get("counterparty", "n/a")), {"n": 0, "profit": 0.0, "size": 0.0, "markets": set()})
        v["n"] += 1
        v["profit"] += as_number(e.get("profit_taken")) or 0.0
        v["size"] += abs(as_number(e.get("size")) or 0.0)
        v["markets"].add(str(e.get("market", "n/a")))
    order = sorted(victims, key=lambda k: (-victims[k]["profit"], k))
    lines += table(
        ("counterparty", "events", "markets", "size [units]", "profit taken [USD]"),
        (
            (short_account(k), victims[k]["n"], ", ".join(sorted(victims[k]["markets"])), fmt_num(victims[k]["size"], 4),
             fmt_usd(victims[k]["profit"]))
            for k in order[:MAX_ADL_ROWS]
        ),
        "lrlrr",
    )
    if len(order) > MAX_ADL_ROWS:
        lines += ["", f"{len(order) - MAX_ADL_ROWS} more counterparties, who gave up less, are in report.json (`adl`)."]
    lines += ["", "### ADL events", ""]
    ordered = sorted(events, key=lambda e: (as_int(e.get("t"), 0), str(e.get("market")), as_int(e.get("rank"), 0)))
    lines += table(
        ("t", "market", "bankrupt", "counterparty", "rank", "lights", "score", "size", "price [USD]", "profit taken [USD]", "reason"),
        (
            (fmt_t(e.get("t")), e.get("market", "n/a"), short_account(e.get("bankrupt")), short_account(e.get("counterparty")),
             e.get("rank", "n/a"), e.get("lights", "n/a"), fmt_num(e.get("score"), 4), fmt_num(e.get("size"), 4),
             fmt_price(e.get("price")), fmt_usd(e.get("profit_taken")), e.get("reason", ""))
            for e in ordered[:MAX_ADL_ROWS]
        ),
        "rlllrrrrrrl",
    )
    if len(ordered) > MAX_ADL_ROWS:
        lines += ["", f"{len(ordered) - MAX_ADL_ROWS} more ADL events are in report.json."]
    return lines


def _mark_to_market(report: Mapping[str, Any]) -> list[str]:
    rows = [as_dict(r) for r in as_list(report.get("mark_to_market"))]
    lines = [
        "## Open positions at the end, marked to market",
        "",
        "Every position still open when the replay ended, at each market's last oracle price. Negative equity is "
        "a loss that has happened but is not realised: bad debt counts only what a liquidation could not cover, "
        "so `bad debt $0` with negative equity here means the loss sits with the holders below.",
        "",
    ]
    if not rows:
        return lines + ["none"]
    return lines + table(
        ("holder", "positions", "notional [USD]", "unrealised PnL [USD]", "underwater", "negative equity [USD]"),
        ((r.get("kind"), fmt_count(r.get("positions")), fmt_usd(r.get("notional")), fmt_usd(r.get("unrealised_pnl")),
          fmt_count(r.get("underwater")), fmt_usd(r.get("negative_equity"))) for r in rows),
        "lrrrrr",
    )


def _run(report: Mapping[str, Any]) -> list[str]:
    run = as_dict(report.get("run"))
    lines = ["## Run", ""]
    if run.get("complete") is True:
        lines.append("Complete.")
        resumed = as_dict(run.get("resumed"))
        if resumed:
            lines += [
                "",
                f"Resumed (`backstop replay --resume`) after a partial run that stopped after "
                f"{fmt_count(resumed.get('steps'))} steps ({resumed.get('error') or 'no reason recorded'}); "
                "replayed from t = 0 on a fresh chain, which gives the figures of an uninterrupted run.",
            ]
    else:
        steps = time_steps(report)
        last = fmt_t(steps[-1]["t"]) if steps else "n/a"
        lines.append(
            f"**Partial report**: the run stopped before the end of the scenario. {_run_error(run)} "
            f"Figures cover the steps recorded before it stopped (last step {last})."
        )
    lines.append("")
    lines += table(
        ("field", "value"),
        (
            ("network", run.get("network", "n/a")),
            ("started at", run.get("started_at", "n/a")),
            ("wall time [s]", fmt_num(run.get("wall_seconds"))),
            ("steps", fmt_count(run.get("steps"))),
            ("complete", "yes" if run.get("complete") is True else "no"),
            ("error", run.get("error") or "none"),
            ("chain id", run.get("chain_id", "n/a")),
        ),
    )
    contracts = as_dict(run.get("contracts"))
    if contracts:
        lines += ["", "Contracts (inspect them with `cast` while the node runs, e.g. "
                  "`cast call <InsuranceFund> \"poolBalance(bytes32)(uint256)\" 0x00…00 --rpc-url <network>`):", ""]
        lines += table(("contract", "address"), sorted(contracts.items()))
    return lines


def render_markdown(report: dict) -> str:
    """report.md: header, synthetic parts, summary, published figures, fund flows, fund and markets by hour,
    price impact, liquidations, auction fills, ADL victims, keepers, trading during the replay (when any),
    settlement capacity, open positions, charts, parameters, run.

    Renders whatever is present; a missing or malformed section becomes "none"/"n/a" text, and schema
    problems found by `validate_report` are listed at the end.
    """
    report = as_dict(report)
    parts = [
        _header(report),
        _summary(report),
        tables.adl_explanation(report),
        tables.published(report),
        _fund_flows(report),
        _fund_by_hour(report),
        tables.markets_by_hour(report),
        impact(report),
        _liquidations(report),
        tables.auction_fills(report),
        _adl(report),
        tables.keepers(report),
        tables.trading(report),
        tables.settlement(report),
        _mark_to_market(report),
        ["## Charts", ""]
        + [f"![{key}]({name})" for key, name in CHART_FILES.items()],
        _parameters(report),
        _run(report),
    ]
    problems = validate_report(report)
    if problems:
        parts.append(["## Schema problems", ""] + [f"- {cell(p)}" for p in problems])
    return "\n\n".join("\n".join(p) for p in parts if p) + "\n"
