"""LiquidationAuction: trigger, Dutch auction takes (full, partial, callback), restarts and incentives,
settlement (penalty, surplus, shortfall, bad debt), liquidity risk, and USDC conservation."""

import ape
import pytest
from eth_abi import encode

from backstop.chain.deploy import MarketSpec, deploy_system
from backstop.model import ledger as model
from backstop.model.auction import AuctionParams, auction_price, incentive, is_stale, top_price
from backstop.model.curves import linear_down
from backstop.units import bps_up, market_id, notional_down, notional_up, to_usdc, to_wad
from tests.ledger_helpers import MARKET, MID, fund_account, open_underwater, position, set_price, trade, units
from tests.revert_helpers import assert_view_reverts

GLOBAL = b"\0" * 32
SIZE = units(8_000)
TAU = 1_800  # default linear curve: top to zero in 30 minutes


@pytest.fixture(scope="module")
def system(accounts):
    return deploy_system(accounts[0], [MarketSpec(MARKET, "6", fund_seed=10_000)], global_seed=5_000)


@pytest.fixture(scope="module")
def actors(system, accounts):
    trader, counterparty, keeper, kicker = accounts[1], accounts[2], accounts[3], accounts[4]
    for a in (trader, counterparty, keeper):
        fund_account(system, a, to_usdc(100_000))
    return trader, counterparty, keeper, kicker


@pytest.fixture
def underwater(system, actors):
    """trader long 8,000 OM at $6 with $2,500 margin; the price falls to $5.72 (below maintenance)."""
    trader, counterparty, _, _ = actors
    open_underwater(system, trader, counterparty)
    return trader


def _advance(chain, seconds):
    chain.mine(timestamp=chain.pending_timestamp + seconds)


def _fill_price(tx):
    return [e for e in tx.events if e.event_name == "AuctionTaken"][0].price


def _conserved(system, wallets):
    return system.usdc.balanceOf(system.clearinghouse) + system.usdc.balanceOf(system.fund) + sum(system.usdc.balanceOf(w) for w in wallets)


# ---------------------------------------------------------------- trigger


def test_healthy_position_cannot_be_liquidated(system, actors):
    trader, counterparty, _, kicker = actors
    trade(system, trader, counterparty, SIZE, to_wad(6), to_usdc(2_500), to_usdc(30_000))
    with ape.reverts(system.clearinghouse.NotLiquidatable):
        system.auction.liquidate(MID, trader, sender=kicker)


def test_unknown_market_and_missing_position_revert(system, actors):
    trader, _, _, kicker = actors
    with ape.reverts(system.auction.UnknownMarket):
        system.auction.liquidate(market_id("NOPE-USD"), trader, sender=kicker)
    with ape.reverts(system.clearinghouse.NoPosition):
        system.auction.liquidate(MID, kicker, sender=kicker)


def test_liquidate_freezes_the_position_and_pays_the_kicker(system, actors, underwater):
    trader, counterparty, _, kicker = actors
    house, auction, fund = system.clearinghouse, system.auction, system.fund
    pool = fund.poolBalance(MID)
    tx = auction.liquidate(MID, trader, sender=kicker)
    started = [e for e in tx.events if e.event_name == "AuctionStarted"][0]
    assert (started.trader, started.long, started.qty, started.anchor) == (trader, True, SIZE, to_wad("5.72"))
    assert started.top == top_price(to_wad("5.72"), 200)
    paid = incentive(notional_down(SIZE, to_wad("5.72")), to_usdc(5), 5, to_usdc(500))
    assert system.usdc.balanceOf(kicker) == paid
    assert fund.poolBalance(MID) == pool - paid
    assert house.inLiquidation(MID, trader)
    assert not house.isLiquidatable(MID, trader)  # frozen: nothing left for another keeper to start
    assert list(auction.active()) == [started.id]
    # frozen: the trader can neither trade nor move margin, and no one can liquidate it twice
    with ape.reverts(house.PositionInLiquidation):
        trade(system, trader, counterparty, -units(1), to_wad("5.72"), 0, 0)
    with ape.reverts(house.PositionInLiquidation):
        house.addMargin(MID, to_usdc(1_000), sender=trader)
    with ape.reverts(house.PositionInLiquidation):
        auction.liquidate(MID, trader, sender=kicker)


def test_liquidate_many_liquidates_in_order_and_skips_whom_it_cannot(accounts):
    """One transaction, one oracle reading: each underwater trader is liquidated as `liquidate` would (its sale,
    the kicker's incentive); a healthy one, a repeated one and one without a position are skipped with their
    revert, and nothing of them moves. USDC is conserved."""
    from eth_abi import decode  # noqa: PLC0415
    from eth_utils import keccak  # noqa: PLC0415

    from tests.ledger_helpers import funded_system  # noqa: PLC0415

    system = funded_system(accounts, 5, fund_seed=10_000, global_seed=5_000)
    a, b, c, healthy, whale = accounts[1:6]
    kicker, stranger = accounts[6], accounts[7]
    for t in (a, b, c):
        trade(system, t, whale, SIZE, to_wad(6), to_usdc(2_500), to_usdc(30_000))
    trade(system, healthy, whale, SIZE, to_wad(6), to_usdc(20_000), to_usdc(30_000))
    set_price(system, MARKET, "5.72")
    auction, house = system.auction, system.clearinghouse
    wallets = [a, b, c, healthy, whale, kicker, stranger]
    before = _conserved(system, wallets)
    tx = auction.liquidateMany(MID, [a, healthy, b, b, c, stranger], sender=kicker)
    ids = tx.return_value
    assert ids[1] == ids[3] == ids[5] == 0 and len({ids[0], ids[2], ids[4]}) == 3 and 0 not in (ids[0], ids[2], ids[4])
    for trader, id_ in ((a, ids[0]), (b, ids[2]), (c, ids[4])):
        sale = auction.sale(id_)
        assert (sale.trader, sale.qty, sale.anchor) == (trader, SIZE, to_wad("5.72")) and house.inLiquidation(MID, trader)
    logs = tx.decode_logs()
    selector = lambda sig: keccak(text=sig)[:4]  # noqa: E731
    skipped = [(log.trader, bytes(log.reason)[:4]) for log in logs if log.event_name == "LiquidationSkipped"]
    assert skipped == [
        (healthy, selector("NotLiquidatable(address,bytes32,int256,uint256)")),
        (b, selector("PositionInLiquidation(address,bytes32)")),
        (stranger, selector("NoPosition(address,bytes32)")),
    ]
    reason = next(bytes(log.reason) for log in logs if log.event_name == "LiquidationSkipped")
    account, market = decode(["address", "bytes32"], reason[4:68])
    assert (account.lower(), market) == (healthy.address.lower(), MID)  # the revert's arguments, whole
    assert not house.inLiquidation(MID, healthy) and position(system, healthy)[0] == SIZE
    assert [log.price for log in logs if log.event_name == "PriceAccepted"] == [to_wad("5.72")]  # one reading
    paid = incentive(notional_down(SIZE, to_wad("5.72")), to_usdc(5), 5, to_usdc(500))
    # one payment for the batch: the sum of the three incentives, one cover from the fund, after the last sale
    assert not [log for log in logs if log.event_name == "IncentivePaid"]
    batch = [(log.firstId, log.lastId, log.keeper, log.amount, log.unpaid) for log in logs if log.event_name == "BatchIncentivePaid"]
    assert batch == [(ids[0], ids[4], kicker.address, 3 * paid, 0)] and ids[4] - ids[0] == 2
    covers = [log for log in logs if log.event_name == "LossCovered"]
    assert [c.requested for c in covers] == [3 * paid]
    assert logs[-1].event_name == "BatchIncentivePaid" and logs[-2].event_name == "LossCovered"
    assert system.usdc.balanceOf(kicker) == 3 * paid
    assert _conserved(system, wallets) == before
    with ape.reverts(auction.UnknownMarket):
        auction.liquidateMany(market_id("NOPE-USD"), [a], sender=kicker)


# ---------------------------------------------------------------- takes


def test_full_take_at_the_start_price_returns_the_surplus_to_the_trader(system, actors, underwater, chain):
    trader, _, keeper, kicker = actors
    house, auction, fund = system.clearinghouse, system.auction, system.fund
    id_ = auction.liquidate(MID, trader, sender=kicker).return_value
    price, stale, qty = auction.getStatus(id_)
    assert not stale and qty == SIZE
    free, pool = house.freeBalance(trader), fund.poolBalance(MID)
    wallets = [trader, keeper, kicker]
    before = _conserved(system, wallets)

    tx = auction.take(id_, SIZE, price, to_usdc(6_000), keeper, b"", sender=keeper)
    price = _fill_price(tx)  # the price at the take's block, a second or so after the view above
    # one reading of the oracle: the take pokes, the keeper's margin check reuses it (PriceOracle, EIP-1153)
    assert [log.price for log in tx.decode_logs() if log.event_name == "PriceAccepted"] == [system.oracle.lastPrice(MID)[0]]

    mirror = model.Ledger(cover=lambda m, a: a)
    mirror.positions[(MID, "t")] = model.Position(SIZE, to_wad(6), to_usdc(2_500))
    equity_part, penalty = mirror.liquidation_fill(MID, "t", "k", SIZE, price, 100)
    assert penalty == bps_up(notional_up(SIZE, price), 100)
    assert house.freeBalance(trader) == free + equity_part - penalty
    assert fund.poolBalance(MID) == pool + penalty
    assert position(system, trader) == (0, 0, 0)
    assert position(system, keeper) == (SIZE, price, to_usdc(6_000))
    assert not house.inLiquidation(MID, trader)
    assert auction.activeCount() == 0
    assert _conserved(system, wallets) == before


def test_partial_takes_then_the_rest(system, actors, underwater):
    trader, _, keeper, kicker = actors
    auction = system.auction
    id_ = auction.liquidate(MID, trader, sender=kicker).return_value
    price = auction.getStatus(id_).price
    auction.take(id_, units(3_000), price, to_usdc(3_000), keeper, b"", sender=keeper)
    assert position(system, trader)[0] == units(5_000)
    assert auction.getStatus(id_).qty == units(5_000)
    with ape.reverts(auction.WouldLeaveDust):  # leaving 1 unit (< $10) behind
        auction.take(id_, units(4_999), price, to_usdc(5_000), keeper, b"", sender=keeper)
    auction.take(id_, units(10_000), price, to_usdc(5_000), keeper, b"", sender=keeper)  # more than left: takes the rest
    assert position(system, trader) == (0, 0, 0)
    assert position(system, keeper)[0] == SIZE


def test_price_falls_along_the_curve_and_a_late_take_is_a_shortfall(system, actors, underwater, chain):
    trader, _, keeper, kicker = actors
    house, auction, fund = system.clearinghouse, system.auction, system.fund
    tx = auction.liquidate(MID, trader, sender=kicker)
    id_ = tx.return_value
    start = chain.blocks[tx.block_number].timestamp
    _advance(chain, 300)
    top = top_price(to_wad("5.72"), 200)
    price = auction.getStatus(id_).price
    elapsed = chain.blocks.head.timestamp - start
    assert price == auction_price(True, to_wad("5.72"), top, elapsed, lambda t, e: linear_down(t, e, TAU))
    assert price < top
    bankruptcy = house.bankruptcyPrice(MID, trader)
    assert price < bankruptcy  # 5 minutes in, the price is below where the trader's equity is zero
    sub, glob = fund.poolBalance(MID), fund.poolBalance(GLOBAL)
    free = house.freeBalance(trader)
    tx = auction.take(id_, SIZE, price, to_usdc(10_000), keeper, b"", sender=keeper)
    fill_price = _fill_price(tx)
    loss = to_usdc(2_500) + model.pnl(True, SIZE, to_wad(6), fill_price)
    assert loss < 0
    assert fund.poolBalance(MID) + fund.poolBalance(GLOBAL) == sub + glob + loss  # the fund paid the shortfall
    assert house.freeBalance(trader) == free  # nothing back, and nothing more taken from the trader
    assert house.badDebt(MID) == 0


def test_take_refusals(system, actors, underwater):
    trader, _, keeper, kicker = actors
    auction = system.auction
    id_ = auction.liquidate(MID, trader, sender=kicker).return_value
    price = auction.getStatus(id_).price
    with ape.reverts(auction.ZeroTake):
        auction.take(id_, 0, price, 0, keeper, b"", sender=keeper)
    with ape.reverts(auction.NotTaker):  # a take for someone else needs the callback (their consent)
        auction.take(id_, SIZE, price, 0, keeper, b"", sender=kicker)
    with ape.reverts(auction.PriceBeyondLimit):  # the keeper will pay at most 90% of the current price
        auction.take(id_, SIZE, price * 9 // 10, to_usdc(6_000), keeper, b"", sender=keeper)
    with ape.reverts(system.clearinghouse.MarginBelowInitial):  # the keeper brings too little margin
        auction.take(id_, SIZE, price, to_usdc(100), keeper, b"", sender=keeper)
    with ape.reverts(auction.NotActive):
        auction.take(999, SIZE, price, 0, keeper, b"", sender=keeper)


def test_a_keeper_in_liquidation_cannot_take(system, actors):
    """A keeper whose own position in the market is frozen for liquidation may not take: the take would change the
    frozen position, and its own auction, selling the frozen size, could then never finish (found by the stateful
    machine: a keeper's frozen long turned short by a take, its auction reverted InvalidFillSize for ever)."""
    trader, counterparty, keeper, kicker = actors
    auction = system.auction
    trade(system, keeper, counterparty, units(1_000), to_wad(6), to_usdc(400), to_usdc(5_000))
    open_underwater(system, trader, counterparty)  # $5.72: the keeper's equity $120 < maintenance $143 too
    own = auction.liquidate(MID, keeper, sender=kicker).return_value
    id_ = auction.liquidate(MID, trader, sender=kicker).return_value
    price = auction.getStatus(id_).price
    with ape.reverts(system.clearinghouse.PositionInLiquidation):
        auction.take(id_, SIZE, price, to_usdc(30_000), keeper, b"", sender=keeper)
    assert position(system, keeper)[0] == units(1_000) and auction.sale(own).qty == units(1_000)
    auction.take(own, units(1_000), auction.getStatus(own).price, to_usdc(3_000), counterparty, b"", sender=counterparty)
    assert not system.clearinghouse.inLiquidation(MID, keeper)  # its own liquidation finishes


# ---------------------------------------------------------------- callback takes


@pytest.fixture
def callback_taker(system, accounts, actors):
    keeper = actors[2]
    taker = accounts[0].deploy(ape.project.CallbackTaker, system.usdc, system.clearinghouse, system.auction, keeper)
    system.usdc.mint(taker, to_usdc(20_000), sender=accounts[0])
    return taker


def test_take_with_a_callback_pays_inside_the_transaction(system, actors, underwater, callback_taker):
    trader, _, keeper, kicker = actors
    auction = system.auction
    id_ = auction.liquidate(MID, trader, sender=kicker).return_value
    price = auction.getStatus(id_).price
    assert system.clearinghouse.freeBalance(callback_taker) == 0  # no idle capital before the take
    data = encode(["uint8", "uint256", "uint256"], [1, to_usdc(6_000), id_])
    tx = auction.take(id_, SIZE, price, to_usdc(6_000), callback_taker, data, sender=keeper)
    assert position(system, callback_taker) == (SIZE, _fill_price(tx), to_usdc(6_000))


def test_callback_that_reenters_or_refuses_reverts(system, actors, underwater, callback_taker):
    trader, _, keeper, kicker = actors
    auction = system.auction
    id_ = auction.liquidate(MID, trader, sender=kicker).return_value
    price = auction.getStatus(id_).price
    with ape.reverts(auction.ReentrancyGuardReentrantCall):
        auction.take(id_, SIZE, price, 0, callback_taker, encode(["uint8", "uint256", "uint256"], [2, 0, id_]), sender=keeper)
    with ape.reverts(auction.TakerRefused):
        auction.take(id_, SIZE, price, 0, callback_taker, encode(["uint8", "uint256", "uint256"], [3, 0, id_]), sender=keeper)
    assert auction.getStatus(id_).qty == SIZE  # nothing moved


def test_callback_take_naming_a_stranger_or_an_account_without_code_reverts(system, actors, underwater, callback_taker):
    trader, _, keeper, kicker = actors
    auction = system.auction
    id_ = auction.liquidate(MID, trader, sender=kicker).return_value
    price = auction.getStatus(id_).price
    data = encode(["uint8", "uint256", "uint256"], [1, to_usdc(6_000), id_])
    usdc_before = system.usdc.balanceOf(callback_taker)
    # anyone may name any taker contract: the taker itself refuses a caller it does not trust
    with ape.reverts(callback_taker.UntrustedCaller):
        auction.take(id_, SIZE, price, to_usdc(6_000), callback_taker, data, sender=kicker)
    # a callback to an account without code cannot consent: named, before anything moves
    with ape.reverts(auction.TakerHasNoCode):
        auction.take(id_, SIZE, price, to_usdc(6_000), kicker, data, sender=keeper)
    assert auction.getStatus(id_).qty == SIZE
    assert system.usdc.balanceOf(callback_taker) == usdc_before


# ---------------------------------------------------------------- restarts and liquidity risk


def test_restarting_a_fresh_auction_to_farm_the_tip_is_refused(system, actors, underwater):
    trader, _, _, kicker = actors
    id_ = system.auction.liquidate(MID, trader, sender=kicker).return_value
    with ape.reverts(system.auction.AuctionNotStale):
        system.auction.redo(id_, sender=kicker)


def test_stale_auction_restarts_flags_liquidity_risk_and_pays(system, actors, underwater, chain):
    trader, _, keeper, kicker = actors
    auction = system.auction
    id_ = auction.liquidate(MID, trader, sender=kicker).return_value
    assert not auction.inLiquidityRisk(MID)
    _advance(chain, 1_801)  # past the 30-minute tail
    price, stale, _ = auction.getStatus(id_)
    assert stale and is_stale(price, to_wad("5.72"), 1_801, AuctionParams(200, 2_000, 1_800))
    with ape.reverts(auction.AuctionStale):
        auction.take(id_, SIZE, 2**255, to_usdc(6_000), keeper, b"", sender=keeper)
    wallet = system.usdc.balanceOf(keeper)
    set_price(system, MARKET, "5.5")
    tx = auction.redo(id_, sender=keeper)
    assert auction.inLiquidityRisk(MID)
    restarted = [e for e in tx.events if e.event_name == "AuctionRestarted"][0]
    assert restarted.anchor == to_wad("5.5")
    assert system.usdc.balanceOf(keeper) == wallet + incentive(notional_down(SIZE, to_wad("5.5")), to_usdc(5), 5, to_usdc(500))
    assert not auction.getStatus(id_).stale
    _advance(chain, 3_700)
    assert not auction.inLiquidityRisk(MID)  # the one-hour window has passed


def test_price_far_from_the_oracle_makes_an_auction_stale(system, actors, underwater):
    trader, _, _, kicker = actors
    id_ = system.auction.liquidate(MID, trader, sender=kicker).return_value
    set_price(system, MARKET, "4.5")  # 20%+ below the auction's price
    assert system.auction.getStatus(id_).stale
    system.auction.redo(id_, sender=kicker)


# ---------------------------------------------------------------- shorts and bad debt


def test_short_auction_starts_low_and_rises(system, actors, chain):
    trader, counterparty, keeper, kicker = actors
    trade(system, counterparty, trader, SIZE, to_wad(6), to_usdc(30_000), to_usdc(2_500))  # trader short
    set_price(system, MARKET, "6.28")
    auction = system.auction
    id_ = auction.liquidate(MID, trader, sender=kicker).return_value
    first = auction.getStatus(id_).price
    assert first < to_wad("6.28")
    _advance(chain, 120)
    later = auction.getStatus(id_).price
    assert later > first
    auction.take(id_, SIZE, later, to_usdc(8_000), keeper, b"", sender=keeper)
    assert position(system, keeper)[0] == -SIZE


def test_a_take_the_fund_cannot_cover_is_refused_and_waits_for_the_fund_or_adl(system, actors, underwater, accounts, chain):
    """A take below the bankruptcy price whose shortfall the sub-pool and the global pool cannot pay would create
    bad debt that ADL can avoid: it is refused, nothing moves, and the same take goes through once the fund can
    pay it."""
    trader, _, keeper, kicker = actors
    house, auction, fund, usdc = system.clearinghouse, system.auction, system.fund, system.usdc
    fund.grantRole(fund.COVER_ROLE(), accounts[0], sender=accounts[0])
    fund.coverLoss(MID, to_usdc(100_000), accounts[0], sender=accounts[0])  # drain the fund
    id_ = auction.liquidate(MID, trader, sender=kicker).return_value
    _advance(chain, 300)  # the auction is below the bankruptcy price (5.6875): the take would realise a loss
    price = auction.getStatus(id_).price
    assert price < house.bankruptcyPrice(MID, trader)
    before = (house.freeBalance(keeper), position(system, trader), usdc.balanceOf(fund))
    with ape.reverts(auction.ShortfallBeyondFund, id=id_, available=0):
        auction.take(id_, SIZE, price, to_usdc(30_000), keeper, b"", sender=keeper)
    assert (house.freeBalance(keeper), position(system, trader), usdc.balanceOf(fund)) == before
    assert house.badDebt(MID) == 0
    # a donation that covers the loss lets the same take through; the fund pays the shortfall, no bad debt
    usdc.mint(accounts[0], to_usdc(20_000), sender=accounts[0])
    usdc.approve(fund, to_usdc(20_000), sender=accounts[0])
    fund.deposit(MID, 4, to_usdc(20_000), sender=accounts[0])  # InflowKind.Donation
    tx = auction.take(id_, SIZE, price, to_usdc(30_000), keeper, b"", sender=keeper)
    fill = _fill_price(tx)
    shortfall = -(to_usdc(2_500) + model.pnl(True, SIZE, to_wad(6), fill))
    realized = [e for e in tx.events if e.event_name == "ShortfallSettled"][0]
    assert (realized.shortfall, realized.covered, realized.uncovered) == (shortfall, shortfall, 0)
    assert house.badDebt(MID) == 0 and fund.poolBalance(MID) == to_usdc(20_000) - shortfall


def test_fill_shortfall_is_the_loss_a_fill_would_realise(system, actors, underwater):
    trader = underwater
    house = system.clearinghouse
    p = model.Position(*position(system, trader))
    for qty, price in ((SIZE, to_wad("5.5")), (SIZE // 4, to_wad("5.5")), (SIZE, to_wad("5.9")), (SIZE // 3, to_wad(1))):
        assert house.fillShortfall(MID, trader, qty, price) == model.fill_shortfall(p, qty, price)
    assert house.fillShortfall(MID, trader, SIZE, to_wad("5.5")) > 0 and house.fillShortfall(MID, trader, SIZE, to_wad(6)) == 0
    assert_view_reverts(house.fillShortfall, (MID, trader, SIZE + 1, to_wad(6)), house.InvalidFillSize, qty=SIZE + 1, held=SIZE)


def test_admin_functions_need_the_admin_role(system, actors):
    _, _, keeper, _ = actors
    with ape.reverts(system.auction.AccessControlUnauthorizedAccount):
        system.auction.file(MID, b"tip".ljust(32, b"\0"), 0, sender=keeper)
    with ape.reverts(system.auction.AccessControlUnauthorizedAccount):
        system.auction.setCurve(MID, keeper, sender=keeper)
    with ape.reverts(system.clearinghouse.AccessControlUnauthorizedAccount):
        system.clearinghouse.beginLiquidation(MID, keeper, sender=keeper)
    with ape.reverts(system.clearinghouse.AccessControlUnauthorizedAccount):
        system.clearinghouse.liquidationFill(MID, keeper, keeper, 1, 1, 0, sender=keeper)
