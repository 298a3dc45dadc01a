"""Replay answers that do not depend on the replay's clock (issue #16): keepers act in continuous time, the grid
may vary, the step check agrees on every bundled scenario, and a take that reverts is handled afterwards.

These tests start their own Anvil nodes (backstop.chain.node) beside the one ape test runs on."""

import json
from pathlib import Path

import pytest

from backstop.replay import actors as actors_module
from backstop.replay import run_replay
from backstop.replay.actors import Intent, KeeperActors
from backstop.replay.check import ABS_TOLERANCE, REL_TOLERANCE, check_step, compare_figures
from backstop.report import reconcile
from backstop.scenario import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parent.parent
MINI = ROOT / "tests" / "data" / "mini-crash.yaml"
SCENARIOS = ROOT / "scenarios"
# the bundled scenarios small enough to replay twice each in CI: the same crash with fewer traders (OM's fund
# scaled with them). Each still liquidates (OM 45, LUNA 28, Black Thursday 29 with $376k to ADL) but cross-venue,
# whose median oracle ignores the gap.
CI_SIZE = {
    "om-2025": {"population.0.count": 60, "markets.0.fund_seed": 15_000, "fund.global_seed": 15_000},
    "luna-2022": {"population.0.count": 30},
    "black-thursday-2020": {"population.0.count": 40},
    "cross-venue-cascade": {"population.0.count": 30},
}


@pytest.mark.parametrize("name", sorted(CI_SIZE))
def test_the_step_does_not_decide_the_answer(name, tmp_path):
    check = check_step(SCENARIOS / f"{name}.yaml", tmp_path / name, progress=False, overrides=CI_SIZE[name])
    figures = {f["name"]: f for f in check["figures"]}
    for gated in ("bad_debt", "fund_used", "adl_notional"):
        f = figures[gated]
        assert abs(f["half_step"] - f["full_step"]) <= max(ABS_TOLERANCE, REL_TOLERANCE * max(abs(f["full_step"]), abs(f["half_step"]))), f
    assert check["agrees"]
    if name != "cross-venue-cascade":  # a crash that liquidates nothing agrees trivially
        assert figures["liquidations"]["full_step"] > 20
    assert (tmp_path / name / "check-step.md").read_text().count("|") > 20
    for folder in (tmp_path / name, tmp_path / name / "half-step"):  # every bundled crash's report adds up
        report = json.loads((folder / "report.json").read_text())
        assert reconcile(report) == [], folder
        assert all(row["difference"] == 0 for row in report["fund_flows"]), report["fund_flows"]


def test_compare_figures_flags_a_tenfold_move():
    pairs = {p.name: p for p in compare_figures({"bad_debt": 77_800.0, "fund_used": 500.0}, {"bad_debt": 7_780.0, "fund_used": 1_400.0})}
    assert not pairs["bad_debt"].agrees and pairs["bad_debt"].relative == pytest.approx(0.9)
    assert pairs["fund_used"].agrees  # $900 apart: within the $1,000 floor


def test_keepers_act_between_grid_points(tmp_path):
    # a coarse grid: every take would land one step after its auction starts if keepers acted only on the grid
    report = run_replay(MINI, tmp_path / "coarse", progress=False, measure_raw=False, overrides={"step": 600})
    grid = set(load_scenario(MINI).with_overrides({"step": 600}).times())
    fills = [f for liq in report["liquidations"] for f in liq["fills"] if f["via"] == "auction"]
    assert fills, "the mini crash has auction fills"
    assert any(f["t"] - 1 not in grid for f in fills)  # an action block lands one second after its decision
    starts = {liq["id"]: liq["t"] for liq in report["liquidations"]}
    waits = [f["t"] - starts[liq["id"]] for liq in report["liquidations"] for f in liq["fills"] if f["via"] == "auction"]
    assert min(waits) < 600


def test_a_take_that_reverts_is_handled_afterwards(tmp_path, monkeypatch):
    """The engine's picture of the chain comes from events only: the first takes are made to revert (zero margin
    on a dust-sized fill), and the auctions they aimed at are still taken, restarted or handed to ADL after."""
    original = KeeperActors._take
    sabotaged: list[int] = []

    def failing(self, k, a, t, price, mark, free, worth):
        intent = original(self, k, a, t, price, mark, free, worth)
        if intent is None or len(sabotaged) >= 3:
            return intent

        def send() -> None:
            sabotaged.append(a.id)
            self.ctx.chain.call_fn(k.wallet, self.ctx.c["auction"], "take", a.id, 1, price, 0, k.wallet.address, b"", label=f"take:{k.name}")

        return Intent(intent.key, intent.keeper, send)

    monkeypatch.setattr(actors_module.KeeperActors, "_take", failing)
    report = run_replay(MINI, tmp_path / "reverts", progress=False, measure_raw=False)
    failed = {label: n for label, n in report["run"]["failed_transactions"].items() if label.startswith("take")}
    assert sum(failed.values()) >= 3, report["run"]["failed_transactions"]
    by_id = {liq["id"]: liq for liq in report["liquidations"]}
    for id_ in set(sabotaged):
        liq = by_id[id_]
        assert liq["filled_by"] not in ("unfilled", "partial"), liq
        assert liq["fills"] or liq["restarts"], liq
    assert report["totals"]["unfilled"] == 0


def test_a_grid_may_be_fine_around_the_crash():
    sc = load_scenario(MINI).with_overrides({"steps": [{"at": 600, "step": 10}, {"at": 900, "step": 300}]})
    grid = sc.times()
    assert grid[:3] == [0, 60, 120] and 600 in grid and 610 in grid and 900 in grid and 1200 in grid
    assert all(b - a == 10 for a, b in zip(grid, grid[1:]) if 600 <= a < 900)
    assert grid[-1] == sc.duration
    halved = sc.halved()
    assert halved.step == 30 and [c.step for c in halved.steps] == [5, 150]


@pytest.mark.parametrize(
    "steps, field",
    [
        ([{"at": 5_000, "step": 10}], "steps[0].at"),
        ([{"at": 600, "step": 10}, {"at": 300, "step": 60}], "steps[1].at"),
        ([{"at": 600, "step": 0}], "steps[0].step"),
    ],
)
def test_a_bad_step_schedule_names_the_field(steps, field):
    with pytest.raises(ScenarioError, match=field.replace("[", r"\[").replace("]", r"\]")):
        load_scenario(MINI).with_overrides({"steps": steps})


def test_the_uncovered_trigger_counts_the_other_liquidations_claims(tmp_path):
    """#16 §4 rule 1 in a replay: slow keepers (they wait for a 25% discount) leave many auctions running
    underwater at once against a $6k fund whose fund-risk flags are off, so only the uncovered trigger (and an
    unfilled auction's liquidity risk) may start ADL. Each execution lists every other running or queued
    liquidation; the queue judges it after their claims and closes only what the pools cannot cover."""
    overrides = {
        "markets.0.fund_seed": 3_000, "fund.global_seed": 3_000, "fund.drawdown_bps": 10_000, "fund.fast_drop_bps": 10_000,
        "keepers.fast.take_discount_bps": 2_500,
    }
    report = run_replay(MINI, tmp_path / "claims", network="revm", progress=False, measure_raw=False, overrides=overrides)
    assert reconcile(report) == []
    assert all(row["difference"] == 0 for row in report["fund_flows"]), report["fund_flows"]
    executions: dict[int, list[dict]] = {}
    for fill in report["adl"]:
        executions.setdefault(fill["execution"], []).append(fill)
    uncovered = {x: fills for x, fills in executions.items() if fills[0]["reason"] == "uncovered"}
    assert len(uncovered) > 5
    # the trigger fired because of the others' claims: alone, the sale would have fitted in the pools
    assert any(fills[0]["claimed"] > 0 for fills in uncovered.values())
    for fills in uncovered.values():  # minimal: the profit taken is the loss the pools could not cover, to 1e-6 per fill
        assert fills[0]["uncovered"] > 0
        assert abs(sum(f["profit_taken"] for f in fills) - fills[0]["uncovered"]) <= 1e-6 * len(fills) + 1e-9, fills


def _oracle_series(report: dict) -> dict[int, float | None]:
    return {row["t"]: row["markets"]["TEST-USD"]["oracle"] for row in report["series"]}


def test_a_stale_venue_drops_out_of_the_oracle_after_max_age(tmp_path):
    """#16 §5: venue-b stops updating at t = 300. Its last answer counts until it is `max_age` (120 s) old;
    then the median is venue-a's alone, until venue-b answers again at t = 1500."""
    sc = load_scenario(MINI)
    halt = {"markets.0.halts": [{"venue": "venue-b", "start": 300, "end": 1500}], "markets.0.oracle.max_age": 120}
    oracle = _oracle_series(run_replay(MINI, tmp_path / "stale", network="revm", progress=False, measure_raw=False, overrides=halt))
    a = lambda t: sc.venue_price("TEST-USD", "venue-a", t)  # noqa: E731
    b = lambda t: sc.venue_price("TEST-USD", "venue-b", t)  # noqa: E731
    assert oracle[240] == pytest.approx((a(240) + b(240)) / 2)
    assert oracle[360] == pytest.approx((a(360) + b(300)) / 2)  # venue-b's answer of t = 300, 60 s old
    for t in (480, 900, 1440):
        assert oracle[t] == pytest.approx(a(t))  # older than max_age: venue-a's price only
    assert oracle[1560] == pytest.approx((a(1560) + b(1560)) / 2)


def test_a_stuck_venue_looks_fresh_and_blinds_a_two_venue_oracle(tmp_path):
    """A venue that keeps re-stamping its halted price passes `max_age`: the median of two is pulled up to
    halfway, then both answers sit beyond `max_deviation_bps` (10%) of it and the oracle has no price at all;
    the crash costs the fund more than with a stale venue."""
    sc = load_scenario(MINI)
    halts = {"markets.0.oracle.max_age": 120}
    runs = {}
    for mode in ("stale", "stuck"):
        halts["markets.0.halts"] = [{"venue": "venue-b", "start": 300, "end": 1500, "mode": mode}]
        runs[mode] = run_replay(MINI, tmp_path / mode, network="revm", progress=False, measure_raw=False, overrides=halts)
    oracle = _oracle_series(runs["stuck"])
    assert oracle[480] == pytest.approx((sc.venue_price("TEST-USD", "venue-a", 480) + sc.venue_price("TEST-USD", "venue-b", 300)) / 2)
    assert oracle[900] is None and oracle[1440] is None
    assert oracle[1560] is not None
    assert runs["stuck"]["totals"]["fund_used"] > runs["stale"]["totals"]["fund_used"]
    for report in runs.values():
        assert reconcile(report) == []


def _keepers(report: dict) -> dict[str, dict]:
    return {k["name"]: k for k in report["keepers"]}


def test_keeper_roles_fail_separately(tmp_path):
    """#16 §5: the same keepers with their taker down for the whole crash still start every liquidation and
    restart the auctions that go stale; with their liquidator down instead, they start none (nobody else runs
    one), and take nothing."""
    run = lambda name, roles: run_replay(  # noqa: E731
        MINI, tmp_path / name, network="revm", progress=False, measure_raw=False,
        overrides={"keepers.fast.outages": [{"start": 0, "end": 3600, "roles": roles}]},  # past the end (1800 s)
    )
    no_taker, no_liquidator = run("no-taker", ["take"]), run("no-liquidator", ["liquidate"])
    keepers = _keepers(no_taker).values()
    assert sum(k["liquidations"] for k in keepers) > 10 and sum(k["takes"] for k in keepers) == 0
    assert sum(k["restarts"] for k in keepers) > 0
    assert not [f for r in no_taker["liquidations"] for f in r["fills"] if f["via"] == "auction"]
    assert no_liquidator["totals"]["liquidations"] == 0
    assert all(k["online_steps"] > 0 for k in _keepers(no_liquidator).values())  # up, but not as liquidators
    for report in (no_taker, no_liquidator):
        assert reconcile(report) == []


def test_lost_capital_leaves_the_keepers_books(tmp_path):
    """A capital step with `lost: true` withdraws the same capital as a plain withdrawal, and the keeper's PnL
    is lower by exactly that amount: the crash is otherwise the same."""
    reports = {}
    for lost in (False, True):
        step = {"t": 600, "fraction": 0.25, "lost": lost}
        reports[lost] = run_replay(
            MINI, tmp_path / f"lost-{lost}", network="revm", progress=False, measure_raw=False,
            overrides={"keepers.fast.capital_schedule": [step]},
        )
    kept, gone = _keepers(reports[False]), _keepers(reports[True])
    assert reports[True]["totals"] == reports[False]["totals"]
    for name, k in gone.items():
        assert k["capital_lost"] > 0 and "capital_lost" not in kept[name]
        assert kept[name]["pnl"] - k["pnl"] == pytest.approx(k["capital_lost"], abs=1e-6)
