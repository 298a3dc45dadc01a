"""The charts of a report folder, and the chart helpers the studies (compare, size-fund) draw theirs with.

``draw_charts(report, paths)`` draws ``prices.png`` (venue prices and the oracle median per market),
``fund.png`` (the global pool and each sub-pool with its 8-hour peak and drawdown threshold, shaded where
fund risk is flagged), ``liquidations.png`` (liquidations per step by how filled, cumulative shortfall) and
``adl.png`` (profit taken per ADL event, cumulative) and ``market.png`` (open interest and liquidated notional per
hour). The x axis is the scenario's UTC time; a price panel whose range spans more than one order of magnitude
is on a log scale, beside a zoom on the crash window. matplotlib is imported only when a chart is drawn, with
the non-interactive Agg backend; a PNG holds no software or date metadata, so the same report gives the same
bytes.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from backstop.model.fund import GLOBAL_DEPLETED, HOUR
from backstop.report.access import as_dict, as_int, as_list, as_number
from backstop.report.format import fmt_usd
from backstop.report.schema import FILLED_BY
from backstop.report.series import market_names, time_steps

__all__ = ["CHART_FILES", "TimeAxis", "crash_window", "draw_charts", "pyplot", "save", "usd_axis"]

CHART_FILES = {
    "prices": "prices.png",
    "fund": "fund.png",
    "liquidations": "liquidations.png",
    "adl": "adl.png",
    "market": "market.png",
}
LOG_SCALE_RATIO = 10  # a price panel whose max / min exceeds this is drawn on a log scale
VENUE_STYLES = ("-", (0, (5, 2)), (0, (1, 1.5)), (0, (3, 1, 1, 1)), (0, (8, 3)))  # overlapping venues stay visible


def pyplot() -> Any:
    """matplotlib.pyplot with the non-interactive Agg backend."""
    import matplotlib  # noqa: PLC0415 - only when a chart is drawn

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


def usd_axis(ax: Any, axis: str = "y") -> None:
    """Plain dollar tick labels ($1,000,000) on the `axis` ("x" or "y") of `ax`: no offset, no scientific notation."""
    from matplotlib.ticker import FuncFormatter  # noqa: PLC0415

    target = ax.xaxis if axis == "x" else ax.yaxis

    def label(v: float, _pos: Any) -> str:
        low, high = ax.get_xlim() if axis == "x" else ax.get_ylim()
        span = abs(high - low)
        if span >= 10:
            return fmt_usd(v).replace(".00", "")
        decimals = min(8, max(2, 1 - math.floor(math.log10(span)) if span > 0 else 2))
        return f"-${-v:,.{decimals}f}" if v < 0 else f"${v:,.{decimals}f}"

    target.set_major_formatter(FuncFormatter(label))


def save(fig: Any, path: Path, plt: Any) -> None:
    """Writes `fig` to `path` as a 100 dpi PNG without metadata, and closes it."""
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)


def _origin(steps: Sequence[Mapping[str, Any]]) -> datetime | None:
    """The UTC time of t = 0, from the first step with a readable `time`; None without one."""
    for step in steps:
        try:
            when = datetime.fromisoformat(str(step.get("time")).replace("Z", "+00:00"))
        except ValueError:
            continue
        return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)) - timedelta(seconds=as_int(step.get("t"), 0))
    return None


class TimeAxis:
    """Scenario seconds as matplotlib x values: UTC dates when the series says when t = 0 is, hours otherwise."""

    def __init__(self, steps: Sequence[Mapping[str, Any]]) -> None:
        self.origin = _origin(steps)

    def x(self, ts: Iterable[float]) -> list[float]:
        """x values of scenario seconds `ts`: matplotlib date numbers (days), or hours without a date."""
        if self.origin is None:
            return [t / HOUR for t in ts]
        import matplotlib.dates as mdates  # noqa: PLC0415

        base = mdates.date2num(self.origin)
        return [base + float(t) / 86_400 for t in ts]

    def style(self, ax: Any, maxticks: int = 9) -> None:
        """Date ticks in UTC (at most `maxticks`; or hours) and the axis label."""
        if self.origin is None:
            ax.set_xlabel("hours since start")
            return
        import matplotlib.dates as mdates  # noqa: PLC0415

        locator = mdates.AutoDateLocator(tz=timezone.utc, minticks=2, maxticks=maxticks)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=timezone.utc))
        ax.set_xlabel("time (UTC)")


def _nan(values: Iterable[float | None]) -> list[float]:
    return [math.nan if v is None else v for v in values]


def _placeholder(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=14, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def _runs(ts: Sequence[float], flags: Sequence[bool]) -> list[tuple[float, float]]:
    """Contiguous spans [start, end) of flagged steps; a step spans to the next step's time."""
    spans: list[tuple[float, float]] = []
    step = (ts[-1] - ts[0]) / max(1, len(ts) - 1) if len(ts) > 1 else 1 / 60
    for i, on in enumerate(flags):
        if not on:
            continue
        end = ts[i + 1] if i + 1 < len(ts) else ts[i] + step
        if spans and spans[-1][1] == ts[i]:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((ts[i], end))
    return spans


def draw_charts(report: Mapping[str, Any], paths: Mapping[str, Path]) -> None:
    """Draws the charts of `report` to paths["prices"], ["fund"], ["liquidations"], ["adl"] and ["market"]."""
    plt = pyplot()
    steps = time_steps(report)
    markets = market_names({"series": report.get("series")})
    name = as_dict(report.get("scenario")).get("name") or "replay"
    axis = TimeAxis(steps)
    _chart_prices(plt, steps, markets, name, paths["prices"], axis)
    _chart_fund(plt, steps, markets, name, paths["fund"], axis)
    _chart_liquidations(plt, report, steps, name, paths["liquidations"], axis)
    _chart_adl(plt, report, steps, name, paths["adl"], axis)
    _chart_market(plt, report, steps, markets, name, paths["market"], axis)


def crash_window(ts: Sequence[int], prices: Sequence[float | None]) -> tuple[int, int] | None:
    """[start, end] scenario seconds around the series' deepest fall, from its prior peak to its low: from the
    last time the price had fallen less than 10% of the way (in log terms) to the first time it had fallen 90% of
    it, padded by a quarter on each side (at least five minutes). None with fewer than three prices or no fall."""
    points = [(t, math.log(p)) for t, p in zip(ts, prices) if p is not None and p > 0]
    if len(points) < 3:
        return None
    low_i = min(range(len(points)), key=lambda i: points[i][1])
    peak, low = max(p for _, p in points[: low_i + 1]), points[low_i][1]
    if peak <= low:
        return None
    begin = max(t for t, p in points[: low_i + 1] if p >= peak - 0.1 * (peak - low))
    end = min(t for t, p in points[: low_i + 1] if p <= low + 0.1 * (peak - low))
    pad = max((end - begin) / 4, 300)
    return int(max(points[0][0], begin - pad)), int(min(points[-1][0], end + pad))


def _price_axis(ax: Any, values: Sequence[float]) -> None:
    """Dollar prices on `ax`; a log scale when they span more than LOG_SCALE_RATIO."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: PLC0415

    positive = [v for v in values if v is not None and not math.isnan(v) and v > 0]
    if positive and max(positive) / min(positive) > LOG_SCALE_RATIO:
        ax.set_yscale("log")
        decades = math.log10(max(positive) / min(positive))
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if decades <= 2.5 else (1.0,)))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_ylabel("price [USD, log scale]")
    else:
        ax.set_ylabel("price [USD]")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"${v:,.6g}"))


def _chart_prices(plt: Any, steps: list[dict], markets: list[str], title: str, path: Path, axis: TimeAxis) -> None:
    n = max(1, len(markets))
    fig, axes = plt.subplots(n, 2, figsize=(13, 3.4 * n + 0.6), squeeze=False, gridspec_kw={"width_ratios": [2, 1]})
    fig.suptitle(f"{title}: venue prices (dotted: without this platform's flows) and the oracle median (right: the crash window)"
                 if any("exogenous" in as_dict(m) for s in steps for m in as_dict(s.get("markets")).values())
                 else f"{title}: venue prices and the oracle median (right: the crash window)")
    if not steps or not markets:
        _placeholder(axes[0][0], "No price series")
        axes[0][1].set_visible(False)
        save(fig, path, plt)
        return
    ts = [s["t"] for s in steps]
    x = axis.x(ts)
    for (ax, zoom), market in zip(axes, markets):
        per_step = [as_dict(as_dict(s.get("markets")).get(market)) for s in steps]
        venues = sorted({v for m in per_step for v in as_dict(m.get("venues"))})
        oracle = _nan(as_number(m.get("oracle")) for m in per_step)
        drawn: list[float] = list(oracle)
        for panel in (ax, zoom):
            for i, venue in enumerate(venues):
                line = _nan(as_number(as_dict(m.get("venues")).get(venue)) for m in per_step)
                drawn += line if panel is ax else []
                style = VENUE_STYLES[i % len(VENUE_STYLES)]
                drawn_line = panel.plot(x, line, lw=1.6, alpha=0.9, ls=style, label=venue, zorder=2)[0]
                exogenous = _nan(as_number(as_dict(m.get("exogenous")).get(venue)) for m in per_step)
                if any(not math.isnan(v) for v in exogenous):  # with price impact: the path without this platform's flows
                    panel.plot(x, exogenous, lw=0.9, alpha=0.6, ls=":", color=drawn_line.get_color(), label=f"{venue} exogenous", zorder=1)
            panel.plot(x, oracle, color="black", lw=1.0, ls="--", label="oracle median", zorder=3)
            panel.grid(alpha=0.3)
        _price_axis(ax, drawn)
        _price_axis(zoom, drawn)
        window = crash_window(ts, [None if math.isnan(v) else v for v in oracle]) or (ts[0], ts[-1])
        lo, hi = axis.x(window)
        zoom.set_xlim(lo, hi if hi > lo else lo + 1e-3)
        ax.axvspan(lo, hi, color="0.5", alpha=0.1, lw=0)
        ax.set_title(market)
        zoom.set_title(f"{market}: crash window")
        ax.legend(loc="best", fontsize=8)
        axis.style(ax)
        axis.style(zoom, maxticks=5)
    fig.tight_layout()
    save(fig, path, plt)


def _chart_fund(plt: Any, steps: list[dict], markets: list[str], title: str, path: Path, axis: TimeAxis) -> None:
    n = 1 + len(markets)
    fig, axes = plt.subplots(n, 1, figsize=(10, 3 * n + 0.6), squeeze=False, sharex=True)
    fig.suptitle(f"{title}: insurance fund (shaded: fund risk flagged)")
    if not steps:
        _placeholder(axes[0][0], "No fund series")
        for row in axes[1:]:
            row[0].set_visible(False)
        save(fig, path, plt)
        return
    x = axis.x([s["t"] for s in steps])
    ax = axes[0][0]
    ax.plot(x, _nan(as_number(s.get("global_pool")) for s in steps), color="tab:blue", lw=2, label="global pool")
    depleted = [
        any(as_int(as_dict(m).get("fund_risk"), 0) & GLOBAL_DEPLETED for m in as_dict(s.get("markets")).values()) for s in steps
    ]
    for a, b in _runs(x, depleted):
        ax.axvspan(a, b, color="tab:red", alpha=0.15, lw=0)
    ax.set_title("global pool (shaded: at or below its floor)")
    for row, market in zip(axes[1:], markets):
        ax = row[0]
        per_step = [as_dict(as_dict(s.get("markets")).get(market)) for s in steps]
        ax.plot(x, _nan(as_number(m.get("sub_pool")) for m in per_step), color="tab:blue", lw=2, label="sub-pool")
        ax.plot(x, _nan(as_number(m.get("peak_8h")) for m in per_step), color="tab:gray", ls="--",
                label="8h peak (InsuranceFund.peak8h: highest hourly snapshot)")
        ax.plot(x, _nan(as_number(m.get("drawdown_threshold")) for m in per_step), color="tab:orange", ls=":", lw=1.5,
                label="drawdown threshold")
        for a, b in _runs(x, [as_int(m.get("fund_risk"), 0) != 0 for m in per_step]):
            ax.axvspan(a, b, color="tab:red", alpha=0.15, lw=0)
        ax.set_title(f"{market} sub-pool")
    for row in axes:
        usd_axis(row[0])
        row[0].set_ylim(bottom=0)
        row[0].grid(alpha=0.3)
        row[0].legend(loc="best", fontsize=8)
    axis.style(axes[-1][0])
    fig.tight_layout()
    save(fig, path, plt)


LIQUIDATION_COLORS = {
    "standing_bid": "tab:green", "adl": "tab:brown", "auction": "tab:blue", "mixed": "tab:purple",
    "partial": "tab:orange", "unfilled": "tab:red",
}


def _chart_liquidations(plt: Any, report: Mapping[str, Any], steps: list[dict], title: str, path: Path, axis: TimeAxis) -> None:
    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.set_title(f"{title}: liquidations per step by how filled, cumulative shortfall")
    liqs = sorted((x for x in as_list(report.get("liquidations")) if isinstance(x, dict) and as_int(x.get("t"), -1) >= 0),
                  key=lambda x: (x["t"], as_int(x.get("id"), 0)))
    if not liqs:
        _placeholder(ax, "No liquidations")
        save(fig, path, plt)
        return
    ts = sorted({s["t"] for s in steps} | ({0} if not steps else set()))
    # each liquidation counts at the last step at or before its t
    counts = {k: [0] * len(ts) for k in FILLED_BY}
    for liq in liqs:
        i = max(0, bisect.bisect_right(ts, liq["t"]) - 1)
        key = liq.get("filled_by") if liq.get("filled_by") in counts else "unfilled"
        counts[key][i] += 1
    x = axis.x(ts)
    edges = x + [x[-1] + (x[-1] - x[-2] if len(x) > 1 else axis.x([60])[0] - axis.x([0])[0])]  # a step spans to the next
    bottom = [0] * len(ts)
    for key in FILLED_BY:  # stacked stairs: one artist per kind however many steps; kinds that never happened left out
        if not any(counts[key]):
            continue
        top = [b + c for b, c in zip(bottom, counts[key])]
        ax.stairs(top, edges, baseline=bottom, fill=True, color=LIQUIDATION_COLORS[key], label=key)
        bottom = top
    axis.style(ax)
    ax.set_ylabel("liquidations per step")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    _cumulative_overlay(ax, axis, [liq["t"] for liq in liqs], [as_number(liq.get("shortfall")) or 0.0 for liq in liqs],
                        "cumulative shortfall")
    fig.tight_layout()
    save(fig, path, plt)


def _chart_adl(plt: Any, report: Mapping[str, Any], steps: list[dict], title: str, path: Path, axis: TimeAxis) -> None:
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.set_title(f"{title}: auto-deleveraging, profit taken")
    events = sorted((e for e in as_list(report.get("adl")) if isinstance(e, dict) and as_int(e.get("t"), -1) >= 0),
                    key=lambda e: (e["t"], as_int(e.get("rank"), 0)))
    if not events:
        _placeholder(ax, "No ADL events")
        save(fig, path, plt)
        return
    for market in sorted({str(e.get("market")) for e in events}):
        mine = [e for e in events if str(e.get("market")) == market]
        ax.scatter(axis.x([e["t"] for e in mine]), [as_number(e.get("profit_taken")) or 0.0 for e in mine], s=25,
                   label=f"{market} per event")
    axis.style(ax)
    ax.set_ylabel("profit taken per event")
    ax.set_ylim(bottom=0)
    usd_axis(ax)
    if steps:  # the same time axis as the other charts
        lo, hi = axis.x([0, max(steps[-1]["t"], events[-1]["t"])])
        ax.set_xlim(lo - 0.01 * (hi - lo), hi + 0.01 * (hi - lo) + 1e-6)
    ax.grid(alpha=0.3)
    _cumulative_overlay(ax, axis, [e["t"] for e in events], [as_number(e.get("profit_taken")) or 0.0 for e in events],
                        "cumulative profit taken")
    fig.tight_layout()
    save(fig, path, plt)


def _chart_market(plt: Any, report: Mapping[str, Any], steps: list[dict], markets: list[str], title: str, path: Path,
                  axis: TimeAxis) -> None:
    n = max(1, len(markets))
    fig, axes = plt.subplots(n, 1, figsize=(10, 3.2 * n + 0.6), squeeze=False, sharex=True)
    fig.suptitle(f"{title}: open interest and liquidated notional per hour")
    if not steps or not markets:
        _placeholder(axes[0][0], "No market series")
        save(fig, path, plt)
        return
    ts = [s["t"] for s in steps]
    liqs = [as_dict(x) for x in as_list(report.get("liquidations")) if as_int(as_dict(x).get("t"), -1) >= 0]
    hours = range(0, ts[-1] // HOUR + 1)  # the last hour may be cut short by the end of the replay
    edges = axis.x([h * HOUR for h in hours] + [max(ts[-1], hours[-1] * HOUR + 60)])
    for row, market in zip(axes, markets):
        ax = row[0]
        oi = [as_number(as_dict(as_dict(s.get("markets")).get(market)).get("open_interest")) for s in steps]
        ax.plot(axis.x(ts), _nan(oi), color="tab:blue", lw=2, label="open interest (long side, at the oracle price)")
        per_hour = [0.0] * len(hours)
        for liq in liqs:
            if liq.get("market") == market and liq["t"] // HOUR < len(per_hour):
                per_hour[liq["t"] // HOUR] += as_number(liq.get("notional")) or 0.0
        if any(per_hour):
            ax.stairs(per_hour, edges, fill=True, color="tab:red", alpha=0.4, label="liquidated notional in the hour")
        ax.set_title(market)
        ax.set_ylim(bottom=0)
        ax.set_xlim(edges[0], edges[-1])
        usd_axis(ax)
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
    axis.style(axes[-1][0])
    fig.tight_layout()
    save(fig, path, plt)


def _cumulative_overlay(ax: Any, axis: TimeAxis, ts: list[int], amounts: list[float], label: str) -> None:
    """A running total of `amounts` [USD] at times `ts` [s] on a second y axis, with one legend for both. The
    axis spans at least $1, so that a total of a fraction of a cent stays a flat line at zero."""
    ax2 = ax.twinx()
    cum, total = [], 0.0
    for amount in amounts:
        total += amount
        cum.append(total)
    ax2.step(axis.x(ts), cum, where="post", color="black", lw=1.5, label=label)
    ax2.set_ylabel(label)
    ax2.set_ylim(0, max(total * 1.05, 1.0))
    usd_axis(ax2)
    handles, labels = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(handles + h2, labels + l2, loc="upper left", fontsize=8)
