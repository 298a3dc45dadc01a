"""Market orders of the replay's own actors against the synthetic market makers: a trader's open or exit, a
standing bidder selling what it absorbed. Each is priced at the oracle mark or, in a market with ``liquidity``,
through the deepest venue's book (backstop.replay.market), and sent as one `Clearinghouse.trade` with both
orders signed as at set-up."""

from __future__ import annotations

from collections.abc import Callable

from backstop.chain.fastchain import Wallet
from backstop.chain.orders import Order, sign_order
from backstop.replay.state import MM_MARGIN_SHARE, ReplayContext
from backstop.units import notional_up

__all__ = ["Priced", "price_market_order", "send_mm_trade"]

Priced = tuple[int, int, "str | None", float]  # (size [wad, signed], price [wad], venue or None, notional [USD, signed])


def price_market_order(ctx: ReplayContext, market: str, t: int, size: int, mark: int) -> Priced:
    """(size, price, venue, notional) of a market order of `size` units [wad, signed] decided at scenario second
    `t` (traded at t + 1): at `mark` [wad], or through the deepest venue's book at its slippage, cut to what the
    market's price band lets through (size 0: nothing can trade)."""
    book = ctx.market.books.get(market)
    if book is None:
        return size, mark, None, 0.0
    venue = book.deepest(t + 1)
    most = book.most_in_band(venue, t + 1, size < 0, ctx.specs[market].price_band_bps)
    size = max(-most, min(most, size))
    if size == 0:
        return 0, mark, venue, 0.0
    price, notional = book.unwind_price(venue, t + 1, size, mark)
    return size, price, venue, notional


def send_mm_trade(
    ctx: ReplayContext, account: Wallet, mm: Wallet, market: str, size: int, price: int, margin: int,
    nonce: Callable[[], int], label: str, account_sends: bool,
) -> bytes:
    """Sends a trade of `size` units [wad, signed: `account`'s side] at `price` [wad] between `account`, which posts
    `margin` [usdc], and market maker `mm`, which posts MM_MARGIN_SHARE of the notional where the trade grows
    its position (as the mirror last saw it) and nothing where it shrinks it. `account_sends`: the account
    submits it with the market maker's signed order; else the market maker submits it with the account's.
    Returns the transaction's hash."""
    chain, house = ctx.chain, ctx.c["house"]
    mid = ctx.mids[market]
    held = ctx.state.positions.get((market, mm.address))
    grows = held is None or held.size == 0 or (held.size > 0) == (size < 0) or abs(held.size) < abs(size)
    mm_margin = int(notional_up(abs(size), price) * MM_MARGIN_SHARE) if grows else 0
    own = Order(account.address, mid, size, price, margin, nonce(), 2**40)
    theirs = Order(mm.address, mid, -size, price, mm_margin, nonce(), 2**40)
    if account_sends:
        sig = sign_order(theirs, mm.account.key, chain.chain_id, house.address)
        data = chain.encode(house, "trade", [theirs.as_tuple(), sig, own.as_tuple(), b""])
        return chain.send(account, house.address, data, label)
    sig = sign_order(own, account.account.key, chain.chain_id, house.address)
    data = chain.encode(house, "trade", [theirs.as_tuple(), b"", own.as_tuple(), sig])
    return chain.send(mm, house.address, data, label)
