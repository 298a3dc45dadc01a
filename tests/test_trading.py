"""Traders who open and close during the replay (issue #16 §5): open interest that arrives mid-crash, panic
closes, profit taking; their trades move a market with liquidity, the clock finds them between grid points, and
what they did is known from receipts; and standing bidders who sell what they absorbed at a pace (issue #18).
On the embedded EVM (backstop.chain.revm)."""

from pathlib import Path

import pytest

from backstop.chain.fastchain import derive_account
from backstop.replay import population as population_module
from backstop.replay import run_replay
from backstop.replay.check import check_step
from backstop.replay.traders import MAX_TRIES
from backstop.report import reconcile, validate_report
from backstop.scenario import ScenarioError, load_scenario
from backstop.units import BPS

ROOT = Path(__file__).resolve().parent.parent
MINI = ROOT / "tests" / "data" / "mini-crash.yaml"
BASE = {  # mini-crash's own population
    "kind": "generated", "market": "TEST-USD", "count": 30, "long_share": 0.8, "leverage": {"min": 3, "max": 15},
    "size_usd": {"min": 2000, "max": 40000, "distribution": "loguniform"}, "entry_spread_bps": 50,
}
LATER = {**BASE, "opens": {"start": 30, "end": 280}, "leverage": {"min": 2, "max": 4}}  # as many again, in 4 minutes
EXITS = {"stop_loss_bps": {"min": 500, "max": 2000}, "take_profit_bps": 800}
LIQUIDITY = {"depth_usd": 300_000, "resilience": 0.002, "arbitrage": 0.01}


def replay(tmp_path: Path, name: str, population: list, **overrides) -> dict:
    report = run_replay(MINI, tmp_path / name, network="revm", progress=False, measure_raw=False, overrides={"population": population, **overrides})
    assert validate_report(report) == [], name
    assert reconcile(report) == [], name
    assert all(row["difference"] == 0 for row in report["fund_flows"]), report["fund_flows"]
    return report


def traders_by_address(population: list, **overrides) -> dict:
    scenario = load_scenario(MINI).with_overrides({"population": population, **overrides})
    return {derive_account(scenario.seed, "trader", i).address: tp for i, tp in enumerate(scenario.traders())}


def open_interest(report: dict) -> dict[int, float]:
    return {row["t"]: row["markets"]["TEST-USD"]["open_interest"] for row in report["series"]}


def test_open_interest_doubles_during_the_replay(tmp_path):
    report = replay(tmp_path, "later", [BASE, LATER])
    trading = report["trading"]
    assert trading["scheduled_opens"] == trading["opened"] == 30 and trading["gave_up"] == 0
    assert report["run"]["setup"]["opening_later"] == 30 and report["run"]["setup"]["opened"] == 30
    opens = [t for t in trading["trades"] if t["kind"] == "open"]
    assert all(31 <= t["t"] <= 281 for t in opens)  # in the window (the trade's block is a second after the decision)
    assert sum(t["notional"] for t in opens) == pytest.approx(trading["opened_notional"])
    oi = open_interest(report)
    assert oi[300] > 1.8 * oi[0]  # the long side doubled in five minutes
    baseline = open_interest(replay(tmp_path, "base", [BASE]))
    assert oi[0] == baseline[0] and oi[300] > 1.8 * baseline[300]
    assert report["run"]["gas"]["trade"]["transactions"] == 30


def test_panic_closes_and_profit_taking(tmp_path):
    exits = {**BASE, "exits": EXITS}
    report = replay(tmp_path, "exits", [exits])
    trading = report["trading"]
    closes = [t for t in trading["trades"] if t["kind"] != "open"]
    assert trading["stop_losses"] > 5 and trading["take_profits"] > 0  # longs panic, shorts take their profit
    assert trading["with_exits"] == 30 and trading["scheduled_opens"] == 0
    who = traders_by_address([exits])
    for trade in closes:
        tp = who[trade["trader"]]
        move = (trade["price"] - tp.entry_price) / tp.entry_price * BPS * (1 if tp.side == "long" else -1)  # [bps] in its favour
        if trade["kind"] == "stop_loss":
            assert -move >= tp.stop_loss_bps - 1 and trade["side"] == ("sell" if tp.side == "long" else "buy")
        else:
            assert move >= tp.take_profit_bps - 1
    closed = {t["trader"] for t in closes}
    liquidated = {liq["trader"] for liq in report["liquidations"]}
    assert not closed & liquidated  # a trader who closed in time is not liquidated afterwards
    without = replay(tmp_path, "no-exits", [BASE])
    assert report["totals"]["liquidations"] < without["totals"]["liquidations"]
    assert report["totals"]["liquidated_notional"] < without["totals"]["liquidated_notional"]


def test_a_partial_exit_closes_its_fraction_once(tmp_path):
    half = {**BASE, "exits": {"stop_loss_bps": 600, "fraction": 0.5}}
    report = replay(tmp_path, "half", [half])
    closes = [t for t in report["trading"]["trades"] if t["kind"] == "stop_loss"]
    assert closes and len({t["trader"] for t in closes}) == len(closes)  # once per trader
    who = traders_by_address([half])
    for trade in closes:
        tp = who[trade["trader"]]
        units = tp.size_usd / tp.entry_price  # what it opened, at its entry
        assert trade["size"] == pytest.approx(units / 2, rel=1e-6)


def test_panic_selling_moves_a_market_with_liquidity(tmp_path):
    """One large long stops out in a mild fall that liquidates nobody: its sale alone pushes the traded price
    below the scripted (exogenous) one, and the impact section counts its volume."""
    whale = {"kind": "explicit", "market": "TEST-USD", "positions": [{"side": "long", "size_usd": 250_000, "leverage": 2}], "exits": {"stop_loss_bps": 300}}
    report = replay(tmp_path, "whale", [whale], **{"markets.0.liquidity": LIQUIDITY, "duration": 420, "step": 30})
    (close,) = [t for t in report["trading"]["trades"] if t["kind"] == "stop_loss"]
    assert report["totals"]["liquidations"] == 0
    venue = report["impact"]["TEST-USD"]["venues"]["venue-a"]  # the deeper of equal venues is the first listed
    assert venue["trader_volume"] == pytest.approx(close["notional"], rel=0.02) and venue["liquidation_volume"] == 0
    after = next(row for row in report["series"] if row["t"] >= close["t"])["markets"]["TEST-USD"]
    assert after["venues"]["venue-a"] < after["exogenous"]["venue-a"] * 0.995  # $250k into $300k of 1% depth: a 0.8% move, decaying
    assert close["price"] < after["exogenous"]["venue-a"]  # it paid the book's slippage


def test_the_step_does_not_decide_what_traders_do(tmp_path):
    check = check_step(MINI, tmp_path / "check", network="revm", progress=False, overrides={"population": [{**BASE, "exits": EXITS}, LATER]})
    assert check["agrees"], check
    figures = {f["name"]: f for f in check["figures"]}
    for name in ("trader_opens", "trader_closes"):
        assert figures[name]["full_step"] > 0 and figures[name]["agrees"], figures[name]


def test_a_trade_that_reverts_is_retried_then_given_up(tmp_path, monkeypatch):
    """What traders did comes from receipts: deposits far too small for their margin make every opening revert;
    each trader tries MAX_TRIES times, then gives up, and nothing of it counts as opened."""
    monkeypatch.setattr(population_module, "LATER_DEPOSIT_SLACK", 0.05)
    report = replay(tmp_path, "broke", [BASE, {**LATER, "count": 5}])
    trading = report["trading"]
    assert trading["opened"] == 0 and trading["gave_up"] == 5 and trading["trades"] == []
    failed = {k: v for k, v in report["run"]["failed_transactions"].items() if k.startswith("trade")}
    assert sum(failed.values()) == 5 * MAX_TRIES, failed


# --------------------------------------------------------------------------- standing bidders who unwind (issue #18)

BIDDER = {"name": "bidder", "capital": 50_000, "latency": 5, "take_discount_bps": 5_000,
          "standing_bid": {"discount_bps": 100, "max_notional_usd": 300_000}}
KEEPERS = [{"name": "fast", "count": 2, "capital": 200_000, "latency": 0, "take_discount_bps": 100}]


def test_a_standing_bidder_holds_or_unwinds_at_its_pace(tmp_path):
    """The same bids absorb the same liquidations; one bidder holds what it bought, the other sells $20k of it a
    minute through the book: it sells in slots of a minute, never more than its pace, pays slippage, moves the
    venue, and loses less than the one that held into the fall."""
    runs = {}
    for name, unwind in (("hold", None), ("unwind", {"notional_usd": 20_000, "every": 60})):
        bidder = {**BIDDER, "standing_bid": {**BIDDER["standing_bid"], "unwind": unwind}}
        runs[name] = replay(tmp_path, name, [BASE], keepers=KEEPERS + [bidder], **{"markets.0.liquidity": LIQUIDITY})
    hold, unwind = ({k["name"]: k for k in runs[n]["keepers"]}["bidder-1"] for n in ("hold", "unwind"))
    assert runs["hold"]["totals"]["filled_by_standing_bids"] > 10 and hold["bought_notional"] > 200_000
    assert "unwound_notional" not in hold and "bid-unwind" not in runs["hold"]["run"]["gas"]
    sales = runs["unwind"]["run"]["gas"]["bid-unwind"]["transactions"]
    assert sales >= 3 and 0 < unwind["unwound_notional"] <= sales * 20_000 * 1.0001  # at most its pace per slot
    assert unwind["slippage"] > 0 and unwind["pnl"] > hold["pnl"]
    venue = {n: runs[n]["impact"]["TEST-USD"]["venues"]["venue-a"] for n in runs}
    assert venue["unwind"]["liquidation_volume"] >= venue["hold"]["liquidation_volume"] + unwind["unwound_notional"] * 0.9


def test_an_unwind_pace_must_be_positive():
    with pytest.raises(ScenarioError, match=r"keepers\[0\]\.standing_bid\.unwind\.notional_usd: a value > 0"):
        load_scenario(MINI).with_overrides({"keepers": [{**BIDDER, "standing_bid": {**BIDDER["standing_bid"], "unwind": {"notional_usd": 0}}}]})


# --------------------------------------------------------------------------- market makers' hedges (issue #18)


def test_market_makers_unwind_the_hedge_of_what_adl_closes(tmp_path):
    """Every trader long, so ADL's counterparties are the market makers; with `liquidity.hedging` each ADL fill
    sells that much of their hedge into the deepest venue's book: the same fills, a lower traded low, more
    cascade generations."""
    runs = {}
    for hedging in (False, True):
        runs[hedging] = replay(tmp_path, f"hedging-{hedging}", [{**BASE, "count": 120, "long_share": 1}],
                               **{"markets.0.liquidity": {**LIQUIDITY, "hedging": hedging}})
    plain, hedged = runs[False], runs[True]
    makers = {derive_account(load_scenario(MINI).seed, "mm-TEST-USD", i).address for i in range(4)}  # as Population names them
    assert hedged["adl"] and all(e["counterparty"] in makers for e in hedged["adl"]), "the fixture deleverages market makers"
    adl_notional = sum(e["size"] * e["price"] for e in hedged["adl"])
    assert [e["counterparty"] for e in hedged["adl"]] == [e["counterparty"] for e in plain["adl"]]
    venues = {n: hedged["impact"]["TEST-USD"]["venues"][n] for n in ("venue-a", "venue-b")}
    assert venues["venue-a"]["hedge_volume"] == pytest.approx(adl_notional, rel=1e-9) and "hedge_volume" not in venues["venue-b"]
    assert all("hedge_volume" not in v for v in plain["impact"]["TEST-USD"]["venues"].values())
    assert venues["venue-a"]["min_traded"] < plain["impact"]["TEST-USD"]["venues"]["venue-a"]["min_traded"]
    assert hedged["impact"]["TEST-USD"]["generations"] > plain["impact"]["TEST-USD"]["generations"]
