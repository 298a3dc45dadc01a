"""Fund sizing: the smallest starting insurance fund with which a crash needs no ADL (and leaves no bad debt).

    backstop size-fund SCENARIO [--out DIR] [--tolerance 0.05] [--safety 0.25] [--jobs N]

Parameterization: one factor ``f`` scales every starting balance of the fund together — ``fund.global_seed``
and every market's ``fund_seed`` — so the fund keeps the scenario's split between the global pool and the
sub-pools. ``f = 1`` is the scenario as written.

The measure (:func:`sizing_measure`) is what the crash hands to ADL: the notional ADL closed
(``totals.adl_notional``, whatever triggered it — a loss the fund could not cover, or the fund-risk status)
plus any loss neither the fund nor ADL covered (``totals.bad_debt``). Zero means the crash produced no ADL.

The search (:func:`search_factor`) needs few replays: it brackets the answer between a factor whose measure is
positive and one whose measure is zero, then narrows the bracket round by round, evaluating ``jobs`` factors
per round in parallel. Each round tries first the factor at which the fund would cover the missing loss
dollar for dollar (the loss can fall by at most one dollar per dollar of fund), then splits the rest of the
bracket evenly; this is bisection when ``jobs`` = 1 and the guess is off. It stops when the bracket is within
``tolerance`` of the size found, or (`size_fund`) narrower than SIZE_RESOLUTION_USD of fund. Every evaluated
point is recorded; when the points show a larger fund with a larger measure, the result says the measure is
not monotone (and the bracket may not be the only one).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from backstop.errors import BackstopError
from backstop.report.files import report_json
from backstop.report.format import fmt_usd
from backstop.scenario.document import Scenario, load_scenario
from backstop.studies.parallel import default_jobs, run_parallel, worker_pool
from backstop.studies.sizing_report import chart_sizing, render_sizing_markdown

__all__ = [
    "FUND_TRIGGERS",
    "MEASURE",
    "MEASURE_FUND_TRIGGERS",
    "adl_by_trigger",
    "SizingError",
    "SizingPoint",
    "SizingResult",
    "fund_overrides",
    "non_monotone_pairs",
    "relabelled",
    "search_factor",
    "size_fund",
    "sizing_measure",
]

MEASURE = "ADL'd notional + bad debt [USD] (report totals.adl_notional + totals.bad_debt): zero = no ADL"
MEASURE_FUND_TRIGGERS = (
    "ADL'd notional of the fund's own triggers (uncovered loss, fund-risk status) + bad debt [USD]: zero = the "
    "fund never starts ADL; liquidity-risk ADL (stale auctions, which no fund size removes) is not counted"
)
MEASURE_EPSILON = 0.01  # [USD] measures at or below this count as zero (a cent of rounding)
SIZE_RESOLUTION_USD = 1_000.0  # [USD] size-fund stops once the bracket is this narrow, whatever the tolerance


FUND_TRIGGERS = ("uncovered", "fund_risk")  # the ADL triggers a larger fund can remove
RELABEL_SHARE = 0.9  # all-trigger ADL at the size found still >= this share of the ADL just below it: only relabelled


def sizing_measure(report: Mapping[str, Any], triggers: Sequence[str] | None = None) -> float:
    """The one figure the fund is sized against [USD]: the notional ADL closed plus any bad debt left.
    With `triggers`, only ADL fills of those reasons count (e.g. FUND_TRIGGERS: not the liquidity-risk ADL
    that stale auctions cause whatever the fund). Reports written before the ADL queue existed count their bad
    debt only."""
    totals = report["totals"]
    if triggers is None:
        adl = float(totals.get("adl_notional", 0.0))
    else:
        adl = sum(v for reason, v in adl_by_trigger(report).items() if reason in triggers)
    return adl + float(totals["bad_debt"])


def adl_by_trigger(report: Mapping[str, Any]) -> dict[str, float]:
    """ADL'd notional [USD] of a replay report by the reason the queue recorded."""
    out: dict[str, float] = {}
    for e in report.get("adl", []):
        out[e["reason"]] = out.get(e["reason"], 0.0) + e["size"] * e["price"]
    return dict(sorted(out.items()))


def relabelled(below: Mapping[str, float] | None, found: Mapping[str, float], found_factor: float, below_factor: float) -> str | None:
    """Why a size found under the fund's own triggers is no answer, or None when it is one. `below` and
    `found` are the ADL'd notional by trigger (adl_by_trigger) at the largest size with fund-trigger ADL
    (`below_factor`) and at the size found (`found_factor`). When all the ADL at the size found is still at least
    RELABEL_SHARE of the ADL below it, the larger fund did not remove the ADL: it moved it from the fund's
    triggers (fund risk, uncovered loss) to liquidity risk, which the fund-triggers measure does not count."""
    if not below:
        return None
    before, after = sum(below.values()), sum(found.values())
    if before <= MEASURE_EPSILON or after < RELABEL_SHARE * before:
        return None
    at_found = ", ".join(f"{reason} {fmt_usd(v)}" for reason, v in found.items()) or "none"
    at_below = ", ".join(f"{reason} {fmt_usd(v)}" for reason, v in below.items())
    return (
        f"a larger fund only relabels the ADL: the fund's own triggers stop at {found_factor:.4g}x ({below_factor:.4g}x "
        f"still has them), but the crash still deleverages "
        f"{fmt_usd(after)} of {fmt_usd(before)} ({at_found}; below it: {at_below}): liquidity-risk ADL (auctions "
        "nobody takes in time) replaces it, which no fund size removes, so no size is reported"
    )


class SizingError(BackstopError, ValueError):
    """Fund sizing cannot run: no fund to scale, bad tolerance, or no size up to the largest factor suffices
    (then `points` holds what the search evaluated)."""

    def __init__(self, message: str, points: list[SizingPoint] | None = None) -> None:
        super().__init__(message)
        self.points = points or []


@dataclass(frozen=True)
class SizingPoint:
    """One evaluated fund size: factor, total starting fund [USD] and the measure [USD]."""

    factor: float
    fund_usd: float
    measure: float
    round: int


@dataclass
class SizingResult:
    """What the search found. ``found`` is the smallest evaluated factor with a zero measure; ``below`` the
    largest evaluated factor under it with a positive measure (None when even f = 0 needs no fund)."""

    points: list[SizingPoint]
    found: float | None
    below: float | None
    converged: bool
    monotone: bool
    violations: list[tuple[SizingPoint, SizingPoint]] = field(default_factory=list)
    message: str = ""


def fund_overrides(scenario: Scenario, factor: float) -> dict[str, Any]:
    """Overrides that scale the global seed and every market's fund_seed by `factor` (cents, rounded)."""
    out: dict[str, Any] = {"fund.global_seed": round(scenario.fund.global_seed * factor, 2)}
    for i, m in enumerate(scenario.markets):
        out[f"markets.{i}.fund_seed"] = round(m.fund_seed * factor, 2)
    return out


def fund_total(scenario: Scenario) -> float:
    """The scenario's starting fund [USD]: global seed plus every sub-pool seed."""
    return scenario.fund.global_seed + sum(m.fund_seed for m in scenario.markets)


def non_monotone_pairs(points: Sequence[SizingPoint], epsilon: float = MEASURE_EPSILON) -> list[tuple[SizingPoint, SizingPoint]]:
    """Pairs (smaller fund, larger fund) where the larger fund handed more to ADL or bad debt (by more than
    `epsilon`): evidence that the measure is not monotone in the fund size."""
    ordered = sorted(points, key=lambda p: p.factor)
    out = []
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            if b.factor > a.factor and b.measure > a.measure + epsilon:
                out.append((a, b))
    return out


def _interior(lo: float, hi: float, count: int, guesses: Sequence[float]) -> list[float]:
    """`count` factors strictly inside (lo, hi): usable guesses first, the rest spread evenly."""
    width = hi - lo
    margin = width * 0.02
    chosen = [g for g in guesses if lo + margin <= g <= hi - margin][:count]
    spare = count - len(chosen)
    if spare > 0:
        edges = sorted([lo, *chosen, hi])
        gaps = sorted(zip(edges, edges[1:]), key=lambda e: e[1] - e[0], reverse=True)
        a, b = gaps[0]  # split the widest gap
        chosen += [a + (b - a) * (k + 1) / (spare + 1) for k in range(spare)]
    return sorted(set(round(c, 6) for c in chosen))


def search_factor(
    evaluate: Callable[[list[float]], list[float]],
    fund_per_factor: float,
    tolerance: float = 0.05,
    jobs: int = 1,
    max_factor: float = 64.0,
    max_rounds: int = 12,
    epsilon: float = MEASURE_EPSILON,
    resolution_usd: float = 0.0,
) -> SizingResult:
    """The smallest factor f with measure(f) <= epsilon, to within `tolerance` (relative to f) or within
    `resolution_usd` of fund (a size near zero is never within a relative tolerance of itself).

    `evaluate` takes a batch of factors (run in parallel) and returns their measures. `fund_per_factor`
    [USD] is the fund that one unit of factor adds (the scenario's total starting fund). Round 0 evaluates
    f = 0 and f = 1; while the upper end still leaves a loss it doubles (`jobs` doublings per round, up to
    `max_factor`); then each round narrows the bracket with `jobs` factors. Raises SizingError if no factor up to max_factor works.
    """
    _check_inputs(tolerance, fund_per_factor)
    jobs = max(1, jobs)
    points: list[SizingPoint] = []

    def run(factors: list[float], rnd: int) -> None:
        for f, m in zip(factors, evaluate(factors)):
            points.append(SizingPoint(f, round(f * fund_per_factor, 2), float(m), rnd))

    def zero(p: SizingPoint) -> bool:
        return p.measure <= epsilon

    rnd = 0
    run([0.0, 1.0] if jobs > 1 else [1.0], rnd)
    hi = 1.0
    while not zero(next(p for p in points if p.factor == hi)):
        if hi >= max_factor:
            raise SizingError(f"even {hi:g}x the scenario's fund still hands {fmt_usd(points[-1].measure)} to ADL or bad debt", points)
        rnd += 1
        # `jobs` doublings at once (2x, 4x, ... the last upper end): a core never idles while the bracket grows
        ups = sorted({min(hi * 2**k, max_factor) for k in range(1, jobs + 1)})
        run(ups, rnd)
        hi = next((f for f in ups if zero(next(p for p in points if p.factor == f))), ups[-1])
    if not any(p.factor == 0.0 for p in points):
        rnd += 1
        run([0.0], rnd)
    converged = False
    last_width = None
    while rnd < max_rounds:
        ok = [p.factor for p in points if zero(p)]
        hi = min(ok)
        below = [p for p in points if p.factor < hi and not zero(p)]
        if not below:  # no loss even without a fund
            converged = True
            break
        lo_point = max(below, key=lambda p: p.factor)
        lo = lo_point.factor
        if hi - lo <= tolerance * hi or (hi - lo) * fund_per_factor <= resolution_usd:
            converged = True
            break
        guess = lo + lo_point.measure / fund_per_factor  # dollar for dollar: the least fund that could cover it
        # a round whose guesses did not halve the bracket is followed by a plain k-section round
        trust = last_width is None or hi - lo <= last_width / 2
        guesses = [guess * (1 + tolerance / 2), guess * (1 - tolerance / 4)] if trust else []
        last_width = hi - lo
        rnd += 1
        run(_interior(lo, hi, jobs, guesses), rnd)
    found = min(p.factor for p in points if zero(p))
    under = [p.factor for p in points if p.factor < found and not zero(p)]
    violations = non_monotone_pairs(points, epsilon)
    result = SizingResult(points, found, max(under) if under else None, converged, not violations, violations)
    result.message = _message(result, tolerance)
    return result


def _check_inputs(tolerance: float, fund_per_factor: float) -> None:
    if not 0 < tolerance < 1:
        raise SizingError(f"tolerance must be in (0, 1), a share of the size found (got {tolerance})")
    if fund_per_factor <= 0:
        raise SizingError("the scenario has no starting fund to scale (fund.global_seed and every fund_seed are 0)")


def _message(r: SizingResult, tolerance: float) -> str:
    parts = []
    if r.below is None:
        parts.append("the crash needs no ADL and leaves no bad debt even with no starting fund")
    else:
        parts.append(f"smallest fund found: {r.found:.4g}x the scenario's (ADL or bad debt remains at {r.below:.4g}x)")
    if not r.converged:
        parts.append(f"the search stopped before the bracket was within {tolerance:.0%}")
    if not r.monotone:
        pairs = "; ".join(f"{a.factor:.4g}x -> {fmt_usd(a.measure)} but {b.factor:.4g}x -> {fmt_usd(b.measure)}" for a, b in r.violations[:3])
        parts.append(f"WARNING: the measure is not monotone in the fund size ({pairs}); the size found may not be the smallest")
    return "; ".join(parts)


# ------------------------------------------------------------------------------------------ the command


def size_fund(
    scenario_path: Path | str,
    out_dir: Path | str,
    tolerance: float = 0.05,
    safety: float = 0.25,
    jobs: int | None = None,
    base_overrides: Mapping[str, Any] | None = None,
    progress: bool = True,
    max_factor: float = 64.0,
    fund_triggers_only: bool = False,
    network: str | None = None,
) -> dict[str, Any]:
    """Searches the smallest starting fund for the scenario (each replay on its own local Anvil, or on the
    embedded EVM with `network` "revm"), writes sizing.json, sizing.md and sizing.png
    (and every evaluated replay under runs/) into `out_dir`, and returns sizing.json's content. With
    `fund_triggers_only`, ADL started by liquidity risk (stale auctions) is not counted (see sizing_measure).
    When no size up to `max_factor` works, the SizingError says which triggers the remaining ADL had."""
    if safety < 0:
        raise SizingError(f"safety must be >= 0, a share added to the size found (got {safety})")
    path = Path(scenario_path)
    base = load_scenario(path).with_overrides(dict(base_overrides)) if base_overrides else load_scenario(path)
    total = fund_total(base)
    _check_inputs(tolerance, total)  # before any worker starts
    jobs = jobs or default_jobs()
    out = Path(out_dir)
    wall0 = time.perf_counter()
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    triggers = FUND_TRIGGERS if fund_triggers_only else None
    last: dict[str, Any] = {}  # the report of the largest factor evaluated, to explain a failed search
    adl_at: dict[float, dict[str, float]] = {}  # factor -> ADL'd notional by trigger

    def evaluate(factors: list[float]) -> list[float]:
        runs = [(f"{f:.6g}x", {**dict(base_overrides or {}), **fund_overrides(base, f)}, out / "runs" / f"f{f:.6g}") for f in factors]
        desc = f"size-fund {base.name}: {', '.join(r[0] for r in runs)}"
        results = run_parallel(path, runs, jobs, len(base.times()) * len(runs), progress, desc, pool=pool, network=network)
        for f, r in zip(factors, results):
            if r.error or r.report is None:
                raise SizingError(f"the replay at {r.label} failed: {r.error}")
            if f >= last.get("factor", -1.0):
                last.update(factor=f, report=r.report)
            adl_at[f] = adl_by_trigger(r.report)
        return [sizing_measure(r.report, triggers) for r in results]

    with worker_pool(jobs) as pool:
        try:
            result = search_factor(evaluate, total, tolerance, jobs, max_factor, resolution_usd=SIZE_RESOLUTION_USD)
        except SizingError as exc:
            if not exc.points:
                raise
            result = _failed(exc, last, fund_triggers_only)  # the points and the chart are still written
    relabel = _unless_relabelled(result, adl_at) if fund_triggers_only else None
    found_usd = result.found * total if result.found is not None else 0.0
    data = {
        "schema": 1,
        "scenario": _scenario_record(base, path, base_overrides),
        "parameterization": "one factor scales fund.global_seed and every market's fund_seed together; 1 = the scenario as written",
        "measure": MEASURE_FUND_TRIGGERS if fund_triggers_only else MEASURE,
        "triggers_counted": list(triggers) if triggers else "all",
        "scenario_fund": {"total_usd": total, "global_usd": base.fund.global_seed, "sub_pools_usd": {m.name: m.fund_seed for m in base.markets}},
        "tolerance": tolerance, "safety": safety,
        **_found(result, base, found_usd, safety),
        "scenario_margin": _margin(total, found_usd),
        "converged": result.converged,
        "monotone": result.monotone,
        "violations": [[asdict(a), asdict(b)] for a, b in result.violations],
        "message": result.message,
        "relabelled": relabel is not None,
        "points": [{**asdict(p), "adl_by_trigger": adl_at.get(p.factor, {})} for p in sorted(result.points, key=lambda p: p.factor)],
        "run": {
            "jobs": jobs, "network": network or "anvil", "replays": len(result.points), "rounds": max(p.round for p in result.points) + 1,
            "started_at": started_at, "wall_seconds": round(time.perf_counter() - wall0, 2),
        },
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "sizing.json").write_text(report_json(data), encoding="utf-8")
    (out / "sizing.md").write_text(render_sizing_markdown(data), encoding="utf-8")
    chart_sizing(data, out / "sizing.png")
    if result.found is None:
        raise SizingError(f"{result.message}; the {len(result.points)} evaluated points and the chart are in {out / 'sizing.md'}", result.points)
    return data


def _scenario_record(base: Scenario, path: Path, base_overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """sizing.json's `scenario`: what was sized, with which overrides, and what of it is synthetic."""
    return {"name": base.name, "file": str(path), "sha256": base.sha256 or "", "seed": base.seed,
            "base_overrides": dict(base_overrides or {}), "synthetic": list(base.synthetic)}


def _unless_relabelled(result: SizingResult, adl_at: Mapping[float, Mapping[str, float]]) -> str | None:
    """When the size found only relabels the ADL (see `relabelled`), turns `result` into no size with the reason
    as its message (the points and the chart are still written; the command fails with it) and returns it."""
    if result.found is None or result.below is None:
        return None
    relabel = relabelled(adl_at.get(result.below), adl_at.get(result.found, {}), result.found, result.below)
    if relabel:
        result.message, result.found, result.converged = relabel, None, False
    return relabel


def _failed(exc: SizingError, last: Mapping[str, Any], fund_triggers_only: bool) -> SizingResult:
    """The result of a search in which no size worked: what it evaluated, no size found, and why."""
    violations = non_monotone_pairs(exc.points)
    result = SizingResult(exc.points, None, max(p.factor for p in exc.points), False, not violations, violations)
    result.message = _explain(str(exc), last, fund_triggers_only)
    return result


def _found(result: SizingResult, base: Scenario, found_usd: float, safety: float) -> dict[str, Any]:
    """sizing.json's `found` (the size and its split) and `recommended` (with the margin of safety)."""
    factor = result.found or 0
    return {
        "found": {
            "factor": result.found,
            "total_usd": round(found_usd, 2),
            "global_usd": round(base.fund.global_seed * factor, 2),
            "sub_pools_usd": {m.name: round(m.fund_seed * factor, 2) for m in base.markets},
            "below_factor": result.below,
        },
        "recommended": {"factor": round(factor * (1 + safety), 6), "total_usd": round(found_usd * (1 + safety), 2)},
    }


def _explain(message: str, last: Mapping[str, Any], fund_triggers_only: bool) -> str:
    """`message` plus what the ADL left at the largest fund evaluated was triggered by."""
    if "report" not in last:
        return message
    by = adl_by_trigger(last["report"])
    if not by:
        return message
    parts = ", ".join(f"{reason} {fmt_usd(v)}" for reason, v in by.items())
    message += f"; at {last['factor']:.4g}x the ADL'd notional by trigger: {parts}"
    if not fund_triggers_only and by.get("liquidity_risk", 0.0) > 0:
        message += (
            " — liquidity-risk ADL follows auctions that went stale (keepers away), which no fund size removes; "
            "`--fund-triggers-only` sizes the fund against its own triggers (uncovered loss, fund-risk status)"
        )
    return message


def _margin(total: float, needed: float) -> float | None:
    """How far the scenario's own fund is above (+) or below (-) the size found, as a share of that size."""
    return round(total / needed - 1, 4) if needed > 0 else None
