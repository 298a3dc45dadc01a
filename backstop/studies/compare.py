"""Counterfactual comparison: replay one crash under several variants, in parallel, and set them side by side.

    backstop compare SCENARIO --vary KEY=V1,V2 --variant NAME --builtin NAME [--out DIR] [--jobs N]

Each variant (see backstop.scenario.variants) is one full replay (backstop.replay.run_replay) on its own local Anvil,
in its own worker process; at most ``jobs`` run at once. The contracts are compiled once, before the workers
start; each worker deploys from the compiled artifacts. The comparison folder holds:

- ``compare.json``: every variant's metrics, overrides and run status (for machines);
- ``compare.md``: the variants side by side (for people);
- ``compare-fund.png``: the insurance fund (all pools) over time, one line per variant;
- ``compare-losses.png``: shortfall, fund used and uncovered loss (bad debt) per variant;
- ``variants/<name>/``: each variant's own replay report folder (report.json, report.md, charts).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from backstop.report.charts import TimeAxis, pyplot, save, usd_axis
from backstop.report.files import report_json
from backstop.report.format import fmt_as, table
from backstop.scenario.document import Scenario, load_scenario
from backstop.scenario.variants import Variant, plan_variants, population_fingerprint
from backstop.studies.parallel import RunResult, default_jobs, run_parallel

__all__ = [
    "COLUMNS",
    "compare",
    "render_compare_markdown",
    "slug",
    "variant_metrics",
    "write_compare",
]

COMPARE_SCHEMA = 1

# (key in compare.json's metrics, column title, format): the comparison table, left to right
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("bad_debt_usd", "bad debt", "usd"),
    ("fund_used_usd", "fund used", "usd"),
    ("peak_drawdown_pct", "peak drawdown", "pct"),
    ("auctions_unfilled", "auctions unfilled", "int"),
    ("adl_notional_usd", "ADL'd notional", "usd"),
    ("adl_victims", "ADL victims", "int"),
    ("adl_excess_profit_usd", "profit taken beyond need", "usd"),
    ("endogenous_share_pct", "endogenous share of the fall", "pct"),
)
CONTEXT_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("liquidations", "liquidations", "int"),
    ("shortfall_usd", "shortfall", "usd"),
    ("restarts", "restarts", "int"),
    ("fund_start_usd", "fund at start", "usd"),
    ("fund_end_usd", "fund at end", "usd"),
    ("unwound_usd", "keepers' unwinds", "usd"),
)
# metric -> totals field of the replay report
_TOTALS = {
    "bad_debt_usd": "bad_debt",
    "fund_used_usd": "fund_used",
    "peak_drawdown_pct": "peak_drawdown_pct",
    "auctions_unfilled": "unfilled",
    "auctions_partially_filled": "partially_filled",
    "liquidations": "liquidations",
    "shortfall_usd": "shortfall",
    "restarts": "restarts",
    "fund_start_usd": "fund_start",
    "fund_end_usd": "fund_end",
}
# ADL figures: comparison key -> the replay report's `totals` field (reports older than the ADL queue lack them)
ADL_TOTALS = {
    "adl_notional_usd": "adl_notional",
    "adl_victims": "adl_victims",
    "adl_profit_taken_usd": "adl_profit_taken",
    "adl_excess_profit_usd": "profit_haircut_beyond_need",
}


def variant_metrics(report: Mapping[str, Any]) -> dict[str, float | int | None]:
    """The comparison's figures of one replay report; a figure the report lacks is None ("n/a"), never 0."""
    totals = report.get("totals") or {}
    fields = {**_TOTALS, **ADL_TOTALS}
    return {key: totals.get(field) for key, field in fields.items()} | impact_metrics(report)


def impact_metrics(report: Mapping[str, Any]) -> dict[str, float | None]:
    """The largest endogenous share of the fall of any venue [%] and the notional keepers unwound into the
    books [USD]; None without price impact (`impact: null`)."""
    venues = [v for m in (report.get("impact") or {}).values() for v in (m.get("venues") or {}).values()]
    if not venues:
        return {"endogenous_share_pct": None, "unwound_usd": None}
    return {
        "endogenous_share_pct": round(100 * max(v["endogenous_share"] for v in venues), 4),
        "unwound_usd": round(sum(v["liquidation_volume"] for v in venues), 2),
    }


def slug(name: str) -> str:
    """A folder name for a variant: "markets.0.auction.tau=600" -> "markets.0.auction.tau-600"."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "variant"


# ------------------------------------------------------------------------------------------ the comparison


def compare(
    scenario_path: Path | str,
    out_dir: Path | str,
    vary: Sequence[str] = (),
    named: Sequence[str] = (),
    builtins: Sequence[str] = (),
    base_overrides: Mapping[str, Any] | None = None,
    jobs: int | None = None,
    progress: bool = True,
    network: str | None = None,
) -> dict[str, Any]:
    """Replays the scenario as given and under every variant (each on its own local Anvil, or on the embedded
    EVM with `network` "revm"), writes the comparison folder, returns compare.json's content. Every variant is validated first (VariantError / ScenarioError before any run)."""
    path = Path(scenario_path)
    base = load_scenario(path)
    if base_overrides:
        base = base.with_overrides(dict(base_overrides))
    planned = plan_variants(base, vary, named, builtins)
    out = Path(out_dir)
    jobs = jobs or default_jobs()
    folders: list[str] = []
    for v, _ in planned:  # distinct names may share a slug ("x=1", "x=[1]"): number the later ones
        name = slug(v.name)
        folders.append(name if name not in folders else f"{name}-{len(folders)}")
    runs = [(v.name, {**dict(base_overrides or {}), **v.overrides}, out / "variants" / folder) for (v, _), folder in zip(planned, folders)]
    wall0 = time.perf_counter()
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    total = sum(len(sc.times()) for _, sc in planned)
    results = run_parallel(path, runs, jobs, total, progress, desc=f"compare {base.name} ({len(runs)} variants, {jobs} jobs)", network=network)
    data = {
        "schema": COMPARE_SCHEMA,
        "scenario": {
            "name": base.name,
            "file": str(path),
            "sha256": base.sha256 or "",
            "seed": base.seed,
            "population_sha256": population_fingerprint(base),
            "base_overrides": dict(base_overrides or {}),
            "synthetic": list(base.synthetic),
        },
        "run": {"jobs": jobs, "network": network or "anvil", "started_at": started_at, "wall_seconds": round(time.perf_counter() - wall0, 2)},
        "columns": [{"key": k, "title": t, "format": f} for k, t, f in COLUMNS + CONTEXT_COLUMNS],
        "variants": [_variant_row(v, sc, r, out) for (v, sc), r in zip(planned, results)],
    }
    _note_same_outcome(data["variants"])
    write_compare(data, out, {r.label: r.report for r in results})
    return data


def _variant_row(v: Variant, sc: Scenario, r: RunResult, out: Path) -> dict[str, Any]:
    report = r.report or {}
    run = report.get("run") or {}
    return {
        "name": v.name,
        "kind": v.kind,
        "description": v.description,
        "overrides": v.overrides,
        "notes": list(v.notes),
        "seed": sc.seed,
        "population_sha256": population_fingerprint(sc),
        "traders_opened": (run.get("setup") or {}).get("opened"),
        "complete": bool(run.get("complete")) and r.error is None,
        "error": r.error,
        "wall_seconds": round(r.wall_seconds, 2),
        "report": str(r.out.relative_to(out)),
        "metrics": variant_metrics(report) if r.report else {k: None for k, _, _ in COLUMNS + CONTEXT_COLUMNS},
    }


def _note_same_outcome(rows: list[dict[str, Any]]) -> None:
    """Flags variants whose every figure equals the base's: a scenario change that did not bind in this crash."""
    base = rows[0]
    for r in rows[1:]:
        if r["complete"] and base["complete"] and r["metrics"] == base["metrics"] and not r["notes"]:
            r["notes"].append(f"{r['name']}: every figure equals the base's: the change did not bind in this crash")


def write_compare(data: dict[str, Any], out: Path, reports: Mapping[str, dict[str, Any] | None]) -> dict[str, Path]:
    """Writes compare.json, compare.md and the two overlay charts into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "compare.json", "markdown": out / "compare.md", "fund": out / "compare-fund.png", "losses": out / "compare-losses.png"}
    paths["json"].write_text(report_json(data), encoding="utf-8")
    paths["markdown"].write_text(render_compare_markdown(data), encoding="utf-8")
    _chart_fund(data, reports, paths["fund"])
    _chart_losses(data, paths["losses"])
    return paths


def render_compare_markdown(data: Mapping[str, Any]) -> str:
    """compare.md: the variants side by side, what each changes, notes, charts and run status."""
    sc = data["scenario"]
    rows = data["variants"]
    lines = [f"# Comparison: {sc['name']}", ""]
    lines.append(
        f"Scenario `{sc['file']}` (sha256 `{sc['sha256'][:12]}`), seed {sc['seed']}, population "
        f"`{sc['population_sha256'][:12]}`: every variant replays the same crash against the same traders."
    )
    if sc.get("base_overrides"):
        lines.append("Base overrides (every variant): " + ", ".join(f"`{k}={v}`" for k, v in sc["base_overrides"].items()) + ".")
    lines += ["", "## Side by side", ""]
    table_cols = COLUMNS + CONTEXT_COLUMNS
    lines += table(
        ["variant", *(t for _, t, _ in table_cols)],
        [[r["name"] + ("" if r["complete"] else " (failed)"), *(fmt_as(f, r["metrics"].get(k)) for k, _, f in table_cols)] for r in rows],
        "l" + "r" * len(table_cols),
    )
    lines += [
        "",
        "Bad debt is the loss neither the fund nor ADL covered (`totals.bad_debt`); peak drawdown is the largest "
        "fall of a sub-pool from its 8-hour peak (the ADL trigger's measure). The endogenous share of the fall is "
        "the largest, over venues, of (lowest exogenous − lowest traded) / (start − lowest traded): the part of the "
        "crash the liquidations themselves caused (`impact` in the report). n/a: the replay report has no such "
        "figure (a market without `liquidity`, or a report written before the ADL queue existed).",
        "",
        "## What each variant changes",
        "",
    ]
    lines += table(
        ["variant", "kind", "what", "overrides"],
        [[r["name"], r["kind"], r["description"], ", ".join(f"`{k}`" for k in r["overrides"]) or "none"] for r in rows],
    )
    notes = [n for r in rows for n in r["notes"]] + [f"{r['name']}: {r['error']}" for r in rows if r["error"]]
    if notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    lines += ["", "## Charts", "", "![fund over time](compare-fund.png)", "", "![losses by variant](compare-losses.png)"]
    lines += ["", "## Reports", ""] + [f"- {r['name']}: [{r['report']}/report.md]({r['report']}/report.md) ({r['wall_seconds']:.0f} s)" for r in rows]
    synthetic = sc.get("synthetic") or []
    if synthetic:
        lines += ["", "## Synthetic parts", ""] + [f"- {s}" for s in synthetic]
    run = data["run"]
    lines += ["", "## Run", "", f"{len(rows)} replays, {run['jobs']} at a time, {run['wall_seconds']:.1f} s in total, started {run['started_at']}.", ""]
    return "\n".join(lines)


def _steps(report: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    return sorted((report or {}).get("series") or [], key=lambda s: s["t"])


def _chart_fund(data: Mapping[str, Any], reports: Mapping[str, dict[str, Any] | None], path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(10, 5))
    axis = TimeAxis(next((steps for steps in map(_steps, reports.values()) if steps), []))  # every variant starts at the same t = 0
    for r in data["variants"]:
        steps = _steps(reports.get(r["name"]))
        if steps:
            style = {"color": "black", "ls": "--", "lw": 2, "zorder": 5} if r["kind"] == "base" else {"lw": 1.4}
            fund = [s["global_pool"] + sum(m["sub_pool"] for m in s["markets"].values()) for s in steps]
            ax.plot(axis.x(s["t"] for s in steps), fund, label=r["name"], **style)
    ax.set_title(f"{data['scenario']['name']}: insurance fund (all pools) by variant")
    axis.style(ax)
    ax.set_ylabel("USD")
    usd_axis(ax)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save(fig, path, plt)


def _chart_losses(data: Mapping[str, Any], path: Path) -> None:
    plt = pyplot()
    rows = data["variants"]
    names = [r["name"] for r in rows]
    fig, ax = plt.subplots(figsize=(10, 1.6 + 0.55 * len(rows)))
    height = 0.27
    for j, (key, label) in enumerate((("shortfall_usd", "shortfall"), ("fund_used_usd", "fund used"), ("bad_debt_usd", "uncovered (bad debt)"))):
        values = [r["metrics"].get(key) for r in rows]
        ax.barh([i + (j - 1) * height for i in range(len(rows))], [math.nan if v is None else v for v in values], height, label=label)
    ax.set_yticks(range(len(rows)), names)
    ax.invert_yaxis()
    ax.set_title(f"{data['scenario']['name']}: losses by variant")
    usd_axis(ax, "x")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save(fig, path, plt)
