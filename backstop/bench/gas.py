"""Benchmarks: gas per operation, measured from real receipts on a fresh local chain.

Figures are printed and written to a JSON file with the command, the date and the machine; the README's
gas table is copied from the Markdown this module renders. Nothing here asserts a figure: benchmarks
measure, tests judge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ape import accounts, chain

from backstop.bench.results import GasFigure
from backstop.chain.deploy import MarketSpec, deploy_system
from backstop.chain.orders import Order, sign_order
from backstop.units import market_id, to_usdc, to_wad

BLOCK_GAS = 30_000_000
PACKED = 60  # liquidations sent for one block: about 20M gas, under the 30M limit
BATCH = 50  # liquidations in one liquidateMany: about 12M gas


def ledger_gas(packed: int = PACKED) -> tuple[list[GasFigure], BlockPacking]:
    """Deploys a one-market system and measures each ledger and auction operation once, in a realistic state;
    then `packed` standing-bid liquidations mined in one block."""
    from backstop.chain.node import steady_clock  # noqa: PLC0415

    steady_clock(chain.provider.http_uri)  # gas independent of the wall clock (the fund's hourly snapshots)
    admin, alice, bob, carol = accounts.test_accounts[:4]
    spec = MarketSpec("OM-USD", "6", fund_seed=10_000)
    system = deploy_system(admin, [spec], global_seed=10_000)
    house, fund, usdc, oracle = system.clearinghouse, system.fund, system.usdc, system.oracle
    mid = market_id(spec.name)
    figures: list[GasFigure] = []

    for who in (alice, bob, carol):
        usdc.mint(who, to_usdc(1_000_000), sender=admin)
        usdc.approve(house, 2**256 - 1, sender=who)
    figures.append(GasFigure("deposit (first)", house.deposit(to_usdc(500_000), sender=alice).gas_used, "new free balance"))
    figures.append(GasFigure("deposit", house.deposit(to_usdc(1_000), sender=alice).gas_used, "existing free balance"))
    house.deposit(to_usdc(500_000), sender=bob)
    house.deposit(to_usdc(500_000), sender=carol)
    figures.append(GasFigure("withdraw", house.withdraw(to_usdc(1_000), sender=alice).gas_used))

    nonce = iter(range(1, 10**6))

    def settle(maker, taker, size: int, price: int, mm: int, tm: int):
        mo = Order(str(maker.address), mid, size, price, mm, next(nonce), 2**40)
        to = Order(str(taker.address), mid, -size, price, tm, next(nonce), 2**40)
        sig = lambda o, a: sign_order(o, a.private_key, chain.chain_id, str(house.address))  # noqa: E731
        return house.trade(mo.as_tuple(), sig(mo, maker), to.as_tuple(), sig(to, taker), sender=admin)

    figures.append(GasFigure("trade: open both sides", settle(alice, bob, to_wad(1_000), to_wad(6), to_usdc(600), to_usdc(600)).gas_used, "2 EIP-712 signatures, 3 oracle sources"))
    figures.append(GasFigure("trade: grow both sides", settle(alice, bob, to_wad(1_000), to_wad(6), to_usdc(600), to_usdc(600)).gas_used))
    figures.append(
        GasFigure("trade: open with tail-risk fee", settle(carol, bob, to_wad(20_000), to_wad(6), to_usdc(13_000), to_usdc(13_000)).gas_used, "2nd bracket: fee into the sub-pool")
    )
    figures.append(GasFigure("trade: close both sides", settle(bob, alice, to_wad(2_000), to_wad(6), 0, 0).gas_used, "bob reduces, alice closes"))

    src = next(iter(system.sources[spec.name].values()))
    figures.append(GasFigure("oracle: source update", src.setAnswer(6 * 10**8, sender=admin).gas_used, "mock Chainlink-shaped source"))
    figures.append(GasFigure("oracle: poke (3 sources)", oracle.poke(mid, sender=admin).gas_used, "median + deviation filter + record"))
    figures.append(GasFigure("addMargin", house.addMargin(mid, to_usdc(100), sender=carol).gas_used))
    figures.append(GasFigure("removeMargin", house.removeMargin(mid, to_usdc(100), sender=carol).gas_used, "initial-margin check at the oracle"))

    chain.mine(timestamp=chain.pending_timestamp + 3_600)
    figures.append(GasFigure("fund: snapshot (new hour)", fund.snapshot(mid, sender=admin).gas_used, "records the hour"))
    figures.append(GasFigure("fund: snapshot (same hour)", fund.snapshot(mid, sender=admin).gas_used, "nothing to record"))
    fund.grantRole(fund.COVER_ROLE(), admin, sender=admin)
    figures.append(GasFigure("fund: coverLoss (sub-pool only)", fund.coverLoss(mid, to_usdc(1_000), admin, sender=admin).gas_used))
    figures.append(GasFigure("fund: coverLoss (sub-pool + global)", fund.coverLoss(mid, to_usdc(15_000), admin, sender=admin).gas_used))
    usdc.mint(admin, to_usdc(100), sender=admin)
    usdc.approve(fund, to_usdc(100), sender=admin)
    figures.append(GasFigure("fund: donation", fund.deposit(mid, 4, to_usdc(100), sender=admin).gas_used))
    figures += _auction_gas(system, settle, mid)
    figures += standing_bid_gas(system, settle, mid)
    packing = packed_standing_bid_liquidations(packed)
    figures.append(
        GasFigure(
            f"liquidation: filled by a standing bid, {packing.liquidations} in one block (each)",
            packing.per_liquidation,
            f"{packing.gas:,} gas in {packing.blocks} block(s) / {packing.liquidations}; one warm bidder; target <= 100k",
            key="liquidation_standing_bid_batched",
        )
    )
    batch = packed_standing_bid_liquidations(BATCH, batched=True)
    figures.append(
        GasFigure(
            f"liquidation: filled by a standing bid, {batch.liquidations} in one liquidateMany (each)",
            batch.per_liquidation,
            f"{batch.gas:,} gas in one transaction / {batch.liquidations}; one oracle reading; target <= 40k",
            key="liquidation_standing_bid_liquidate_many",
        )
    )
    return figures, packing


def _auction_gas(system, settle, mid: bytes) -> list[GasFigure]:
    """Liquidation through the Dutch auction: start, partial and full takes, a restart."""
    admin, alice, bob, carol, dave, erin = accounts.test_accounts[:6]
    house, auction, usdc = system.clearinghouse, system.auction, system.usdc
    for who in (dave, erin):
        usdc.mint(who, to_usdc(1_000_000), sender=admin)
        usdc.approve(house, 2**256 - 1, sender=who)
        house.deposit(to_usdc(1_000_000), sender=who)
    figures: list[GasFigure] = []

    def underwater(trader) -> None:
        _underwater(system, settle, trader, bob)

    underwater(alice)
    kick = auction.liquidate(mid, alice, sender=carol)
    figures.append(GasFigure("liquidation: start auction", kick.gas_used, "freeze position, start Dutch auction, pay incentive"))
    id_ = kick.return_value
    price = auction.getStatus(id_).price
    part = auction.take(id_, to_wad(3_000), price, to_usdc(3_000), dave, b"", sender=dave)
    figures.append(GasFigure("auction: partial take", part.gas_used, "3,000 of 8,000 units"))
    full = auction.take(id_, to_wad(5_000), price, to_usdc(5_000), dave, b"", sender=dave)
    figures.append(GasFigure("auction: take the rest", full.gas_used, "closes the auction"))
    figures.append(GasFigure("liquidation through the auction (start + full take)", kick.gas_used + full.gas_used, "target <= 200k", key="liquidation_auction_full"))

    underwater(erin)
    id2 = auction.liquidate(mid, erin, sender=alice).return_value
    chain.mine(timestamp=chain.pending_timestamp + 1_801)
    figures.append(GasFigure("auction: restart (redo)", auction.redo(id2, sender=alice).gas_used, "stale by age; pays incentive"))
    return figures


def _set_price(system, dollars: str) -> None:
    for s in system.sources["OM-USD"].values():
        s.setAnswer(to_wad(dollars) // 10**10, sender=accounts.test_accounts[0])


def _underwater(system, settle, trader, counterparty) -> None:
    """`trader` long 8,000 OM at $6 with $2,500 margin; then $5.72, below maintenance ($45,760 notional)."""
    _set_price(system, "6")
    settle(trader, counterparty, to_wad(8_000), to_wad(6), to_usdc(2_500), to_usdc(30_000))
    _set_price(system, "5.72")


def standing_bid_gas(system: Any, settle: Callable[..., Any], mid: bytes) -> list[GasFigure]:
    """Liquidations filled by standing bids: by one bid, by four, partly then auctioned. (The fill with 10 to
    10,000 bids in the book: backstop.bench.bids, on its own node.)"""
    alice, bob, carol = accounts.test_accounts[1:4]
    auction = system.auction
    bidders = _Bidders(system)
    figures: list[GasFigure] = []

    def liquidate() -> int:
        _underwater(system, settle, alice, bob)
        return auction.liquidate(mid, alice, sender=carol).gas_used

    for what, bids, note in (
        ("liquidation: filled by one standing bid", [(100_000, 0)], "a $100k bid takes all $45,760; no auction; the bidder's first position (account registry, new slots)"),
        ("liquidation: filled by 4 standing bids", [(12_000, 0)] * 4, "4 bids of $12k; no auction; four new bidder positions"),
        ("liquidation: standing bid, rest to auction", [(20_000, 0)], "a $20k bid takes part; the rest starts an auction"),
    ):
        bidders.place(bids)
        figures.append(GasFigure(what, liquidate(), note))
        bidders.cancel_all()
    rest = auction.kicks()
    auction.take(rest, 2**128, auction.getStatus(rest).price, to_usdc(30_000), bob, b"", sender=bob)

    return figures


@dataclass
class BlockPacking:
    """Liquidations fully absorbed by standing bids, all sent before one block was mined (automine off)."""

    liquidations: int
    gas: int  # sum of their receipts' gasUsed
    blocks: int  # distinct blocks they were mined in (1: all fit in one block)

    @property
    def per_liquidation(self) -> int:
        """Gas of one liquidation, on average over the block."""
        return self.gas // self.liquidations

    @property
    def per_block(self) -> int:
        """How many such liquidations fit in a 30M-gas block at the measured gas each."""
        return BLOCK_GAS // self.per_liquidation


def packed_standing_bid_liquidations(n: int = PACKED, batched: bool = False) -> BlockPacking:
    """The best batched form the contracts allow today: `n` liquidations, each fully taken by standing bids in
    its own `liquidate` transaction (no auction, nothing left to take), mined together in one block. A warm
    market maker's single large bid fills them all, as in a crash where one pre-funded bidder backs the book;
    one liquidation before the block (not counted) creates its position, so the block measures steady state.
    Every trader is long 8,000 OM at $6 with $2,500 margin against one short whale, then the price is $5.72.
    A fresh one-market system: an empty book but for that bid (older bids of other accounts would fill first).
    `batched`: the `n` liquidations are one `liquidateMany` transaction instead (one oracle reading)."""
    from backstop.chain.fastchain import Wallet, derive_account  # noqa: PLC0415

    spec = MarketSpec("OM-USD", "6", fund_seed=10_000)
    system = deploy_system(accounts.test_accounts[0], [spec], global_seed=10_000)
    mid = market_id(spec.name)
    tag = "bench-batch" if batched else "bench-packed"  # fresh accounts for each run on the same chain
    bidders = _Bidders(system, label=f"{tag}-bidder")
    fc = bidders.fc
    house, auction = bidders.contract(system.clearinghouse), bidders.contract(system.auction)
    fc.register("auction", auction)
    _set_price(system, "6")
    admin = fc.wallet(bidders.admin)
    whale = Wallet(derive_account(0, f"{tag}-whale", 0))
    traders = [Wallet(derive_account(0, f"{tag}-trader", i)) for i in range(n + 1)]
    funded = [(whale, to_usdc(1_000_000_000))] + [(t, to_usdc(10_000)) for t in traders]
    for w, amount in funded:
        fc.call_fn(admin, bidders.usdc, "mint", w.address, amount)
    bidders.mine()
    for w, amount in funded:
        fc.call_fn(w, bidders.usdc, "approve", house.address, 2**256 - 1)
        fc.call_fn(w, house, "deposit", amount)
    bidders.mine()
    size, price = to_wad(8_000), to_wad(6)
    for i, t in enumerate(traders):
        long = Order(t.address, mid, size, price, to_usdc(2_500), 10**9 + i, 2**40)
        short = Order(whale.address, mid, -size, price, to_usdc(40_000), 10**9 + i, 2**40)
        sig = sign_order(short, whale.account.key, fc.chain_id, house.address)
        fc.send(t, house.address, fc.encode(house, "trade", [long.as_tuple(), b"", short.as_tuple(), sig]), "open")
    bidders.mine()
    bidders.place([(50_000 * (n + 1), 0)])
    _set_price(system, "5.72")
    keeper = Wallet(derive_account(0, f"{tag}-keeper", 0))
    fc.call_fn(keeper, auction, "liquidate", mid, traders[0].address)
    _check_absorbed(fc, bidders.mine())
    if batched:
        batch = [t.address for t in traders[1:]]
        fc.send(keeper, auction.address, fc.encode(auction, "liquidateMany", [mid, batch]), "liquidateMany", gas=25_000_000)
    else:
        for t in traders[1:]:
            fc.send(keeper, auction.address, fc.encode(auction, "liquidate", [mid, t.address]), "liquidate")
    receipts = bidders.mine()
    _check_absorbed(fc, receipts)
    return BlockPacking(n, sum(r["gasUsed"] for _, r in receipts), len({r["blockNumber"] for _, r in receipts}))


def _check_absorbed(fc, receipts: list) -> None:
    """Every liquidation fully taken by standing bids: nothing auctioned, queued or skipped."""
    for _, receipt in receipts:
        events = [(event, args) for _, event, args, _ in fc.decode(receipt)]
        names = {e for e, _ in events}
        left = [a["left"] for e, a in events if e == "StandingBidsFilled"]
        if receipt["status"] != 1 or names & {"AuctionStarted", "LiquidationQueued", "LiquidationSkipped"} or not left or any(left):
            raise RuntimeError(f"packed-block benchmark: a liquidation was not fully absorbed by standing bids: {sorted(names)}")


class _Bidders:
    """Places standing bids, each from a fresh account, in batched blocks (web3 straight to the node: a thousand
    bids through Ape calls would take minutes)."""

    def __init__(self, system, label: str = "bench-bidder") -> None:
        from backstop.bench.twins import local_account  # noqa: PLC0415
        from backstop.chain.fastchain import FastChain  # noqa: PLC0415

        self.fc = FastChain.connect(chain.provider.http_uri)
        self.book = self.contract(system.book)
        self.usdc = self.contract(system.usdc)
        self.fc.register("book", self.book)
        self.admin = local_account(accounts.test_accounts[0])
        self.label = label
        self.count = 0
        self.open: dict[int, object] = {}  # bid id -> owner wallet

    def place(self, bids: list[tuple[int, int]]) -> None:
        """Places (notional [USD], level) long-side bids, each with exactly the escrow it needs."""
        from backstop.bench.bids import place_bids  # noqa: PLC0415
        from backstop.chain.fastchain import Wallet, derive_account  # noqa: PLC0415

        minter = self.fc.wallet(self.admin)  # its nonce now: Ape sends the admin's other transactions
        wallets = [Wallet(derive_account(0, self.label, self.count + i)) for i in range(len(bids))]
        self.count += len(bids)
        todo = [(w, to_usdc(usd), level) for w, (usd, level) in zip(wallets, bids)]
        self.open.update(place_bids(self.fc, minter, self.usdc, self.book, market_id("OM-USD"), todo, self.mine))

    def contract(self, ape_contract):
        """The web3 twin of an Ape contract, on this FastChain."""
        from backstop.bench.twins import twin  # noqa: PLC0415

        return twin(self.fc.w3, ape_contract)

    def cancel_all(self) -> None:
        """Cancels every bid still open (what a liquidation left of it)."""
        for bid_id, wallet in self.open.items():
            if self.book.functions.bid(bid_id).call()[6] > 0:  # `left`: a used-up bid is deleted
                self.fc.call_fn(wallet, self.book, "cancelBid", bid_id)
        self.mine()
        self.open.clear()

    def mine(self) -> list:
        self.fc.head = -1  # Ape mined blocks since the last call: the next block starts from the chain's latest time
        self.fc.set_automine(False)
        self.fc.rpc("anvil_setNextBlockBaseFeePerGas", ["0x0"])
        try:
            receipts = self.fc.mine()
        finally:
            self.fc.set_automine(True)
        for sent, receipt in receipts:
            if receipt["status"] != 1:
                raise RuntimeError(f"bench set-up transaction {sent.label} failed: {self.fc.revert_reason(sent.tx_hash)}")
        return receipts
