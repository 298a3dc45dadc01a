"""`backstop compare` and `backstop size-fund` on live local chains (each replay on its own Anvil, in its own
worker process), on the mini crash: one row per variant with the same seed and population, a built-in
variant that changes the outcome, and a fund size with no ADL where 90% of it needs ADL; and on Black Thursday
(CI size), that removing standing bids does not reduce bad debt (nor what goes to ADL)."""

import json
from pathlib import Path

import pytest

from backstop.replay import run_replay
from backstop.scenario import load_scenario
from backstop.scenario.variants import population_fingerprint
from backstop.studies import compare as compare_module
from backstop.studies import parallel
from backstop.studies import sizing as sizing_module
from backstop.studies.compare import compare
from backstop.studies.sizing import fund_overrides, size_fund, sizing_measure

ROOT = Path(__file__).resolve().parent.parent
MINI = ROOT / "tests" / "data" / "mini-crash.yaml"
BLACK_THURSDAY = ROOT / "scenarios" / "black-thursday-2020.yaml"


def test_compare_and_size_fund_share_one_parallel_runner():
    assert compare_module.run_parallel is sizing_module.run_parallel is parallel.run_parallel
    assert sizing_module.worker_pool is parallel.worker_pool and sizing_module.default_jobs is parallel.default_jobs
    assert parallel.default_jobs() >= 1


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    data = compare(MINI, out, vary=["markets.0.auction.tau=600"], builtins=["single_venue", "maker_1_2"], jobs=2, progress=False)
    return data, out


def test_one_row_per_variant_with_the_same_seed_and_population(comparison):
    data, out = comparison
    rows = data["variants"]
    assert [r["name"] for r in rows] == ["base", "markets.0.auction.tau=600", "single_venue", "maker_1_2"]
    assert all(r["complete"] and r["error"] is None for r in rows)
    population = population_fingerprint(load_scenario(MINI))
    assert {r["population_sha256"] for r in rows} == {population} == {data["scenario"]["population_sha256"]}
    assert {r["traders_opened"] for r in rows} == {30}
    for r in rows:  # each variant's own replay report says what ran
        report = json.loads((out / r["report"] / "report.json").read_text())
        assert report["scenario"]["seed"] == data["scenario"]["seed"] == 7
        assert r["metrics"]["bad_debt_usd"] == report["totals"]["bad_debt"]
        assert r["metrics"]["adl_notional_usd"] == report["totals"]["adl_notional"]


def test_each_variant_replayed_its_own_parameters(comparison):
    data, out = comparison
    params = {r["name"]: json.loads((out / r["report"] / "report.json").read_text())["parameters"]["markets"][0] for r in data["variants"]}
    assert params["base"]["auction"]["tau"] == 1800 and params["markets.0.auction.tau=600"]["auction"]["tau"] == 600
    assert len(params["base"]["venues"]) == 2 and list(params["single_venue"]["venues"]) == ["venue-a"]
    assert params["maker_1_2"]["auction"]["tail"] == 2**32 - 1


def test_a_single_venue_oracle_changes_what_the_crash_costs(comparison):
    rows = {r["name"]: r["metrics"] for r in comparison[0]["variants"]}
    # venue-a alone leaves the two-venue median at the bottom: other liquidation prices, another shortfall, and
    # (with ADL taking over underwater liquidations once the fund is at risk) another split between fund and ADL
    assert rows["single_venue"]["shortfall_usd"] != rows["base"]["shortfall_usd"]


def test_the_comparison_folder_has_json_markdown_and_charts(comparison):
    data, out = comparison
    for name in ("compare.json", "compare.md", "compare-fund.png", "compare-losses.png"):
        assert (out / name).stat().st_size > 0, name
    assert json.loads((out / "compare.json").read_text()) == json.loads(json.dumps(data))
    md = (out / "compare.md").read_text()
    assert all(f"| {r['name']} |" in md for r in data["variants"])


def test_size_fund_finds_a_size_with_no_adl_and_90pct_of_it_needs_adl(tmp_path):
    data = size_fund(MINI, tmp_path / "size", tolerance=0.1, jobs=2, progress=False)
    found = data["found"]["factor"]
    assert data["monotone"] and data["converged"] and found > 0
    at_found = next(p for p in data["points"] if p["factor"] == found)
    assert at_found["measure"] == 0
    assert len(data["points"]) <= 8  # few replays: two per round, bisection to 10% in four rounds
    base = load_scenario(MINI)
    below = run_replay(MINI, tmp_path / "below", progress=False, measure_raw=False, overrides=fund_overrides(base, 0.9 * found))
    assert sizing_measure(below) > 0
    assert data["found"]["total_usd"] == pytest.approx(found * 30_000, abs=0.01)
    for name in ("sizing.json", "sizing.md", "sizing.png"):
        assert (tmp_path / "size" / name).stat().st_size > 0


def test_removing_standing_bids_does_not_reduce_bad_debt_on_black_thursday(tmp_path):
    # base: Black Thursday (CI size) with the keepers' standing bids of the scenario's `standing_bids` variant;
    # the built-in no_standing_bids variant takes them off the book, same seed, population and prices
    with_bids = {"population.0.count": 80, **load_scenario(BLACK_THURSDAY).variants["standing_bids"]}
    data = compare(BLACK_THURSDAY, tmp_path / "bt", builtins=["no_standing_bids"], base_overrides=with_bids, jobs=2, progress=False)
    rows = {r["name"]: r for r in data["variants"]}
    assert all(r["complete"] for r in rows.values()) and rows["base"]["population_sha256"] == rows["no_standing_bids"]["population_sha256"]
    base, bare = rows["base"]["metrics"], rows["no_standing_bids"]["metrics"]
    assert base["liquidations"] > 5 and bare["liquidations"] > 5
    assert bare["bad_debt_usd"] >= base["bad_debt_usd"]
    # what the crash hands to others: without the bids (and the keepers offline half the time) auctions go
    # stale and ADL closes positions; with them every liquidation fills in its own transaction
    assert bare["adl_notional_usd"] + bare["bad_debt_usd"] > base["adl_notional_usd"] + base["bad_debt_usd"]
    assert bare["restarts"] > base["restarts"] == 0
