"""The charts of a report folder, and the chart helpers the studies (compare, size-fund) draw theirs with.

``draw_charts(report, paths)`` draws ``prices.png`` (venue prices and the oracle median per market),
``fund.png`` (the global pool and each sub-pool with its 8-hour peak and drawdown threshold, shaded where
fund risk is flagged), ``liquidations.png`` (liquidations per step by how filled, cumulative shortfall) and
``adl.png`` (profit taken per ADL event, cumulative). matplotlib is imported only when a chart is drawn, with
the non-interactive Agg backend; a PNG holds no software or date metadata, so the same report gives the same
bytes.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from backstop.model.fund import GLOBAL_DEPLETED, HOUR
from backstop.report.access import as_dict, as_int, as_list, as_number
from backstop.report.format import fmt_usd
from backstop.report.schema import FILLED_BY
from backstop.report.series import market_names, time_steps

__all__ = ["CHART_FILES", "draw_charts", "pyplot", "save", "usd_axis"]

CHART_FILES = {
    "prices": "prices.png",
    "fund": "fund.png",
    "liquidations": "liquidations.png",
    "adl": "adl.png",
}


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
    target.set_major_formatter(FuncFormatter(lambda v, _pos: fmt_usd(v).replace(".00", "")))


def save(fig: Any, path: Path, plt: Any) -> None:
    """Writes `fig` to `path` as a 100 dpi PNG without metadata, and closes it."""
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)


def _hours(ts: Sequence[int]) -> list[float]:
    return [t / HOUR for t in ts]


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
    """Draws the four charts of `report` to paths["prices"], ["fund"], ["liquidations"] and ["adl"]."""
    plt = pyplot()
    steps = time_steps(report)
    markets = market_names({"series": report.get("series")})
    name = as_dict(report.get("scenario")).get("name") or "replay"
    _chart_prices(plt, steps, markets, name, paths["prices"])
    _chart_fund(plt, steps, markets, name, paths["fund"])
    _chart_liquidations(plt, report, steps, name, paths["liquidations"])
    _chart_adl(plt, report, steps, name, paths["adl"])


def _chart_prices(plt: Any, steps: list[dict], markets: list[str], title: str, path: Path) -> None:
    n = max(1, len(markets))
    fig, axes = plt.subplots(n, 1, figsize=(10, 3.2 * n + 0.6), squeeze=False, sharex=True)
    fig.suptitle(f"{title}: venue prices and oracle median")
    if not steps or not markets:
        _placeholder(axes[0][0], "No price series")
        save(fig, path, plt)
        return
    x = _hours([s["t"] for s in steps])
    for ax, market in zip((row[0] for row in axes), markets):
        per_step = [as_dict(as_dict(s.get("markets")).get(market)) for s in steps]
        venues = sorted({v for m in per_step for v in as_dict(m.get("venues"))})
        for venue in venues:
            ax.plot(x, _nan(as_number(as_dict(m.get("venues")).get(venue)) for m in per_step), lw=1, alpha=0.8, label=venue)
        ax.plot(x, _nan(as_number(m.get("oracle")) for m in per_step), color="black", lw=2, label="oracle median")
        ax.set_title(market)
        ax.set_ylabel("price [USD]")
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
    axes[-1][0].set_xlabel("hours since start")
    fig.tight_layout()
    save(fig, path, plt)


def _chart_fund(plt: Any, steps: list[dict], markets: list[str], title: str, path: Path) -> None:
    n = 1 + len(markets)
    fig, axes = plt.subplots(n, 1, figsize=(10, 3 * n + 0.6), squeeze=False, sharex=True)
    fig.suptitle(f"{title}: insurance fund (shaded: fund risk flagged)")
    if not steps:
        _placeholder(axes[0][0], "No fund series")
        for row in axes[1:]:
            row[0].set_visible(False)
        save(fig, path, plt)
        return
    ts = [s["t"] for s in steps]
    x = _hours(ts)
    ax = axes[0][0]
    pool = [as_number(s.get("global_pool")) for s in steps]
    ax.plot(x, _nan(pool), color="tab:blue", lw=2, label="global pool")
    depleted = [
        any(as_int(as_dict(m).get("fund_risk"), 0) & GLOBAL_DEPLETED for m in as_dict(s.get("markets")).values()) for s in steps
    ]
    for a, b in _runs(x, depleted):
        ax.axvspan(a, b, color="tab:red", alpha=0.15, lw=0)
    ax.set_title("global pool")
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
        row[0].grid(alpha=0.3)
        row[0].legend(loc="best", fontsize=8)
    axes[-1][0].set_xlabel("hours since start")
    fig.tight_layout()
    save(fig, path, plt)


def _chart_liquidations(plt: Any, report: Mapping[str, Any], steps: list[dict], title: str, path: Path) -> None:
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
    x = _hours(ts)
    edges = x + [x[-1] + (x[-1] - x[-2] if len(x) > 1 else 1 / 60)]  # each step spans to the next one
    bottom = [0] * len(ts)
    colors = {
        "standing_bid": "tab:green",
        "adl": "tab:brown",
        "auction": "tab:blue",
        "mixed": "tab:purple",
        "partial": "tab:orange",
        "unfilled": "tab:red",
    }
    for key in FILLED_BY:  # stacked stairs: four artists however many steps (bars would be one per step)
        top = [b + c for b, c in zip(bottom, counts[key])]
        ax.stairs(top, edges, baseline=bottom, fill=True, color=colors[key], label=key)
        bottom = top
    ax.set_xlabel("hours since start")
    ax.set_ylabel("liquidations per step")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    _cumulative_overlay(ax, [liq["t"] for liq in liqs], [as_number(liq.get("shortfall")) or 0.0 for liq in liqs], "cumulative shortfall")
    fig.tight_layout()
    save(fig, path, plt)


def _chart_adl(plt: Any, report: Mapping[str, Any], steps: list[dict], title: str, path: Path) -> None:
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
        ax.scatter([e["t"] / HOUR for e in mine], [as_number(e.get("profit_taken")) or 0.0 for e in mine], s=25,
                   label=f"{market} per event")
    ax.set_xlabel("hours since start")
    ax.set_ylabel("profit taken per event")
    ax.set_ylim(bottom=0)
    usd_axis(ax)
    if steps:  # the same time axis as the other charts
        ax.set_xlim(-0.01 * steps[-1]["t"] / HOUR, max(steps[-1]["t"], events[-1]["t"]) / HOUR * 1.01 + 1e-3)
    ax.grid(alpha=0.3)
    _cumulative_overlay(ax, [e["t"] for e in events], [as_number(e.get("profit_taken")) or 0.0 for e in events], "cumulative profit taken")
    fig.tight_layout()
    save(fig, path, plt)


def _cumulative_overlay(ax: Any, ts: list[int], amounts: list[float], label: str) -> None:
    """A running total of `amounts` [USD] at times `ts` [s] on a second y axis, with one legend for both."""
    ax2 = ax.twinx()
    cum, total = [], 0.0
    for amount in amounts:
        total += amount
        cum.append(total)
    ax2.step([t / HOUR for t in ts], cum, where="post", color="black", lw=1.5, label=label)
    ax2.set_ylabel(label)
    ax2.set_ylim(bottom=0)
    usd_axis(ax2)
    handles, labels = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(handles + h2, labels + l2, loc="upper left", fontsize=8)
