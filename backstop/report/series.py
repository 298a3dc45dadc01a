"""Views of a report's time series: its markets, its steps in time order, the 8-hour peak, the fund by hour.

All of them read a possibly partial report: steps without an integer ``t`` are skipped, missing numbers
are gaps (None).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from backstop.model.fund import HOUR
from backstop.report.access import as_dict, as_int, as_list, as_number

__all__ = ["PEAK_WINDOW", "drawdown_pct", "hourly_rows", "market_names", "rolling_peak", "time_steps"]

PEAK_WINDOW = 8 * HOUR  # [seconds] window of the 8-hour peak (InsuranceFund.peak8h)


def market_names(report: Mapping[str, Any]) -> list[str]:
    """Every market named in the series, the liquidations or the ADL events, sorted."""
    names: set[str] = set()
    for step in as_list(report.get("series")):
        names.update(k for k in as_dict(as_dict(step).get("markets")) if isinstance(k, str))
    for item in as_list(report.get("liquidations")) + as_list(report.get("adl")):
        if isinstance(as_dict(item).get("market"), str):
            names.add(item["market"])
    return sorted(names)


def time_steps(report: Mapping[str, Any]) -> list[dict]:
    """Series steps with an integer t >= 0, in time order."""
    steps = [s for s in as_list(report.get("series")) if isinstance(s, dict) and as_int(s.get("t"), -1) >= 0]
    return sorted(steps, key=lambda s: s["t"])


def rolling_peak(ts: Sequence[int], values: Sequence[float | None], window: int = PEAK_WINDOW) -> list[float | None]:
    """Max of values over [t - window, t] at each t (the global pool's 8-hour peak, computed from the series)."""
    out: list[float | None] = []
    window_max: deque[tuple[int, float]] = deque()  # (t, value), values decreasing
    for t, v in zip(ts, values):
        if v is not None:
            while window_max and window_max[-1][1] <= v:
                window_max.pop()
            window_max.append((t, v))
        while window_max and window_max[0][0] < t - window:
            window_max.popleft()
        out.append(window_max[0][1] if window_max else None)
    return out


def drawdown_pct(pool: float | None, peak: float | None) -> float | None:
    """(peak - pool) / peak in percent, at least 0; None without a positive peak or a pool."""
    if pool is None or peak is None or peak <= 0:
        return None
    return max(0.0, (peak - pool) / peak * 100)


def hourly_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per hour covered by the series (hour = t // 3600).

    Pools and peaks are the state at the last step of the hour; fund-risk flags are the OR over every step
    of the hour, so a flag raised and cleared within the hour still shows.
    """
    rows: dict[int, dict[str, Any]] = {}
    for step in time_steps(report):
        hour = step["t"] // HOUR
        row = rows.setdefault(hour, {"hour": hour, "flags": {}})
        row["t"] = step["t"]
        row["time"] = step.get("time")
        row["global_pool"] = as_number(step.get("global_pool"))
        row.setdefault("markets", {})
        for name, m in as_dict(step.get("markets")).items():
            m = as_dict(m)
            row["markets"][name] = {"sub_pool": as_number(m.get("sub_pool")), "peak_8h": as_number(m.get("peak_8h"))}
            row["flags"][name] = row["flags"].get(name, 0) | max(0, as_int(m.get("fund_risk"), 0))
    return [rows[h] for h in sorted(rows)]
