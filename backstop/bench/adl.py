"""ADL scaling benchmark: gas of one ADL execution, and per matched counterparty, with 10 to 10,000 open
positions in the market. The population is built with batched, pre-signed transactions (backstop.chain.fastchain)
on a fresh Anvil that this module starts; the executions themselves are measured from their receipts.

Per size n, one market holds n positions: n − 3 shorts with varied margins (so that their scores differ), the
long whale on the other side of them, and two longs that go bankrupt (1,000 and 8,000 units). The price falls
from $6 to $5 with an empty global pool (a fund-risk trigger); the small long is deleveraged against one short,
then the large one against five (each short giving up at most half of its unrealised profit), the same at
every n. One "anchor" short with the thinnest margin ranks first at every n and absorbs the small long alone,
so both executions match the same structure of counterparties whatever n is; in the second one, the four
counterparties untouched since before the first pay for their checkpoints (the first execution is still
challengeable): the conservative case.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Callable

from backstop.chain.deploy import AdlSpec, MarketSpec
from backstop.chain.fastchain import FastChain, Wallet, derive_account
from backstop.chain.orders import Order, sign_order
from backstop.keeper.adl import AdlExecutor
from backstop.model import adl as adl_model
from backstop.model.ledger import Position, Tier
from backstop.units import market_id, to_usdc, to_wad

SIZES = (10, 100, 1_000, 10_000)
WARM_UP = 8  # positions in the market measured first and not reported
SHORT_UNITS = 2_500
CAP_BPS = 5_000
BATCH = 500  # transactions per block while building the population


@dataclass
class AdlScale:
    """The ADL gas measured in one market of `positions` open positions."""

    positions: int  # open positions in the market
    execution_gas: int  # the ADL matched against `counterparties` positions
    counterparties: int
    build_seconds: float  # building the population
    per_counterparty: int  # marginal gas of one more matched counterparty: (execution − single) / (k − 1)
    single_gas: int  # an ADL matched against one counterparty (the execution before it in the market)


def adl_scaling(sizes: tuple[int, ...] = SIZES, log: Callable[[str], None] = print) -> list[AdlScale]:
    """Starts its own Anvil, deploys one market per size and measures an ADL in each."""
    from ape import accounts, networks  # noqa: PLC0415

    from backstop.bench.twins import local_account, twin  # noqa: PLC0415
    from backstop.chain.deploy import deploy_system  # noqa: PLC0415
    from backstop.chain.node import local_anvil, steady_clock  # noqa: PLC0415

    with local_anvil() as node, networks.parse_network_choice(node.uri):
        steady_clock(node.uri)  # gas independent of the wall clock (the fund's hourly snapshots)
        admin = accounts.test_accounts[0]
        # one wide bracket above $50k: the whale's book reaches $150M at 10,000 positions
        tiers = (Tier(to_usdc(50_000), 500, 250, 0), Tier(to_usdc(10**12), 1_000, 500, 0))
        # a warm-up market first: the first ADL ever pays one-off writes (counters, the queue's USDC balance)
        runs = (WARM_UP, *sizes)
        specs = [MarketSpec(f"ADL{i}-{n}-USD", "6", venues=("venue-a",), tiers=tiers) for i, n in enumerate(runs)]
        system = deploy_system(admin, specs, global_seed=0, adl=AdlSpec(loss_cap_bps=CAP_BPS, min_bond=0))
        fc = FastChain.connect(node.uri, timeout=300)
        fc.set_automine(False)
        c = {name: twin(fc.w3, getattr(system, name)) for name in ("usdc", "clearinghouse", "auction", "adl")}
        owner = fc.wallet(local_account(admin))  # from here on only FastChain sends, so its nonces stay right
        results = []
        for spec, n in zip(specs, runs):
            start = time.perf_counter()
            ape_src = next(iter(system.sources[spec.name].values()))
            src = twin(fc.w3, ape_src)
            set_price = lambda p, src=src: fc.call_fn(owner, src, "setAnswer", p)  # noqa: E731
            results.append(_one_market(fc, c, owner, market_id(spec.name), n, set_price, start))
            r = results[-1]
            if len(results) == 1:
                continue  # the warm-up
            log(f"ADL with {n:,} positions: {r.execution_gas:,} gas for {r.counterparties} counterparties, "
                f"{r.single_gas:,} for 1; {r.per_counterparty:,} per extra counterparty "
                f"(population built in {r.build_seconds:.0f} s)")
        return results[1:]


def _one_market(fc: FastChain, c: dict, owner: Wallet, mid: bytes, n: int, set_price: Callable[[int], object], start: float) -> AdlScale:
    rng = random.Random(n)
    house = c["clearinghouse"]
    whale = fc.wallet(derive_account(n, "adl-bench-whale", 0))
    shorts = [fc.wallet(derive_account(n, "adl-bench-short", i)) for i in range(n - 3)]
    funded = [(whale, to_usdc(10_000_000_000))] + [(s, to_usdc(20_000)) for s in shorts]
    for i, (w, amount) in enumerate(funded):
        fc.call_fn(owner, c["usdc"], "mint", w.address, amount)
        if i % BATCH == BATCH - 1:
            fc.mine()
    fc.mine()
    for i, (w, amount) in enumerate(funded):
        fc.call_fn(w, c["usdc"], "approve", house.address, 2**256 - 1)
        fc.call_fn(w, house, "deposit", amount)
        if i % BATCH == BATCH - 1:
            fc.mine()
    fc.mine()
    price = to_wad(6)
    nonce = 0

    def open_pair(long: Wallet, short: Wallet, units: int, long_margin: int, short_margin: int) -> None:
        nonlocal nonce
        nonce += 1
        size = to_wad(units)
        short_order = Order(short.address, mid, -size, price, short_margin, nonce, 2**40)
        long_order = Order(long.address, mid, size, price, long_margin, nonce, 2**40)
        sig = sign_order(short_order, short.account.key, fc.chain_id, house.address)
        data = fc.encode(house, "trade", [long_order.as_tuple(), b"", short_order.as_tuple(), sig])
        fc.send(long, house.address, data, "open")

    for i, s in enumerate(shorts):
        if i == 0:  # the anchor: the thinnest margin ranks first at every n, before and after the small ADL
            open_pair(whale, s, 3_000, to_usdc(18_000 * 0.12), to_usdc(900))
        else:
            open_pair(whale, s, SHORT_UNITS, to_usdc(15_000 * 0.12), to_usdc(rng.uniform(1_600, 15_000)))
        if i % BATCH == BATCH - 1:
            fc.mine()
    fc.mine()
    # two longs that go bankrupt, on the other side of the whale's book: a small one that one short absorbs and
    # a large one that needs five
    small, large = (fc.wallet(derive_account(n, "adl-bench-trader", i)) for i in (0, 1))
    for w in (small, large):
        fc.call_fn(owner, c["usdc"], "mint", w.address, to_usdc(10_000))
        fc.call_fn(w, c["usdc"], "approve", house.address, 2**256 - 1)
        fc.call_fn(w, house, "deposit", to_usdc(10_000))
    fc.mine()
    for w, units, margin in ((small, 1_000, 320), (large, 8_000, 2_500)):
        nonce += 1
        size = to_wad(units)
        long_order = Order(w.address, mid, size, price, to_usdc(margin), nonce, 2**40)
        short_order = Order(whale.address, mid, -size, price, to_usdc(10_000), nonce, 2**40)
        sig = sign_order(long_order, w.account.key, fc.chain_id, house.address)
        fc.send(whale, house.address, fc.encode(house, "trade", [short_order.as_tuple(), b"", long_order.as_tuple(), sig]), "bankrupt")
    failed = [s.label for s, r in fc.mine() if r["status"] != 1]
    if failed:
        raise RuntimeError(f"ADL benchmark set-up failed: {failed[:3]}")
    build = time.perf_counter() - start

    kicker = fc.wallet(derive_account(n, "adl-bench-kicker", 0))  # starts the liquidations, executes the ADLs
    fc.call_fn(owner, c["usdc"], "mint", kicker.address, to_usdc(10_000_000))  # for the bonds
    fc.call_fn(kicker, c["usdc"], "approve", c["adl"].address, 2**256 - 1)
    set_price(5 * 10**8)
    fc.mine()
    for w in (small, large):
        fc.call_fn(kicker, c["auction"], "liquidate", mid, w.address)
    fc.mine()
    last_sale = c["auction"].functions.kicks().call()
    gas = []
    for sale, w in ((last_sale - 1, small), (last_sale, large)):
        gas.append(_execute(fc, c, kicker, mid, sale, w.address, shorts))
    (g1, k1), (g5, k5) = gas
    return AdlScale(n, g5, k5, build, (g5 - g1) // max(k5 - k1, 1), g1)


def _execute(fc: FastChain, c: dict, kicker: Wallet, mid: bytes, sale: int, trader: str, shorts: list[Wallet]) -> tuple[int, int]:
    """ADL of liquidation `sale` against the reference ranking over every short, read fresh from the chain.
    Returns (gas, counterparties)."""
    house = c["clearinghouse"]
    mark = to_wad(5)
    raw = fc.view([(house, "getPosition", [mid, s.address]) for s in shorts])
    book = {s.address: Position(*p) for s, p in zip(shorts, raw)}
    bankrupt = Position(*fc.view([(house, "getPosition", [mid, trader])])[0])
    plan = adl_model.plan(bankrupt, abs(bankrupt.size), mark, 0, True, False)
    fills = AdlExecutor(fc, c["adl"], CAP_BPS).execute(kicker, sale, book, plan, long=True)
    (_, receipt), = fc.mine()
    if receipt["status"] != 1:
        raise RuntimeError(f"ADL execution failed: {fc.revert_reason(receipt['transactionHash'])}")
    return receipt["gasUsed"], len(fills)
