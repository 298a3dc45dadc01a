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

import json
import math
import os
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from backstop.report.markdown import HOUR, _pyplot, _save, _table, _usd_axis, fmt_count, fmt_pct, fmt_usd, report_json
from backstop.scenario.document import Scenario, load_scenario
from backstop.scenario.variants import Variant, plan_variants, population_fingerprint

__all__ = [
    "COLUMNS",
    "RunResult",
    "compare",
    "default_jobs",
    "ensure_compiled",
    "render_compare_markdown",
    "run_parallel",
    "variant_metrics",
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
)
CONTEXT_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("liquidations", "liquidations", "int"),
    ("shortfall_usd", "shortfall", "usd"),
    ("restarts", "restarts", "int"),
    ("fund_start_usd", "fund at start", "usd"),
    ("fund_end_usd", "fund at end", "usd"),
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
    return {key: totals.get(field) for key, field in fields.items()}


def default_jobs() -> int:
    """One worker per core."""
    return max(1, os.cpu_count() or 1)


def ensure_compiled() -> None:
    """Compiles the contracts once, here, if anything changed: the workers then only load the artifacts
    (never several compilers racing on the same .build folder)."""
    from ape import project  # noqa: PLC0415

    project.load_contracts()


# ------------------------------------------------------------------------------------------ parallel runs


@dataclass
class RunResult:
    """One replay of a parallel batch: its report (None if it failed before writing one) and error."""

    label: str
    out: Path
    report: dict[str, Any] | None
    error: str | None
    wall_seconds: float


def _run_one(scenario_path: str, out: str, overrides: dict[str, Any], label: str, ticks: Any) -> tuple[dict[str, Any] | None, str | None]:
    """Worker: one replay on its own Anvil. Runs in a spawned process; ``ticks`` receives one item per step."""
    from ape.logging import logger  # noqa: PLC0415

    from backstop.replay import ReplayFailed, run_replay  # noqa: PLC0415

    logger.set_level("WARNING")
    on_step = (lambda _t: ticks.put(label)) if ticks is not None else None
    try:
        report = run_replay(scenario_path, out, progress=False, overrides=overrides, measure_raw=False, on_step=on_step)
        return report, None
    except ReplayFailed as exc:
        partial = Path(out) / "report.json"
        return (json.loads(partial.read_text()) if partial.exists() else None), str(exc)
    except Exception as exc:  # noqa: BLE001 - one variant's failure is reported, the others still run
        return None, f"{type(exc).__name__}: {exc}"


def run_parallel(
    scenario_path: Path,
    runs: Sequence[tuple[str, dict[str, Any], Path]],
    jobs: int,
    total_steps: int = 0,
    progress: bool = True,
    desc: str = "replays",
    on_done: Callable[[RunResult], None] | None = None,
    pool: ProcessPoolExecutor | None = None,
) -> list[RunResult]:
    """Replays ``scenario_path`` once per ``(label, overrides, out dir)``, at most ``jobs`` at a time, each
    in its own process on its own Anvil. Shows one progress bar over ``total_steps`` steps of all runs.
    Returns the results in the order of ``runs``. Pass a `pool` (see :func:`worker_pool`) to keep the same
    workers, and their imports, over several batches."""
    if pool is None:
        with worker_pool(min(jobs, len(runs))) as own:
            return run_parallel(scenario_path, runs, jobs, total_steps, progress, desc, on_done, own)
    ctx = get_context("spawn")
    manager = ctx.Manager() if progress else None
    ticks = manager.Queue() if manager else None
    bar = None
    stop = threading.Event()
    reader = None
    if progress:
        from tqdm import tqdm  # noqa: PLC0415

        bar = tqdm(total=total_steps or None, desc=desc, unit="step", dynamic_ncols=True)

        def read_ticks() -> None:
            while not stop.is_set() or not ticks.empty():
                try:
                    ticks.get(timeout=0.2)
                except Exception:  # noqa: BLE001 - queue.Empty from a manager proxy
                    continue
                bar.update(1)

        reader = threading.Thread(target=read_ticks, daemon=True)
        reader.start()
    results: dict[int, RunResult] = {}
    try:
        started = time.perf_counter()
        futures = {
            pool.submit(_run_one, str(scenario_path), str(out), overrides, label, ticks): (i, label, out)
            for i, (label, overrides, out) in enumerate(runs)
        }
        for fut in as_completed(futures):
            i, label, out = futures[fut]
            report, error = fut.result()
            wall = (report or {}).get("run", {}).get("wall_seconds", time.perf_counter() - started)
            result = RunResult(label, Path(out), report, error, float(wall))
            results[i] = result
            if bar is not None:
                bar.write(f"  {label}: {'failed: ' + error if error else 'done'} ({result.wall_seconds:.0f} s)")
            if on_done:
                on_done(result)
    finally:
        stop.set()
        if reader is not None:
            reader.join(timeout=5)
        if bar is not None:
            bar.close()
        if manager is not None:
            manager.shutdown()
    return [results[i] for i in range(len(runs))]


def worker_pool(jobs: int) -> ProcessPoolExecutor:
    """`jobs` worker processes for replays, after compiling the contracts once here. Workers are spawned
    (a clean interpreter each: no Ape state or sockets inherited) and reused from batch to batch."""
    ensure_compiled()
    return ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=get_context("spawn"))


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
) -> dict[str, Any]:
    """Replays the scenario as given and under every variant, writes the comparison folder, returns
    compare.json's content. Every variant is validated first (VariantError / ScenarioError before any run)."""
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
    results = run_parallel(path, runs, jobs, total, progress, desc=f"compare {base.name} ({len(runs)} variants, {jobs} jobs)")
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
        "run": {"jobs": jobs, "started_at": started_at, "wall_seconds": round(time.perf_counter() - wall0, 2)},
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


_FORMATS = {"usd": fmt_usd, "int": fmt_count, "pct": fmt_pct}


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
    lines += _table(
        ["variant", *(t for _, t, _ in table_cols)],
        [[r["name"] + ("" if r["complete"] else " (failed)"), *(_FORMATS[f](r["metrics"].get(k)) for k, _, f in table_cols)] for r in rows],
        "l" + "r" * len(table_cols),
    )
    lines += [
        "",
        "Bad debt is the loss neither the fund nor ADL covered (`totals.bad_debt`); peak drawdown is the largest "
        "fall of all pools together from their peak. n/a: the replay report has no such figure (reports "
        "written before the ADL queue existed).",
        "",
        "## What each variant changes",
        "",
    ]
    lines += _table(
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


def _fund_series(report: Mapping[str, Any] | None) -> tuple[list[float], list[float]]:
    steps = sorted((report or {}).get("series") or [], key=lambda s: s["t"])
    return [s["t"] / HOUR for s in steps], [s["global_pool"] + sum(m["sub_pool"] for m in s["markets"].values()) for s in steps]


def _chart_fund(data: Mapping[str, Any], reports: Mapping[str, dict[str, Any] | None], path: Path) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 5))
    for r in data["variants"]:
        hours, fund = _fund_series(reports.get(r["name"]))
        if hours:
            style = {"color": "black", "ls": "--", "lw": 2, "zorder": 5} if r["kind"] == "base" else {"lw": 1.4}
            ax.plot(hours, fund, label=r["name"], **style)
    ax.set_title(f"{data['scenario']['name']}: insurance fund (all pools) by variant")
    ax.set_xlabel("hours since start")
    ax.set_ylabel("USD")
    _usd_axis(ax)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path, plt)


def _chart_losses(data: Mapping[str, Any], path: Path) -> None:
    plt = _pyplot()
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
    from matplotlib.ticker import FuncFormatter  # noqa: PLC0415

    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: fmt_usd(v).replace(".00", "")))
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path, plt)
