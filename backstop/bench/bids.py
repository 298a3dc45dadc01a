"""Standing-bid scaling benchmark: gas of one liquidation filled by the bid at the head of the queue, with 10 to
10,000 bids resting in the book. The book is built with batched, pre-signed transactions (backstop.chain.fastchain)
on a fresh Anvil that this module starts (without Ape's step tracing, which makes 10,000 bids time out); the
liquidations themselves are measured from their receipts.

One market; one market maker's large bid at the best level (the smallest discount) is placed first, so it is
the head of the queue that every measured liquidation reaches first and that absorbs it whole. Before each
measurement the book grows to n bids: the others, $10,000 each from distinct accounts, spread over all eight
levels (behind the head bid at level 0). The measured operation is the same at every n: a trader long 8,000 OM
at $6 with $2,500 margin falls below maintenance at $5.72 and one `liquidate` transaction hands the whole
position to the head bid (no auction, nothing queued). One liquidation before the first size (not measured)
creates the bidder's position, so every measured fill only grows it. Every measured liquidation is mined at the
same offset within a fresh hour, after that hour's fund snapshots were recorded, so that no measurement pays
for an hour boundary that another does not.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from backstop.chain.fastchain import FastChain, Wallet, derive_account
from backstop.chain.orders import Order, sign_order
from backstop.units import market_id, to_usdc, to_wad

SIZES = (10, 100, 1_000, 10_000)  # bids in the book when a fill is measured
BATCH = 500  # bidders per batch of blocks while building the book
BID_GAS = 400_000  # gas limit of a set-up transaction: Anvil fills a block by gas limit, 3M would fit only ten
HEAD_NOTIONAL = 1_000_000  # [USD] the head bid: enough for every measured liquidation ($45,760 each)
OTHER_NOTIONAL = 10_000  # [USD] each of the other bids
TRADER_UNITS = 8_000
HOUR = 3_600
OFFSET = 60  # [s] into the hour at which each measured sequence starts


@dataclass
class BidScale:
    """The gas of one head-bid fill with `bids` standing bids in the book."""

    bids: int  # bids resting in the book when the liquidation was sent
    gas: int  # the liquidation, from its receipt
    build_seconds: float  # growing the book to `bids`


def bid_scaling(sizes: tuple[int, ...] = SIZES, log: Callable[[str], None] = print) -> list[BidScale]:
    """Starts its own Anvil, deploys a one-market system and measures the head bid's fill at each size
    (ascending: the book only grows)."""
    from ape import accounts, networks  # noqa: PLC0415

    from backstop.bench.twins import local_account, twin  # noqa: PLC0415
    from backstop.chain.deploy import MarketSpec, deploy_system  # noqa: PLC0415
    from backstop.chain.node import local_anvil, steady_clock  # noqa: PLC0415

    with local_anvil() as node, networks.parse_network_choice(node.uri):
        steady_clock(node.uri)  # gas independent of the wall clock (the fund's hourly snapshots)
        admin = accounts.test_accounts[0]
        spec = MarketSpec("OM-USD", "6", fund_seed=10_000)
        system = deploy_system(admin, [spec], global_seed=10_000)
        fc = FastChain.connect(node.uri, timeout=300)
        fc.set_automine(False)
        c = {name: twin(fc.w3, getattr(system, name)) for name in ("usdc", "clearinghouse", "auction", "book", "fund")}
        for name in ("auction", "book"):
            fc.register(name, c[name])
        sources = [twin(fc.w3, s) for s in system.sources[spec.name].values()]
        bench = _HeadFill(fc, c, fc.wallet(local_account(admin)), market_id(spec.name), sources)
        results = []
        for n in sorted(sizes):
            start = time.perf_counter()
            bench.grow(n)
            build = time.perf_counter() - start
            results.append(BidScale(n, bench.liquidate(), build))
            log(f"standing-bid fill with {n:,} bids in the book: {results[-1].gas:,} gas (book grown in {build:.0f} s)")
        return results


def place_bids(fc: FastChain, minter: Wallet, usdc: Any, book: Any, mid: bytes, bids: Iterable[tuple[Wallet, int, int]],
               mine: Callable[[], list]) -> dict[int, Wallet]:
    """Places long-side standing bids (wallet, notional [usdc], level), each with exactly the escrow it needs,
    in batches of BATCH bidders: the escrow is minted in one block, approved and bid in the next. Returns
    {bid id: wallet}."""
    from backstop.chain.deploy import DEFAULT_TIERS  # noqa: PLC0415
    from backstop.model.bidbook import escrow_required  # noqa: PLC0415
    from backstop.model.ledger import tier_for  # noqa: PLC0415

    placed: dict[int, Wallet] = {}
    todo = list(bids)
    for i in range(0, len(todo), BATCH):
        chunk = [(w, notional, level, escrow_required(notional, tier_for(list(DEFAULT_TIERS), notional).initial_margin_bps))
                 for w, notional, level in todo[i : i + BATCH]]
        for wallet, _, _, escrow in chunk:
            fc.send(minter, usdc.address, fc.encode(usdc, "mint", [wallet.address, escrow]), "mint", gas=BID_GAS)
        mine()
        for wallet, notional, level, escrow in chunk:
            fc.send(wallet, usdc.address, fc.encode(usdc, "approve", [book.address, escrow]), "approve", gas=BID_GAS)
            fc.send(wallet, book.address, fc.encode(book, "placeBid", [mid, True, level, notional, escrow]), "placeBid", gas=BID_GAS)
        owners = {w.address: w for w, *_ in chunk}
        for _, receipt in mine():
            for _, event, args, _ in fc.decode(receipt):
                if event == "BidPlaced":
                    placed[args["id"]] = owners[args["owner"]]
    return placed


class _HeadFill:
    """The book, the trader it liquidates again and again, and the head bid that absorbs each liquidation."""

    def __init__(self, fc: FastChain, c: dict[str, Any], owner: Wallet, mid: bytes, sources: list[Any]) -> None:
        self.fc, self.c, self.owner, self.mid, self.sources = fc, c, owner, mid, sources
        self.trader = fc.wallet(derive_account(0, "bid-bench-trader", 0))
        self.whale = fc.wallet(derive_account(0, "bid-bench-whale", 0))
        self.keeper = fc.wallet(derive_account(0, "bid-bench-keeper", 0))
        house, usdc = c["clearinghouse"], c["usdc"]
        for w, amount in ((self.trader, to_usdc(1_000_000)), (self.whale, to_usdc(1_000_000_000))):
            fc.call_fn(owner, usdc, "mint", w.address, amount)
            self._mine()
            fc.call_fn(w, usdc, "approve", house.address, 2**256 - 1)
            fc.call_fn(w, house, "deposit", amount)
        self._mine()
        self.count = 0  # bidder accounts used
        self.nonce = 0  # of the trader's orders
        self.head = self._place([(to_usdc(HEAD_NOTIONAL), 0)])[0]
        self.resting = 1
        self.liquidate()  # not measured: creates the head bidder's position

    def grow(self, n: int) -> None:
        """Places bids until n rest in the book (the head bid is one of them)."""
        more = n - self.resting
        if more > 0:
            self._place([(to_usdc(OTHER_NOTIONAL), i % 8) for i in range(more)])
            self.resting = n

    def liquidate(self) -> int:
        """The trader opens 8,000 OM long at $6 ($2,500 margin) against the whale; the price falls to $5.72; one
        `liquidate` at a fixed offset within a fresh hour. Checks the head bid absorbed all of it; returns its gas."""
        fc, house = self.fc, self.c["clearinghouse"]
        hour = (max(fc.last_timestamp, fc.now()) // HOUR + 1) * HOUR
        for pool in (self.mid, b"\0" * 32):
            fc.call_fn(self.owner, self.c["fund"], "snapshot", pool)
        self._set_price("6")
        self._mine(hour + OFFSET)
        self.nonce += 1
        size, price = to_wad(TRADER_UNITS), to_wad(6)
        long = Order(self.trader.address, self.mid, size, price, to_usdc(2_500), 10**9 + self.nonce, 2**40)
        short = Order(self.whale.address, self.mid, -size, price, to_usdc(30_000), 10**9 + self.nonce, 2**40)
        sig = sign_order(short, self.whale.account.key, fc.chain_id, house.address)
        fc.send(self.trader, house.address, fc.encode(house, "trade", [long.as_tuple(), b"", short.as_tuple(), sig]), "open")
        self._mine()
        self._set_price("5.72")
        self._mine()
        fc.call_fn(self.keeper, self.c["auction"], "liquidate", self.mid, self.trader.address)
        (_, receipt), = self._mine()
        events = [(event, args) for _, event, args, _ in fc.decode(receipt)]
        fills = [a["id"] for e, a in events if e == "BidFilled"]
        left = [a["left"] for e, a in events if e == "StandingBidsFilled"]
        if fills != [self.head] or left != [0] or {e for e, _ in events} & {"AuctionStarted", "LiquidationQueued", "BidCancelled"}:
            raise RuntimeError(f"standing-bid benchmark: the head bid did not absorb the liquidation alone: {events}")
        return receipt["gasUsed"]

    def _set_price(self, dollars: str) -> None:
        for src in self.sources:
            self.fc.call_fn(self.owner, src, "setAnswer", to_wad(dollars) // 10**10)

    def _place(self, bids: list[tuple[int, int]]) -> list[int]:
        wallets = [Wallet(derive_account(0, "bid-bench-bidder", self.count + i)) for i in range(len(bids))]
        self.count += len(bids)
        placed = place_bids(self.fc, self.owner, self.c["usdc"], self.c["book"], self.mid,
                            [(w, notional, level) for w, (notional, level) in zip(wallets, bids)], self._mine)
        return sorted(placed)

    def _mine(self, timestamp: int | None = None) -> list:
        receipts = self.fc.mine(timestamp)
        failed = [(s.label, self.fc.revert_reason(s.tx_hash)) for s, r in receipts if r["status"] != 1]
        if failed:
            raise RuntimeError(f"standing-bid benchmark set-up failed: {failed[:3]}")
        return receipts
