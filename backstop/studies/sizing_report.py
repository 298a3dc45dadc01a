"""The output of a fund sizing (backstop.studies.sizing): sizing.md and sizing.png, drawn from sizing.json's content."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from backstop.report.charts import pyplot, save, usd_axis
from backstop.report.format import fmt_usd, table

__all__ = ["chart_sizing", "render_sizing_markdown"]


def _measure_label(data: Mapping[str, Any]) -> str:
    return "ADL'd notional + bad debt" if data.get("triggers_counted", "all") == "all" else "fund-triggered ADL + bad debt"


def render_sizing_markdown(data: Mapping[str, Any]) -> str:
    """sizing.md: the size found, the recommended size, every evaluated point, the chart and the run."""
    sc, found = data["scenario"], data["found"]
    lines = [f"# Fund sizing: {sc['name']}", "", f"Scenario `{sc['file']}` (sha256 `{sc['sha256'][:12]}`), seed {sc['seed']}."]
    if sc.get("base_overrides"):
        lines.append("Overrides: " + ", ".join(f"`{k}={v}`" for k, v in sc["base_overrides"].items()) + ".")
    lines += ["", f"Parameterization: {data['parameterization']}. Measure: {data['measure']}.", ""]
    if not data["monotone"]:
        lines += [f"**Warning: the measure is not monotone in the fund size.** {data['message']}", ""]
    if data.get("relabelled"):
        lines += ["**No size: a larger fund only relabels the ADL** (the column \"all ADL'd notional\" below). " + data["message"] + ".", ""]
    elif found["factor"] is None:
        lines += [f"**No fund size up to the largest evaluated removes it.** {data['message']}.", ""]
    margin = data["scenario_margin"]
    rows = [
        ["scenario's starting fund", fmt_usd(data["scenario_fund"]["total_usd"]), "1x"],
        [
            f"smallest fund with no {'ADL' if data.get('triggers_counted', 'all') == 'all' else 'fund-triggered ADL'} and no bad debt",
            fmt_usd(found["total_usd"]) if found["factor"] is not None else "none found",
            f"{found['factor']:.4g}x" if found["factor"] is not None else "n/a",
        ],
        [
            "largest evaluated fund that still needs it",
            fmt_usd((found["below_factor"] or 0) * data["scenario_fund"]["total_usd"]) if found["below_factor"] is not None else "none",
            f"{found['below_factor']:.4g}x" if found["below_factor"] is not None else "n/a",
        ],
        [f"recommended (+{data['safety']:.0%} margin of safety)", fmt_usd(data["recommended"]["total_usd"]), f"{data['recommended']['factor']:.4g}x"],
        ["scenario's fund above (+) / below (-) the size found", "n/a" if margin is None else f"{margin:+.1%}", ""],
    ]
    lines += table(["", "fund [USD]", "factor"], rows, "lrr")
    lines += [
        "",
        "Split of the size found: global pool " + fmt_usd(found["global_usd"]) + ", " + ", ".join(f"{m} sub-pool {fmt_usd(v)}" for m, v in found["sub_pools_usd"].items()) + ".",
    ]
    lines += ["", "## Every evaluated point", ""]
    lines += table(
        ["round", "factor", "starting fund", _measure_label(data), "all ADL'd notional"],
        [[p["round"], f"{p['factor']:.4g}x", fmt_usd(p["fund_usd"]), fmt_usd(p["measure"]), fmt_usd(sum(p.get("adl_by_trigger", {}).values()))] for p in data["points"]],
        "rrrrr",
    )
    lines += ["", "![measure against fund size](sizing.png)", "", f"{data['message']}.", ""]
    run = data["run"]
    lines += [f"{run['replays']} replays in {run['rounds']} rounds, {run['jobs']} at a time, {run['wall_seconds']:.1f} s; tolerance {data['tolerance']:.0%}.", ""]
    if sc.get("synthetic"):
        lines += ["## Synthetic parts", ""] + [f"- {s}" for s in sc["synthetic"]] + [""]
    return "\n".join(lines)


def chart_sizing(data: Mapping[str, Any], path: Path) -> None:
    """The measure against the starting fund: every evaluated point, the size found and the scenario's fund."""
    plt = pyplot()
    pts = data["points"]
    fig, ax = plt.subplots(figsize=(9, 5))
    ax.plot([p["fund_usd"] for p in pts], [p["measure"] for p in pts], "o-", color="tab:red", label=f"{_measure_label(data)} (evaluated)")
    if data["found"]["factor"] is not None:
        ax.axvline(data["found"]["total_usd"], color="tab:green", ls="--", label=f"smallest fund found: {fmt_usd(data['found']['total_usd'])}")
        ax.axvline(data["recommended"]["total_usd"], color="tab:green", ls=":", label=f"with {data['safety']:.0%} safety margin")
    ax.axvline(data["scenario_fund"]["total_usd"], color="0.4", ls="-.", label=f"scenario's fund: {fmt_usd(data['scenario_fund']['total_usd'])}")
    title = f"{data['scenario']['name']}: {_measure_label(data)} against starting fund"
    if not data["monotone"]:
        title += " (NOT monotone)"
    ax.set_title(title)
    ax.set_xlabel("starting fund: global seed + every sub-pool seed [USD]")
    ax.set_ylabel(f"{_measure_label(data)} [USD]")
    usd_axis(ax)
    usd_axis(ax, "x")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save(fig, path, plt)
