"""Clearinghouse: accounts, markets and tiers, signed trades, margin checks, PnL, bad debt, views."""

import ape
import pytest

from backstop.chain.deploy import deploy_system
from backstop.model import ledger as model
from backstop.units import bps_up, market_id, notional_up, to_usdc, to_wad
from tests.ledger_helpers import (
    MARKET,
    MID,
    OID,
    SPECS,
    fund_account,
    make_order,
    position,
    set_price,
    sign,
    trade,
    units,
)
from tests.revert_helpers import assert_view_reverts

GLOBAL = b"\0" * 32


@pytest.fixture(scope="module")
def system(accounts):
    return deploy_system(accounts[0], SPECS, global_seed=5_000)


@pytest.fixture(scope="module")
def house(system):
    return system.clearinghouse


@pytest.fixture(scope="module")
def traders(system, accounts):
    for a in accounts[1:6]:
        fund_account(system, a, to_usdc(100_000))
    return accounts[1:6]


# ---------------------------------------------------------------- accounts


def test_deposit_credits_free_balance_and_emits(system, house, accounts):
    a = accounts[7]
    system.usdc.mint(a, to_usdc(50), sender=accounts[0])
    system.usdc.approve(house, to_usdc(50), sender=a)
    tx = house.deposit(to_usdc(50), sender=a)
    assert house.freeBalance(a) == to_usdc(50)
    assert house.Deposited(account=a, amount=to_usdc(50)) in tx.events


def test_zero_deposit_and_withdraw_revert(house, traders):
    with ape.reverts(house.ZeroAmount):
        house.deposit(0, sender=traders[0])
    with ape.reverts(house.ZeroAmount):
        house.withdraw(0, sender=traders[0])


def test_withdraw_pays_out_and_beyond_free_balance_reverts(system, house, traders):
    a = traders[0]
    free, wallet = house.freeBalance(a), system.usdc.balanceOf(a)
    house.withdraw(to_usdc(1), sender=a)
    assert house.freeBalance(a) == free - to_usdc(1)
    assert system.usdc.balanceOf(a) == wallet + to_usdc(1)
    with ape.reverts(house.InsufficientFreeBalance):
        house.withdraw(free, sender=a)


# ---------------------------------------------------------------- markets and tiers


def test_listing_by_non_admin_reverts(house, traders):
    tiers = [(to_usdc(1_000), 1_000, 500, 0)]
    with ape.reverts(house.AccessControlUnauthorizedAccount):
        house.listMarket(market_id("X-USD"), tiers, 500, sender=traders[0])
    with ape.reverts(house.AccessControlUnauthorizedAccount):
        house.setTiers(MID, tiers, sender=traders[0])
    with ape.reverts(house.AccessControlUnauthorizedAccount):
        house.setPriceBand(MID, 100, sender=traders[0])


def test_listing_twice_and_bad_tiers_revert(house, accounts):
    admin = accounts[0]
    with ape.reverts(house.MarketAlreadyListed):
        house.listMarket(MID, [(to_usdc(1_000), 1_000, 500, 0)], 500, sender=admin)
    bad = [
        [],  # none
        [(to_usdc(1_000), 500, 500, 0)],  # initial == maintenance
        [(to_usdc(1_000), 1_000, 0, 0)],  # no maintenance
        [(to_usdc(1_000), 1_000, 500, 0), (to_usdc(500), 2_000, 1_000, 0)],  # brackets not increasing
        [(to_usdc(1_000), 1_000, 500, 0), (to_usdc(5_000), 500, 250, 0)],  # leverage rises with size
    ]
    for tiers in bad:
        with ape.reverts(house.InvalidTiers):
            house.setTiers(MID, tiers, sender=admin)
    with ape.reverts(house.InvalidPriceBand):
        house.setPriceBand(MID, 0, sender=admin)


def test_unknown_market_reverts_everywhere(system, house, traders, accounts):
    unknown = market_id("NOPE-USD")
    mo = make_order(traders[0], unknown, units(1), to_wad(6), to_usdc(10))
    to = make_order(traders[1], unknown, -units(1), to_wad(6), to_usdc(10))
    with ape.reverts(house.UnknownMarket):
        house.trade(mo.as_tuple(), sign(system, mo, traders[0]), to.as_tuple(), sign(system, to, traders[1]), sender=traders[2])
    with ape.reverts(house.UnknownMarket):
        house.addMargin(unknown, 1, sender=traders[0])
    with ape.reverts(house.UnknownMarket):
        house.setTiers(unknown, [(to_usdc(1_000), 1_000, 500, 0)], sender=accounts[0])
    assert_view_reverts(house.tierFor, (unknown, 1), house.UnknownMarket, market=unknown)


def test_tier_for_picks_the_bracket(house):
    assert house.tierFor(MID, to_usdc(50_000)).initialMarginBps == 500
    assert house.tierFor(MID, to_usdc(50_001)).initialMarginBps == 1_000
    top = to_usdc(10_000_000)  # the last of DEFAULT_TIERS
    assert house.tierFor(MID, top).maxNotional == top
    assert_view_reverts(house.tierFor, (MID, top + 1), house.NotionalAboveTopTier, market=MID, notional=top + 1, maxNotional=top)


# ---------------------------------------------------------------- trades


def test_signed_trade_opens_both_sides(system, house, traders):
    a, b = traders[0], traders[1]
    fa, fb = house.freeBalance(a), house.freeBalance(b)
    tx = trade(system, a, b, units(100), to_wad(6), to_usdc(100), to_usdc(100))
    assert position(system, a) == (units(100), to_wad(6), to_usdc(100))
    assert position(system, b) == (-units(100), to_wad(6), to_usdc(100))
    assert house.freeBalance(a) == fa - to_usdc(100)
    assert house.freeBalance(b) == fb - to_usdc(100)
    settled = [e for e in tx.events if e.event_name == "TradeSettled"]
    assert len(settled) == 1 and settled[0].buyer == a and settled[0].seller == b and settled[0].size == units(100)


def test_submitting_own_order_needs_no_signature(system, house, traders):
    a, b = traders[0], traders[1]
    mo = make_order(a, MID, units(10), to_wad(6), to_usdc(10))
    to = make_order(b, MID, -units(10), to_wad(6), to_usdc(10))
    house.trade(mo.as_tuple(), b"", to.as_tuple(), sign(system, to, b), sender=a)
    assert position(system, a)[0] == units(10)


def test_bad_signature_reverts(system, house, traders):
    a, b, c = traders[0], traders[1], traders[2]
    mo = make_order(a, MID, units(10), to_wad(6), to_usdc(10))
    to = make_order(b, MID, -units(10), to_wad(6), to_usdc(10))
    with ape.reverts(house.BadSignature):  # a's order signed by c
        house.trade(mo.as_tuple(), sign(system, mo, c), to.as_tuple(), sign(system, to, b), sender=c)


def test_replayed_order_reverts(system, house, traders):
    a, b = traders[0], traders[1]
    mo = make_order(a, MID, units(10), to_wad(6), to_usdc(10))
    to = make_order(b, MID, -units(10), to_wad(6), to_usdc(10))
    args = (mo.as_tuple(), sign(system, mo, a), to.as_tuple(), sign(system, to, b))
    house.trade(*args, sender=traders[2])
    with ape.reverts(house.OrderAlreadyUsed):
        house.trade(*args, sender=traders[2])


def test_signature_cannot_be_replayed_in_another_market(system, house, traders):
    a, b = traders[0], traders[1]
    mo = make_order(a, MID, units(1), to_wad(6), to_usdc(10))
    sig = sign(system, mo, a)
    moved = mo.__class__(mo.account, OID, mo.size_delta, to_wad(2000), mo.margin, mo.nonce, mo.deadline)
    to = make_order(b, OID, -units(1), to_wad(2000), to_usdc(400))
    with ape.reverts(house.BadSignature):
        house.trade(moved.as_tuple(), sig, to.as_tuple(), sign(system, to, b), sender=traders[2])


def test_expired_order_reverts(system, house, traders, chain):
    a, b = traders[0], traders[1]
    mo = make_order(a, MID, units(1), to_wad(6), to_usdc(10), deadline=chain.pending_timestamp - 10)
    to = make_order(b, MID, -units(1), to_wad(6), to_usdc(10))
    with ape.reverts(house.OrderExpired):
        house.trade(mo.as_tuple(), sign(system, mo, a), to.as_tuple(), sign(system, to, b), sender=traders[2])


def test_cancelled_order_cannot_fill(system, house, traders):
    a, b = traders[0], traders[1]
    mo = make_order(a, MID, units(1), to_wad(6), to_usdc(10))
    to = make_order(b, MID, -units(1), to_wad(6), to_usdc(10))
    with ape.reverts(house.NotOrderOwner):
        house.cancelOrder(mo.as_tuple(), sender=b)
    house.cancelOrder(mo.as_tuple(), sender=a)
    with ape.reverts(house.OrderAlreadyUsed):
        house.trade(mo.as_tuple(), sign(system, mo, a), to.as_tuple(), sign(system, to, b), sender=traders[2])


def test_mismatched_self_and_limit_violations_revert(system, house, traders):
    a, b = traders[0], traders[1]
    with ape.reverts(house.OrdersMismatched):
        mo = make_order(a, MID, units(2), to_wad(6), 0)
        to = make_order(b, MID, -units(1), to_wad(6), 0)
        house.trade(mo.as_tuple(), sign(system, mo, a), to.as_tuple(), sign(system, to, b), sender=a)
    with ape.reverts(house.SelfTrade):
        mo = make_order(a, MID, units(1), to_wad(6), 0)
        to = make_order(a, MID, -units(1), to_wad(6), 0)
        house.trade(mo.as_tuple(), b"", to.as_tuple(), b"", sender=a)
    with ape.reverts(house.PriceBeyondLimit):  # taker sells, maker's price below the taker's limit
        mo = make_order(a, MID, units(1), to_wad("5.9"), to_usdc(10))
        to = make_order(b, MID, -units(1), to_wad(6), to_usdc(10))
        house.trade(mo.as_tuple(), sign(system, mo, a), to.as_tuple(), sign(system, to, b), sender=a)


def test_price_outside_band_reverts(system, traders, house):
    with ape.reverts(house.PriceOutsideBand):  # band is 5% around the mark of 6
        trade(system, traders[0], traders[1], units(1), to_wad("6.31"), to_usdc(10), to_usdc(10))


def test_too_little_margin_reverts_and_moves_nothing(system, house, traders):
    a, b = traders[0], traders[1]
    before = (house.freeBalance(a), house.freeBalance(b), system.usdc.balanceOf(house))
    # 1,000 units at $6 = $6,000 notional: 20x needs $300 initial margin
    with ape.reverts(house.MarginBelowInitial):
        trade(system, a, b, units(1_000), to_wad(6), to_usdc(299), to_usdc(300))
    assert (house.freeBalance(a), house.freeBalance(b), system.usdc.balanceOf(house)) == before
    trade(system, a, b, units(1_000), to_wad(6), to_usdc(300), to_usdc(300))


def test_higher_bracket_pays_tail_risk_margin_into_the_sub_pool(system, house, traders):
    a, b = traders[2], traders[3]
    pool = system.fund.poolBalance(MID)
    size, price = units(20_000), to_wad(6)  # $120k: second bracket, 10x, 5 bps tail-risk fee
    fee = bps_up(notional_up(size, price), 5)
    tx = trade(system, a, b, size, price, to_usdc(13_000), to_usdc(13_000))
    assert system.fund.poolBalance(MID) == pool + 2 * fee
    assert position(system, a) == (size, price, to_usdc(13_000) - fee)
    paid = [e for e in tx.events if e.event_name == "TailRiskMarginPaid"]
    assert [p.amount for p in paid] == [fee, fee]


def test_higher_bracket_needs_its_initial_margin(system, house, traders):
    # $120k at 10x needs $12k (+ fee); $11k is 20x-enough but not 10x-enough
    with ape.reverts(house.MarginBelowInitial):
        trade(system, traders[2], traders[3], units(20_000), to_wad(6), to_usdc(11_000), to_usdc(13_000))


# ---------------------------------------------------------------- PnL, closing, bad debt


def test_views_match_the_reference_model(system, house, traders):
    a, b = traders[0], traders[1]
    trade(system, a, b, units(500), to_wad(6), to_usdc(200), to_usdc(200))
    set_price(system, MARKET, "5.8")
    mark = to_wad("5.8")
    size, entry, margin = position(system, a)
    assert house.equity(MID, a) == margin + model.pnl(True, size, entry, mark)
    assert house.unrealizedPnl(MID, b) == model.pnl(False, size, entry, mark)
    assert house.notional(MID, a) == notional_up(size, mark)
    assert house.maintenanceRequirement(MID, a) == bps_up(notional_up(size, mark), 250)
    assert house.bankruptcyPrice(MID, a) == model.bankruptcy_price(size, entry, margin)
    assert house.bankruptcyPrice(MID, b) == model.bankruptcy_price(-size, entry, margin)
    assert house.liquidationPrice(MID, a) == model.liquidation_price(size, entry, margin, 250)
    assert house.marginRatio(MID, a) == house.equity(MID, a) * 10**18 // house.notional(MID, a)


def test_is_liquidatable_flips_at_the_liquidation_price(system, house, traders):
    a, b = traders[0], traders[1]
    trade(system, a, b, units(500), to_wad(6), to_usdc(200), to_usdc(200))
    liq = house.liquidationPrice(MID, a)
    set_price(system, MARKET, liq + 10**12)
    assert not house.isLiquidatable(MID, a)
    set_price(system, MARKET, liq - 10**12)
    assert house.isLiquidatable(MID, a)
    assert not house.isLiquidatable(MID, b)
    assert not house.isLiquidatable(MID, traders[4])  # no position


def test_closing_realises_profit_and_loss(system, house, traders):
    a, b, c = traders[0], traders[1], traders[2]
    trade(system, a, b, units(500), to_wad(6), to_usdc(300), to_usdc(300))
    set_price(system, MARKET, "6.2")
    fa, fb = house.freeBalance(a), house.freeBalance(b)
    trade(system, c, a, units(500), to_wad("6.2"), to_usdc(300), 0)  # a sells to c: closes with +$100
    assert position(system, a) == (0, 0, 0)
    assert house.freeBalance(a) == fa + to_usdc(300) + to_usdc(100)
    trade(system, b, c, units(500), to_wad("6.2"), 0, 0)  # b buys back from c: closes with -$100
    assert position(system, b) == (0, 0, 0)
    assert house.freeBalance(b) == fb + to_usdc(200)


def test_a_closing_order_takes_none_of_its_margin(system, house, traders):
    """An order whose fill closes the position moves no margin: there is no position for it to back, and
    removeMargin (which needs a position) could never give it back."""
    a, b, c = traders[0], traders[1], traders[2]
    trade(system, a, b, units(500), to_wad(6), to_usdc(300), to_usdc(300))
    fa = house.freeBalance(a)
    tx = trade(system, c, a, units(500), to_wad(6), to_usdc(300), to_usdc(250))  # a closes, its order carries $250
    assert position(system, a) == (0, 0, 0)
    assert house.freeBalance(a) == fa + to_usdc(300)  # its old margin back, the order's $250 never left
    changed = [e for e in tx.events if e.event_name == "PositionChanged" and e.account == a]
    assert changed[0].margin == 0
    with ape.reverts(house.NoPosition, account=a, market=MID):
        house.removeMargin(MID, to_usdc(250), sender=a)


def test_partial_close_releases_a_proportional_share(system, house, traders):
    a, b, c = traders[0], traders[1], traders[2]
    trade(system, a, b, units(400), to_wad(6), to_usdc(400), to_usdc(400))
    fa = house.freeBalance(a)
    trade(system, c, a, units(100), to_wad(6), to_usdc(100), 0)
    assert position(system, a) == (units(300), to_wad(6), to_usdc(300))
    assert house.freeBalance(a) == fa + to_usdc(100)


def test_flip_keeps_the_orders_margin_for_the_new_side(system, house, traders):
    a, b, c = traders[0], traders[1], traders[2]
    trade(system, a, b, units(100), to_wad(6), to_usdc(100), to_usdc(100))
    fa = house.freeBalance(a)
    trade(system, c, a, units(300), to_wad(6), to_usdc(300), to_usdc(200))  # a sells 300: long 100 -> short 200
    assert position(system, a) == (-units(200), to_wad(6), to_usdc(200))
    assert house.freeBalance(a) == fa + to_usdc(100) - to_usdc(200)  # old margin back, new margin in


def test_loss_beyond_margin_is_covered_by_sub_pool_then_global(system, house, traders):
    a, b, c = traders[0], traders[1], traders[2]
    fund = system.fund
    sub, glob = fund.poolBalance(MID), fund.poolBalance(GLOBAL)  # 10,000 and 5,000
    trade(system, a, b, units(8_000), to_wad(6), to_usdc(2_500), to_usdc(30_000))
    set_price(system, MARKET, "4.35")
    shortfall = to_usdc(8_000 * 1.65) - to_usdc(2_500)  # 10,700: the whole sub-pool and 700 of the global pool
    tx = trade(system, c, a, units(8_000), to_wad("4.35"), to_usdc(30_000), 0)
    assert fund.poolBalance(MID) == 0
    assert fund.poolBalance(GLOBAL) == glob - (shortfall - sub)
    ev = [e for e in tx.events if e.event_name == "ShortfallSettled"][0]
    assert (ev.shortfall, ev.covered, ev.uncovered) == (shortfall, shortfall, 0)
    assert house.badDebt(MID) == 0
    assert position(system, a) == (0, 0, 0)
    assert house.freeBalance(a) == to_usdc(100_000) - to_usdc(2_500)


def test_uncovered_loss_becomes_bad_debt(system, house, traders):
    a, b, c = traders[0], traders[1], traders[2]
    trade(system, a, b, units(8_000), to_wad(6), to_usdc(2_500), to_usdc(30_000))
    set_price(system, MARKET, "3.6")
    available = system.fund.poolBalance(MID) + system.fund.poolBalance(GLOBAL)
    tx = trade(system, c, a, units(8_000), to_wad("3.6"), to_usdc(30_000), 0)
    shortfall = to_usdc(8_000 * 2.4) - to_usdc(2_500)
    assert house.badDebt(MID) == shortfall - available > 0
    assert system.fund.poolBalance(MID) == 0 and system.fund.poolBalance(GLOBAL) == 0
    assert [e.uncovered for e in tx.events if e.event_name == "ShortfallSettled"] == [shortfall - available]


# ---------------------------------------------------------------- margin moves


def test_add_and_remove_margin(system, house, traders):
    a, b = traders[0], traders[1]
    trade(system, a, b, units(1_000), to_wad(6), to_usdc(300), to_usdc(300))
    house.addMargin(MID, to_usdc(200), sender=a)
    assert position(system, a)[2] == to_usdc(500)
    house.removeMargin(MID, to_usdc(200), sender=a)
    with ape.reverts(house.MarginBelowInitial):
        house.removeMargin(MID, 1, sender=a)
    with ape.reverts(house.InsufficientPositionMargin):
        house.removeMargin(MID, to_usdc(301), sender=a)
    with ape.reverts(house.NoPosition):
        house.addMargin(MID, 1, sender=traders[4])


def test_withdrawing_margin_in_the_block_of_a_price_drop_is_refused(system, house, traders):
    a, b = traders[0], traders[1]
    trade(system, a, b, units(1_000), to_wad(6), to_usdc(600), to_usdc(600))
    set_price(system, MARKET, "5.8")  # $200 loss: equity $400 > $290 initial requirement
    with ape.reverts(house.MarginBelowInitial):
        house.removeMargin(MID, to_usdc(150), sender=a)
    house.removeMargin(MID, to_usdc(100), sender=a)


# ---------------------------------------------------------------- conservation


def test_usdc_conserved_across_a_session(system, house, traders, accounts):
    """USDC in (deposits) = USDC out (withdrawals) + held, for the clearinghouse and the fund together."""
    a, b, c = traders[0], traders[1], traders[2]
    fund = system.fund
    held0 = system.usdc.balanceOf(house) + system.usdc.balanceOf(fund)
    trade(system, a, b, units(20_000), to_wad(6), to_usdc(13_000), to_usdc(13_000))
    set_price(system, MARKET, "5.9")
    trade(system, c, a, units(5_000), to_wad("5.9"), to_usdc(2_000), 0)
    house.withdraw(to_usdc(1_000), sender=a)
    held1 = system.usdc.balanceOf(house) + system.usdc.balanceOf(fund)
    assert held1 == held0 - to_usdc(1_000)
    # the fund holds exactly its pools; the clearinghouse holds at least what it owes
    assert system.usdc.balanceOf(fund) == fund.totalPooled()
