"""The standing-bid book's reference model on its own (no chain): prices and their rounding, the level a scenario's
discount maps to, matching order, the cap, and bids whose owner cannot take."""

from backstop.model.bidbook import BidBook, bid_price, escrow_required, level_at_or_above
from backstop.units import NOTIONAL_SCALE, to_usdc, to_wad

LEVELS = [50, 100, 200, 300, 500, 1_000, 2_000, 5_000]


def test_prices_round_against_the_bidder():
    mark = 10**18 + 1  # $1 and a wei: neither side divides evenly
    assert bid_price(True, mark, 300) == (mark * 9_700 + 9_999) // 10_000  # long bought at 97%, rounded up
    assert bid_price(False, mark, 300) == mark * 10_300 // 10_000  # short taken over at 103%, rounded down
    assert escrow_required(to_usdc(10_001), 500) == 500_050_000 and escrow_required(3, 500) == 1


def test_a_discount_maps_to_the_nearest_level_at_or_above_it():
    assert [level_at_or_above(LEVELS, d) for d in (0, 50, 51, 250, 300, 5_000)] == [0, 0, 1, 3, 3, 7]
    assert level_at_or_above(LEVELS, 5_001) is None


def test_best_level_first_fifo_within_a_level_and_the_cap():
    book = BidBook(LEVELS, max_matches=3)
    late = book.place("a", True, 1, to_usdc(1_000), to_usdc(50))
    first = book.place("b", True, 0, to_usdc(1_000), to_usdc(50))
    second = book.place("c", True, 0, to_usdc(1_000), to_usdc(50))
    never = book.place("d", True, 2, to_usdc(1_000), to_usdc(50))
    fills = book.absorb("t", True, to_wad(3_500), to_wad(1))
    assert [f.bid for f in fills] == [first, second, late]  # the cap of 3 stops before `never`
    assert all(f.notional == to_usdc(1_000) and f.escrow == to_usdc(50) for f in fills)
    assert sum(f.qty for f in fills) < to_wad(3_500)  # the rest goes to the auction
    assert list(book.bids) == [never] and book.total_depth(True) == to_usdc(1_000)


def test_a_partial_fill_uses_a_rounded_up_share_of_the_escrow():
    book = BidBook(LEVELS, max_matches=8)
    bid = book.place("a", True, 0, to_usdc(3_000), to_usdc(150))
    (fill,) = book.absorb("t", True, to_wad(100), to_wad(10))  # $995 of $3,000 at $9.95
    price = bid_price(True, to_wad(10), 50)
    assert (fill.qty, fill.price) == (to_wad(100), price)
    assert fill.notional == -(-to_wad(100) * price // NOTIONAL_SCALE)
    assert fill.escrow == -(-to_usdc(150) * fill.notional // to_usdc(3_000))
    assert (book.bids[bid].left, book.bids[bid].escrow) == (to_usdc(3_000) - fill.notional, to_usdc(150) - fill.escrow)


def test_the_trader_a_bidder_in_liquidation_and_dust_bids_are_cancelled_and_refunded():
    book = BidBook(LEVELS, max_matches=8)
    own = book.place("t", True, 0, to_usdc(1_000), to_usdc(50))
    frozen = book.place("f", True, 0, to_usdc(1_000), to_usdc(50))
    dust = book.place("d", True, 0, 1, 7)  # $0.000001 buys no wei of size at $1e15
    good = book.place("g", True, 1, to_usdc(1_000), to_usdc(50))
    fills = book.absorb("t", True, 10**18, 10**33, in_liquidation={"f"})
    assert [f.bid for f in fills] == [good]
    assert own not in book.bids and frozen not in book.bids and dust not in book.bids
    assert book.withdrawable == {"t": to_usdc(50), "f": to_usdc(50), "d": 7}


def test_reduce_releases_a_rounded_down_share_and_reducing_everything_cancels():
    book = BidBook(LEVELS, max_matches=8)
    bid = book.place("a", False, 4, to_usdc(3), 7)
    assert book.reduce(bid, to_usdc(1)) == 2  # 7 / 3, rounded down
    assert (book.bids[bid].left, book.bids[bid].escrow) == (to_usdc(2), 5)
    assert book.reduce(bid, to_usdc(2)) == 5 and bid not in book.bids
    assert book.withdrawable == {"a": 7}
