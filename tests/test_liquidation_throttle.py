"""The auction throttle: caps on notional in auction (per market and overall), the queue they feed, the
buffer period after a fast fall, and `release`."""

import ape
import pytest

from backstop.chain.deploy import MarketSpec, deploy_system
from backstop.units import to_usdc, to_wad
from tests.ledger_helpers import MARKET, MID, fund_account, set_price, trade, units

SIZE = units(8_000)


def _param(name: str) -> bytes:
    return name.encode().ljust(32, b"\0")


@pytest.fixture(scope="module")
def system(accounts):
    system = deploy_system(accounts[0], [MarketSpec(MARKET, "6", fund_seed=50_000)], global_seed=50_000)
    for a in accounts[1:7]:
        fund_account(system, a, to_usdc(200_000))
    return system


def _open_two(system, accounts):
    """Two traders long 8,000 OM at $6 with $2,500 margin each (bob takes the short side)."""
    a, b, bob = accounts[1], accounts[2], accounts[3]
    for t in (a, b):
        trade(system, t, bob, SIZE, to_wad(6), to_usdc(2_500), to_usdc(60_000))
    return a, b


def test_market_cap_queues_the_overflow_and_release_starts_it_when_room_frees(system, accounts, chain):
    auction, admin, keeper = system.auction, accounts[0], accounts[4]
    a, b = _open_two(system, accounts)
    auction.file(MID, _param("hole"), to_usdc(50_000), sender=admin)  # room for one $45k auction
    set_price(system, MARKET, "5.72")
    first = auction.liquidate(MID, a, sender=keeper).return_value
    tx = auction.liquidate(MID, b, sender=keeper)
    queued = [e for e in tx.events if e.event_name == "LiquidationQueued"]
    assert len(queued) == 1 and not queued[0].buffer
    second = queued[0].id
    assert list(auction.queued(MID)) == [second]
    assert auction.dirt(MID) == 8_000 * 5_720_000
    assert system.clearinghouse.inLiquidation(MID, b)  # frozen while it waits
    with ape.reverts(auction.NotActive):
        auction.take(second, SIZE, 2**200, to_usdc(10_000), keeper, b"", sender=keeper)
    assert auction.release(MID, 10, sender=keeper).return_value == 0  # no room yet

    chain.mine(timestamp=chain.pending_timestamp + 60)
    price = auction.getStatus(first).price
    auction.take(first, SIZE, price, to_usdc(10_000), keeper, b"", sender=keeper)
    assert auction.dirt(MID) == 0
    tx = auction.release(MID, 10, sender=keeper)
    assert tx.return_value == 1
    assert [e.id for e in tx.events if e.event_name == "AuctionStarted"] == [second]
    assert list(auction.queued(MID)) == [] and list(auction.active()) == [second]


def test_global_cap_applies_across_markets(system, accounts):
    auction, admin, keeper = system.auction, accounts[0], accounts[4]
    a, b = _open_two(system, accounts)
    auction.setGlobalHole(to_usdc(50_000), sender=admin)
    set_price(system, MARKET, "5.72")
    auction.liquidate(MID, a, sender=keeper)
    tx = auction.liquidate(MID, b, sender=keeper)
    assert [e.event_name for e in tx.events].count("LiquidationQueued") == 1
    assert auction.globalDirt() == 8_000 * 5_720_000


def test_a_fast_fall_starts_a_buffer_period_sized_by_its_speed(system, accounts, chain):
    auction, admin, keeper = system.auction, accounts[0], accounts[4]
    a, b = _open_two(system, accounts)
    for what, value in (("dropBps", 500), ("bufferBase", 300), ("bufferMax", 3_600)):
        auction.file(MID, _param(what), value, sender=admin)
    system.oracle.setHighWindow(MID, 900, sender=admin)  # the fall is measured from the oracle's 15-minute high
    auction.release(MID, 0, sender=keeper)  # pokes: the oracle records $6 as its recent high
    set_price(system, MARKET, "5.4")  # -10% within the window: twice the threshold
    tx = auction.liquidate(MID, a, sender=keeper)
    started = [e for e in tx.events if e.event_name == "BufferStarted"][0]
    assert started.dropBps == 1_000
    assert started.until == chain.blocks.head.timestamp + 600  # 300 s × (1,000 / 500)
    assert [bool(e.buffer) for e in tx.events if e.event_name == "LiquidationQueued"] == [True]
    assert auction.inBuffer(MID)
    auction.liquidate(MID, b, sender=keeper)
    assert len(auction.queued(MID)) == 2
    assert auction.release(MID, 10, sender=keeper).return_value == 0  # still buffering

    chain.mine(timestamp=started.until + 1)
    assert not auction.inBuffer(MID)
    assert auction.release(MID, 1, sender=keeper).return_value == 1  # oldest first, one at a time
    assert auction.release(MID, 10, sender=keeper).return_value == 1
    assert len(auction.active()) == 2 and len(auction.queued(MID)) == 0


def test_the_cap_shrinks_with_the_speed_of_the_fall(system, accounts):
    auction, admin, keeper = system.auction, accounts[0], accounts[4]
    for what, value in (("hole", to_usdc(100_000)), ("dropBps", 500), ("bufferBase", 0), ("bufferMax", 0)):
        auction.file(MID, _param(what), value, sender=admin)
    system.oracle.setHighWindow(MID, 900, sender=admin)
    auction.release(MID, 0, sender=keeper)
    assert auction.effectiveHole(MID) == to_usdc(100_000)
    set_price(system, MARKET, "5.4")  # -10%: twice the threshold
    auction.release(MID, 0, sender=keeper)
    assert auction.effectiveHole(MID) == to_usdc(50_000)


def test_throttle_parameters_need_the_admin(system, accounts):
    auction, keeper = system.auction, accounts[4]
    for what in ("hole", "dropBps", "bufferBase", "bufferMax"):
        with ape.reverts(auction.AccessControlUnauthorizedAccount):
            auction.file(MID, _param(what), 1, sender=keeper)
    with ape.reverts(auction.AccessControlUnauthorizedAccount):
        auction.setGlobalHole(1, sender=keeper)
    with ape.reverts(auction.InvalidParameter):
        auction.file(MID, _param("dropBps"), 10_001, sender=accounts[0])


def _watch(system, admin, drop_bps=500, base=300, most=3_600, window=900):
    for what, value in (("dropBps", drop_bps), ("bufferBase", base), ("bufferMax", most)):
        system.auction.file(MID, _param(what), value, sender=admin)
    system.oracle.setHighWindow(MID, window, sender=admin)


def test_a_fall_during_a_keeper_outage_is_seen_by_the_first_liquidation_after_it(system, accounts, chain):
    """Nobody liquidates or releases while the price falls 70% (the keepers are down); pokes by anyone (a trade,
    a poker bot) record it, and the first liquidation after the outage starts the buffer."""
    auction, admin, keeper, bot = system.auction, accounts[0], accounts[4], accounts[6]
    a, _ = _open_two(system, accounts)
    _watch(system, admin)
    system.oracle.poke(MID, sender=bot)  # $6, recorded by whoever pokes
    for price in ("4", "3", "1.8"):
        chain.mine(timestamp=chain.pending_timestamp + 60)
        set_price(system, MARKET, price)
        system.oracle.poke(MID, sender=bot)
    tx = auction.liquidate(MID, a, sender=keeper)
    started = [e for e in tx.events if e.event_name == "BufferStarted"]
    assert [e.dropBps for e in started] == [7_000]  # from the recorded $6, not from the first reading $1.8
    assert started[0].until == tx.timestamp + 3_600  # 300 s × 14, at most bufferMax
    assert [bool(e.buffer) for e in tx.events if e.event_name == "LiquidationQueued"] == [True]


def test_a_fall_from_a_high_older_than_the_window_is_not_a_fast_fall(system, accounts, chain):
    auction, admin, keeper = system.auction, accounts[0], accounts[4]
    a, _ = _open_two(system, accounts)
    _watch(system, admin)
    system.oracle.poke(MID, sender=admin)  # $6
    chain.mine(timestamp=chain.pending_timestamp + 900)  # two buckets of 450 s later at the latest: aged out
    set_price(system, MARKET, "5.4")
    tx = auction.liquidate(MID, a, sender=keeper)
    assert "BufferStarted" not in [e.event_name for e in tx.events]
    assert auction.throttles(MID).refPrice == to_wad("5.4") and not auction.inBuffer(MID)


@pytest.mark.parametrize(
    "path",
    [
        [(60, "6", "poke"), (60, "5.4", "release"), (30, "5.4", "release"), (30, "5", "release"), (900, "4.9", "release")],
        [(10, "6", "release"), (400, "6.3", "poke"), (100, "5.9", "release"), (500, "5.5", "release"), (10, "5.2", "poke"), (5, "5.1", "release")],
        [(5, "6", "poke"), (5, "1", "poke"), (5, "6", "poke"), (2_000, "5", "release"), (10, "4", "release"), (3_000, "2", "release")],
    ],
    ids=["deeper-falls", "rising-then-falling", "aged-out"],
)
def test_the_fall_detector_matches_the_python_model(system, accounts, chain, path):
    """A path of pokes (anyone) and releases (which poke and watch): the throttle's state and every buffer
    started equal backstop.model.auction.FallWatch over backstop.model.oracle.RecentHigh."""
    from backstop.model.auction import FallWatch  # noqa: PLC0415
    from backstop.model.oracle import RecentHigh  # noqa: PLC0415

    auction, admin, keeper = system.auction, accounts[0], accounts[4]
    _watch(system, admin, window=600)
    high, watch = RecentHigh(600), FallWatch(500, 300, 3_600)
    for gap, price, action in path:
        chain.mine(timestamp=chain.pending_timestamp + gap)
        set_price(system, MARKET, price)
        tx = (auction.release(MID, 0, sender=keeper) if action == "release" else system.oracle.poke(MID, sender=keeper))
        high.record(tx.timestamp, to_wad(price))
        if action == "release":
            buffering, drop = watch.watch(tx.timestamp, high.recent(tx.timestamp), to_wad(price))
            assert [e.dropBps for e in tx.events if e.event_name == "BufferStarted"] == ([drop] if drop else [])
            assert auction.inBuffer(MID) == buffering
            t = auction.throttles(MID)
            assert (t.refPrice, t.bufferUntil, t.lastDropBps) == (watch.ref_price, watch.buffer_until, watch.last_drop_bps)
