"""Property test of the standing-bid book against its reference model (backstop.model.bidbook): on random
books (sides, levels, sizes, a bid of the trader itself), a random match cap and a random liquidation, the
contract fills the same bids for the same sizes at the same prices with the same escrow shares, leaves every
bid and released balance as the model does, and conserves USDC across clearinghouse, book, fund and wallets."""

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backstop.chain.deploy import DEFAULT_TIERS
from backstop.model import ledger as lm
from backstop.model.bidbook import BidBook, escrow_required
from backstop.units import to_usdc, to_wad
from tests.ledger_helpers import MARKET, MID, funded_system, set_price, trade, units

EXAMPLES = int(os.environ.get("BACKSTOP_PROPERTY_EXAMPLES", "10"))
LEVELS = [50, 100, 200, 300, 500, 1_000, 2_000, 5_000]

bid = st.tuples(
    st.integers(0, 3),  # bidder (3: the trader itself)
    st.booleans(),  # takes over longs
    st.integers(0, len(LEVELS) - 1),  # level
    st.integers(200, 40_000),  # notional [USD]
    st.integers(100, 130),  # escrow as a percentage of the least allowed
)


@pytest.fixture(scope="module")
def world(accounts):
    return funded_system(accounts, 2, fund_seed=20_000, global_seed=10_000), accounts


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    bids=st.lists(bid, min_size=0, max_size=7),
    cap=st.integers(1, 8),
    long=st.booleans(),
    margin=st.integers(2_400, 3_300),
    cancel=st.lists(st.integers(0, 6), max_size=2),
)
def test_book_matches_the_model_and_conserves_usdc(world, chain, bids, cap, long, margin, cancel):
    system, accounts = world
    house, book, usdc, fund = system.clearinghouse, system.book, system.usdc, system.fund
    admin, trader, counterparty, kicker = accounts[0], accounts[1], accounts[2], accounts[3]
    bidders = [accounts[4], accounts[5], accounts[6], trader]
    snap = chain.snapshot()
    try:
        book.setMaxMatches(MID, cap, sender=admin)
        size = units(8_000)
        if long:
            trade(system, trader, counterparty, size, to_wad(6), to_usdc(margin), to_usdc(60_000))
        else:
            trade(system, counterparty, trader, size, to_wad(6), to_usdc(60_000), to_usdc(margin))
        model = BidBook(LEVELS, cap)
        ids: list[int] = []
        for who, side, level, usd, pct in bids:
            notional = to_usdc(usd)
            escrow = escrow_required(notional, lm.tier_for(list(DEFAULT_TIERS), notional).initial_margin_bps) * pct // 100
            w = bidders[who]
            usdc.mint(w, escrow, sender=admin)
            usdc.approve(book, escrow, sender=w)
            ids.append(book.placeBid(MID, side, level, notional, escrow, sender=w).return_value)
            assert ids[-1] == model.place(str(w.address), side, level, notional, escrow)
        for i in cancel:
            if i < len(ids) and ids[i] in model.bids:
                owner = bidders[bids[i][0]]
                book.cancelBid(ids[i], sender=owner)
                model.cancel(ids[i])
        wallets = [*bidders[:3], trader, counterparty, kicker, admin]
        held = lambda: usdc.balanceOf(house) + usdc.balanceOf(fund) + usdc.balanceOf(book) + sum(usdc.balanceOf(w) for w in wallets)  # noqa: E731
        held0 = held()

        mark = to_wad("5.6") if long else to_wad("6.4")
        set_price(system, MARKET, mark)
        tx = system.auction.liquidate(MID, trader, sender=kicker)

        fills = [(e.id, e.owner, e.qty, e.price, e.notional, e.escrow) for e in tx.events if e.event_name == "BidFilled"]
        expected = model.absorb(str(trader.address), long, size, mark)
        assert fills == [(f.bid, f.owner, f.qty, f.price, f.notional, f.escrow) for f in expected]
        for i in ids:
            b = book.bid(i)
            m = model.bids.get(i)
            assert (b.left, b.escrow) == ((m.left, m.escrow) if m else (0, 0))
        for w in set(bidders):
            assert book.withdrawable(w) == model.withdrawable.get(str(w.address), 0)
        for side in (True, False):
            assert book.totalDepth(MID, side) == model.total_depth(side)
            for level in range(len(LEVELS)):
                assert book.depth(MID, side, level)[1:3] == (model.depth(side, level), len(model.queues.get((side, level), [])))
        filled = sum(f.qty for f in expected)
        assert abs(house.getPosition(MID, trader).size) == size - filled
        started = [e.qty for e in tx.events if e.event_name in ("AuctionStarted", "LiquidationQueued")]
        assert started == ([size - filled] if filled < size else [])
        # escrow: the book's free balance is exactly its open escrow plus what it owes as released
        open_escrow = sum(m.escrow for m in model.bids.values())
        assert house.freeBalance(book) == open_escrow + sum(model.withdrawable.values())
        assert held() == held0
        assert usdc.balanceOf(fund) == fund.totalPooled()
    finally:
        chain.restore(snap)
