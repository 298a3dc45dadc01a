"""Replay reports: a replay's report dict in, a folder a risk engineer opens out.

The replay engine produces one dict per run, in the shape documented in ``docs/report-schema.md``
(``schema: 1``). This module only reads it:

- ``validate_report(report)`` lists what is missing or mistyped, in words (the engine calls it before writing);
- ``render_markdown(report)`` renders ``report.md``: scenario and sources, what is synthetic, totals, the fund
  hour by hour, the largest liquidations, the ADL victims and whether the run completed;
- ``write_report(report, out_dir, events)`` writes ``report.json``, ``report.md``, ``events.csv`` and the
  charts ``prices.png``, ``fund.png``, ``liquidations.png`` and ``adl.png``.

Missing optional parts (no ADL, no liquidations, a null oracle price at a step, even a missing section of a
partial report) render as "none" rows and gaps in lines, never as an exception. Units follow the schema:
amounts are USD floats, times are seconds since the start of the replay. matplotlib is imported only when
charts are drawn, with the non-interactive Agg backend.
"""

from __future__ import annotations

import bisect
import csv
import io
import json
import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
HOUR = 3600  # [seconds]
PEAK_WINDOW = 8 * HOUR  # [seconds] window of the 8-hour peak

# fund_risk bit flags, as InsuranceFund.fundRisk(market)
DRAWDOWN_FROM_PEAK = 1
FAST_DROP = 2
GLOBAL_DEPLETED = 4
FUND_RISK_WORDS: tuple[tuple[int, str], ...] = (
    (DRAWDOWN_FROM_PEAK, "drawdown from 8h peak"),
    (FAST_DROP, "fast drop"),
    (GLOBAL_DEPLETED, "global depleted"),
)

FILLED_BY = ("standing_bid", "auction", "adl", "mixed", "partial", "unfilled")
FILL_VIA = ("standing_bid", "auction", "adl")
SIDES = ("long", "short")
TOP_LIQUIDATIONS = 20  # rows in the Markdown's largest-liquidations table
MAX_ADL_ROWS = 50  # ADL events listed in the Markdown; the rest stay in report.json
EVENT_COLUMNS = ("block", "tx", "log_index", "contract", "event", "args")

CHART_FILES = {
    "prices": "prices.png",
    "fund": "fund.png",
    "liquidations": "liquidations.png",
    "adl": "adl.png",
}

# (key, label, unit, kind) of every totals field, in the order of the Summary table.
TOTALS_FIELDS: tuple[tuple[str, str, str, str], ...] = (
    ("liquidations", "Liquidations", "count", "int"),
    ("liquidated_notional", "Liquidated notional", "USD", "usd"),
    ("filled_by_standing_bids", "Filled by standing bids", "count", "int"),
    ("filled_by_auction", "Filled by auction", "count", "int"),
    ("partially_filled", "Partly filled (auction still running at the end)", "count", "int"),
    ("unfilled", "Unfilled", "count", "int"),
    ("queued_at_end", "Still queued by the throttle at the end", "count", "int"),
    ("restarts", "Auction restarts", "count", "int"),
    ("penalties", "Liquidation penalties", "USD", "usd"),
    ("keeper_incentives", "Keeper incentives", "USD", "usd"),
    ("shortfall", "Shortfall", "USD", "usd"),
    ("fund_used", "Insurance fund used", "USD", "usd"),
    ("bad_debt", "Bad debt", "USD", "usd"),
    ("fund_start", "Fund at start", "USD", "usd"),
    ("fund_end", "Fund at end", "USD", "usd"),
    ("peak_drawdown_pct", "Peak fund drawdown", "%", "pct"),
    ("adl_notional", "ADL notional", "USD", "usd"),
    ("adl_victims", "ADL victims", "count", "int"),
    ("adl_profit_taken", "ADL profit taken", "USD", "usd"),
    ("profit_haircut_beyond_need", "Profit haircut beyond need", "USD", "usd"),
)

THROUGHPUT_FIELDS: tuple[tuple[str, str, str, str], ...] = (
    ("transactions", "Transactions", "count", "int"),
    ("seconds", "Time sending them", "s", "num"),
    ("tx_per_s", "Throughput", "tx/s", "num"),
    ("raw_anvil_tx_per_s", "Raw Anvil throughput", "tx/s", "num"),
    ("ratio", "Ratio to raw Anvil", "x", "num"),
)


# --------------------------------------------------------------------------------------------- validation

# A type spec is one of: "int", "float" (int or float), "str", "bool", "iso" (ISO 8601 string), "any",
# "?<spec>" (that spec or None), a tuple of allowed strings, ["list", item spec], {"dict of": value spec}
# (any string keys), or a dict of required keys to specs.
_FILL_SPEC = {"t": "int", "keeper": "str", "qty": "float", "price": "float", "via": FILL_VIA}
_MARKET_STEP_SPEC = {
    "oracle": "?float",
    "venues": {"dict of": "float"},
    "sub_pool": "float",
    "peak_8h": "float",
    "fund_risk": "int",
    "open_interest": "float",
    "liquidity_risk": "bool",
    "drawdown_threshold": "float",
}
SCHEMA_SPEC: dict[str, Any] = {
    "schema": "int",
    "scenario": {
        "name": "str",
        "file": "str",
        "sha256": "str",
        "description": "str",
        "sources": ["list", "str"],
        "synthetic": ["list", "str"],
        "seed": "int",
    },
    "parameters": {"dict of": "any"},
    "run": {
        "network": "str",
        "started_at": "iso",
        "wall_seconds": "float",
        "steps": "int",
        "complete": "bool",
        "error": "?str",
    },
    "series": [
        "list",
        {"t": "int", "time": "iso", "global_pool": "float", "markets": {"dict of": _MARKET_STEP_SPEC}},
    ],
    "liquidations": [
        "list",
        {
            "id": "int",
            "t": "int",
            "market": "str",
            "trader": "str",
            "side": SIDES,
            "size": "float",
            "notional": "float",
            "mark": "float",
            "filled_by": FILLED_BY,
            "fills": ["list", _FILL_SPEC],
            "restarts": "int",
            "shortfall": "float",
            "penalty": "float",
            "returned": "float",
        },
    ],
    "adl": [
        "list",
        {
            "t": "int",
            "market": "str",
            "bankrupt": "str",
            "counterparty": "str",
            "rank": "int",
            "size": "float",
            "price": "float",
            "profit_taken": "float",
            "reason": "str",
        },
    ],
    "totals": {key: ("int" if kind == "int" else "float") for key, _, _, kind in TOTALS_FIELDS},
    "throughput": {
        key: ("int" if kind == "int" else "?float" if key in ("raw_anvil_tx_per_s", "ratio") else "float")
        for key, _, _, kind in THROUGHPUT_FIELDS
    },
    "buffers": ["list", {"t": "int", "market": "str", "drop_bps": "int", "until_t": "int"}],
    "keepers": [
        "list",
        {"name": "str", "liquidations": "int", "takes": "int", "restarts": "int", "online_steps": "int", "capital": "float"},
    ],
}


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _parse_iso(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _check(value: Any, spec: Any, path: str, problems: list[str]) -> None:
    """Appends to `problems` every way `value` departs from `spec` (see SCHEMA_SPEC)."""
    if isinstance(spec, str) and spec.startswith("?"):
        if value is not None:
            _check(value, spec[1:], path, problems)
        return
    if spec == "any":
        _check_json_value(value, path, problems)
    elif spec == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(f"{path}: expected an integer, got {_type_name(value)}")
    elif spec == "float":
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            problems.append(f"{path}: expected a number, got {_type_name(value)}")
        elif not math.isfinite(value):
            problems.append(f"{path}: expected a finite number, got {value!r}")
    elif spec == "str":
        if not isinstance(value, str):
            problems.append(f"{path}: expected a string, got {_type_name(value)}")
    elif spec == "bool":
        if not isinstance(value, bool):
            problems.append(f"{path}: expected true or false, got {_type_name(value)}")
    elif spec == "iso":
        if not isinstance(value, str):
            problems.append(f"{path}: expected an ISO 8601 time string, got {_type_name(value)}")
        elif _parse_iso(value) is None:
            problems.append(f"{path}: {value!r} is not an ISO 8601 time")
    elif isinstance(spec, tuple):
        if value not in spec:
            problems.append(f"{path}: expected one of {', '.join(spec)}, got {value!r}")
    elif isinstance(spec, list):
        if not isinstance(value, list):
            problems.append(f"{path}: expected a list, got {_type_name(value)}")
            return
        for i, item in enumerate(value):
            _check(item, spec[1], f"{path}[{i}]", problems)
    elif isinstance(spec, dict) and "dict of" in spec:
        if not isinstance(value, dict):
            problems.append(f"{path}: expected an object, got {_type_name(value)}")
            return
        for key, item in value.items():
            if not isinstance(key, str):
                problems.append(f"{path}: key {key!r} is not a string")
            _check(item, spec["dict of"], f"{path}.{key}", problems)
    elif isinstance(spec, dict):
        if not isinstance(value, dict):
            problems.append(f"{path}: expected an object, got {_type_name(value)}")
            return
        for key, sub in spec.items():
            if key not in value:
                problems.append(f"{path}.{key}: missing")
            else:
                _check(value[key], sub, f"{path}.{key}", problems)
    else:  # pragma: no cover - a bad spec is a bug in this module
        raise TypeError(f"unknown spec {spec!r}")


def _check_json_value(value: Any, path: str, problems: list[str]) -> None:
    """Anything JSON can hold exactly: null, bool, int, finite float, str, lists and string-keyed objects."""
    if value is None or isinstance(value, (bool, int, str)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            problems.append(f"{path}: expected a finite number, got {value!r}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_json_value(item, f"{path}[{i}]", problems)
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                problems.append(f"{path}: key {key!r} is not a string")
            _check_json_value(item, f"{path}.{key}", problems)
    else:
        problems.append(f"{path}: {_type_name(value)} cannot be written to JSON")


def validate_report(report: dict) -> list[str]:
    """Every problem of `report` against schema 1, one human-readable line each; [] when it conforms.

    Checks presence and type of every field, the enumerations (side, filled_by, via), ISO times, finite
    numbers, known fund_risk bits and the schema version. It does not check that totals add up.
    """
    if not isinstance(report, dict):
        return [f"report: expected an object, got {_type_name(report)}"]
    problems: list[str] = []
    for key, spec in SCHEMA_SPEC.items():
        if key not in report:
            problems.append(f"{key}: missing")
        else:
            _check(report[key], spec, key, problems)
    if isinstance(report.get("schema"), int) and report["schema"] != SCHEMA_VERSION:
        problems.append(f"schema: version {report['schema']} is not {SCHEMA_VERSION}")
    known_bits = sum(bit for bit, _ in FUND_RISK_WORDS)
    for i, step in enumerate(_list(report.get("series"))):
        for name, m in _dict(_dict(step).get("markets")).items():
            flags = _dict(m).get("fund_risk")
            if isinstance(flags, int) and not isinstance(flags, bool) and (flags < 0 or flags & ~known_bits):
                problems.append(f"series[{i}].markets.{name}.fund_risk: unknown bits in {flags}")
    extra = sorted(set(report) - set(SCHEMA_SPEC))
    if extra:
        problems.append(f"report: unknown top-level keys {', '.join(map(str, extra))}")
    return problems


# ------------------------------------------------------------------------------------ safe access helpers


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _num(value: Any) -> float | None:
    """A finite number as float, anything else as None (a gap)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


# --------------------------------------------------------------------------------------------- formatting


def fmt_usd(value: Any) -> str:
    """$1,234.56 (cents), -$12.00; "n/a" for a missing value."""
    x = _num(value)
    if x is None:
        return "n/a"
    if round(x, 2) == 0:
        x = 0.0
    return f"-${-x:,.2f}" if x < 0 else f"${x:,.2f}"


def fmt_count(value: Any) -> str:
    """1,234; "n/a" for a missing value."""
    x = _num(value)
    return "n/a" if x is None else f"{round(x):,}"


def fmt_pct(value: Any) -> str:
    """12.34% for a value already in percent."""
    x = _num(value)
    return "n/a" if x is None else f"{x:.2f}%"


def fmt_num(value: Any, decimals: int = 2) -> str:
    x = _num(value)
    return "n/a" if x is None else f"{x:,.{decimals}f}"


def fmt_price(value: Any) -> str:
    """Prices keep 6 significant digits below $1 (OM at $0.4123) and 4 decimals above."""
    x = _num(value)
    if x is None:
        return "n/a"
    if abs(x) >= 1 or x == 0:
        return f"{x:,.4f}"
    return f"{x:.6g}" if abs(x) >= 1e-4 else f"{x:.4e}"


def fmt_t(t: Any) -> str:
    """Seconds since start as +H:MM:SS (hours may exceed 24)."""
    s = _int(t, -1)
    if s < 0:
        return "n/a"
    return f"+{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def fund_risk_words(flags: Any) -> str:
    """fund_risk bits in words: 3 -> "drawdown from 8h peak, fast drop"; 0 -> "none"."""
    bits = _int(flags, 0)
    if bits <= 0:
        return "none"
    words = [word for bit, word in FUND_RISK_WORDS if bits & bit]
    unknown = bits & ~sum(bit for bit, _ in FUND_RISK_WORDS)
    if unknown:
        words.append(f"unknown bits {unknown}")
    return ", ".join(words)


def _format(value: Any, kind: str) -> str:
    return {"usd": fmt_usd, "int": fmt_count, "pct": fmt_pct}.get(kind, fmt_num)(value)


def _cell(value: Any) -> str:
    """Text safe inside a Markdown table cell."""
    text = "" if value is None else str(value)
    return " ".join(text.split()).replace("|", "\\|") or " "


def _short(who: Any) -> str:
    """0x-addresses shortened to 0x1234…abcd; labels kept."""
    text = str(who) if who is not None else "n/a"
    if text.startswith("0x") and len(text) == 42:
        return f"{text[:6]}…{text[-4:]}"
    return text


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]], align: str | None = None) -> list[str]:
    """A Markdown table; `align` has one letter per column, l or r."""
    align = align or "l" * len(header)
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |"]
    lines.append("| " + " | ".join("---:" if a == "r" else "---" for a in align) + " |")
    lines.extend("| " + " | ".join(_cell(c) for c in row) + " |" for row in rows)
    return lines


# ------------------------------------------------------------------------------------------ series views


def market_names(report: Mapping[str, Any]) -> list[str]:
    """Every market named in the series, the liquidations or the ADL events, sorted."""
    names: set[str] = set()
    for step in _list(report.get("series")):
        names.update(k for k in _dict(_dict(step).get("markets")) if isinstance(k, str))
    for item in _list(report.get("liquidations")) + _list(report.get("adl")):
        if isinstance(_dict(item).get("market"), str):
            names.add(item["market"])
    return sorted(names)


def _steps(report: Mapping[str, Any]) -> list[dict]:
    """Series steps with an integer t, in time order."""
    steps = [s for s in _list(report.get("series")) if isinstance(s, dict) and _int(s.get("t"), -1) >= 0]
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


def _drawdown_pct(pool: float | None, peak: float | None) -> float | None:
    if pool is None or peak is None or peak <= 0:
        return None
    return max(0.0, (peak - pool) / peak * 100)


def hourly_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per hour covered by the series (hour = t // 3600).

    Pools and peaks are the state at the last step of the hour; fund-risk flags are the OR over every step
    of the hour, so a flag raised and cleared within the hour still shows.
    """
    steps = _steps(report)
    ts = [s["t"] for s in steps]
    global_peak = rolling_peak(ts, [_num(s.get("global_pool")) for s in steps])
    rows: dict[int, dict[str, Any]] = {}
    for step, gpeak in zip(steps, global_peak):
        hour = step["t"] // HOUR
        row = rows.setdefault(hour, {"hour": hour, "flags": {}})
        row["t"] = step["t"]
        row["time"] = step.get("time")
        row["global_pool"] = _num(step.get("global_pool"))
        row["global_peak"] = gpeak
        row.setdefault("markets", {})
        for name, m in _dict(step.get("markets")).items():
            m = _dict(m)
            row["markets"][name] = {"sub_pool": _num(m.get("sub_pool")), "peak_8h": _num(m.get("peak_8h"))}
            row["flags"][name] = row["flags"].get(name, 0) | max(0, _int(m.get("fund_risk"), 0))
    return [rows[h] for h in sorted(rows)]


# --------------------------------------------------------------------------------------------- Markdown


def _header(report: Mapping[str, Any]) -> list[str]:
    sc = _dict(report.get("scenario"))
    run = _dict(report.get("run"))
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
    sources = [s for s in _list(sc.get("sources"))]
    lines += [f"- {s}" for s in sources] if sources else ["- none listed"]
    lines += ["", "## Synthetic parts", ""]
    synthetic = _list(sc.get("synthetic"))
    if synthetic:
        lines += ["These inputs are invented, not taken from the sources:", ""]
        lines += [f"- {s}" for s in synthetic]
    else:
        lines.append("None: the scenario declares no synthetic inputs.")
    return lines


def _run_error(run: Mapping[str, Any]) -> str:
    error = run.get("error")
    return f"Error: `{_cell(error)}`." if error else "No error was recorded."


def _summary(report: Mapping[str, Any]) -> list[str]:
    totals = _dict(report.get("totals"))
    lines = ["## Summary", ""]
    lines += _table(
        ("metric", "value", "unit"),
        ((label, _format(totals.get(key), kind), unit) for key, label, unit, kind in TOTALS_FIELDS),
        "lrl",
    )
    tp = _dict(report.get("throughput"))
    lines += ["", "### Throughput", ""]
    lines += _table(
        ("metric", "value", "unit"),
        ((label, _format(tp.get(key), kind), unit) for key, label, unit, kind in THROUGHPUT_FIELDS),
        "lrl",
    )
    return lines


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
    params = _flatten(_dict(report.get("parameters")))
    lines = ["## Parameters", ""]
    if not params:
        return lines + ["none"]
    return lines + _table(
        ("parameter", "value"), ((f"`{k}`", json.dumps(v, sort_keys=True, default=str)) for k, v in params)
    )


def _fund_by_hour(report: Mapping[str, Any]) -> list[str]:
    rows = hourly_rows(report)
    markets = market_names({"series": report.get("series")})
    lines = [
        "## Fund by hour",
        "",
        "State at the last step of each hour; drawdown is from the 8-hour peak (the global pool's peak is "
        "computed from the series); fund-risk flags are those raised at any step of the hour.",
        "",
    ]
    if not rows:
        return lines + ["none: the series is empty."]
    header = ["hour", "time", "global pool [USD]", "global drawdown"]
    for m in markets:
        header += [f"{m} pool [USD]", f"{m} 8h peak [USD]", f"{m} drawdown", f"{m} fund risk"]
    body = []
    for row in rows:
        cells = [
            str(row["hour"]),
            row.get("time") or fmt_t(row.get("t")),
            fmt_usd(row["global_pool"]),
            fmt_pct(_drawdown_pct(row["global_pool"], row["global_peak"])),
        ]
        for m in markets:
            mk = row["markets"].get(m)
            if mk is None:
                cells += ["n/a", "n/a", "n/a", "n/a"]
            else:
                cells += [
                    fmt_usd(mk["sub_pool"]),
                    fmt_usd(mk["peak_8h"]),
                    fmt_pct(_drawdown_pct(mk["sub_pool"], mk["peak_8h"])),
                    fund_risk_words(row["flags"].get(m, 0)),
                ]
        body.append(cells)
    return lines + _table(header, body, "rlrr" + "rrrl" * len(markets))


def _liquidations(report: Mapping[str, Any]) -> list[str]:
    liqs = [x for x in _list(report.get("liquidations")) if isinstance(x, dict)]
    lines = ["## Liquidations", ""]
    counts = {k: 0 for k in FILLED_BY}
    notional = {k: 0.0 for k in FILLED_BY}
    for liq in liqs:
        key = liq.get("filled_by") if liq.get("filled_by") in counts else None
        if key is None:
            continue
        counts[key] += 1
        notional[key] += _num(liq.get("notional")) or 0.0
    lines += ["### By how filled", ""]
    lines += _table(
        ("filled by", "count", "notional [USD]"),
        ((k, fmt_count(counts[k]), fmt_usd(notional[k])) for k in FILLED_BY),
        "lrr",
    )
    lines += ["", f"### Largest {TOP_LIQUIDATIONS} by notional", ""]
    if not liqs:
        return lines + ["none: no liquidations in this run."]
    top = sorted(liqs, key=lambda x: (-(_num(x.get("notional")) or 0.0), _int(x.get("id"), 0)))[:TOP_LIQUIDATIONS]
    header = ("id", "t", "market", "trader", "side", "size", "notional [USD]", "mark [USD]", "filled by",
              "fills", "restarts", "shortfall [USD]", "penalty [USD]", "returned [USD]")
    body = [
        (
            liq.get("id", "n/a"),
            fmt_t(liq.get("t")),
            liq.get("market", "n/a"),
            _short(liq.get("trader")),
            liq.get("side", "n/a"),
            fmt_num(liq.get("size"), 4),
            fmt_usd(liq.get("notional")),
            fmt_price(liq.get("mark")),
            liq.get("filled_by", "n/a"),
            len(_list(liq.get("fills"))),
            fmt_count(liq.get("restarts")),
            fmt_usd(liq.get("shortfall")),
            fmt_usd(liq.get("penalty")),
            fmt_usd(liq.get("returned")),
        )
        for liq in top
    ]
    lines += _table(header, body, "rllllrrrlrrrrr")
    if len(liqs) > TOP_LIQUIDATIONS:
        lines += ["", f"{len(liqs) - TOP_LIQUIDATIONS} smaller liquidations are in report.json."]
    return lines


def _adl(report: Mapping[str, Any]) -> list[str]:
    events = [x for x in _list(report.get("adl")) if isinstance(x, dict)]
    lines = ["## ADL victims", ""]
    if not events:
        return lines + ["No ADL events."]
    victims: dict[str, dict[str, Any]] = {}
    for e in events:
        v = victims.setdefault(str(e.get("counterparty", "n/a")), {"n": 0, "profit": 0.0, "size": 0.0, "markets": set()})
        v["n"] += 1
        v["profit"] += _num(e.get("profit_taken")) or 0.0
        v["size"] += abs(_num(e.get("size")) or 0.0)
        v["markets"].add(str(e.get("market", "n/a")))
    order = sorted(victims, key=lambda k: (-victims[k]["profit"], k))
    lines += _table(
        ("counterparty", "events", "markets", "size [units]", "profit taken [USD]"),
        (
            (_short(k), victims[k]["n"], ", ".join(sorted(victims[k]["markets"])), fmt_num(victims[k]["size"], 4),
             fmt_usd(victims[k]["profit"]))
            for k in order
        ),
        "lrlrr",
    )
    lines += ["", "### ADL events", ""]
    ordered = sorted(events, key=lambda e: (_int(e.get("t"), 0), str(e.get("market")), _int(e.get("rank"), 0)))
    lines += _table(
        ("t", "market", "bankrupt", "counterparty", "rank", "size", "price [USD]", "profit taken [USD]", "reason"),
        (
            (fmt_t(e.get("t")), e.get("market", "n/a"), _short(e.get("bankrupt")), _short(e.get("counterparty")),
             e.get("rank", "n/a"), fmt_num(e.get("size"), 4), fmt_price(e.get("price")), fmt_usd(e.get("profit_taken")),
             e.get("reason", ""))
            for e in ordered[:MAX_ADL_ROWS]
        ),
        "rlllrrrrl",
    )
    if len(ordered) > MAX_ADL_ROWS:
        lines += ["", f"{len(ordered) - MAX_ADL_ROWS} more ADL events are in report.json."]
    return lines


def _run(report: Mapping[str, Any]) -> list[str]:
    run = _dict(report.get("run"))
    lines = ["## Run", ""]
    if run.get("complete") is True:
        lines.append("Complete.")
        resumed = _dict(run.get("resumed"))
        if resumed:
            lines += [
                "",
                f"Resumed (`backstop replay --resume`) after a partial run that stopped after "
                f"{fmt_count(resumed.get('steps'))} steps ({resumed.get('error') or 'no reason recorded'}); "
                "replayed from t = 0 on a fresh chain, which gives the figures of an uninterrupted run.",
            ]
    else:
        steps = _steps(report)
        last = fmt_t(steps[-1]["t"]) if steps else "n/a"
        lines.append(
            f"**Partial report**: the run stopped before the end of the scenario. {_run_error(run)} "
            f"Figures cover the steps recorded before it stopped (last step {last})."
        )
    lines.append("")
    lines += _table(
        ("field", "value"),
        (
            ("network", run.get("network", "n/a")),
            ("started at", run.get("started_at", "n/a")),
            ("wall time [s]", fmt_num(run.get("wall_seconds"))),
            ("steps", fmt_count(run.get("steps"))),
            ("complete", "yes" if run.get("complete") is True else "no"),
            ("error", run.get("error") or "none"),
        ),
    )
    return lines


def render_markdown(report: dict) -> str:
    """report.md: header, synthetic parts, summary, fund by hour, liquidations, ADL victims, charts, run.

    Renders whatever is present; a missing or malformed section becomes "none"/"n/a" text, and schema
    problems found by `validate_report` are listed at the end.
    """
    report = _dict(report)
    parts = [
        _header(report),
        _summary(report),
        _fund_by_hour(report),
        _liquidations(report),
        _adl(report),
        ["## Charts", ""]
        + [f"![{key}]({name})" for key, name in CHART_FILES.items()],
        _parameters(report),
        _run(report),
    ]
    problems = validate_report(report)
    if problems:
        parts.append(["## Schema problems", ""] + [f"- {_cell(p)}" for p in problems])
    return "\n\n".join("\n".join(p) for p in parts) + "\n"


# ---------------------------------------------------------------------------------------------- files


def report_json(report: dict) -> str:
    """Deterministic JSON: sorted keys, indent 2, strict (no NaN), ending in a newline."""
    try:
        return json.dumps(report, sort_keys=True, indent=2, allow_nan=False, ensure_ascii=False) + "\n"
    except (ValueError, TypeError) as exc:
        raise ValueError(f"report cannot be written as strict JSON ({exc}); validate_report lists where") from exc


def _jsonable(value: Any) -> Any:
    """Event args as plain JSON: bytes as 0x-hex, Decimal and other objects as their str."""
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    return str(value)


def events_csv(events: Sequence[Mapping[str, Any]]) -> str:
    """block, tx, log_index, contract, event, args (compact JSON, sorted keys); rows in the given order."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(EVENT_COLUMNS)
    for ev in events:
        ev = _dict(ev)
        cells = [_jsonable(ev.get(col, "")) for col in EVENT_COLUMNS[:-1]]
        args = json.dumps(_jsonable(ev.get("args", {})), sort_keys=True, separators=(",", ":"))
        writer.writerow(["" if c is None else c for c in cells] + [args])
    return buf.getvalue()


def write_report(report: dict, out_dir: Path, events: list[dict] | None = None) -> dict[str, Path]:
    """Writes report.json, report.md, events.csv (when events are given) and the four PNG charts.

    Returns {"json", "markdown", "events"?, "prices", "fund", "liquidations", "adl"} -> path. Raises
    ValueError, before writing anything, when the report holds values strict JSON cannot (NaN, objects).
    """
    out_dir = Path(out_dir)
    text = report_json(report)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {"json": out_dir / "report.json", "markdown": out_dir / "report.md"}
    paths["json"].write_text(text, encoding="utf-8")
    paths["markdown"].write_text(render_markdown(report), encoding="utf-8")
    if events is not None:
        paths["events"] = out_dir / "events.csv"
        paths["events"].write_text(events_csv(events), encoding="utf-8")
    for key, name in CHART_FILES.items():
        paths[key] = out_dir / name
    _charts(report, paths)
    return paths


# --------------------------------------------------------------------------------------------- charts


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _hours(ts: Sequence[int]) -> list[float]:
    return [t / HOUR for t in ts]


def _nan(values: Iterable[float | None]) -> list[float]:
    return [math.nan if v is None else v for v in values]


def _placeholder(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=14, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def _usd_axis(ax: Any) -> None:
    """Plain dollar tick labels ($1,000,000), no offset or scientific notation."""
    from matplotlib.ticker import FuncFormatter

    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: fmt_usd(v).replace(".00", "")))


def _save(fig: Any, path: Path, plt: Any) -> None:
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)


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


def _charts(report: Mapping[str, Any], paths: Mapping[str, Path]) -> None:
    plt = _pyplot()
    steps = _steps(report)
    markets = market_names({"series": report.get("series")})
    name = _dict(report.get("scenario")).get("name") or "replay"
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
        _save(fig, path, plt)
        return
    x = _hours([s["t"] for s in steps])
    for ax, market in zip((row[0] for row in axes), markets):
        per_step = [_dict(_dict(s.get("markets")).get(market)) for s in steps]
        venues = sorted({v for m in per_step for v in _dict(m.get("venues"))})
        for venue in venues:
            ax.plot(x, _nan(_num(_dict(m.get("venues")).get(venue)) for m in per_step), lw=1, alpha=0.8, label=venue)
        ax.plot(x, _nan(_num(m.get("oracle")) for m in per_step), color="black", lw=2, label="oracle median")
        ax.set_title(market)
        ax.set_ylabel("price [USD]")
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
    axes[-1][0].set_xlabel("hours since start")
    fig.tight_layout()
    _save(fig, path, plt)


def _chart_fund(plt: Any, steps: list[dict], markets: list[str], title: str, path: Path) -> None:
    n = 1 + len(markets)
    fig, axes = plt.subplots(n, 1, figsize=(10, 3 * n + 0.6), squeeze=False, sharex=True)
    fig.suptitle(f"{title}: insurance fund (shaded: fund risk flagged)")
    if not steps:
        _placeholder(axes[0][0], "No fund series")
        for row in axes[1:]:
            row[0].set_visible(False)
        _save(fig, path, plt)
        return
    ts = [s["t"] for s in steps]
    x = _hours(ts)
    ax = axes[0][0]
    pool = [_num(s.get("global_pool")) for s in steps]
    ax.plot(x, _nan(pool), color="tab:blue", lw=2, label="global pool")
    ax.plot(x, _nan(rolling_peak(ts, pool)), color="tab:gray", ls="--", label="8h peak (from series)")
    depleted = [
        any(_int(_dict(m).get("fund_risk"), 0) & GLOBAL_DEPLETED for m in _dict(s.get("markets")).values()) for s in steps
    ]
    for a, b in _runs(x, depleted):
        ax.axvspan(a, b, color="tab:red", alpha=0.15, lw=0)
    ax.set_title("global pool")
    for row, market in zip(axes[1:], markets):
        ax = row[0]
        per_step = [_dict(_dict(s.get("markets")).get(market)) for s in steps]
        ax.plot(x, _nan(_num(m.get("sub_pool")) for m in per_step), color="tab:blue", lw=2, label="sub-pool")
        ax.plot(x, _nan(_num(m.get("peak_8h")) for m in per_step), color="tab:gray", ls="--", label="8h peak")
        ax.plot(x, _nan(_num(m.get("drawdown_threshold")) for m in per_step), color="tab:orange", ls=":", lw=1.5,
                label="drawdown threshold")
        for a, b in _runs(x, [_int(m.get("fund_risk"), 0) != 0 for m in per_step]):
            ax.axvspan(a, b, color="tab:red", alpha=0.15, lw=0)
        ax.set_title(f"{market} sub-pool")
    for row in axes:
        _usd_axis(row[0])
        row[0].grid(alpha=0.3)
        row[0].legend(loc="best", fontsize=8)
    axes[-1][0].set_xlabel("hours since start")
    fig.tight_layout()
    _save(fig, path, plt)


def _chart_liquidations(plt: Any, report: Mapping[str, Any], steps: list[dict], title: str, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.set_title(f"{title}: liquidations per step by how filled, cumulative shortfall")
    liqs = sorted((x for x in _list(report.get("liquidations")) if isinstance(x, dict) and _int(x.get("t"), -1) >= 0),
                  key=lambda x: (x["t"], _int(x.get("id"), 0)))
    if not liqs:
        _placeholder(ax, "No liquidations")
        _save(fig, path, plt)
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
    _cumulative_overlay(ax, [liq["t"] for liq in liqs], [_num(liq.get("shortfall")) or 0.0 for liq in liqs], "cumulative shortfall")
    fig.tight_layout()
    _save(fig, path, plt)


def _chart_adl(plt: Any, report: Mapping[str, Any], steps: list[dict], title: str, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.set_title(f"{title}: auto-deleveraging, profit taken")
    events = sorted((e for e in _list(report.get("adl")) if isinstance(e, dict) and _int(e.get("t"), -1) >= 0),
                    key=lambda e: (e["t"], _int(e.get("rank"), 0)))
    if not events:
        _placeholder(ax, "No ADL events")
        _save(fig, path, plt)
        return
    for market in sorted({str(e.get("market")) for e in events}):
        mine = [e for e in events if str(e.get("market")) == market]
        ax.scatter([e["t"] / HOUR for e in mine], [_num(e.get("profit_taken")) or 0.0 for e in mine], s=25,
                   label=f"{market} per event")
    ax.set_xlabel("hours since start")
    ax.set_ylabel("profit taken per event")
    ax.set_ylim(bottom=0)
    _usd_axis(ax)
    if steps:  # the same time axis as the other charts
        ax.set_xlim(-0.01 * steps[-1]["t"] / HOUR, max(steps[-1]["t"], events[-1]["t"]) / HOUR * 1.01 + 1e-3)
    ax.grid(alpha=0.3)
    _cumulative_overlay(ax, [e["t"] for e in events], [_num(e.get("profit_taken")) or 0.0 for e in events], "cumulative profit taken")
    fig.tight_layout()
    _save(fig, path, plt)


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
    _usd_axis(ax2)
    handles, labels = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(handles + h2, labels + l2, loc="upper left", fontsize=8)
