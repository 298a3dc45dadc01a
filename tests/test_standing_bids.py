"""StandingBidBook: pre-funded bids fill liquidations before the auction (full, partial, none), best level
first and FIFO within a level, a cap on matches, cancel/reduce/withdraw, bidders that cannot take, settlement
(penalty, surplus, shortfall), the buffer releasing queued liquidations to standing bids, USDC conservation
across clearinghouse, book and fund, and bad input. backstop.model.bidbook is the oracle."""

import ape
import pytest

from backstop.chain.deploy import DEFAULT_TIERS
from backstop.model import ledger as lm
from backstop.model.bidbook import BidBook, bid_price, escrow_required
from backstop.units import market_id, notional_down, to_usdc, to_wad
from tests.ledger_helpers import MARKET, MID, funded_system, param, position, set_price, trade, units

SIZE = units(8_000)
MARK = to_wad("5.72")
LEVELS = [50, 100, 200, 300, 500, 1_000, 2_000, 5_000]
PENALTY_BPS = 100


@pytest.fixture(scope="module")
def system(accounts):
    return funded_system(accounts, 3, fund_seed=10_000, global_seed=5_000)


@pytest.fixture(scope="module")
def roles(accounts):
    """trader, second trader, counterparty, kicker, and four bidders."""
    return accounts[1], accounts[2], accounts[3], accounts[4], list(accounts[5:9])


def _open(system, trader, counterparty, margin=2_500):
    trade(system, trader, counterparty, SIZE, to_wad(6), to_usdc(margin), to_usdc(60_000))


def _escrow(notional: int) -> int:
    """The least escrow [usdc] for a bid of `notional` [usdc]: initial margin at that notional's bracket."""
    return escrow_required(notional, lm.tier_for(list(DEFAULT_TIERS), notional).initial_margin_bps)


def _bid(system, bidder, level, notional_usd, long=True, escrow=None):
    notional = to_usdc(notional_usd)
    escrow = escrow if escrow is not None else _escrow(notional)
    admin = ape.accounts.test_accounts[0]
    system.usdc.mint(bidder, escrow, sender=admin)
    system.usdc.approve(system.book, escrow, sender=bidder)
    return system.book.placeBid(MID, long, level, notional, escrow, sender=bidder).return_value


def _held(system, wallets):
    """USDC held by the clearinghouse (free balances, margins, the book's escrow), the fund and the wallets."""
    usdc = system.usdc
    return usdc.balanceOf(system.clearinghouse) + usdc.balanceOf(system.fund) + usdc.balanceOf(system.book) + sum(
        usdc.balanceOf(w) for w in wallets
    )


def _escrow_accounted(system, bid_ids, owners):
    """The book's free balance in the clearinghouse = Σ escrow of open bids + Σ released, not yet withdrawn."""
    book = system.book
    open_escrow = sum(book.bid(i).escrow for i in bid_ids)
    released = sum(book.withdrawable(o) for o in set(owners))
    return system.clearinghouse.freeBalance(book) == open_escrow + released


def _fills(tx):
    return [(e.id, e.owner, e.qty, e.price, e.notional, e.escrow) for e in tx.events if e.event_name == "BidFilled"]


def _model_fills(model, trader, qty=SIZE, mark=MARK, long=True, in_liq=frozenset()):
    return [(f.bid, f.owner, f.qty, f.price, f.notional, f.escrow) for f in model.absorb(trader, long, qty, mark, in_liq)]


def _names(tx):
    return [e.event_name for e in tx.events]


# ---------------------------------------------------------------- fills: full, partial, none


def test_one_bid_fills_the_whole_liquidation_without_an_auction(system, roles, accounts):
    trader, _, counterparty, kicker, bidders = roles
    house, auction, fund, book = system.clearinghouse, system.auction, system.fund, system.book
    bidder = bidders[0]
    _open(system, trader, counterparty, margin=3_000)  # equity at $5.72: $760, below maintenance ($1,144)
    bid_id = _bid(system, bidder, 0, 100_000)
    model = BidBook(LEVELS, 8)
    model.place(str(bidder.address), True, 0, to_usdc(100_000), _escrow(to_usdc(100_000)))
    set_price(system, MARKET, "5.72")
    wallets = [trader, counterparty, kicker, bidder, accounts[0]]
    held0, pool0, free0 = _held(system, wallets), fund.poolBalance(MID), house.freeBalance(trader)

    tx = auction.liquidate(MID, trader, sender=kicker)

    fills = _fills(tx)
    assert fills == _model_fills(model, str(trader.address))
    price = bid_price(True, MARK, 50)
    assert fills[0][2:4] == (SIZE, price)
    # settled as an auction take would be: trader closed at the bid price, penalty to the sub-pool, surplus back
    mirror = lm.Ledger(cover=lambda m, a: a)
    mirror.positions[(MID, "t")] = lm.Position(SIZE, to_wad(6), to_usdc(3_000))
    equity_part, penalty = mirror.liquidation_fill(MID, "t", "k", SIZE, price, PENALTY_BPS)
    assert equity_part > penalty > 0  # the bid price is above bankruptcy: a surplus
    assert house.freeBalance(trader) == free0 + equity_part - penalty
    incentive = [e.amount for e in tx.events if e.event_name == "IncentivePaid"][0]
    assert fund.poolBalance(MID) == pool0 + penalty - incentive
    assert position(system, trader) == (0, 0, 0)
    assert position(system, bidder) == (SIZE, price, fills[0][5])
    assert not house.inLiquidation(MID, trader)
    # never entered an auction or the queue, nor the caps
    assert "AuctionStarted" not in _names(tx) and "LiquidationQueued" not in _names(tx)
    assert auction.activeCount() == 0 and list(auction.queued(MID)) == []
    assert auction.dirt(MID) == 0 and auction.globalDirt() == 0
    absorbed = [e for e in tx.events if e.event_name == "StandingBidsFilled"][0]
    assert (absorbed.qty, absorbed.left) == (SIZE, 0)
    # taken whole at its start: no sale record is kept (its events are its history), yet the id is used
    assert tuple(auction.sale(absorbed.id)) == (b"\0" * 32, "0x" + "0" * 40, False, 0, 0, 0, 0, 0)
    assert auction.kicks() == absorbed.id
    # the bid: what is left of it, and the escrow still in the book
    b = book.bid(bid_id)
    mb = model.bids[bid_id]
    assert (b.left, b.escrow) == (mb.left, mb.escrow)
    assert book.totalDepth(MID, True) == mb.left
    assert _escrow_accounted(system, [bid_id], [bidder])
    assert _held(system, wallets) == held0


def test_bids_fill_part_and_the_rest_goes_to_the_auction(system, roles):
    trader, _, counterparty, kicker, bidders = roles
    auction, book = system.auction, system.book
    _open(system, trader, counterparty)
    bid_id = _bid(system, bidders[0], 1, 20_000)
    set_price(system, MARKET, "5.72")
    tx = auction.liquidate(MID, trader, sender=kicker)
    price = bid_price(True, MARK, 100)
    taken = to_usdc(20_000) * 10**30 // price  # the most size $20k buys at the bid price
    assert [f[2] for f in _fills(tx)] == [taken]
    assert book.bid(bid_id).owner == "0x" + "0" * 40  # fully used: deleted, not left behind
    assert book.depth(MID, True, 1).count == 0
    started = [e for e in tx.events if e.event_name == "AuctionStarted"][0]
    assert started.qty == SIZE - taken
    assert position(system, trader)[0] == SIZE - taken
    assert auction.dirt(MID) == notional_down(SIZE - taken, MARK)


def test_no_bid_on_the_side_leaves_the_auction_unchanged(system, roles):
    trader, _, counterparty, kicker, bidders = roles
    auction = system.auction
    _open(system, trader, counterparty)
    _bid(system, bidders[0], 0, 100_000, long=False)  # takes over shorts only
    set_price(system, MARKET, "5.72")
    tx = auction.liquidate(MID, trader, sender=kicker)
    assert _fills(tx) == [] and "StandingBidsFilled" not in _names(tx)
    assert [e.qty for e in tx.events if e.event_name == "AuctionStarted"] == [SIZE]


def test_a_short_is_taken_over_above_the_mark(system, roles):
    trader, _, counterparty, kicker, bidders = roles
    trade(system, counterparty, trader, SIZE, to_wad(6), to_usdc(60_000), to_usdc(2_500))  # trader short
    _bid(system, bidders[0], 2, 100_000, long=False)
    set_price(system, MARKET, "6.28")
    tx = system.auction.liquidate(MID, trader, sender=kicker)
    mark = to_wad("6.28")
    assert [f[2:4] for f in _fills(tx)] == [(SIZE, bid_price(False, mark, 200))]
    assert bid_price(False, mark, 200) > mark
    assert position(system, bidders[0])[0] == -SIZE


# ---------------------------------------------------------------- order: best level first, FIFO, cap


def test_smallest_discount_first_then_oldest_first(system, roles):
    trader, _, counterparty, kicker, (a, b, c, d) = roles
    _open(system, trader, counterparty)
    model = BidBook(LEVELS, 8)
    for who, level, usd in ((a, 2, 30_000), (b, 0, 10_000), (c, 0, 12_000), (d, 1, 9_000)):
        bid_id = _bid(system, who, level, usd)
        assert bid_id == model.place(str(who.address), True, level, to_usdc(usd), _escrow(to_usdc(usd)))
    set_price(system, MARKET, "5.72")
    tx = system.auction.liquidate(MID, trader, sender=kicker)
    fills = _fills(tx)
    owners = [f[1] for f in fills]
    assert owners == [b.address, c.address, d.address, a.address]  # level 0 (b then c), level 1, level 2
    assert [f[1:] for f in fills] == [f[1:] for f in _model_fills(model, str(trader.address))]
    assert sum(f[2] for f in fills) == SIZE


def test_a_cap_on_matches_sends_the_rest_to_the_auction(system, roles, accounts):
    trader, _, counterparty, kicker, bidders = roles
    system.book.setMaxMatches(MID, 2, sender=accounts[0])
    _open(system, trader, counterparty)
    ids = [_bid(system, w, 0, 5_000) for w in bidders[:3]]
    set_price(system, MARKET, "5.72")
    tx = system.auction.liquidate(MID, trader, sender=kicker)
    assert [f[0] for f in _fills(tx)] == ids[:2]
    assert system.book.bid(ids[2]).left == to_usdc(5_000)  # untouched, still first in line
    assert system.book.depth(MID, True, 0).head == ids[2]
    filled = sum(f[2] for f in _fills(tx))
    assert [e.qty for e in tx.events if e.event_name == "AuctionStarted"] == [SIZE - filled]


# ---------------------------------------------------------------- bidders that cannot take


def test_the_trader_and_a_bidder_in_liquidation_are_cancelled_and_refunded(system, roles):
    trader, second, counterparty, kicker, bidders = roles
    auction, book, house = system.auction, system.book, system.clearinghouse
    _open(system, trader, counterparty)
    _open(system, second, counterparty)
    set_price(system, MARKET, "5.72")
    auction.liquidate(MID, second, sender=kicker)  # book empty: an auction; `second` is now in liquidation
    assert house.inLiquidation(MID, second)
    own = _bid(system, trader, 0, 10_000)  # the trader's own bid
    frozen = _bid(system, second, 0, 10_000)  # a bidder whose position is in liquidation
    good = _bid(system, bidders[0], 1, 100_000)
    tx = auction.liquidate(MID, trader, sender=kicker)
    cancelled = [(e.id, e.released, e.skipped) for e in tx.events if e.event_name == "BidCancelled"]
    assert cancelled == [(own, to_usdc(500), True), (frozen, to_usdc(500), True)]
    assert [f[0] for f in _fills(tx)] == [good]
    assert book.withdrawable(trader) == to_usdc(500) and book.withdrawable(second) == to_usdc(500)
    assert book.depth(MID, True, 0).count == 0  # no tombstones left behind
    assert _escrow_accounted(system, [good], [trader, second])


# ---------------------------------------------------------------- settlement: shortfall, a bidder's own position


def test_a_fill_that_closes_the_bidders_opposite_position_pays_its_escrow_share_to_its_free_balance(system, roles, accounts):
    trader, _, counterparty, kicker, _ = roles
    house = system.clearinghouse
    _open(system, trader, counterparty)  # the counterparty is short exactly the trader's 8,000
    _bid(system, counterparty, 0, 100_000)
    set_price(system, MARKET, "5.72")
    wallets = [trader, counterparty, kicker, accounts[0]]
    held0, free0 = _held(system, wallets), house.freeBalance(counterparty)
    tx = system.auction.liquidate(MID, trader, sender=kicker)
    (funded,) = [e for e in tx.events if e.event_name == "MarginFunded"]
    (fill,) = _fills(tx)
    assert (funded.account, funded.amount, funded.toPosition) == (counterparty.address, fill[5], False)
    assert position(system, counterparty) == (0, 0, 0)  # bought back its short: nothing stranded in a position
    closed = [e for e in tx.events if e.event_name == "PositionChanged" and e.account == counterparty.address][0]
    assert house.freeBalance(counterparty) == free0 + closed.marginReleased + fill[5]
    assert _held(system, wallets) == held0



def test_a_bid_below_bankruptcy_leaves_a_shortfall_the_fund_covers(system, roles, accounts):
    trader, _, counterparty, kicker, bidders = roles
    house, fund = system.clearinghouse, system.fund
    _open(system, trader, counterparty)
    _bid(system, bidders[0], 5, 100_000)  # 10% below the mark
    set_price(system, MARKET, "5.72")
    wallets = [trader, counterparty, kicker, bidders[0], accounts[0]]
    held0, free0 = _held(system, wallets), house.freeBalance(trader)
    total0 = fund.totalPooled()
    price = bid_price(True, MARK, 1_000)
    assert price < house.bankruptcyPrice(MID, trader)
    tx = system.auction.liquidate(MID, trader, sender=kicker)
    mirror = lm.Ledger(cover=lambda m, a: a)
    mirror.positions[(MID, "t")] = lm.Position(SIZE, to_wad(6), to_usdc(2_500))
    equity_part, penalty = mirror.liquidation_fill(MID, "t", "k", SIZE, price, PENALTY_BPS)
    assert equity_part < 0 and penalty == 0
    bad = [e for e in tx.events if e.event_name == "ShortfallSettled"][0]
    assert bad.shortfall == -equity_part and bad.uncovered == 0
    incentive = [e.amount for e in tx.events if e.event_name == "IncentivePaid"][0]
    assert fund.totalPooled() == total0 + equity_part - incentive
    assert house.freeBalance(trader) == free0  # nothing back, nothing more taken
    assert _held(system, wallets) == held0


# ---------------------------------------------------------------- the buffer releases to standing bids


def _liquidate_in_buffer(system, roles, admin):
    """A 10% fall within the window (twice `dropBps`) puts the market in a buffer; the trader's liquidation queues."""
    trader, _, counterparty, kicker, _ = roles
    _open(system, trader, counterparty)
    for what, value in (("dropBps", 500), ("bufferBase", 600), ("bufferMax", 3_600)):
        system.auction.file(MID, param(what), value, sender=admin)
    system.oracle.setHighWindow(MID, 900, sender=admin)
    system.auction.release(MID, 0, sender=kicker)  # pokes: the oracle records $6 as its recent high
    set_price(system, MARKET, "5.4")
    return system.auction.liquidate(MID, trader, sender=kicker)


def test_release_offers_queued_liquidations_to_standing_bids_during_a_buffer(system, roles, accounts):
    trader, _, counterparty, kicker, bidders = roles
    auction = system.auction
    tx = _liquidate_in_buffer(system, roles, accounts[0])
    (queued,) = [e.id for e in tx.events if e.event_name == "LiquidationQueued"]
    assert auction.inBuffer(MID)
    _bid(system, bidders[0], 0, 100_000)
    tx = auction.release(MID, 10, sender=kicker)
    assert tx.return_value == 1 and auction.inBuffer(MID)
    assert [(e.id, e.left) for e in tx.events if e.event_name == "StandingBidsFilled"] == [(queued, 0)]
    assert list(auction.queued(MID)) == [] and auction.activeCount() == 0
    assert position(system, trader) == (0, 0, 0)


def test_release_keeps_the_rest_queued_while_buffering(system, roles, accounts):
    trader, _, counterparty, kicker, bidders = roles
    auction = system.auction
    id_ = _liquidate_in_buffer(system, roles, accounts[0]).return_value
    _bid(system, bidders[0], 0, 10_000)
    assert auction.release(MID, 10, sender=kicker).return_value == 0
    assert list(auction.queued(MID)) == [id_]
    assert 0 < auction.sale(id_).qty < SIZE
    assert position(system, trader)[0] == auction.sale(id_).qty


# ---------------------------------------------------------------- cancel, reduce, withdraw


def test_reduce_cancel_and_withdraw_return_unused_escrow(system, roles):
    _, _, _, _, (a, b, c, _) = roles
    book, usdc = system.book, system.usdc
    ids = [_bid(system, w, 0, 10_000) for w in (a, b, c)]  # $500 escrow each
    tx = book.reduceBid(ids[1], to_usdc(4_000), sender=b)
    assert [(e.notional, e.released, e.left) for e in tx.events if e.event_name == "BidReduced"] == [(to_usdc(4_000), to_usdc(200), to_usdc(6_000))]
    assert (book.bid(ids[1]).left, book.bid(ids[1]).escrow) == (to_usdc(6_000), to_usdc(300))
    book.cancelBid(ids[1], sender=b)  # the middle of the FIFO: a and c stay linked
    assert book.bid(ids[0]).next == ids[2] and book.bid(ids[2]).prev == ids[0]
    assert book.depth(MID, True, 0)[1:] == (to_usdc(20_000), 2, ids[0])
    book.reduceBid(ids[0], to_usdc(10_000), sender=a)  # all of it: a cancel
    assert book.depth(MID, True, 0)[1:] == (to_usdc(10_000), 1, ids[2])
    assert _escrow_accounted(system, [ids[2]], [a, b])
    book.withdraw(to_usdc(500), sender=b)
    assert usdc.balanceOf(b) == to_usdc(500) and book.withdrawable(b) == 0
    with ape.reverts(book.InsufficientWithdrawable):
        book.withdraw(1, sender=b)
    assert _escrow_accounted(system, [ids[2]], [a, b])


def test_bidders_cannot_touch_other_bids_and_bad_amounts_revert(system, roles):
    _, _, _, _, (a, b, _, _) = roles
    book = system.book
    bid_id = _bid(system, a, 0, 10_000)
    before = (book.bid(bid_id).left, book.bid(bid_id).escrow, system.clearinghouse.freeBalance(book))
    with ape.reverts(book.NotBidOwner):
        book.cancelBid(bid_id, sender=b)
    with ape.reverts(book.NotBidOwner):
        book.reduceBid(bid_id, 1, sender=b)
    with ape.reverts(book.NoSuchBid):
        book.cancelBid(999, sender=a)
    with ape.reverts(book.ReductionAboveLeft):
        book.reduceBid(bid_id, to_usdc(10_001), sender=a)
    with ape.reverts(book.ZeroAmount):
        book.reduceBid(bid_id, 0, sender=a)
    with ape.reverts(book.ZeroAmount):
        book.withdraw(0, sender=a)
    assert (book.bid(bid_id).left, book.bid(bid_id).escrow, system.clearinghouse.freeBalance(book)) == before


def test_placing_bad_bids_reverts_and_moves_nothing(system, roles, accounts):
    _, _, _, _, (a, _, _, _) = roles
    book, usdc, admin = system.book, system.usdc, accounts[0]
    usdc.mint(a, to_usdc(100_000), sender=admin)
    usdc.approve(book, to_usdc(100_000), sender=a)
    with ape.reverts(book.ZeroAmount):
        book.placeBid(MID, True, 0, 0, to_usdc(100), sender=a)
    with ape.reverts(book.ZeroAmount):
        book.placeBid(MID, True, 0, to_usdc(100), 0, sender=a)
    with ape.reverts(book.UnknownMarket):
        book.placeBid(market_id("NOPE-USD"), True, 0, to_usdc(100), to_usdc(100), sender=a)
    with ape.reverts(book.LevelOutOfRange):
        book.placeBid(MID, True, 8, to_usdc(100), to_usdc(100), sender=a)
    # $60k is in the 10% bracket: $6,000 of escrow at least
    with ape.reverts(book.EscrowBelowInitialMargin):
        book.placeBid(MID, True, 0, to_usdc(60_000), to_usdc(5_999), sender=a)
    with ape.reverts(system.clearinghouse.NotionalAboveTopTier):
        book.placeBid(MID, True, 0, to_usdc(20_000_000), to_usdc(10_000_000), sender=a)
    assert usdc.balanceOf(a) == to_usdc(100_000) and book.bidCount() == 0
    book.placeBid(MID, True, 0, to_usdc(60_000), to_usdc(6_000), sender=a)
    assert usdc.balanceOf(a) == to_usdc(94_000)


def test_admin_settings_are_validated_and_role_gated(system, roles, accounts):
    _, _, _, kicker, (a, _, _, _) = roles
    book, admin = system.book, accounts[0]
    with ape.reverts(book.UnknownMarket):  # the clearinghouse's error, same signature
        book.setLevels(market_id("NOPE-USD"), [100], sender=admin)
    for bad in ([], [100, 100], [200, 100], [10_000], list(range(1, 10))):
        with ape.reverts(book.InvalidLevels):
            book.setLevels(MID, bad, sender=admin)
    for bad in (0, 65):
        with ape.reverts(book.InvalidParameter):
            book.setMaxMatches(MID, bad, sender=admin)
    with ape.reverts():
        book.setLevels(MID, [100], sender=kicker)
    _bid(system, a, 0, 1_000)
    with ape.reverts():
        book.absorb(1, MID, kicker, True, 1, MARK, 0, sender=kicker)  # only the auction
    with ape.reverts():
        system.clearinghouse.fundMargin(MID, kicker, 1, sender=kicker)
    with ape.reverts():
        system.auction.setBook(kicker, sender=kicker)
    with ape.reverts(book.BookNotEmpty):
        book.setLevels(MID, [100, 200], sender=admin)
    assert list(book.levels(MID)) == LEVELS
