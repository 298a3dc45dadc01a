"""PriceOracle and MockPriceSource: median, normalisation, staleness, deviation band, jump bound, access, and a
property test against the Python reference backstop/model/oracle.py."""

from __future__ import annotations

import os

import ape
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from backstop.model import oracle as model
from backstop.units import WAD, market_id, to_wad
from tests.revert_helpers import assert_view_reverts

OM = market_id("OM-USD")
UNKNOWN = market_id("NOPE-USD")
HOUR = 3600

# maxAge [s], maxDeviationBps, minSources, maxJumpBps, jumpWindow [s]
LOOSE = (HOUR, 500, 1, 0, 0)


def raw(price: str | int, decimals: int) -> int:
    """A decimal price as a feed with `decimals` reports it."""
    return to_wad(price) * 10**decimals // WAD


@pytest.fixture(scope="module")
def oracle(project, admin):
    return admin.deploy(project.PriceOracle, admin)


@pytest.fixture(scope="module")
def make_market(project, admin, oracle, chain):
    """Deploys one mock source per entry of `decimals`, lists `market` with `cfg` and adds the sources."""

    def make(decimals: list[int], cfg: tuple = LOOSE, market: bytes = OM):
        feeds = [admin.deploy(project.MockPriceSource, d, f"OM / USD #{i}", admin) for i, d in enumerate(decimals)]
        oracle.setMarketConfig(market, *cfg, sender=admin)
        for feed in feeds:
            oracle.addSource(market, feed, sender=admin)
        return feeds

    return make


def set_prices(feeds, prices, admin):
    """Each feed answers its price (a decimal string, or a raw int for 0/negative) now."""
    for feed, p in zip(feeds, prices):
        answer = p if isinstance(p, int) else raw(p, feed.decimals())
        feed.setAnswer(answer, sender=admin)


# --- median -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prices, expected",
    [
        (["100"], "100"),
        (["100", "101"], "100.5"),
        (["101", "99", "100"], "100"),
        (["103", "100", "98", "101", "99"], "100"),
        (["0.6021", "0.6019", "0.6030", "0.6012", "0.6025"], "0.6021"),
    ],
    ids=["one", "two", "three", "five", "five-sub-dollar"],
)
def test_median_of_sources(make_market, oracle, admin, prices, expected):
    feeds = make_market([8] * len(prices))
    set_prices(feeds, prices, admin)
    assert oracle.price(OM) == to_wad(expected)


def test_even_count_median_rounds_down(make_market, oracle, admin):
    feeds = make_market([18, 18], cfg=(HOUR, 5_000, 2, 0, 0))
    feeds[0].setAnswer(3, sender=admin)
    feeds[1].setAnswer(4, sender=admin)
    assert oracle.price(OM) == 3  # floor(3.5) wei; 4 is 3333 bps above 3, inside the 5000 bps band


# --- normalisation ----------------------------------------------------------------------------------------


def test_mixed_decimals_normalise_to_wad(make_market, oracle, admin):
    feeds = make_market([8, 18, 6])
    set_prices(feeds, ["100.25", "100.50", "100.75"], admin)
    assert oracle.price(OM) == to_wad("100.50")
    set_prices(feeds, ["100.75", "100.25", "100.50"], admin)
    assert oracle.price(OM) == to_wad("100.50")  # now the 6-decimal source is the median


@pytest.mark.parametrize(
    "decimals, answer, expected_wad",
    [
        (0, 7, 7 * WAD),
        (6, 1_234_567, 1_234_567 * 10**12),
        (20, 199, 1),  # 1.99 wei rounds down to 1
        (36, 5 * 10**36 + 10**18 - 1, 5 * WAD),  # remainder below 1 wei dropped
    ],
)
def test_normalisation_rounds_down(make_market, oracle, admin, decimals, answer, expected_wad):
    (feed,) = make_market([decimals])
    feed.setAnswer(answer, sender=admin)
    assert oracle.price(OM) == expected_wad == model.to_wad(answer, decimals)


def test_answer_normalising_to_zero_is_ignored(make_market, oracle, admin):
    (feed,) = make_market([36])
    feed.setAnswer(10**18 - 1, sender=admin)  # 0.999.. wei
    assert_view_reverts(oracle.price, OM, oracle.NotEnoughSources, market=OM, usable=0, required=1)


@pytest.mark.parametrize("decimals", [18, 36])
def test_source_above_price_ceiling_is_ignored(make_market, oracle, admin, decimals):
    feeds = make_market([decimals, 18])
    ceiling = oracle.MAX_PRICE_WAD()
    feeds[0].setAnswer(ceiling * 10 ** (decimals - 18), sender=admin)  # exactly the ceiling: usable
    feeds[1].setAnswer(ceiling, sender=admin)
    assert oracle.price(OM) == ceiling
    feeds[0].setAnswer((ceiling + 1) * 10 ** (decimals - 18), sender=admin)  # one wei above: ignored
    feeds[1].setAnswer(to_wad("2"), sender=admin)
    assert oracle.price(OM) == to_wad("2")


# --- staleness --------------------------------------------------------------------------------------------


def test_stale_source_is_ignored(make_market, oracle, admin, chain):
    feeds = make_market([8, 8, 8])
    set_prices(feeds[:2], ["100", "102"], admin)
    feeds[2].setAnswerAt(raw("90", 8), chain.blocks.head.timestamp - HOUR - 1, sender=admin)
    assert oracle.price(OM) == to_wad("101")  # with the stale 90 the median would be 100


def test_staleness_boundary_and_future_stamp(make_market, oracle, admin, chain):
    feeds = make_market([8, 8, 8])
    t = chain.pending_timestamp + 10
    feeds[0].setAnswerAt(raw("100", 8), t - HOUR, sender=admin)  # exactly maxAge old: usable
    feeds[1].setAnswerAt(raw("200", 8), t - HOUR - 1, sender=admin)  # one second too old
    feeds[2].setAnswerAt(raw("300", 8), t + 1, sender=admin)  # stamped in the future
    chain.mine(timestamp=t)
    readings, _ = oracle.sourceReport(OM)
    assert [r[5] for r in readings] == [True, False, False]
    assert oracle.price(OM) == to_wad("100")


def test_all_sources_stale_reverts(make_market, oracle, admin, chain):
    feeds = make_market([8, 18, 6], cfg=(HOUR, 500, 2, 0, 0))
    set_prices(feeds, ["100", "100", "100"], admin)
    chain.mine(timestamp=chain.pending_timestamp + HOUR + 1)
    assert_view_reverts(oracle.price, OM, oracle.NotEnoughSources, market=OM, usable=0, required=2)
    with ape.reverts(oracle.NotEnoughSources):
        oracle.poke(OM, sender=admin)


def test_source_never_answered_is_ignored(make_market, oracle, admin):
    feeds = make_market([8, 8])
    feeds[0].setAnswer(raw("42", 8), sender=admin)
    assert oracle.price(OM) == to_wad("42")


# --- deviation band ---------------------------------------------------------------------------------------


def test_manipulated_source_is_dropped(make_market, oracle, admin):
    feeds = make_market([8, 8, 8, 8], cfg=(HOUR, 500, 3, 0, 0))
    set_prices(feeds, ["100", "101", "102", "5000"], admin)
    # first median (101 + 102) / 2 = 101.5; 5000 is dropped; median of 100, 101, 102
    assert oracle.price(OM) == to_wad("101")
    readings, first = oracle.sourceReport(OM)
    assert first == to_wad("101.5")
    assert [r[6] for r in readings] == [True, True, True, False]
    assert [r[4] for r in readings] == [to_wad(p) for p in ("100", "101", "102", "5000")]


def test_deviation_band_edge_is_inclusive(make_market, oracle, admin):
    feeds = make_market([8, 8, 8], cfg=(HOUR, 500, 3, 0, 0))
    set_prices(feeds, ["95", "100", "105"], admin)  # exactly 5% either side: kept
    assert oracle.price(OM) == to_wad("100")
    feeds[2].setAnswer(raw("105.00000001", 8), sender=admin)  # just beyond: dropped
    assert_view_reverts(oracle.price, OM, oracle.NotEnoughSources, market=OM, usable=2, required=3)


def test_too_many_outliers_revert(make_market, oracle, admin):
    feeds = make_market([8, 8, 8], cfg=(HOUR, 500, 2, 0, 0))
    set_prices(feeds, ["100", "200", "300"], admin)
    assert_view_reverts(oracle.price, OM, oracle.NotEnoughSources, market=OM, usable=1, required=2)


# --- zero and negative answers ----------------------------------------------------------------------------


def test_zero_and_negative_answers_are_ignored(make_market, oracle, admin):
    feeds = make_market([8, 8, 8, 8], cfg=(HOUR, 500, 2, 0, 0))
    set_prices(feeds, [0, -5 * 10**8, "100", "102"], admin)
    assert oracle.price(OM) == to_wad("101")
    oracle.setMarketConfig(OM, HOUR, 500, 3, 0, 0, sender=admin)
    assert_view_reverts(oracle.price, OM, oracle.NotEnoughSources, market=OM, usable=2, required=3)


# --- jump bound -------------------------------------------------------------------------------------------


def test_jump_beyond_bound_reverts_then_is_accepted_after_window(make_market, oracle, admin, chain):
    feeds = make_market([8, 8, 8], cfg=(2 * HOUR, 500, 2, 1_000, HOUR))
    set_prices(feeds, ["100"] * 3, admin)
    oracle.poke(OM, sender=admin)
    poked_at = chain.blocks.head.timestamp
    assert oracle.lastPrice(OM) == (to_wad("100"), poked_at)

    set_prices(feeds, ["150"] * 3, admin)
    assert_view_reverts(oracle.price, OM, oracle.PriceJumpTooLarge, market=OM, last=to_wad("100"), next=to_wad("150"))
    with ape.reverts(oracle.PriceJumpTooLarge):
        oracle.poke(OM, sender=admin)
    assert oracle.lastPrice(OM) == (to_wad("100"), poked_at)

    chain.mine(timestamp=poked_at + HOUR - 1)  # one second before the window ends: still bounded
    assert_view_reverts(oracle.price, OM, oracle.PriceJumpTooLarge, market=OM, last=to_wad("100"), next=to_wad("150"))
    chain.mine(timestamp=poked_at + HOUR)  # window over: the sustained move is real
    assert oracle.price(OM) == to_wad("150")
    oracle.poke(OM, sender=admin)
    assert oracle.lastPrice(OM)[0] == to_wad("150")


def test_move_within_bound_is_accepted_inside_window(make_market, oracle, admin):
    feeds = make_market([8], cfg=(HOUR, 500, 1, 1_000, HOUR))
    feeds[0].setAnswer(raw("100", 8), sender=admin)
    oracle.poke(OM, sender=admin)
    feeds[0].setAnswer(raw("90", 8), sender=admin)  # exactly -10%: accepted
    assert oracle.poke(OM, sender=admin).return_value == to_wad("90")
    feeds[0].setAnswer(raw("80.99", 8), sender=admin)  # -10.01% from 90: beyond
    assert_view_reverts(oracle.price, OM, oracle.PriceJumpTooLarge, market=OM, last=to_wad("90"), next=to_wad("80.99"))


def test_zero_max_jump_disables_bound(make_market, oracle, admin):
    feeds = make_market([8], cfg=(HOUR, 500, 1, 0, HOUR))
    feeds[0].setAnswer(raw("100", 8), sender=admin)
    oracle.poke(OM, sender=admin)
    feeds[0].setAnswer(raw("1000", 8), sender=admin)
    assert oracle.price(OM) == to_wad("1000")


def test_market_never_poked_has_no_jump_bound(make_market, oracle, admin):
    feeds = make_market([8], cfg=(HOUR, 500, 1, 1, HOUR))
    feeds[0].setAnswer(raw("100", 8), sender=admin)
    assert oracle.lastPrice(OM) == (0, 0)
    assert oracle.price(OM) == to_wad("100")


# --- unknown market ---------------------------------------------------------------------------------------


def test_unknown_market_reverts_everywhere(oracle, admin, project):
    feed = admin.deploy(project.MockPriceSource, 8, "x", admin)
    assert_view_reverts(oracle.price, UNKNOWN, oracle.UnknownMarket, market=UNKNOWN)
    with ape.reverts(oracle.UnknownMarket, market=UNKNOWN):
        oracle.poke(UNKNOWN, sender=admin)
    for view in (oracle.sources, oracle.config, oracle.sourceReport):
        assert_view_reverts(view, UNKNOWN, oracle.UnknownMarket, market=UNKNOWN)
    with ape.reverts(oracle.UnknownMarket, market=UNKNOWN):
        oracle.addSource(UNKNOWN, feed, sender=admin)
    with ape.reverts(oracle.UnknownMarket, market=UNKNOWN):
        oracle.removeSource(UNKNOWN, feed, sender=admin)
    assert not oracle.isListed(UNKNOWN)


# --- administration ---------------------------------------------------------------------------------------


def test_config_and_sources_views(make_market, oracle):
    feeds = make_market([8, 18], cfg=(600, 250, 2, 1_500, 900))
    assert oracle.isListed(OM)
    cfg = oracle.config(OM)
    assert (cfg.maxAge, cfg.maxDeviationBps, cfg.minSources, cfg.maxJumpBps, cfg.jumpWindow, cfg.listed) == (
        600,
        250,
        2,
        1_500,
        900,
        True,
    )
    assert oracle.sources(OM) == [f.address for f in feeds]


def test_remove_source(make_market, oracle, admin):
    feeds = make_market([8, 8, 8])
    set_prices(feeds, ["100", "102", "104"], admin)
    assert oracle.price(OM) == to_wad("102")
    oracle.removeSource(OM, feeds[0], sender=admin)
    assert oracle.sources(OM) == [feeds[2].address, feeds[1].address]  # the last source took the slot
    assert oracle.price(OM) == to_wad("103")
    with ape.reverts(oracle.SourceNotFound, market=OM, source=feeds[0].address):
        oracle.removeSource(OM, feeds[0], sender=admin)


def test_at_most_sixteen_sources(make_market, oracle, admin, project):
    make_market([8] * 16)
    extra = admin.deploy(project.MockPriceSource, 8, "17th", admin)
    with ape.reverts(oracle.TooManySources, market=OM, max=16):
        oracle.addSource(OM, extra, sender=admin)


def test_add_source_rules(make_market, oracle, admin, project):
    (feed,) = make_market([8])
    with ape.reverts(oracle.SourceAlreadyAdded, market=OM, source=feed.address):
        oracle.addSource(OM, feed, sender=admin)
    with ape.reverts(oracle.SourceIsZeroAddress, market=OM):
        oracle.addSource(OM, "0x" + "00" * 20, sender=admin)
    fine = admin.deploy(project.MockPriceSource, 36, "36 decimals", admin)
    oracle.addSource(OM, fine, sender=admin)
    too_fine = admin.deploy(project.MockPriceSource, 37, "37 decimals", admin)
    with ape.reverts(oracle.SourceDecimalsTooHigh, source=too_fine.address, decimals=37, max=36):
        oracle.addSource(OM, too_fine, sender=admin)


@pytest.mark.parametrize("min_sources", [0, 17])
def test_min_sources_out_of_range(oracle, admin, min_sources):
    with ape.reverts(oracle.MinSourcesOutOfRange, market=OM, minSources=min_sources, max=16):
        oracle.setMarketConfig(OM, HOUR, 500, min_sources, 0, 0, sender=admin)


def test_zero_max_age_rejected(oracle, admin):
    with ape.reverts(oracle.MaxAgeIsZero, market=OM):
        oracle.setMarketConfig(OM, 0, 500, 1, 0, 0, sender=admin)


def test_every_admin_function_rejects_non_admin(alice, make_market, oracle, admin, project):
    (feed,) = make_market([8])
    other = admin.deploy(project.MockPriceSource, 8, "other", admin)
    role = oracle.ORACLE_ADMIN_ROLE()
    with ape.reverts(oracle.AccessControlUnauthorizedAccount, account=alice, neededRole=role):
        oracle.setMarketConfig(OM, HOUR, 500, 1, 0, 0, sender=alice)
    with ape.reverts(oracle.AccessControlUnauthorizedAccount, account=alice, neededRole=role):
        oracle.addSource(OM, other, sender=alice)
    with ape.reverts(oracle.AccessControlUnauthorizedAccount, account=alice, neededRole=role):
        oracle.removeSource(OM, feed, sender=alice)
    admin_role = oracle.DEFAULT_ADMIN_ROLE()
    for fn in (oracle.grantRole, oracle.revokeRole):
        with ape.reverts(oracle.AccessControlUnauthorizedAccount, account=alice, neededRole=admin_role):
            fn(role, alice, sender=alice)


def test_granted_oracle_admin_can_configure(bob, oracle, admin):
    oracle.grantRole(oracle.ORACLE_ADMIN_ROLE(), bob, sender=admin)
    oracle.setMarketConfig(OM, HOUR, 500, 1, 0, 0, sender=bob)
    assert oracle.isListed(OM)


def test_poke_is_permissionless(carol, make_market, oracle, admin):
    (feed,) = make_market([8])
    feed.setAnswer(raw("3", 8), sender=admin)
    oracle.poke(OM, sender=carol)
    assert oracle.lastPrice(OM)[0] == to_wad("3")


# --- recent high (the fall detector's record) -------------------------------------------------------------


def test_recent_high_keeps_two_buckets_of_half_the_window(make_market, oracle, admin, chain):
    (feed,) = make_market([8])
    oracle.setHighWindow(OM, 600, sender=admin)  # buckets of 300 s
    start = (chain.pending_timestamp // 300 + 2) * 300  # the start of a bucket
    seen = model.RecentHigh(600)

    def poke_at(t: int, price: str) -> None:
        chain.mine(timestamp=t - 1)
        feed.setAnswer(raw(price, 8), sender=admin)
        tx = oracle.poke(OM, sender=admin)
        seen.record(tx.timestamp, to_wad(price))
        assert oracle.recentHigh(OM) == (seen.recent(tx.timestamp), 600)

    poke_at(start + 10, "100")
    poke_at(start + 200, "90")  # lower, same bucket: the high stays
    assert seen.recent(start + 201) == to_wad("100")
    poke_at(start + 310, "80")  # next bucket: the previous one's 100 still counts
    assert oracle.recentHigh(OM)[0] == to_wad("100")
    poke_at(start + 620, "70")  # two buckets on: 100 has aged out, 80 is the previous bucket's
    assert oracle.recentHigh(OM)[0] == to_wad("80")
    chain.mine(timestamp=start + 905)  # no poke in this bucket: only the previous one's 70
    assert oracle.recentHigh(OM)[0] == to_wad("70") == seen.recent(start + 905)
    chain.mine(timestamp=start + 1_205)  # a whole bucket without a poke: nothing recent
    assert oracle.recentHigh(OM)[0] == 0 == seen.recent(start + 1_205)
    poke_at(start + 1_210, "60")  # a poke after a silent bucket does not bring back the old high
    assert oracle.recentHigh(OM)[0] == to_wad("60")


def test_high_window_rules(alice, make_market, oracle, admin):
    (feed,) = make_market([8])
    feed.setAnswer(raw("5", 8), sender=admin)
    oracle.poke(OM, sender=admin)
    assert oracle.recentHigh(OM) == (0, 0)  # not recorded until a window is set
    with ape.reverts(oracle.HighWindowTooShort, market=OM, window=1):
        oracle.setHighWindow(OM, 1, sender=admin)
    with ape.reverts(oracle.UnknownMarket, market=UNKNOWN):
        oracle.setHighWindow(UNKNOWN, 600, sender=admin)
    with ape.reverts(oracle.AccessControlUnauthorizedAccount, account=alice, neededRole=oracle.ORACLE_ADMIN_ROLE()):
        oracle.setHighWindow(OM, 600, sender=alice)
    tx = oracle.setHighWindow(OM, 600, sender=admin)
    assert tx.events == [oracle.HighWindowSet(market=OM, window=600)]
    assert oracle.recentHigh(OM) == (0, 600)  # a new window starts empty
    oracle.poke(OM, sender=alice)  # whoever pokes records
    assert oracle.recentHigh(OM) == (to_wad("5"), 600)
    oracle.setHighWindow(OM, 0, sender=admin)
    oracle.poke(OM, sender=admin)
    assert oracle.recentHigh(OM) == (0, 0)
    with pytest.raises(ValueError, match="HighWindowTooShort"):
        model.RecentHigh(1)


@given(st.integers(2, 1_000), st.lists(st.tuples(st.integers(1, 1_500), st.integers(1, 10**6)), min_size=1, max_size=8))
@settings(max_examples=int(os.environ.get("BACKSTOP_PROPERTY_EXAMPLES", "30")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_recent_high_matches_python_model(prop_feeds, oracle, admin, chain, window, pokes):
    oracle.setHighWindow(PROP, window, sender=admin)
    for feed in prop_feeds[1:]:
        feed.setAnswer(0, sender=admin)  # one source decides the price
    seen = model.RecentHigh(window)
    for gap, cents in pokes:
        chain.mine(timestamp=chain.pending_timestamp + gap)
        prop_feeds[0].setAnswer(cents, sender=admin)  # 0 decimals: whole dollars
        tx = oracle.poke(PROP, sender=admin)
        seen.record(tx.timestamp, cents * WAD)
        assert oracle.recentHigh(PROP) == (seen.recent(tx.timestamp), window)
    chain.mine(timestamp=chain.pending_timestamp + window // 2)
    assert oracle.recentHigh(PROP)[0] == seen.recent(chain.blocks.head.timestamp)


# --- events -----------------------------------------------------------------------------------------------


def test_events(oracle, admin, project):
    feed = admin.deploy(project.MockPriceSource, 8, "OM / USD", admin)
    tx = oracle.setMarketConfig(OM, HOUR, 500, 1, 1_000, 900, sender=admin)
    assert tx.events == [
        oracle.MarketConfigured(
            market=OM, maxAge=HOUR, maxDeviationBps=500, minSources=1, maxJumpBps=1_000, jumpWindow=900
        )
    ]
    tx = oracle.addSource(OM, feed, sender=admin)
    assert tx.events == [oracle.SourceAdded(market=OM, source=feed.address, decimals=8)]

    tx = feed.setAnswer(raw("0.5", 8), sender=admin)
    assert tx.events == [feed.AnswerUpdated(answer=raw("0.5", 8), roundId=1, updatedAt=tx.timestamp)]
    tx = oracle.poke(OM, sender=admin)
    assert tx.events == [oracle.PriceAccepted(market=OM, price=to_wad("0.5"), usableSources=1)]

    tx = oracle.removeSource(OM, feed, sender=admin)
    assert tx.events == [oracle.SourceRemoved(market=OM, source=feed.address)]


# --- MockPriceSource --------------------------------------------------------------------------------------


def test_mock_source_keeps_round_history(project, admin, chain):
    feed = admin.deploy(project.MockPriceSource, 8, "OM / USD", admin)
    assert feed.decimals() == 8 and feed.description() == "OM / USD" and feed.version() == 1
    assert tuple(feed.latestRoundData()) == (0, 0, 0, 0, 0)
    feed.setAnswer(111, sender=admin)
    t1 = chain.blocks.head.timestamp
    feed.setAnswerAt(-222, 12_345, sender=admin)
    assert tuple(feed.getRoundData(1)) == (1, 111, t1, t1, 1)
    assert tuple(feed.getRoundData(2)) == (2, -222, 12_345, 12_345, 2)
    assert tuple(feed.latestRoundData()) == (2, -222, 12_345, 12_345, 2)
    for missing in (0, 3):
        assert_view_reverts(feed.getRoundData, missing, feed.NoDataPresent, roundId=missing)


def test_mock_source_only_updater_sets(alice, project, admin):
    feed = admin.deploy(project.MockPriceSource, 8, "OM / USD", admin)
    role = feed.UPDATER_ROLE()
    with ape.reverts(feed.AccessControlUnauthorizedAccount, account=alice, neededRole=role):
        feed.setAnswer(1, sender=alice)
    with ape.reverts(feed.AccessControlUnauthorizedAccount, account=alice, neededRole=role):
        feed.setAnswerAt(1, 1, sender=alice)
    feed.grantRole(role, alice, sender=admin)
    feed.setAnswer(7, sender=alice)
    assert feed.latestRoundData()[1] == 7


# --- the Python reference on its own ----------------------------------------------------------------------


def test_model_matches_hand_computed_cases():
    cfg = model.OracleConfig(max_age=HOUR, max_deviation_bps=500, min_sources=3)
    now = 10**9
    answers = [model.SourceAnswer(raw(p, 8), 8, now) for p in ("100", "101", "102", "5000")]
    assert model.oracle_price(answers, now, cfg) == to_wad("101")
    stale = model.SourceAnswer(raw("100", 8), 8, now - HOUR - 1)
    with pytest.raises(model.NotEnoughSources) as e:
        model.oracle_price([stale] * 3, now, cfg)
    assert (e.value.usable, e.value.required) == (0, 3)
    jumpy = model.OracleConfig(max_age=HOUR, max_deviation_bps=500, min_sources=1, max_jump_bps=1_000, jump_window=60)
    one = [model.SourceAnswer(raw("150", 8), 8, now)]
    with pytest.raises(model.PriceJumpTooLarge):
        model.oracle_price(one, now, jumpy, last=(to_wad("100"), now - 59))
    assert model.oracle_price(one, now, jumpy, last=(to_wad("100"), now - 60)) == to_wad("150")
    assert model.median([1, 2]) == 1 and model.median([1, 2, 9]) == 2


# --- property: contract == model --------------------------------------------------------------------------

PROP = market_id("PROP-USD")
PROP_DECIMALS = [0, 6, 8, 18, 24, 36]


@pytest.fixture(scope="module")
def prop_feeds(project, admin, oracle):
    feeds = [admin.deploy(project.MockPriceSource, d, f"prop {d}", admin) for d in PROP_DECIMALS]
    oracle.setMarketConfig(PROP, HOUR, 500, 1, 0, 0, sender=admin)
    for feed in feeds:
        oracle.addSource(PROP, feed, sender=admin)
    return feeds


@st.composite
def scenario(draw):
    max_age = draw(st.sampled_from([1, 60, HOUR]) | st.integers(1, 2 * HOUR))
    cfg = model.OracleConfig(
        max_age=max_age,
        max_deviation_bps=draw(st.sampled_from([0, 100, 500, 1_000, 2_000]) | st.integers(0, 65_535)),
        min_sources=draw(st.integers(1, 3) | st.integers(1, len(PROP_DECIMALS))),
    )
    base = draw(st.integers(10**12, 10**24) | st.integers(10**18, 10**21))  # [wad] 1e-6 .. 1e6 USD
    sources = []
    for _ in PROP_DECIMALS:
        kind = draw(st.sampled_from(["near"] * 5 + ["far", "far", "zero", "negative"]))
        if kind == "near":
            wad = base * (10_000 + draw(st.integers(-50, 50) | st.integers(-800, 800))) // 10_000
        elif kind == "far":
            wad = base * draw(st.integers(1, 100)) // 10
        else:
            wad = 0
        fresh = st.integers(0, max_age)
        age = draw(fresh | fresh | st.sampled_from([-1, 0, max_age, max_age + 1]) | st.integers(0, 2 * max_age))
        sources.append((kind, wad, age))
    return cfg, sources


@given(scenario())
@settings(max_examples=int(os.environ.get("BACKSTOP_PROPERTY_EXAMPLES", "30")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_price_matches_python_model(prop_feeds, oracle, admin, chain, scenario):
    cfg, sources = scenario
    oracle.setMarketConfig(PROP, cfg.max_age, cfg.max_deviation_bps, cfg.min_sources, 0, 0, sender=admin)
    now = chain.pending_timestamp + 100  # later than every transaction below
    answers = []
    for feed, dec, (kind, wad, age) in zip(prop_feeds, PROP_DECIMALS, sources):
        answer = -(10**dec) if kind == "negative" else wad * 10**dec // WAD
        feed.setAnswerAt(answer, now - age, sender=admin)
        answers.append(model.SourceAnswer(answer, dec, now - age))
    chain.mine(timestamp=now)  # calls run against the head block's timestamp
    try:
        expected = model.oracle_price(answers, now, cfg)
    except model.NotEnoughSources as e:
        event("NotEnoughSources")
        assert_view_reverts(oracle.price, PROP, oracle.NotEnoughSources, market=PROP, usable=e.usable, required=e.required)
    else:
        event("price")
        assert oracle.price(PROP) == expected


# --- one reading per market and transaction (EIP-1153) -----------------------------------------------------


@pytest.fixture(scope="module")
def probe(project, admin):
    return admin.deploy(project.OracleProbe)


def _reads(receipt) -> tuple[int, int, int]:
    (log,) = [x for x in receipt.decode_logs() if x.event_name == "Read"]
    return log.first, log.second, log.third


def _accepted(receipt) -> list[int]:
    return [x.price for x in receipt.decode_logs() if x.event_name == "PriceAccepted"]


def test_a_transaction_reads_the_sources_once(make_market, oracle, probe, admin):
    feeds = make_market([8, 8, 8])
    set_prices(feeds, ["100", "101", "102"], admin)
    receipt = probe.pokeReadPoke(oracle, OM, sender=admin)
    assert _reads(receipt) == (to_wad("101"),) * 3
    assert _accepted(receipt) == [to_wad("101")]  # the second poke records nothing and emits nothing
    set_prices(feeds, ["90", "91", "92"], admin)
    receipt = probe.pokeReadPoke(oracle, OM, sender=admin)  # a new transaction reads the sources afresh
    assert _reads(receipt) == (to_wad("91"),) * 3 and _accepted(receipt) == [to_wad("91")]
    assert oracle.lastPrice(OM)[0] == to_wad("91")


def test_a_source_moved_within_the_transaction_is_seen_by_the_next_one(make_market, oracle, probe, admin):
    """The documented limit of the cache: an answer cannot change within a real feed's reader's transaction, so
    the oracle does not look again; a mock updated mid-transaction is read by the next transaction."""
    (feed,) = make_market([8])
    set_prices([feed], ["100"], admin)
    feed.grantRole(feed.UPDATER_ROLE(), probe, sender=admin)
    receipt = probe.pokeMovePoke(oracle, OM, feed, raw("50", 8), sender=admin)
    assert _reads(receipt) == (to_wad("100"),) * 3
    assert oracle.poke(OM, sender=admin).return_value == to_wad("50")


def test_a_new_configuration_within_the_transaction_is_read_afresh(make_market, oracle, probe, admin):
    feeds = make_market([8, 8, 8])
    set_prices(feeds, ["100", "101", "130"], admin)  # 130 is 2,871 bps above the first median
    oracle.grantRole(oracle.ORACLE_ADMIN_ROLE(), probe, sender=admin)
    oracle.setMarketConfig(OM, HOUR, 5_000, 1, 0, 0, sender=admin)
    receipt = probe.pokeConfigurePoke(oracle, OM, 500, sender=admin)  # the band narrows: 130 drops out
    first, second, _ = _reads(receipt)
    assert (first, second) == (to_wad("101"), to_wad("100.5"))
    assert _accepted(receipt) == [to_wad("101"), to_wad("100.5")]
