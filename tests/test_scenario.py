"""Scenario files: the bundled crashes load, are deterministic, cite published points, and every malformed
input is rejected with a message naming the file, the field and what was expected. Pure Python, no chain."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml

from backstop.chain.deploy import DEFAULT_TIERS, AuctionSpec, MarketSpec, OracleSpec
from backstop.errors import BackstopError
from backstop.model.ledger import Tier
from backstop.scenario import (
    KeeperScenario,
    OverrideError,
    Scenario,
    ScenarioError,
    ScenarioWarning,
    TraderPosition,
    load_scenario,
    parse_overrides,
)

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
BUNDLED = sorted(SCENARIOS.glob("*.yaml"))


# --------------------------------------------------------------------------- helpers


def minimal() -> dict:
    """A small valid scenario as a dict; tests change one thing in it."""
    return {
        "name": "mini",
        "description": "a test scenario",
        "sources": ["none"],
        "synthetic": ["everything"],
        "seed": 3,
        "start": "2025-04-13T16:00:00Z",
        "duration": 600,
        "step": 60,
        "markets": [
            {
                "name": "OM-USD",
                "venues": {
                    "binance": [{"t": 0, "price": 6.0}, {"t": 100, "price": 5.0}, {"t": 300, "price": 2.0}],
                    "okx": [{"t": 0, "price": 6.2}, {"t": 200, "price": 4.2}],
                },
                "fund_seed": 1000,
            }
        ],
        "fund": {"global_seed": 5000},
        "population": [
            {
                "kind": "explicit",
                "market": "OM-USD",
                "positions": [
                    {"side": "long", "size_usd": 1000, "leverage": 5},
                    {"side": "short", "size_usd": 2000, "leverage": 2, "entry_price": 6.5},
                ],
            },
            {
                "kind": "generated",
                "market": "OM-USD",
                "count": 50,
                "long_share": 0.7,
                "leverage": {"min": 2, "max": 20, "distribution": "loguniform"},
                "size_usd": {"min": 100, "max": 40000},
                "entry_spread_bps": 100,
            },
        ],
        "keepers": [{"name": "k", "count": 2, "capital": 50000}],
    }


def write(tmp_path: Path, data: dict, name: str = "bad-scenario.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def rejects(path: Path, field: str, expected: str) -> ScenarioError:
    """Loading `path` raises a ScenarioError naming the file, `field` and `expected`."""
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert path.name in message, message
    assert f": {field}: " in message or f": {field} " in message, message
    assert expected in message, message
    assert isinstance(info.value, ValueError)
    return info.value


def rejects_change(tmp_path: Path, change, field: str, expected: str) -> ScenarioError:
    data = minimal()
    change(data)
    return rejects(write(tmp_path, data), field, expected)


@pytest.fixture
def mini(tmp_path: Path) -> Scenario:
    return load_scenario(write(tmp_path, minimal(), "mini.yaml"))


# --------------------------------------------------------------------------- bundled scenarios


def test_four_scenarios_are_bundled():
    assert {p.name for p in BUNDLED} == {
        "om-2025.yaml",
        "luna-2022.yaml",
        "black-thursday-2020.yaml",
        "cross-venue-cascade.yaml",
    }


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.stem)
def test_bundled_scenario_loads_and_is_deterministic(path: Path):
    a, b = load_scenario(path), load_scenario(path)
    assert a.sources and a.synthetic
    assert a.sha256 == hashlib.sha256(path.read_bytes()).hexdigest() == b.sha256
    assert a.times() == b.times() and a.times()[0] == 0 and a.times()[-1] == a.duration
    for m in a.markets:
        for v in m.venues:
            assert [a.venue_price(m.name, v, t) for t in a.times()] == [b.venue_price(m.name, v, t) for t in b.times()]
    assert a.traders() == b.traders()
    assert len(a.traders()) == sum(getattr(p, "count", 0) or len(getattr(p, "positions", [])) for p in a.population)
    other = a.with_overrides({"seed": a.seed + 1})
    assert other.traders() != a.traders()
    assert len(other.traders()) == len(a.traders())
    assert [s.name for s in a.market_specs()] == [m.name for m in a.markets]
    for name in a.variants:
        assert a.variant(name).name == a.name


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.stem)
def test_bundled_generated_traders_fit_their_tiers(path: Path):
    s = load_scenario(path)
    for tr in s.traders():
        m = s.market(tr.market)
        tier = m.tier_for(tr.size_usd)
        assert tier is not None
        assert 1 <= tr.leverage <= tier.max_leverage()
        assert tr.entry_price > 0 and tr.side in ("long", "short")


def test_om_2025_follows_the_published_points():
    s = load_scenario(SCENARIOS / "om-2025.yaml")
    assert s.markets[0].name == "OM-USD" and len(s.markets[0].venues) == 3
    assert s.start == "2025-04-13T16:00:00Z" and s.duration == 5 * 3600
    assert 295 <= len(s.times()) <= 305
    assert len(s.with_overrides({"step": 30}).times()) >= 500
    price = lambda t: s.venue_price("OM-USD", "venue-b", t)  # noqa: E731
    assert price(0) == 6.14 and s.oracle_start_price("OM-USD") == 6.14
    assert price(2 * 3600) == 5.52  # 18:00
    assert min(price(t) for t in range(2 * 3600, 3 * 3600 + 1, 60)) == pytest.approx(1.38)  # 18:00-19:00 low
    assert min(price(t) for t in range(3 * 3600, 4 * 3600 + 1, 60)) == pytest.approx(0.52)  # 19:00-20:00 low
    assert min(price(t) for t in s.times()) == 0.43
    # the leading venue is ahead of the others during the fall
    assert s.venue_price("OM-USD", "venue-a", 9000) < price(9000) < s.venue_price("OM-USD", "venue-c", 9000)
    traders = s.traders()
    assert len(traders) == 1000
    assert sum(t.side == "long" for t in traders) > 700  # long-heavy
    assert 2 <= min(t.leverage for t in traders) and max(t.leverage for t in traders) <= 20
    assert any(k.capital_schedule for k in s.keepers)
    assert any("unverified" in line for line in s.synthetic)


def test_luna_2022_reads_the_daily_rows_from_csv():
    s = load_scenario(SCENARIOS / "luna-2022.yaml")
    assert isinstance(s.markets[0].venues["index"], str)
    day = 86_400
    p = lambda t: s.venue_price("LUNA-USD", "index", t)  # noqa: E731
    opens = [77.47, 68.25, 64.13, 31.98, 17.45, 1.071, 0.003549]
    assert [p(d * day) for d in range(7)] == opens
    assert p(4 * day + 12 * 3600 + 1800) == 1.30  # CoinDesk, 11 May 12:30 UTC
    assert min(p(t) for t in range(0, 7 * day, 60)) == 0.000017
    assert len(s.traders()) == 300 and s.step == 1800


def test_black_thursday_points_and_standing_bid_variant():
    s = load_scenario(SCENARIOS / "black-thursday-2020.yaml")
    p = lambda t: s.venue_price("ETH-USD", "venue-a", t)  # noqa: E731
    assert p(0) == 194.74 and p(8 * 3600) == 171 and p(12 * 3600 + 44 * 60) == 124
    assert min(p(t) for t in range(0, 86_400, 60)) == 111.21
    assert min(p(t) for t in range(86_400, 2 * 86_400, 60)) == 95.18
    assert p(2 * 86_400) == 133.20
    assert 29 * 3600 <= s.duration <= 31 * 3600
    assert all(k.standing_bid is None for k in s.keepers)
    assert any(k.outages for k in s.keepers)
    bids = s.variant("standing_bids")
    assert all(k.standing_bid is not None for k in bids.keepers)
    assert len(s.traders()) == 300


def test_cross_venue_cascade_gap_and_single_venue_variant():
    s = load_scenario(SCENARIOS / "cross-venue-cascade.yaml")
    assert "hypothetical" in s.description.lower() or "HYPOTHETICAL" in (SCENARIOS / "cross-venue-cascade.yaml").read_text()
    m = s.markets[0]
    assert len(m.venues) == 3
    gap = [t for t in s.times() if s.venue_price(m.name, "venue-gap", t) <= 0.6 * 10.0 + 1e-9]
    assert 150 <= gap[-1] - gap[0] <= 200  # about three minutes
    assert all(s.venue_price(m.name, v, t) > 9.9 for v in ("venue-b", "venue-c") for t in s.times())
    assert s.venue_price(m.name, "venue-gap", s.duration) == 10.0  # recovered
    single = s.variant("single_venue")
    assert list(single.markets[0].venues) == ["venue-gap"]
    assert single.markets[0].oracle.min_sources == 1
    assert len(s.traders()) == 200


# --------------------------------------------------------------------------- times and prices


def test_times_cover_the_duration(mini: Scenario):
    assert mini.times() == list(range(0, 601, 60))
    with pytest.warns(ScenarioWarning, match="not a multiple of step"):
        odd = mini.with_overrides({"step": 250})
    assert odd.times() == [0, 250, 500, 600]
    assert mini.with_overrides({"step": 600}).times() == [0, 600]


def test_interpolation_at_and_between_points(mini: Scenario):
    price = lambda t: mini.venue_price("OM-USD", "binance", t)  # noqa: E731
    assert price(0) == 6.0 and price(100) == 5.0 and price(300) == 2.0  # at the points
    assert price(50) == pytest.approx(5.5)
    assert price(200) == pytest.approx(3.5)
    assert price(150) == pytest.approx(4.25)
    assert price(301) == 2.0 and price(10_000) == 2.0  # after the last point: the last price
    assert mini.venue_price("OM-USD", "okx", 100) == pytest.approx(5.2)


def test_price_lookups_reject_unknown_names_and_negative_time(mini: Scenario):
    with pytest.raises(KeyError):
        mini.venue_price("BTC-USD", "binance", 0)
    with pytest.raises(KeyError):
        mini.venue_price("OM-USD", "kraken", 0)
    with pytest.raises(ValueError):
        mini.venue_price("OM-USD", "binance", -1)


def test_oracle_start_price_is_the_median(mini: Scenario):
    assert mini.oracle_start_price("OM-USD") == pytest.approx(6.1)  # mean of the two middle
    with pytest.warns(ScenarioWarning, match="a single price point"):
        three = mini.with_overrides({"markets.0.venues.bybit": [{"t": 0, "price": 9.0}]})
    assert three.oracle_start_price("OM-USD") == 6.2


def test_csv_venue_relative_to_the_yaml_file(tmp_path: Path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "path.csv").write_text("t,price\n0,2.0\n\n60,1.0\n")
    data = minimal()
    data["markets"][0]["venues"]["okx"] = "data/path.csv"
    s = load_scenario(write(tmp_path, data))
    assert s.venue_price("OM-USD", "okx", 30) == pytest.approx(1.5)
    assert s.markets[0].venues["okx"] == "data/path.csv"
    # overrides keep resolving the CSV relative to the original file
    assert s.with_overrides({"seed": 9}).venue_price("OM-USD", "okx", 60) == 1.0


# --------------------------------------------------------------------------- conversions


def test_market_specs_convert_to_deploy_specs(mini: Scenario):
    (spec,) = mini.market_specs()
    assert isinstance(spec, MarketSpec)
    assert spec.name == "OM-USD" and spec.price == pytest.approx(6.1)
    assert spec.venues == ("binance", "okx")
    assert spec.source_decimals == 8 and spec.price_band_bps == 500
    assert spec.tiers == DEFAULT_TIERS  # defaults round-trip USD -> usdc exactly
    assert spec.oracle == OracleSpec()
    assert spec.auction == AuctionSpec()
    assert spec.fund_seed == 1000


def test_market_specs_with_custom_tiers_oracle_auction(tmp_path: Path):
    data = minimal()
    m = data["markets"][0]
    m["tiers"] = [
        {"max_notional": 10_000.5, "initial_margin_bps": 1000, "maintenance_margin_bps": 400},
        {"max_notional": 100_000, "initial_margin_bps": 2000, "maintenance_margin_bps": 800, "tail_risk_fee_bps": 10},
    ]
    m["oracle"] = {"max_age": 120, "max_deviation_bps": 300, "min_sources": 2, "max_jump_bps": 2500, "jump_window": 60}
    m["auction"] = {"curve": "stairstep", "cut": 0.98, "step": 30, "tip": 2.5, "tip_cap": 100, "dust": 1.25}
    data["population"][0]["positions"][0]["leverage"] = 10
    data["population"][1]["leverage"]["max"] = 10
    (spec,) = load_scenario(write(tmp_path, data)).market_specs()
    assert spec.tiers == (Tier(10_000_500_000, 1000, 400, 0), Tier(100_000_000_000, 2000, 800, 10))
    assert spec.oracle == OracleSpec(120, 300, 2, 2500, 60)
    assert spec.auction == AuctionSpec(curve="stairstep", cut=0.98, step=30, tip=2.5, tip_cap=100, dust=1.25)


# --------------------------------------------------------------------------- traders and keepers


def test_traders_explicit_and_generated(mini: Scenario):
    traders = mini.traders()
    assert len(traders) == 52
    assert traders[0] == TraderPosition("OM-USD", "long", 1000.0, 5.0, pytest.approx(6.1))
    assert traders[1] == TraderPosition("OM-USD", "short", 2000.0, 2.0, 6.5)
    generated = traders[2:]
    p0 = mini.oracle_start_price("OM-USD")
    assert all(100 <= t.size_usd <= 40_000 for t in generated)
    assert all(2 <= t.leverage <= 20 for t in generated)
    assert all(abs(t.entry_price / p0 - 1) <= 0.01 + 1e-12 for t in generated)
    assert len({t.entry_price for t in generated}) > 40
    with pytest.raises(dataclasses.FrozenInstanceError):
        traders[0].size_usd = 1  # frozen


def test_traders_same_seed_same_traders_other_seed_other_traders(mini: Scenario):
    assert mini.traders() == mini.with_overrides({}).traders()
    assert mini.traders() != mini.with_overrides({"seed": 4}).traders()
    assert mini.traders()[:2] == mini.with_overrides({"seed": 4}).traders()[:2]  # explicit ones do not move


def test_generated_leverage_is_capped_by_the_tier(tmp_path: Path):
    data = minimal()
    data["population"] = [
        {"kind": "generated", "market": "OM-USD", "count": 200, "leverage": {"min": 20, "max": 20},
         "size_usd": {"min": 60_000, "max": 200_000}}
    ]
    traders = load_scenario(write(tmp_path, data)).traders()
    assert {t.leverage for t in traders} == {10.0}  # the $50k-$250k tier allows 10x


def test_all_long_and_all_short_shares(tmp_path: Path):
    data = minimal()
    data["population"][1]["long_share"] = 1
    assert all(t.side == "long" for t in load_scenario(write(tmp_path, data)).traders()[2:])
    data["population"][1]["long_share"] = 0
    assert all(t.side == "short" for t in load_scenario(write(tmp_path, data)).traders()[2:])


def test_keepers_expanded(tmp_path: Path):
    data = minimal()
    data["keepers"] = [
        {"name": "desk", "count": 3, "capital": 1e6, "latency": 2},
        {"name": "solo", "capital": 100, "outages": [{"start": 10, "end": 20}]},
    ]
    s = load_scenario(write(tmp_path, data))
    expanded = s.keepers_expanded()
    assert [k.name for k in expanded] == ["desk-1", "desk-2", "desk-3", "solo-1"]
    assert all(isinstance(k, KeeperScenario) and k.count == 1 for k in expanded)
    assert expanded[0].latency == 2 and expanded[0].capital == 1e6
    expanded[0].outages.append(expanded[3].outages[0])
    assert s.keepers[0].outages == []  # copies, not shared lists


def test_keeper_capital_schedule_and_outages():
    k = KeeperScenario(
        name="mm",
        capital=1000,
        outages=[{"start": 100, "end": 200}],
        capital_schedule=[{"t": 50, "fraction": 0.5}, {"t": 150, "fraction": 0}],
    )
    assert [k.capital_at(t) for t in (0, 49, 50, 149, 150, 10_000)] == [1000, 1000, 500, 500, 0, 0]
    assert [k.online(t) for t in (99, 100, 199, 200)] == [True, False, False, True]


# --------------------------------------------------------------------------- overrides


def test_overrides_change_and_revalidate(mini: Scenario):
    changed = mini.with_overrides({"markets.0.auction.tau": 600, "keepers.0.capital": "75000", "duration": 1200})
    assert changed.markets[0].auction.tau == 600
    assert changed.keepers[0].capital == 75000.0
    assert changed.times()[-1] == 1200
    assert mini.markets[0].auction.tau == 1800 and mini.duration == 600  # the original is untouched
    assert changed.sha256 == mini.sha256 and changed.file == mini.file
    assert changed.overrides == {"markets.0.auction.tau": 600, "keepers.0.capital": "75000", "duration": 1200}


def test_overrides_replace_lists_and_select_items_by_name(tmp_path: Path):
    data = minimal()
    data["keepers"][0]["outages"] = [{"start": 0, "end": 60}]
    s = load_scenario(write(tmp_path, data))
    assert s.with_overrides({"keepers.0.outages": []}).keepers[0].outages == []
    by_name = s.with_overrides({"markets.OM-USD.fund_seed": 5, "keepers.k.standing_bid.discount_bps": 100,
                                "keepers.k.standing_bid.max_notional_usd": 1e5})
    assert by_name.markets[0].fund_seed == 5
    assert by_name.keepers[0].standing_bid.discount_bps == 100


def test_overrides_that_break_the_scenario_are_rejected(mini: Scenario):
    with pytest.raises(ScenarioError) as info:
        mini.with_overrides({"markets.0.auction.tau": 0})
    assert "mini.yaml" in str(info.value) and "markets[0].auction.tau" in str(info.value) and "> 0" in str(info.value)
    with pytest.raises(ScenarioError, match=r"markets\.3.*an index 0\.\.0"):
        mini.with_overrides({"markets.3.fund_seed": 1})
    with pytest.raises(ScenarioError, match=r"markets\[0\]\.auction\.taux: a known field"):
        mini.with_overrides({"markets.0.auction.taux": 1})
    with pytest.raises(ScenarioError, match="nope"):
        mini.with_overrides({"nope.x": 1})


def test_parse_overrides_reads_yaml_values():
    assert parse_overrides(["markets.0.auction.tau=600", "keepers.0.outages=[]", "name=x y"]) == {
        "markets.0.auction.tau": 600,
        "keepers.0.outages": [],
        "name": "x y",
    }
    with pytest.raises(ValueError):
        parse_overrides(["tau"])


def test_unknown_variant(mini: Scenario):
    with pytest.raises(ScenarioError, match="variants"):
        mini.variant("nope")


# --------------------------------------------------------------------------- malformed input, one per test


def test_error_missing_file(tmp_path: Path):
    rejects(tmp_path / "nowhere.yaml", "<file>", "not found")


def test_error_yaml_syntax(tmp_path: Path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nmarkets: [\n  {name: a\n")
    rejects(path, "line", "valid YAML")


def test_error_duplicate_yaml_key(tmp_path: Path):
    path = tmp_path / "dup.yaml"
    path.write_text(yaml.safe_dump(minimal(), sort_keys=False) + "seed: 4\n")
    rejects(path, "line", "duplicate key 'seed'")


def test_error_top_level_not_a_mapping(tmp_path: Path):
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n")
    rejects(path, "<top level>", "a mapping of scenario fields")


def test_error_wrong_type(tmp_path: Path):
    rejects_change(tmp_path, lambda d: d.update(duration="five hours"), "duration", "a whole number")


def test_error_boolean_for_a_number(tmp_path: Path):
    rejects_change(tmp_path, lambda d: d["keepers"][0].update(count=True), "keepers[0].count", "a number, not true/false")


def test_error_unknown_top_level_field(tmp_path: Path):
    rejects_change(tmp_path, lambda d: d.update(colour="red"), "colour", "'colour' is unknown here (known: name,")


def test_error_unknown_nested_field(tmp_path: Path):
    rejects_change(
        tmp_path, lambda d: d["markets"][0].update(auction={"taux": 5}), "markets[0].auction.taux", "known: curve, tau"
    )


def test_error_missing_required_field(tmp_path: Path):
    rejects_change(tmp_path, lambda d: d.pop("duration"), "duration", "this field is required")


def test_error_negative_price(tmp_path: Path):
    rejects_change(
        tmp_path,
        lambda d: d["markets"][0]["venues"]["binance"][1].update(price=-5),
        "markets[0].venues.binance[1].price",
        "a value > 0",
    )


def test_error_zero_price(tmp_path: Path):
    rejects_change(
        tmp_path,
        lambda d: d["markets"][0]["venues"]["okx"][0].update(price=0),
        "markets[0].venues.okx[0].price",
        "a value > 0",
    )


def test_error_price_below_one_source_unit(tmp_path: Path):
    def change(d):
        d["markets"][0]["source_decimals"] = 2
        d["markets"][0]["venues"]["okx"][1]["price"] = 0.001

    rejects_change(tmp_path, change, "markets[0].venues.okx[1].price", "one unit at source_decimals")


def test_error_unsorted_times(tmp_path: Path):
    rejects_change(
        tmp_path,
        lambda d: d["markets"][0]["venues"]["binance"][2].update(t=50),
        "markets[0].venues.binance[2].t",
        "strictly increasing; unsorted: t = 50 after t = 100",
    )


def test_error_duplicate_times(tmp_path: Path):
    rejects_change(
        tmp_path,
        lambda d: d["markets"][0]["venues"]["binance"][2].update(t=100),
        "markets[0].venues.binance[2].t",
        "strictly increasing; duplicate: t = 100",
    )


def test_error_first_time_not_zero(tmp_path: Path):
    rejects_change(
        tmp_path,
        lambda d: d["markets"][0]["venues"]["okx"][0].update(t=5),
        "markets[0].venues.okx[0].t",
        "the first point at t = 0",
    )


def test_error_venue_neither_points_nor_csv(tmp_path: Path):
    rejects_change(
        tmp_path,
        lambda d: d["markets"][0]["venues"].update(okx=6.2),
        "markets[0].venues.okx",
        "a list of {t, price} points or the path of a CSV file",
    )


def test_error_no_venues(tmp_path: Path):
    rejects_change(tmp_path, lambda d: d["markets"][0].update(venues={}), "markets[0].venues", "at least 1 item")


def test_error_keeper_with_zero_capital(tmp_path: Path):
    rejects_change(tmp_path, lambda d: d["keepers"][0].update(capital=0), "keepers[0].capital", "capital > 0")


def test_error_keeper_with_negative_capital(tmp_path: Path):
    rejects_change(tmp_path, lambda d: d["keepers"][0].update(capital=-10), "keepers[0].capital", "capital > 0")


def test_error_keeper_without_capital_field(tmp_path: Path):
    rejects_change(tmp_path, lambda d: d["keepers"][0].pop("capital"), "keepers[0].capital", "this field is required")


def test_error_duration_zero(tmp_path: Path):
    rejects_change(tmp_path, lambda d: d.update(duration=0), "duration", "a value > 0 (got 0)")


def test_error_step_above_duration(tmp_path: Path):
    rejects_change(tmp_path, lambda d: d.update(step=601), "step", "step <= duration (600 s), got 601")


def test_error_unknown_market_in_population(tmp_path: Path):
    rejects_change(
        tmp_path,
        lambda d: d["population"][1].update(market="BTC-USD"),
        "population[1].market",
        "one of the markets ['OM-USD'] (got 'BTC-USD')",
    )


def test_error_unknown_population_kind(tmp_path: Path):
    rejects_change(tmp_path, lambda d: d["population"][0].update(kind="random"), "population[0]", "'kind' to be one of")


def test_error_generated_leverage_below_one(tmp_path: Path):
    rejects_change(
        tmp_path,
        lambda d: d["population"][1]["leverage"].update(min=0.5),
        "population[1].leverage.min",
        "a leverage >= 1",
    )


def test_error_explicit_leverage_above_the_tier(tmp_path: Path):
    rejects_change(
        tmp_path,
        lambda d: d["population"][0]["positions"][0].update(size_usd=100_000, leverage=15),
        "population[0].positions[0].leverage",
        "at most 10x",
    )


def test_error_share_out_of_range(tmp_path: Path):
    rejects_change(tmp_path, lambda d: d["population"][1].update(long_share=1.5), "population[1].long_share", "<= 1")


def test_error_outage_ends_before_it_starts(tmp_path: Path):
    rejects_change(
        tmp_path,
        lambda d: d["keepers"][0].update(outages=[{"start": 100, "end": 100}]),
        "keepers[0].outages[0].end",
        "end > start",
    )


def test_error_capital_schedule_unsorted(tmp_path: Path):
    rejects_change(
        tmp_path,
        lambda d: d["keepers"][0].update(capital_schedule=[{"t": 60, "fraction": 0.5}, {"t": 30, "fraction": 0.1}]),
        "keepers[0].capital_schedule[1].t",
        "strictly increasing",
    )


def test_error_duplicate_market_names(tmp_path: Path):
    rejects_change(
        tmp_path,
        lambda d: d["markets"].append(copy.deepcopy(d["markets"][0])),
        "markets[1].name",
        "a unique market name",
    )


def test_error_duplicate_keeper_names(tmp_path: Path):
    rejects_change(
        tmp_path,
        lambda d: d["keepers"].append({"name": "k", "capital": 1}),
        "keepers[1].name",
        "a unique keeper name ('k' is listed twice)",
    )


def test_error_min_sources_above_venue_count(tmp_path: Path):
    rejects_change(
        tmp_path,
        lambda d: d["markets"][0].update(oracle={"min_sources": 3}),
        "markets[0].oracle.min_sources",
        "at most the number of venues (2)",
    )


def test_error_tiers_not_increasing(tmp_path: Path):
    rejects_change(
        tmp_path,
        lambda d: d["markets"][0].update(
            tiers=[
                {"max_notional": 100_000, "initial_margin_bps": 500, "maintenance_margin_bps": 250},
                {"max_notional": 50_000, "initial_margin_bps": 1000, "maintenance_margin_bps": 500},
            ]
        ),
        "markets[0].tiers[1].max_notional",
        "strictly increasing max_notional",
    )


def test_error_maintenance_not_below_initial(tmp_path: Path):
    rejects_change(
        tmp_path,
        lambda d: d["markets"][0].update(tiers=[{"max_notional": 1e6, "initial_margin_bps": 500, "maintenance_margin_bps": 500}]),
        "markets[0].tiers[0].initial_margin_bps",
        "initial_margin_bps > maintenance_margin_bps",
    )


def test_error_unknown_auction_curve(tmp_path: Path):
    rejects_change(
        tmp_path, lambda d: d["markets"][0].update(auction={"curve": "dutch"}), "markets[0].auction.curve", "'linear' or 'stairstep'"
    )


def test_error_bad_start_time(tmp_path: Path):
    rejects_change(tmp_path, lambda d: d.update(start="sunday evening"), "start", "an ISO 8601 time")


def test_error_variant_override_key_not_a_string(tmp_path: Path):
    path = tmp_path / "variant.yaml"
    path.write_text(yaml.safe_dump(minimal(), sort_keys=False) + "variants:\n  v:\n    1: 2\n")
    rejects(path, "variants.v.1 (the key)", "a string")


def test_error_csv_file_missing(tmp_path: Path):
    err = rejects_change(
        tmp_path,
        lambda d: d["markets"][0]["venues"].update(okx="data/okx.csv"),
        "markets[0].venues.okx",
        "an existing CSV file",
    )
    assert "okx.csv" in str(err) and "not found" in str(err)


def test_error_csv_without_header(tmp_path: Path):
    (tmp_path / "okx.csv").write_text("0,6.2\n60,6.0\n")
    err = rejects_change(
        tmp_path, lambda d: d["markets"][0]["venues"].update(okx="okx.csv"), "markets[0].venues.okx", "header 't,price'"
    )
    assert "okx.csv" in str(err)


def test_error_csv_bad_row(tmp_path: Path):
    (tmp_path / "okx.csv").write_text("t,price\n0,6.2\n60,abc\n")
    err = rejects_change(
        tmp_path, lambda d: d["markets"][0]["venues"].update(okx="okx.csv"), "markets[0].venues.okx", "okx.csv line 3"
    )
    assert "a finite price > 0" in str(err)


def test_error_csv_unsorted(tmp_path: Path):
    (tmp_path / "okx.csv").write_text("t,price\n0,6.2\n60,6.0\n30,5.0\n")
    err = rejects_change(
        tmp_path, lambda d: d["markets"][0]["venues"].update(okx="okx.csv"), "markets[0].venues.okx", "strictly increasing"
    )
    assert "okx.csv line 4" in str(err)


def test_error_reports_every_problem(tmp_path: Path):
    def change(d):
        d["duration"] = 0
        d["keepers"][0]["capital"] = 0
        d["markets"][0]["venues"]["okx"][1]["price"] = -1

    err = rejects_change(tmp_path, change, "duration", "a value > 0")
    paths = [p for p, _ in err.problems]
    assert {"duration", "keepers[0].capital", "markets[0].venues.okx[1].price"} <= set(paths)
    assert all(line.startswith(f"{err.file}: ") for line in str(err).splitlines())


def test_the_example_in_the_docs_loads(tmp_path: Path):
    doc = (Path(__file__).resolve().parent.parent / "docs" / "scenarios.md").read_text()
    example = doc.split("## Example", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "xyz-venue-b.csv").write_text("t,price\n0,10\n300,5\n")
    path = tmp_path / "example.yaml"
    path.write_text(example)
    s = load_scenario(path)
    assert s.venue_price("XYZ-USD", "venue-b", 150) == pytest.approx(7.5)
    assert len(s.traders()) == 101
    assert s.variant("slow_auction").markets[0].auction.cut == 0.995


# --------------------------------------------------------------------------- no chain libraries, error classes


def test_parsing_a_scenario_imports_neither_ape_nor_web3():
    root = Path(__file__).resolve().parent.parent
    code = f"""
import sys
from pathlib import Path
import backstop.scenario as scenario
assert Path(scenario.__file__).resolve().is_relative_to(Path({str(root)!r}).resolve()), scenario.__file__
paths = sorted(Path({str(SCENARIOS)!r}).glob("*.yaml")) + [Path({str(root / "tests" / "data" / "mini-crash.yaml")!r})]
assert len(paths) == 5, paths
for path in paths:
    s = scenario.load_scenario(path)
    assert s.market_specs() and s.traders()
chain = sorted(m for m in sys.modules if m.split(".")[0] in ("ape", "web3", "eth_account") or m.startswith("ape_"))
print(",".join(chain) or "none")
"""
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "none"


def test_errors_are_backstop_errors_and_value_errors(mini: Scenario):
    with pytest.raises(ScenarioError) as info:
        mini.with_overrides({"duration": 0})
    assert isinstance(info.value, BackstopError) and isinstance(info.value, ValueError)
    with pytest.raises(OverrideError) as bad:
        parse_overrides(["no-equals-sign"])
    assert isinstance(bad.value, BackstopError) and isinstance(bad.value, ValueError)


# --------------------------------------------------------------------------- named variants are checked on load


def with_variants(tmp_path: Path, variants: dict, change=None) -> Path:
    data = minimal()
    if change:
        change(data)
    data["variants"] = variants
    return write(tmp_path, data)


def test_a_typo_in_an_unused_variant_is_an_error(tmp_path: Path):
    path = with_variants(tmp_path, {"good": {"seed": 4}, "typo": {"markets.0.auction.taux": 600}})
    rejects(path, "variants.typo.markets.0.auction.taux", "a known field; 'taux' is unknown here (known: curve, tau")


def test_a_variant_key_through_an_unknown_field_is_an_error(tmp_path: Path):
    path = with_variants(tmp_path, {"v": {"markets.0.auctoin.tau": 600}})
    rejects(path, "variants.v.markets.0.auctoin.tau", "at markets.0.auctoin: one of name, venues")


def test_a_variant_value_out_of_range_is_an_error(tmp_path: Path):
    path = with_variants(tmp_path, {"v": {"markets.OM-USD.auction.tau": 0}})
    rejects(path, "variants.v.markets.OM-USD.auction.tau", "a value > 0 (got 0)")


def test_a_variant_breaking_a_cross_check_names_its_key_and_the_field(tmp_path: Path):
    path = with_variants(tmp_path, {"short": {"duration": 30}})
    rejects(path, "variants.short.duration", "at step: step <= duration (30 s), got 60")


def test_a_variant_naming_an_unknown_keeper_lists_the_keepers(tmp_path: Path):
    path = with_variants(tmp_path, {"v": {"keepers.nobody.capital": 5}})
    rejects(path, "variants.v.keepers.nobody.capital", "an index 0..0 or the name of an item (names: k)")


def test_valid_variants_load_and_apply(tmp_path: Path):
    s = load_scenario(with_variants(tmp_path, {"v": {"keepers.k.capital": 5, "markets.0.auction.tau": 600}}))
    assert s.variant("v").keepers[0].capital == 5 and s.variant("v").markets[0].auction.tau == 600


# --------------------------------------------------------------------------- warnings, overrides of named items


def late_outage(data: dict) -> None:
    data["keepers"][0]["outages"] = [{"start": 0, "end": 60}, {"start": 700, "end": 800}]  # duration is 600


def test_an_outage_after_the_end_is_a_warning(tmp_path: Path):
    data = minimal()
    late_outage(data)
    path = write(tmp_path, data)
    with pytest.warns(ScenarioWarning) as caught:
        s = load_scenario(path)
    expected = f"{path}: keepers[0].outages[1]: an outage that starts by the scenario's end (duration = 600 s; got start = 700): it never applies"
    assert [str(w.message) for w in caught] == [expected]
    assert s.warnings == [expected]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an override that adds no warning warns nothing
        assert s.with_overrides({"seed": 5}).warnings == [expected]
        assert s.with_overrides({"duration": 900}).warnings == []


def test_a_duration_that_is_not_a_multiple_of_the_step_is_a_warning(tmp_path: Path):
    data = minimal()
    data["duration"] = 630  # step 60
    path = write(tmp_path, data)
    with pytest.warns(ScenarioWarning) as caught:
        s = load_scenario(path)
    expected = (f"{path}: duration: 630 s is not a multiple of step = 60 s: the replay steps every 60 s up to t = 600 s, "
                "then once more at t = 630 s (a last step of 30 s)")
    assert [str(w.message) for w in caught] == [expected] == s.warnings
    assert s.times()[-3:] == [540, 600, 630]  # what the warning says


def test_an_override_that_breaks_the_step_grid_warns(mini: Scenario):
    with pytest.warns(ScenarioWarning, match=r": duration: 610 s is not a multiple of step = 60 s: .*\(a last step of 10 s\)"):
        mini.with_overrides({"duration": 610})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert mini.with_overrides({"duration": 660, "step": 30}).warnings == []


def test_a_venue_with_a_single_price_point_is_a_warning(tmp_path: Path):
    data = minimal()
    data["markets"][0]["venues"]["okx"] = [{"t": 0, "price": 6.2}]
    path = write(tmp_path, data)
    with pytest.warns(ScenarioWarning) as caught:
        s = load_scenario(path)
    expected = f"{path}: markets[0].venues.okx: a single price point (t = 0, price = 6.2): the venue's price stays 6.2 for the whole scenario"
    assert [str(w.message) for w in caught] == [expected] == s.warnings
    assert s.venue_price("OM-USD", "okx", 0) == s.venue_price("OM-USD", "okx", 600) == 6.2


def test_a_csv_venue_with_a_single_row_is_a_warning(tmp_path: Path):
    (tmp_path / "flat.csv").write_text("t,price\n0,3.5\n")
    data = minimal()
    data["markets"][0]["venues"]["okx"] = "flat.csv"
    with pytest.warns(ScenarioWarning, match=r"markets\[0\]\.venues\.okx: a single price point \(t = 0, price = 3\.5\)"):
        load_scenario(write(tmp_path, data))


def test_an_override_that_moves_an_outage_after_the_end_warns(mini: Scenario):
    with pytest.warns(ScenarioWarning, match=r"keepers\[0\]\.outages\[0\]: .*got start = 601"):
        mini.with_overrides({"keepers.k.outages": [{"start": 601, "end": 700}]})


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.stem)
def test_bundled_scenarios_have_no_warnings(path: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_scenario(path).warnings == []


def test_an_unknown_keeper_name_in_an_override_lists_the_keepers(tmp_path: Path):
    data = minimal()
    data["keepers"].append({"name": "desk", "capital": 100})
    s = load_scenario(write(tmp_path, data))
    with pytest.raises(ScenarioError) as info:
        s.with_overrides(parse_overrides(["keepers.nope.latency=5"]))
    assert str(info.value) == (
        f"{s.file} (with overrides): overrides['keepers.nope.latency']: "
        "at keepers.nope: an index 0..1 or the name of an item (names: k, desk)"
    )


def test_overrides_of_overrides_keep_reading_csv_files_relative_to_the_file(tmp_path: Path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "path.csv").write_text("t,price\n0,2.0\n60,1.0\n")
    data = minimal()
    data["markets"][0]["venues"]["okx"] = "data/path.csv"
    s = load_scenario(write(tmp_path, data))
    monkeypatch.chdir(tmp_path / "data")  # not the file's folder
    twice = s.with_overrides({"seed": 9}).with_overrides({"step": 30})
    assert twice.venue_price("OM-USD", "okx", 30) == pytest.approx(1.5)


# --------------------------------------------------------------------------- published figures

FIGURE = {"figure": "liquidations, all exchanges", "metric": "liquidated_notional", "low": 67e6, "high": 76e6, "source": "Coinglass"}


def test_published_figures_load_and_compare_with_the_replay(tmp_path):
    data = minimal()
    data["published"] = [FIGURE, {**FIGURE, "metric": "shortfall", "low": 5.67e6, "high": None}]
    sc = load_scenario(write(tmp_path, data))
    inside, single = sc.published
    assert inside.compare(70e6)["gap"] == 0 and inside.compare(2e6)["gap"] == 2e6 - 67e6
    assert inside.compare(80e6)["gap"] == pytest.approx(4e6) and inside.compare(71.5e6)["ratio"] == 1.0
    assert single.compare(1e6) | {"note": ""} == {
        "figure": FIGURE["figure"], "metric": "shortfall", "low": 5.67e6, "high": 5.67e6, "source": "Coinglass",
        "note": "", "replayed": 1e6, "gap": 1e6 - 5.67e6, "ratio": round(1e6 / 5.67e6, 6),
    }


def test_a_published_figure_names_a_known_metric_and_an_ordered_range(tmp_path):
    rejects_change(tmp_path, lambda d: d.update(published=[{**FIGURE, "metric": "liquidated"}]), "published[0].metric",
                   "expected one of liquidations, liquidated_notional, shortfall")
    rejects_change(tmp_path, lambda d: d.update(published=[{**FIGURE, "high": 1.0}]), "published[0]", "high 1 is below low 6.7e+07")


def test_bundled_crashes_cite_their_published_figures():
    metrics = {name: [p.metric for p in load_scenario(SCENARIOS / f"{name}.yaml").published] for name in
               ("om-2025", "luna-2022", "black-thursday-2020", "cross-venue-cascade")}
    assert metrics == {"om-2025": ["liquidated_notional"], "luna-2022": ["liquidated_notional"],
                       "black-thursday-2020": ["shortfall"], "cross-venue-cascade": []}  # the last one is invented
    for name in ("om-2025", "luna-2022", "black-thursday-2020"):
        sc = load_scenario(SCENARIOS / f"{name}.yaml")
        assert all(any(p.source.split()[0] in s for s in sc.sources) for p in sc.published), name  # cited in sources too


# --------------------------------------------------------------------------- venue halts (#16 §5)


def test_venue_halts_publish_a_stale_or_stuck_answer(tmp_path: Path):
    data = minimal()
    data["markets"][0]["halts"] = [
        {"venue": "binance", "start": 100, "end": 300},  # stale by default
        {"venue": "okx", "start": 50, "end": 150, "mode": "stuck"},
        {"venue": "binance", "start": 400, "end": 500, "mode": "stuck"},
    ]
    m = load_scenario(write(tmp_path, data, "halts.yaml")).markets[0]
    assert m.published("binance", 100, 4.9) == (4.9, 100)  # the window opens after its start
    assert m.published("binance", 200, 3.5) == (5.0, 100)  # stale: the price at the start, stamped then
    assert m.published("okx", 120, 4.9) == (m.price("okx", 50), 120)  # stuck: the same price, stamped now
    assert m.published("binance", 300, 2.0) == (2.0, 300)  # from the end on, the path again
    assert m.halt_at("binance", 450).mode == "stuck" and m.halt_at("okx", 450) is None


@pytest.mark.parametrize(
    ("halts", "field", "expected"),
    [
        ([{"venue": "kraken", "start": 10, "end": 20}], "markets[0].halts[0].venue", "one of the market's venues (binance, okx), got 'kraken'"),
        ([{"venue": "okx", "start": 20, "end": 20}], "markets[0].halts[0].end", "end > start (20 <= 20)"),
        ([{"venue": "okx", "start": 10, "end": 30, "mode": "frozen"}], "markets[0].halts[0].mode", "stale"),
        (
            [{"venue": "okx", "start": 10, "end": 30}, {"venue": "okx", "start": 29, "end": 40}],
            "markets[0].halts[1]", "a window that does not overlap halts[0] of venue okx",
        ),
    ],
)
def test_a_bad_venue_halt_names_the_field(tmp_path: Path, halts, field, expected):
    rejects_change(tmp_path, lambda d: d["markets"][0].__setitem__("halts", halts), field, expected)


def test_an_outage_may_stop_some_roles_only(tmp_path: Path):
    data = minimal()
    data["keepers"][0]["outages"] = [{"start": 10, "end": 20, "roles": ["take"]}, {"start": 30, "end": 40}]
    k = load_scenario(write(tmp_path, data, "roles.yaml")).keepers[0]
    assert k.online(15) and k.online(15, "liquidate") and not k.online(15, "take")
    assert not k.online(35) and not k.online(35, "liquidate")
    data["keepers"][0]["outages"] = [{"start": 10, "end": 20, "roles": ["sleep"]}]
    rejects(write(tmp_path, data), "keepers[0].outages[0].roles[0]", "liquidate")
    data["keepers"][0]["outages"] = [{"start": 10, "end": 20, "roles": []}]
    rejects(write(tmp_path, data), "keepers[0].outages[0].roles", "at least 1")


# --------------------------------------------------------------------------- trading during the replay


def with_trading(data: dict, **generated) -> dict:
    data["population"][1].update(generated)
    return data


def test_opens_and_exits_leave_the_traders_as_they_were(tmp_path: Path):
    """Opening times and exits draw from streams of their own: the population's traders do not move."""
    base = load_scenario(write(tmp_path, minimal(), "base.yaml")).traders()
    data = with_trading(minimal(), opens={"start": 60, "end": 300}, exits={"stop_loss_bps": {"min": 500, "max": 1500}, "take_profit_bps": 900, "fraction": 0.5})
    data["population"][0]["positions"][0]["opens_at"] = 120
    traders = load_scenario(write(tmp_path, data, "trading.yaml")).traders()
    strip = lambda t: (t.market, t.side, t.size_usd, t.leverage)  # noqa: E731
    assert [strip(t) for t in traders] == [strip(t) for t in base]
    assert traders[0].opens_at == 120 and traders[1].opens_at is None and not traders[1].trades_in_replay
    generated = traders[2:]
    assert all(60 <= t.opens_at <= 300 for t in generated) and len({t.opens_at for t in generated}) > 20
    assert all(500 <= t.stop_loss_bps <= 1500 and t.take_profit_bps == 900 and t.close_fraction == 0.5 for t in generated)
    assert len({t.stop_loss_bps for t in generated}) > 20  # drawn per trader
    assert traders == load_scenario(write(tmp_path, data, "again.yaml")).traders()  # same seed, same draws


def test_error_opening_window_after_the_end(tmp_path: Path):
    rejects_change(tmp_path, lambda d: with_trading(d, opens={"start": 0, "end": 601}), "population[1].opens.end", "by the scenario's end (duration = 600 s)")


def test_error_opening_window_backwards(tmp_path: Path):
    rejects_change(tmp_path, lambda d: with_trading(d, opens={"start": 300, "end": 200}), "population[1].opens.end", "end >= start")


def test_error_opens_at_after_the_end_or_with_an_entry_price(tmp_path: Path):
    def late(d):
        d["population"][0]["positions"][0]["opens_at"] = 900

    rejects_change(tmp_path, late, "population[0].positions[0].opens_at", "by the scenario's end")

    def priced(d):
        d["population"][0]["positions"][1]["opens_at"] = 60

    rejects_change(tmp_path, priced, "population[0].positions[1].entry_price", "no entry_price with opens_at")


def test_error_exits_without_a_level_or_with_a_stop_of_the_whole_price(tmp_path: Path):
    rejects_change(tmp_path, lambda d: with_trading(d, exits={"fraction": 0.5}), "population[1].exits.stop_loss_bps", "stop_loss_bps or take_profit_bps")
    rejects_change(tmp_path, lambda d: with_trading(d, exits={"stop_loss_bps": 10_000}), "population[1].exits.stop_loss_bps.max", "below 10,000 bps")
    rejects_change(tmp_path, lambda d: with_trading(d, exits={"take_profit_bps": 500, "fraction": 0}), "population[1].exits.fraction", "a value > 0 (got 0)")
