"""Comparison variants, the fund-sizing search and the comparison's rendering, without a chain.

Run alone with `python -m pytest tests/test_variants.py -p no:ape_test`."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from backstop.cli import main
from backstop.errors import BackstopError
from backstop.model.auction import AuctionParams, is_stale
from backstop.scenario import UINT32_MAX, load_scenario
from backstop.scenario.variants import VariantError, builtin_variant, plan_variants, population_fingerprint, split_values, vary_variants
from backstop.studies.compare import COLUMNS, render_compare_markdown, variant_metrics
from backstop.studies.sizing import FUND_TRIGGERS, SizingError, _explain, adl_by_trigger, fund_overrides, non_monotone_pairs, search_factor, sizing_measure
from backstop.units import WAD

ROOT = Path(__file__).resolve().parent.parent
MINI = ROOT / "tests" / "data" / "mini-crash.yaml"
SCENARIOS = ROOT / "scenarios"


@pytest.fixture(scope="module")
def mini():
    return load_scenario(MINI)


def _apply(base, spec):
    return base.with_overrides(builtin_variant(base, spec).overrides)


# ---------------------------------------------------------------- built-in variants change what they claim


def test_no_standing_bids_removes_every_standing_bid():
    bids = load_scenario(SCENARIOS / "black-thursday-2020.yaml").variant("standing_bids")
    assert sum(k.standing_bid is not None for k in bids.keepers) == 2
    without = _apply(bids, "no_standing_bids")
    assert all(k.standing_bid is None for k in without.keepers)
    assert [k.model_dump(exclude={"standing_bid"}) for k in without.keepers] == [k.model_dump(exclude={"standing_bid"}) for k in bids.keepers]


def test_a_builtin_whose_mechanism_is_absent_says_the_run_equals_the_base(mini):
    v = builtin_variant(mini, "no_standing_bids")
    assert v.overrides == {} and "equals the base" in v.notes[0]


def test_no_buffer_turns_the_buffer_and_the_cap_off(mini):
    buffered = mini.with_overrides({"markets.0.auction.drop_bps": 1500, "markets.0.auction.hole": 100_000})
    without = _apply(buffered, "no_buffer").markets[0].auction
    assert (without.drop_bps, without.hole) == (0, 0)
    assert without.model_dump(exclude={"drop_bps", "hole"}) == buffered.markets[0].auction.model_dump(exclude={"drop_bps", "hole"})


def test_single_venue_keeps_one_venue_and_needs_one_source():
    cascade = load_scenario(SCENARIOS / "cross-venue-cascade.yaml")
    single = _apply(cascade, "single_venue").markets[0]
    assert list(single.venues) == ["venue-gap"] and single.oracle.min_sources == 1
    for t in (0, 600, 1200, 3600):
        assert single.price("venue-gap", t) == cascade.markets[0].price("venue-gap", t)
    assert list(_apply(cascade, "single_venue:venue-b").markets[0].venues) == ["venue-b"]
    with pytest.raises(VariantError, match="no venue 'nowhere'"):
        builtin_variant(cascade, "single_venue:nowhere")


def test_fixed_leverage_is_one_bracket_and_unclamps_large_positions():
    om = load_scenario(SCENARIOS / "om-2025.yaml")
    fixed = _apply(om, "fixed_leverage")
    tiers, base_tiers = fixed.markets[0].tiers, om.markets[0].tiers
    assert len(tiers) == 1 and len(base_tiers) > 1
    assert tiers[0].max_notional == base_tiers[-1].max_notional
    assert tiers[0].initial_margin_bps == base_tiers[0].initial_margin_bps
    a, b = om.traders(), fixed.traders()
    assert [(t.side, t.size_usd, t.entry_price) for t in a] == [(t.side, t.size_usd, t.entry_price) for t in b]
    assert all(y.leverage >= x.leverage for x, y in zip(a, b))
    assert any(y.leverage > x.leverage for x, y in zip(a, b) if x.size_usd > 50_000)


def test_maker_1_2_auction_is_never_reset_by_age_or_ordinary_distance(mini):
    auction = _apply(mini, "maker_1_2").markets[0].auction
    assert (auction.curve, auction.tail, auction.stale_bps) == ("linear", UINT32_MAX, 10_000)
    assert auction.tau == mini.markets[0].auction.tau
    params = AuctionParams(auction.buf_bps, auction.stale_bps, auction.tail)
    mark = 10 * WAD
    assert not is_stale(0, mark, 86_400 * 30, params)  # a month old, at zero: still not restartable
    assert not is_stale(19 * WAD, mark, 0, params)
    base = mini.markets[0].auction
    assert is_stale(0, mark, base.tail + 1, AuctionParams(base.buf_bps, base.stale_bps, base.tail))


# ---------------------------------------------------------------- planning and bad input


def test_plan_puts_the_base_first_and_keeps_seed_and_population(mini):
    planned = plan_variants(mini, ["markets.0.auction.tau=600,3600"], [], ["single_venue", "maker_1_2"])
    assert [v.name for v, _ in planned] == ["base", "markets.0.auction.tau=600", "markets.0.auction.tau=3600", "single_venue", "maker_1_2"]
    assert [sc.markets[0].auction.tau for _, sc in planned[:3]] == [1800, 600, 3600]
    assert {population_fingerprint(sc) for _, sc in planned} == {population_fingerprint(mini)}
    assert {sc.seed for _, sc in planned} == {mini.seed}


def test_a_variant_may_change_what_the_same_traders_do():
    """`population.<i>.exits` is behaviour, not who trades: allowed, the traders and the fingerprint stay."""
    om = load_scenario(SCENARIOS / "om-2025.yaml")
    (_, base), (v, panic) = plan_variants(om, [], ["panic_closes"], [])
    assert panic.population[0].exits is not None and base.population[0].exits is None
    assert population_fingerprint(panic) == population_fingerprint(base)
    strip = lambda t: (t.side, t.size_usd, t.leverage, t.entry_price)  # noqa: E731
    assert [strip(t) for t in panic.traders()] == [strip(t) for t in base.traders()]
    assert all(1500 <= t.stop_loss_bps <= 6000 for t in panic.traders())
    with pytest.raises(VariantError, match="only `population.<i>.exits` may change"):
        plan_variants(om, ["population.0.opens={start: 0, end: 60}"], [], [])


def test_named_variants_come_from_the_scenario_file():
    bt = load_scenario(SCENARIOS / "black-thursday-2020.yaml")
    (_, _), (v, sc) = plan_variants(bt, [], ["standing_bids"], [])
    assert v.kind == "named" and sc.keepers[0].standing_bid is not None
    with pytest.raises(VariantError, match="no variant 'nope'.*standing_bids"):
        plan_variants(bt, [], ["nope"], [])


@pytest.mark.parametrize(
    ("vary", "builtins", "message"),
    [
        (["markets.0.auction.tauu=1,2"], [], "'tauu' is unknown"),
        (["markets.9.auction.tau=1"], [], "an index 0..0"),
        (["markets.0.auction.tau="], [], "empty value list"),
        (["markets.0.auction.tau=600,,900"], [], "empty value"),
        (["no-equals-sign"], [], "expected KEY=V1,V2"),
        (["markets.0.auction.tau=-5"], [], "tau"),
        (["seed=1,2"], [], "same seed and population"),
        (["population.0.count=5"], [], "same seed and population"),
        ([], ["nope"], "unknown builtin variant 'nope'.*no_standing_bids"),
        ([], ["maker_1_2:x"], "takes no argument"),
        ([], ["single_venue", "single_venue"], "listed twice"),
        ([], [], "nothing to compare"),
    ],
)
def test_bad_variants_are_clear_errors(mini, vary, builtins, message):
    with pytest.raises(VariantError, match=message):
        plan_variants(mini, vary, [], builtins)


def test_cli_reports_bad_input_before_anything_runs(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["compare", str(MINI), "--builtin", "nope", "--out", str(tmp_path / "c")])
    assert result.exit_code != 0 and "unknown builtin variant 'nope'" in result.output
    result = runner.invoke(main, ["compare", str(MINI), "--vary", "markets.0.auction.tau="])
    assert result.exit_code != 0 and "empty value list" in result.output
    result = runner.invoke(main, ["size-fund", str(MINI), "--tolerance", "2", "--out", str(tmp_path / "s")])
    assert result.exit_code != 0 and "tolerance must be in (0, 1)" in result.output
    assert not (tmp_path / "c").exists() and not (tmp_path / "s").exists()
    listing = runner.invoke(main, ["compare", str(SCENARIOS / "black-thursday-2020.yaml"), "--list"])
    assert listing.exit_code == 0 and "standing_bids" in listing.output and "maker_1_2" in listing.output


def test_split_values_keeps_structured_values_whole():
    assert split_values("600, [], {a: 1, b: 2},'x,y'") == ["600", "[]", "{a: 1, b: 2}", "'x,y'"]
    assert [v.overrides for v in vary_variants("keepers.0.outages=[],[{start: 0, end: 60}]")] == [
        {"keepers.0.outages": []},
        {"keepers.0.outages": [{"start": 0, "end": 60}]},
    ]


# ---------------------------------------------------------------- the sizing search, with fake evaluators


def _fake(measure):
    calls: list[float] = []

    def evaluate(factors):
        calls.extend(factors)
        return [measure(f) for f in factors]

    return evaluate, calls


@pytest.mark.parametrize("need", [0.37, 0.93, 2.6, 11.0])
def test_search_finds_the_smallest_covering_fund_within_tolerance(need):
    # the loss falls dollar for dollar with the fund, less a little (penalties flow in as the fund grows)
    fund = 100_000.0
    evaluate, calls = _fake(lambda f: max(0.0, (need - f) * fund * 0.9))
    r = search_factor(evaluate, fund, tolerance=0.1, jobs=2)
    assert r.converged and r.monotone and not r.violations
    assert need <= r.found <= need / 0.9  # no loss at the size found; within tolerance of the true need
    assert r.below is not None and r.below >= 0.9 * r.found and (need - 0.9 * r.found) > 0  # 90% of it leaves a loss
    assert len(calls) <= 12
    assert sorted(p.factor for p in r.points) == sorted(calls)  # every evaluated point is recorded


def test_the_bracket_grows_by_one_doubling_per_job_each_round():
    evaluate, calls = _fake(lambda f: max(0.0, (11.0 - f) * 1_000))
    r = search_factor(evaluate, 1_000.0, tolerance=0.1, jobs=2)
    rounds = {}
    for p in r.points:
        rounds.setdefault(p.round, []).append(p.factor)
    assert sorted(rounds[0]) == [0.0, 1.0] and sorted(rounds[1]) == [2.0, 4.0] and sorted(rounds[2]) == [8.0, 16.0]
    assert 11.0 <= r.found <= 11.0 / 0.9
    one = search_factor(_fake(lambda f: max(0.0, (11.0 - f) * 1_000))[0], 1_000.0, tolerance=0.1, jobs=1)
    assert [p.factor for p in one.points if p.round in (1, 2, 3, 4)][:4] == [2.0, 4.0, 8.0, 16.0]  # one job: one doubling a round


def test_search_with_one_job_is_bisection_like_and_converges():
    evaluate, calls = _fake(lambda f: max(0.0, 5_000 * (1 - f) ** 2 - 1))  # convex: the linear guess is off
    r = search_factor(evaluate, 1_000.0, tolerance=0.05, jobs=1, max_rounds=30)
    assert r.converged and r.found >= 1 - (1 / 5_000) ** 0.5 - 1e-9
    assert r.found - r.below <= 0.05 * r.found


def test_search_warns_when_the_measure_is_not_monotone():
    # loss 10 below 0.5x, 1,000 between 0.5x and 1x (a larger fund losing more), none from 1x
    evaluate, _ = _fake(lambda f: 10.0 if f < 0.5 else (1_000.0 if f < 1 else 0.0))
    r = search_factor(evaluate, 100.0, tolerance=0.05, jobs=2)
    assert not r.monotone and r.violations
    assert all(a.factor < b.factor and b.measure > a.measure for a, b in r.violations)
    assert "not monotone" in r.message


def test_a_monotone_record_has_no_violations():
    evaluate, _ = _fake(lambda f: max(0.0, 1 - f))
    points = search_factor(evaluate, 10.0, tolerance=0.2, jobs=2).points
    assert non_monotone_pairs(points) == []


def test_a_size_near_zero_stops_at_the_resolution_not_the_relative_tolerance():
    # any fund at all removes the ADL (LUNA under --fund-triggers-only): a relative tolerance is never reached
    evaluate, calls = _fake(lambda f: 1_000.0 if f == 0 else 0.0)
    r = search_factor(evaluate, 300_000.0, tolerance=0.05, jobs=2, max_rounds=40, resolution_usd=1_000.0)
    assert r.converged and r.below == 0.0 and 0 < r.found * 300_000 <= 1_000.0
    assert len(calls) <= 2 + 2 * 9  # round 0, then two a round: the bracket shrinks threefold a round to $1,000
    unbounded = search_factor(_fake(lambda f: 1_000.0 if f == 0 else 0.0)[0], 300_000.0, tolerance=0.05, jobs=2)
    assert not unbounded.converged and "stopped before" in unbounded.message  # without it: 12 rounds, no answer


def test_search_edge_cases():
    evaluate, _ = _fake(lambda f: 0.0)
    r = search_factor(evaluate, 100.0, jobs=2)
    assert r.found == 0.0 and r.below is None and "even with no starting fund" in r.message
    with pytest.raises(SizingError, match="even 64x"):
        search_factor(_fake(lambda f: 1.0)[0], 100.0, jobs=2)
    with pytest.raises(SizingError, match="no starting fund"):
        search_factor(_fake(lambda f: 1.0)[0], 0.0)
    with pytest.raises(SizingError, match="tolerance"):
        search_factor(_fake(lambda f: 1.0)[0], 100.0, tolerance=0)


def test_fund_overrides_scale_every_pool_together(mini):
    scaled = mini.with_overrides(fund_overrides(mini, 0.5))
    assert scaled.fund.global_seed == mini.fund.global_seed / 2
    assert scaled.markets[0].fund_seed == mini.markets[0].fund_seed / 2


# ---------------------------------------------------------------- metrics and the comparison's Markdown


def _report(bad_debt, adl=None):
    totals = {"bad_debt": bad_debt, "fund_used": 10.0, "peak_drawdown_pct": 50.0, "unfilled": 1, "partially_filled": 0,
              "liquidations": 3, "shortfall": 10.0 + bad_debt, "restarts": 0, "fund_start": 20.0, "fund_end": 10.0}
    return {"totals": {**totals, **(adl or {})}}


def test_adl_figures_come_from_the_report_and_are_na_when_it_lacks_them():
    m = variant_metrics(_report(5.0))  # a report from before the ADL queue
    assert m["bad_debt_usd"] == 5.0 and m["adl_notional_usd"] is None and m["adl_victims"] is None
    m = variant_metrics(_report(0.0, {"adl_notional": 1234.5, "adl_victims": 3, "profit_haircut_beyond_need": 0.0, "adl_profit_taken": 9.0}))
    assert (m["adl_notional_usd"], m["adl_victims"], m["adl_excess_profit_usd"], m["adl_profit_taken_usd"]) == (1234.5, 3, 0.0, 9.0)


def test_compare_markdown_shows_every_variant_side_by_side():
    rows = []
    for name, report in (("base", _report(0.0)), ("single_venue", _report(3_415.92, {"adl_notional": 7.0, "adl_victims": 2, "profit_haircut_beyond_need": 0.5}))):
        rows.append({"name": name, "kind": "base" if name == "base" else "builtin", "description": "d", "overrides": {}, "notes": [],
                     "complete": True, "error": None, "wall_seconds": 1.0, "report": f"variants/{name}", "metrics": variant_metrics(report)})
    data = {"scenario": {"name": "mini", "file": "m.yaml", "sha256": "ab" * 32, "seed": 7, "population_sha256": "cd" * 32},
            "run": {"jobs": 2, "wall_seconds": 3.0, "started_at": "2026-01-01T00:00:00+00:00"}, "variants": rows}
    text = render_compare_markdown(data)
    side_by_side = text.split("## Side by side")[1].split("##")[0]
    table = [line for line in side_by_side.splitlines() if line.startswith("| base") or line.startswith("| single_venue")]
    assert len(table) == 2
    assert table[0].count("n/a") == 5  # the ADL columns of a report without ADL figures, the impact ones without liquidity
    assert "$3,415.92" in table[1] and table[1].count("n/a") == 2  # only the impact columns
    header = next(line for line in text.splitlines() if line.startswith("| variant | bad debt"))
    assert all(title in header for _, title, _ in COLUMNS)


def test_a_variant_with_the_base_figures_is_flagged_as_not_binding():
    from backstop.studies.compare import _note_same_outcome

    rows = [{"name": n, "complete": True, "notes": [], "metrics": variant_metrics(_report(b))} for n, b in (("base", 0.0), ("same", 0.0), ("other", 5.0))]
    _note_same_outcome(rows)
    assert rows[0]["notes"] == [] and rows[2]["notes"] == []
    assert "did not bind" in rows[1]["notes"][0]


def _report_with_adl(*fills: tuple[str, float, float], bad_debt: float = 0.0) -> dict:
    adl = [{"reason": r, "size": q, "price": p} for r, q, p in fills]
    return {"totals": {"adl_notional": sum(q * p for _, q, p in fills), "bad_debt": bad_debt}, "adl": adl}


def test_the_measure_counts_every_adl_or_only_the_funds_own_triggers():
    report = _report_with_adl(("fund_risk", 100, 2.0), ("liquidity_risk", 50, 2.0), ("uncovered", 10, 1.5), bad_debt=7.0)
    assert sizing_measure(report) == 200 + 100 + 15 + 7
    assert sizing_measure(report, FUND_TRIGGERS) == 200 + 15 + 7  # stale auctions' ADL is not the fund's
    assert adl_by_trigger(report) == {"fund_risk": 200.0, "liquidity_risk": 100.0, "uncovered": 15.0}
    assert sizing_measure({"totals": {"bad_debt": 3.0}}) == 3.0  # a report from before the ADL queue


def test_a_failed_search_says_what_triggered_the_adl_left():
    last = {"factor": 64.0, "report": _report_with_adl(("liquidity_risk", 1_000, 1.8))}
    message = _explain("even 64x the scenario's fund still hands $1,800.00 to ADL or bad debt", last, False)
    assert "liquidity_risk $1,800.00" in message and "no fund size removes" in message and "--fund-triggers-only" in message
    assert "--fund-triggers-only" not in _explain("even 64x ...", last, True)  # already sizing against those
    assert _explain("plain", {}, False) == "plain"


def test_cli_size_fund_takes_fund_triggers_only():
    result = CliRunner().invoke(main, ["size-fund", "--help"])
    assert result.exit_code == 0 and "--fund-triggers-only" in result.output


def test_variant_errors_are_backstop_errors_and_value_errors(mini):
    with pytest.raises(VariantError) as info:
        plan_variants(mini, [], [], [])
    assert isinstance(info.value, BackstopError) and isinstance(info.value, ValueError)


def test_a_failed_search_keeps_its_points_and_writes_them(tmp_path):
    """No size up to the largest factor works: the error carries every evaluated point, and sizing.md / .png are
    still written from them (what `backstop size-fund` does before it reports the failure)."""
    from backstop.studies.sizing import SizingResult, _failed  # noqa: PLC0415
    from backstop.studies.sizing_report import chart_sizing, render_sizing_markdown  # noqa: PLC0415

    with pytest.raises(SizingError) as caught:
        search_factor(_fake(lambda f: 1_000.0)[0], 100.0, jobs=2, max_factor=8)
    points = caught.value.points
    assert sorted(p.factor for p in points) == [0.0, 1.0, 2.0, 4.0, 8.0]
    result = _failed(caught.value, {}, False)
    assert isinstance(result, SizingResult) and result.found is None and result.below == 8.0 and result.message
    data = {
        "scenario": {"name": "fake", "file": "fake.yaml", "sha256": "0" * 64, "seed": 0},
        "parameterization": "one factor", "measure": "ADL", "triggers_counted": "all", "monotone": True,
        "message": result.message, "scenario_margin": None, "safety": 0.25, "tolerance": 0.05,
        "scenario_fund": {"total_usd": 100.0, "global_usd": 100.0, "sub_pools_usd": {}},
        "found": {"factor": None, "total_usd": 0.0, "global_usd": 0.0, "sub_pools_usd": {}, "below_factor": 8.0},
        "recommended": {"factor": 0.0, "total_usd": 0.0},
        "points": [{"factor": p.factor, "fund_usd": p.fund_usd, "measure": p.measure, "round": p.round} for p in points],
        "run": {"replays": len(points), "rounds": 3, "jobs": 2, "wall_seconds": 1.0},
    }
    md = render_sizing_markdown(data)
    assert "No fund size up to the largest evaluated removes it" in md and "none found" in md and "8x" in md
    chart_sizing(data, tmp_path / "sizing.png")
    assert (tmp_path / "sizing.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _adl_report(by_reason: dict[str, float]) -> dict:
    """A replay report as far as the sizing reads it: ADL fills by reason (notional = size x price) and totals."""
    return {"totals": {"adl_notional": sum(by_reason.values()), "bad_debt": 0.0},
            "adl": [{"reason": r, "size": v, "price": 1.0} for r, v in by_reason.items()]}


def _size_fund_with(monkeypatch, tmp_path, adl_at, **kwargs):
    """size_fund on the mini crash with each replay replaced by `adl_at(factor)` (no chain)."""
    from contextlib import nullcontext  # noqa: PLC0415

    import backstop.studies.sizing as sizing  # noqa: PLC0415
    from backstop.studies.parallel import RunResult  # noqa: PLC0415

    total = sizing.fund_total(load_scenario(MINI))

    def fake(path, runs, jobs, *args, **kw):
        return [RunResult(label, out, _adl_report(adl_at(ov["fund.global_seed"] / load_scenario(MINI).fund.global_seed)), None, 0.0)
                for label, ov, out in runs]

    monkeypatch.setattr(sizing, "run_parallel", fake)
    monkeypatch.setattr(sizing, "worker_pool", lambda jobs: nullcontext())
    return sizing.size_fund(MINI, tmp_path, tolerance=0.05, jobs=2, progress=False, **kwargs), total


def test_a_larger_fund_that_only_relabels_the_adl_gives_no_size(monkeypatch, tmp_path):
    # fund-risk ADL below 1.5x; above it the same $1M goes to ADL for liquidity risk (stale auctions)
    def adl_at(f):
        return {"fund_risk": 1_000_000.0} if f < 1.5 else {"liquidity_risk": 995_000.0}

    with pytest.raises(SizingError, match="only relabels the ADL"):
        _size_fund_with(monkeypatch, tmp_path, adl_at, fund_triggers_only=True)
    data = json.loads((tmp_path / "sizing.json").read_text())
    assert data["relabelled"] is True and data["found"]["factor"] is None and data["points"]
    assert {tuple(p["adl_by_trigger"]) for p in data["points"]} == {("fund_risk",), ("liquidity_risk",)}
    md = (tmp_path / "sizing.md").read_text()
    assert "only relabels the ADL" in md and "$995,000" in md and (tmp_path / "sizing.png").is_file()


def test_a_larger_fund_that_removes_most_adl_still_gives_its_size(monkeypatch, tmp_path):
    # above 1.5x the fund's triggers stop and only a tenth of the ADL is left (liquidity risk): a real answer
    def adl_at(f):
        return {"fund_risk": 1_000_000.0} if f < 1.5 else {"liquidity_risk": 100_000.0}

    data, total = _size_fund_with(monkeypatch, tmp_path, adl_at, fund_triggers_only=True)
    assert data["relabelled"] is False and 1.5 <= data["found"]["factor"] <= 1.5 / 0.95
    # without --fund-triggers-only the liquidity-risk ADL counts: no size removes it, as before
    with pytest.raises(SizingError, match="even 64x"):
        _size_fund_with(monkeypatch, tmp_path / "all", adl_at)
