"""Replays on a live local chain: every bundled scenario in CI size, determinism, comparisons whose outcome
the mechanisms decide, bad input that fails before anything is deployed, and a chain that dies mid-replay.

These tests start their own Anvil nodes (backstop.chain.node) beside the one ape test runs on."""

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from backstop.chain.node import local_anvil
from backstop.replay import NothingToResume, ReplayFailed, resume_replay, run_replay
from backstop.report import reconcile, validate_report
from backstop.scenario import ScenarioError

ROOT = Path(__file__).resolve().parent.parent
MINI = ROOT / "tests" / "data" / "mini-crash.yaml"
SCENARIOS = ROOT / "scenarios"
# Fields that measure the run itself (wall time, throughput), not what happened on the chain.
VOLATILE = {("run", "wall_seconds"), ("run", "started_at"), ("run", "network"), ("throughput", None)}


def _stable(report: dict) -> dict:
    out = json.loads(json.dumps(report))
    for top, key in VOLATILE:
        if key is None:
            out.pop(top, None)
        else:
            out[top].pop(key, None)
    return out


def _replay(path, tmp_path, name, **kw):
    return run_replay(path, tmp_path / name, progress=False, measure_raw=False, **kw)


# ---------------------------------------------------------------- the mini crash, end to end


@pytest.fixture(scope="module")
def mini(tmp_path_factory):
    out = tmp_path_factory.mktemp("mini")
    report = run_replay(MINI, out, progress=False, measure_raw=True)
    return report, out


def test_report_folder_has_every_file_and_a_valid_schema(mini):
    report, out = mini
    for name in ("report.json", "report.md", "events.csv", "prices.png", "fund.png", "liquidations.png", "adl.png", "market.png"):
        assert (out / name).stat().st_size > 0, name
    assert validate_report(json.loads((out / "report.json").read_text())) == []
    assert report["run"]["complete"] and report["run"]["error"] is None
    assert report["run"]["failed_transactions"] == {}


def test_report_records_the_deployment(mini):
    """What `cast` needs to inspect the chain after the crash: the chain id and every contract's address."""
    report, out = mini
    run = report["run"]
    assert run["chain_id"] == 31337
    names = {"MockUSDC", "PriceOracle", "InsuranceFund", "Clearinghouse", "LiquidationAuction", "StandingBidBook", "AdlQueue"}
    assert names <= set(run["contracts"])
    sources = [k for k in run["contracts"] if k.startswith("MockPriceSource:TEST-USD:")]
    assert len(sources) == 2  # one per venue
    assert all(a.startswith("0x") and len(a) == 42 for a in run["contracts"].values())
    assert len(set(run["contracts"].values())) == len(run["contracts"])
    assert run["contracts"]["InsuranceFund"] in (out / "report.md").read_text()


def test_a_40pct_fall_liquidates_and_draws_on_the_fund(mini):
    report, _ = mini
    t = report["totals"]
    assert report["run"]["setup"]["opened"] == 30
    assert t["liquidations"] >= 10
    kinds = [r["filled_by"] for r in report["liquidations"]]
    assert set(kinds) <= {"auction", "partial", "unfilled", "adl", "mixed"}  # no standing bids in this fixture
    assert kinds.count("auction") == t["filled_by_auction"] and len(kinds) == t["liquidations"]
    assert t["fund_used"] > 0 and t["shortfall"] > 0
    assert t["fund_end"] < t["fund_start"]
    # every fill of a long liquidation is at a price below the mark at which it started (the auction falls)
    for liq in report["liquidations"]:
        for fill in liq["fills"]:
            assert fill["price"] < liq["mark"] * 1.03


def test_events_csv_holds_every_contract_event(mini):
    report, out = mini
    rows = (out / "events.csv").read_text().splitlines()
    started = [r for r in rows if ",AuctionStarted," in r]
    assert len(started) == report["totals"]["liquidations"]
    assert any(",PriceAccepted," in r for r in rows) and any(",Inflow," in r for r in rows)


def test_events_csv_names_the_contract_that_emitted_each_event(mini):
    report, out = mini
    rows = list(csv.DictReader(io.StringIO((out / "events.csv").read_text())))
    by_address = {a.lower(): name for name, a in report["run"]["contracts"].items()}
    assert all(by_address[r["address"].lower()] == r["contract"] for r in rows)
    granted = {r["contract"] for r in rows if r["event"] == "RoleGranted"}
    assert {"MockUSDC", "InsuranceFund", "Clearinghouse", "LiquidationAuction", "AdlQueue"} <= granted
    times = [int(r["timestamp"]) for r in rows]
    assert times == sorted(times)
    assert int(rows[0]["t"]) < 0 < int(rows[-1]["t"])  # deployment before the scenario's t = 0, the crash after
    settled = [r for r in rows if r["event"] == "ShortfallSettled"]
    assert len(settled) > 0 and not any(r["event"] == "BadDebtRealized" for r in rows)


def test_keepers_rows_account_for_what_they_bought_and_earned(mini):
    report, _ = mini
    rows = report["keepers"]
    assert sum(k["incentives"] for k in rows) == pytest.approx(report["totals"]["keeper_incentives"])
    taken = sum(f["qty"] * f["price"] for liq in report["liquidations"] for f in liq["fills"] if f["via"] == "auction")
    assert sum(k["bought_notional"] for k in rows) == pytest.approx(taken)
    idle = [k for k in rows if k["takes"] == 0]
    assert idle and all(k["pnl"] == pytest.approx(k["incentives"], abs=1e-6) for k in idle)  # nothing bought: PnL is the tips
    assert any(k["takes"] > 0 for k in rows)
    # capital used: none for a keeper that bought nothing; some, never more than it committed, for a buyer
    assert all(k["capital_used"] == 0 for k in idle)
    assert all(0 < k["capital_used"] <= k["capital"] for k in rows if k["bought_notional"] > 0)


def test_the_mini_report_reconciles(mini):
    report, _ = mini
    assert reconcile(report) == []
    flows = {r["pool"]: r for r in report["fund_flows"]}
    assert set(flows) == {"global", "TEST-USD"}
    assert all(r["difference"] == 0 for r in flows.values())
    assert flows["TEST-USD"]["outflows"]["kick_incentives"] > 0 and flows["TEST-USD"]["outflows"]["shortfalls_covered"] > 0


def test_throughput_is_measured_against_raw_anvil(mini):
    tp = mini[0]["throughput"]
    assert tp["transactions"] > 0 and tp["tx_per_s"] > 0 and tp["raw_anvil_tx_per_s"] > 0
    assert tp["ratio"] == pytest.approx(tp["tx_per_s"] / tp["raw_anvil_tx_per_s"], rel=0.01)


def test_same_scenario_and_seed_give_the_same_report(mini, tmp_path):
    again = _replay(MINI, tmp_path, "again")
    assert _stable(again) == _stable(mini[0])


def test_another_seed_gives_another_population(mini, tmp_path):
    other = _replay(MINI, tmp_path, "seed", overrides={"seed": 8})
    assert _stable(other)["liquidations"] != _stable(mini[0])["liquidations"]


# ---------------------------------------------------------------- the bundled scenarios, CI-sized


def test_om_2025_in_ci_size(tmp_path):
    # an eighth of the population, and an eighth of the fund, so that the fund is as stressed as in the full run
    overrides = {"population.0.count": 125, "step": 120, "markets.0.fund_seed": 31_250, "fund.global_seed": 31_250}
    report = _replay(SCENARIOS / "om-2025.yaml", tmp_path, "om", overrides=overrides)
    t = report["totals"]
    assert t["liquidations"] > 20 and t["fund_used"] > 0 and t["bad_debt"] == 0
    # keepers act in continuous time: each auction is taken when its price first reaches a keeper's discount,
    # never left to go stale; the fund pays the shortfalls and its sub-pool stays above the 30% drawdown (from its 8-hour peak) that starts ADL
    assert t["filled_by_auction"] == t["liquidations"] and t["restarts"] == 0
    assert 0 < t["peak_drawdown_pct"] < 30 and t["adl_notional"] == 0
    assert report["scenario"]["synthetic"] and report["scenario"]["sources"]


def test_luna_2022_in_ci_size(tmp_path):
    report = _replay(SCENARIOS / "luna-2022.yaml", tmp_path, "luna", overrides={"population.0.count": 60, "step": 7200})
    assert report["totals"]["liquidations"] > 10
    assert report["series"][-1]["markets"]["LUNA-USD"]["oracle"] < 0.01


def test_black_thursday_offline_keepers_leave_auctions_stale_and_adl_closes_them(tmp_path):
    small = {"population.0.count": 80}  # the scenario's own 5-minute step: coarser steps miss the take window
    offline = _replay(SCENARIOS / "black-thursday-2020.yaml", tmp_path, "bt-off", overrides=small)
    online = _replay(
        SCENARIOS / "black-thursday-2020.yaml",
        tmp_path,
        "bt-on",
        overrides={**small, "keepers.keeper.outages": [], "keepers.keeper.failure_rate": 0, "keepers.keeper.latency": 0},
    )
    off, on = offline["totals"], online["totals"]
    assert off["liquidations"] > 5 and on["liquidations"] > 5
    assert off["restarts"] > on["restarts"]  # auctions went stale while the keepers were away
    # stale auctions put the market in liquidity risk: ADL closed them at their bankruptcy prices instead of
    # waiting for keepers; with keepers online, auctions filled and nothing was deleveraged
    assert "liquidity_risk" in {e["reason"] for e in offline["adl"]}
    assert off["adl_notional"] > 0 and on["adl_notional"] == 0
    # online keepers take as soon as the auction reaches their discount, before its price falls below the
    # bankruptcy price: the fund pays nothing; offline keepers leave auctions to fall (and restart) past it
    assert off["shortfall"] > on["shortfall"]
    # the same offline keepers with standing bids on the book: every liquidation fills in the transaction that
    # starts it, so no auction waits, goes stale or ends in ADL
    bids = _replay(SCENARIOS / "black-thursday-2020.yaml", tmp_path, "bt-bids", overrides=small, variant="standing_bids")
    b = bids["totals"]
    assert b["liquidations"] > 5 and b["filled_by_standing_bids"] == b["liquidations"]
    assert b["restarts"] == 0 and b["unfilled"] == 0 and b["adl_notional"] == 0


def test_standing_bids_fill_liquidations_before_the_auction(mini, tmp_path):
    """The mini crash with the fast keepers' capital also standing on the book, as in Black Thursday's variant."""
    base, _ = mini
    bid = {"discount_bps": 250, "max_notional_usd": 50_000}  # no 250 bps level: placed at 300 bps
    report = _replay(MINI, tmp_path, "mini-bids", overrides={"keepers.fast.standing_bid": bid})
    assert validate_report(report) == []
    notes = " ".join(report["run"]["setup"]["notes"])
    assert "fast-1 in TEST-USD at 300 bps (asked 250)" in notes and "not built yet" not in notes
    t = report["totals"]
    assert t["filled_by_standing_bids"] > 0
    assert t["filled_by_auction"] < base["totals"]["filled_by_auction"]
    # "standing_bid": the book's fills alone; "mixed": more than one route (it may be ADL and the auction)
    only_bids = [r for r in report["liquidations"] if r["filled_by"] == "standing_bid"]
    assert only_bids and all(r["fills"] and all(f["via"] == "standing_bid" for f in r["fills"]) for r in only_bids)
    by_bids = [r for r in report["liquidations"] if any(f["via"] == "standing_bid" for f in r["fills"])]
    assert all(r["filled_by"] in ("standing_bid", "mixed") for r in by_bids)
    for r in by_bids:  # a long is bought at the mark less the level's 3%, in the same block as the liquidation
        for f in (f for f in r["fills"] if f["via"] == "standing_bid"):
            assert f["t"] == r["t"] or "released_t" in r
            assert f["price"] == pytest.approx(r["mark"] * 0.97 if r["side"] == "long" else r["mark"] * 1.03, rel=1e-9)
    assert sum(r["filled_by"] == "standing_bid" for r in report["liquidations"]) == t["filled_by_standing_bids"]


def test_cross_venue_gap_median_oracle_stops_the_cascade_a_single_venue_causes(tmp_path):
    small = {"population.0.count": 60}
    median = _replay(SCENARIOS / "cross-venue-cascade.yaml", tmp_path, "median", overrides=small)
    single = _replay(SCENARIOS / "cross-venue-cascade.yaml", tmp_path, "single", overrides=small, variant="single_venue")
    assert median["totals"]["liquidations"] == 0
    assert single["totals"]["liquidations"] > 0


# ---------------------------------------------------------------- bad input and a dying chain


def test_malformed_scenario_fails_before_anything_is_deployed(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(MINI.read_text().replace("duration: 1800", "duration: 0"))
    with pytest.raises(ScenarioError, match="bad.yaml.*duration"):
        run_replay(bad, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_cli_names_a_missing_scenario_and_exits_nonzero(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "backstop.cli", "replay", str(tmp_path / "nope.yaml")], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode != 0
    assert "does not exist" in result.stderr


def test_unreachable_network_is_a_clear_error(tmp_path):
    with pytest.raises(ReplayFailed, match="cannot connect"):
        run_replay(MINI, tmp_path / "out", network="http://127.0.0.1:9", progress=False)


def test_a_chain_that_dies_mid_replay_leaves_a_partial_report(tmp_path):
    with local_anvil() as node:

        def kill_at_ten_minutes(t: int) -> None:
            if t == 600:
                node.kill()

        with pytest.raises(ReplayFailed, match="chain died") as info:
            run_replay(MINI, tmp_path / "partial", network=node.uri, progress=False, on_step=kill_at_ten_minutes)
    assert info.value.out_dir == tmp_path / "partial"
    report = json.loads((tmp_path / "partial" / "report.json").read_text())
    assert report["run"]["complete"] is False and "chain died" in report["run"]["error"]
    assert 0 < len(report["series"]) < 31
    assert "Partial report" in (tmp_path / "partial" / "report.md").read_text()
    assert report["run"]["overrides"] == {}


def test_resume_finishes_a_partial_replay_with_the_uninterrupted_figures(tmp_path, mini):
    overrides = {"keepers.0.latency": 120}  # a resumed run keeps the partial run's overrides
    with local_anvil() as node:

        def kill_at_ten_minutes(t: int) -> None:
            if t == 600:
                node.kill()

        with pytest.raises(ReplayFailed, match="chain died"):
            run_replay(MINI, tmp_path / "r", network=node.uri, progress=False, overrides=overrides, on_step=kill_at_ten_minutes)
    partial = json.loads((tmp_path / "r" / "report.json").read_text())
    assert partial["run"]["complete"] is False and partial["run"]["overrides"] == overrides

    report = resume_replay(tmp_path / "r", progress=False, measure_raw=False)
    again = run_replay(MINI, tmp_path / "straight", progress=False, overrides=overrides, measure_raw=False)
    written = json.loads((tmp_path / "r" / "report.json").read_text())
    assert validate_report(written) == []
    assert written["run"]["complete"] is True and written["run"]["error"] is None
    assert written["run"]["resumed"]["steps"] == partial["run"]["steps"] and "chain died" in written["run"]["resumed"]["error"]
    assert written["run"]["overrides"] == overrides
    assert report["totals"] == again["totals"]  # the same figures as a replay that never died
    assert report["series"] == again["series"]
    assert written["parameters"]["keepers"][0]["latency"] == 120 != mini[0]["parameters"]["keepers"][0]["latency"]
    assert "Resumed" in (tmp_path / "r" / "report.md").read_text()
    with pytest.raises(NothingToResume, match="complete"):  # a second --resume has nothing to do
        resume_replay(tmp_path / "r", progress=False)


def test_resume_refuses_a_missing_report_or_a_changed_scenario(tmp_path):
    with pytest.raises(ReplayFailed, match="does not exist"):
        resume_replay(tmp_path / "none", progress=False)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "report.json").write_text("{not json")
    with pytest.raises(ReplayFailed, match="not a Backstop report"):
        resume_replay(tmp_path / "bad", progress=False)
    copy = tmp_path / "mini.yaml"
    copy.write_text(MINI.read_text())
    (tmp_path / "p").mkdir()
    partial = {"scenario": {"file": str(copy), "sha256": "0" * 64}, "run": {"complete": False, "error": "the chain died", "steps": 3, "overrides": {}}}
    (tmp_path / "p" / "report.json").write_text(json.dumps(partial))
    with pytest.raises(ReplayFailed, match="changed since the partial run"):
        resume_replay(tmp_path / "p", progress=False)


def test_cli_resume_takes_nothing_but_the_folder(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "backstop.cli", "replay", str(MINI), "--resume", str(tmp_path)], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode != 0 and "--resume DIR takes" in result.stderr


# ---------------------------------------------------------------- ADL in the replay loop


@pytest.fixture(scope="module")
def mini_thin_fund(tmp_path_factory):
    """The mini crash with a fund too small for it: $2,000 in the sub-pool, an empty global pool."""
    out = tmp_path_factory.mktemp("mini-adl")
    overrides = {"fund.global_seed": 0, "markets.0.fund_seed": 2000}
    return run_replay(MINI, out, progress=False, measure_raw=False, overrides=overrides), out


def test_a_thin_fund_hands_the_losses_to_adl(mini_thin_fund, mini):
    report, out = mini_thin_fund
    assert validate_report(json.loads((out / "report.json").read_text())) == []
    assert report["run"]["failed_transactions"] == {}  # every candidate list the keepers built was accepted
    t = report["totals"]
    assert t["adl_victims"] > 0 and t["adl_notional"] > 0
    assert t["bad_debt"] == 0
    # the full fund paid for the mini crash; the thin one paid almost nothing: ADL took the loss instead
    assert t["fund_used"] < mini[0]["totals"]["fund_used"] / 10
    by_bankrupt: dict[str, set] = {}
    for e in report["adl"]:
        assert e["reason"] in ("uncovered", "fund_risk", "liquidity_risk")
        assert e["rank"] >= 1 and e["size"] >= 0
        assert 1 <= e["lights"] <= 5 and e["score"] > 0  # as ranked at execution
        by_bankrupt.setdefault((e["bankrupt"], e["t"]), set()).add(e["price"])
    firsts = [e for e in report["adl"] if e["rank"] == 1]
    assert firsts and all(e["lights"] == 5 for e in firsts)  # the head of the queue is in its first fifth
    for key in by_bankrupt:  # one execution: rank order is score order
        mine = sorted((e for e in report["adl"] if (e["bankrupt"], e["t"]) == key), key=lambda e: e["rank"])
        assert [e["score"] for e in mine] == sorted((e["score"] for e in mine), reverse=True)
    # one execution closes at one price: the bankrupt position's bankruptcy price
    assert all(len(prices) == 1 for prices in by_bankrupt.values())
    adl_fills = [f for r in report["liquidations"] for f in r["fills"] if f["via"] == "adl"]
    assert round(sum(f["qty"] * f["price"] for f in adl_fills), 2) == pytest.approx(t["adl_notional"], abs=0.05)
    assert "ADL victims" in (out / "report.md").read_text()
