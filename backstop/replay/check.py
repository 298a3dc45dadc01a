"""`backstop replay --check-step`: does the answer depend on the replay's clock?

The scenario is replayed at its own grid and at half of it (every step halved); each headline figure of the two
reports is set side by side with its difference (and, when traders open or close during the replay, what they
did: opens, closes and the notional closed). A figure agrees when the two differ by at most `REL_TOLERANCE`
of the larger or by at most `ABS_TOLERANCE` dollars (counts: by at most `REL_TOLERANCE` of the larger or 1).
Written to check-step.json and check-step.md in the report folder, beside the full-step replay's report.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping

REL_TOLERANCE = 0.10
ABS_TOLERANCE = 1_000.0  # [USD]
HEADLINE = (  # (totals key, unit): the figures a risk team acts on
    ("bad_debt", "usd"),
    ("fund_used", "usd"),
    ("adl_notional", "usd"),
    ("shortfall", "usd"),
    ("liquidated_notional", "usd"),
    ("penalties", "usd"),
    ("keeper_incentives", "usd"),
    ("fund_end", "usd"),
    ("liquidations", "count"),
)
GATED = ("bad_debt", "fund_used", "adl_notional")  # the figures that must agree
TRADING = (  # (figure, unit) of the traders who open or close during the replay, shown when the scenario has any
    ("trader_opens", "count"),
    ("trader_closes", "count"),
    ("trader_closed_notional", "usd"),
)


def trading_figures(report: Mapping[str, Any]) -> dict[str, float]:
    """The TRADING figures of a report's ``trading`` section ({} without one)."""
    t = report.get("trading")
    if not t:
        return {}
    return {"trader_opens": t["opened"], "trader_closes": t["stop_losses"] + t["take_profits"], "trader_closed_notional": t["closed_notional"]}


@dataclass(frozen=True)
class FigurePair:
    name: str
    unit: str
    full_step: float
    half_step: float
    difference: float
    relative: float | None  # of the larger magnitude; None when both are zero
    agrees: bool


def compare_figures(full: Mapping[str, Any], half: Mapping[str, Any], figures: tuple[tuple[str, str], ...] = HEADLINE) -> list[FigurePair]:
    """The `figures` (by default the headline figures of two reports' `totals`), side by side."""
    pairs = []
    for name, unit in figures:
        a, b = float(full.get(name) or 0.0), float(half.get(name) or 0.0)
        diff = b - a
        big = max(abs(a), abs(b))
        rel = abs(diff) / big if big else None
        floor = ABS_TOLERANCE if unit == "usd" else 1.0
        pairs.append(FigurePair(name, unit, a, b, diff, rel, abs(diff) <= max(floor, REL_TOLERANCE * big)))
    return pairs


def check_step(
    scenario_path: Path | str,
    out: Path | str,
    network: str | None = None,
    progress: bool = True,
    overrides: dict[str, Any] | None = None,
    variant: str | None = None,
) -> dict[str, Any]:
    """Replays the scenario at its grid (into `out`) and at half of it (into `out/half-step`), each on its own
    chain, and writes check-step.json / .md into `out`. Returns the check (see the module's docstring)."""
    from backstop.replay.runner import load_replayed, run_replay  # noqa: PLC0415
    out = Path(out)
    scenario = load_replayed(scenario_path, variant, overrides)
    halved = scenario.halved()
    half_overrides = {**(overrides or {}), "step": halved.step, "steps": [c.model_dump() for c in halved.steps]}
    full = run_replay(scenario_path, out, network=network, progress=progress, overrides=overrides, variant=variant)
    half = run_replay(scenario_path, out / "half-step", network=network, progress=progress, overrides=half_overrides, variant=variant)
    pairs = compare_figures(full["totals"], half["totals"])
    if "trading" in full:
        pairs += compare_figures(trading_figures(full), trading_figures(half), TRADING)
    check = {
        "scenario": full["scenario"]["name"],
        "step": scenario.step,
        "half_step": halved.step,
        "tolerance": {"relative": REL_TOLERANCE, "usd": ABS_TOLERANCE},
        "gated": list(GATED),
        "agrees": all(p.agrees for p in pairs if p.name in GATED),
        "figures": [asdict(p) for p in pairs],
    }
    (out / "check-step.json").write_text(json.dumps(check, indent=2) + "\n")
    (out / "check-step.md").write_text(render_check(check))
    return check


def render_check(check: Mapping[str, Any]) -> str:
    lines = [
        f"# Step check: {check['scenario']}",
        "",
        f"The replay at its grid (step {check['step']} s) and at half of it ({check['half_step']} s). A figure agrees "
        f"when the two differ by at most {check['tolerance']['relative']:.0%} of the larger or ${check['tolerance']['usd']:,.0f} "
        f"(counts: or 1). Gated: {', '.join(check['gated'])}. **{'Agrees' if check['agrees'] else 'Does not agree'}.**",
        "",
        "| figure | full step | half step | difference | relative | agrees |",
        "| --- | ---: | ---: | ---: | ---: | :---: |",
    ]
    for f in check["figures"]:
        fmt = (lambda v: f"${v:,.2f}") if f["unit"] == "usd" else (lambda v: f"{v:,.0f}")
        rel = "—" if f["relative"] is None else f"{f['relative']:.1%}"
        lines.append(f"| {f['name']} | {fmt(f['full_step'])} | {fmt(f['half_step'])} | {fmt(f['difference'])} | {rel} | {'yes' if f['agrees'] else '**no**'} |")
    return "\n".join(lines) + "\n"
