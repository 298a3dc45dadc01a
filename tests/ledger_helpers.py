"""Helpers shared by the ledger tests: a small system, signed trades, price moves, USDC accounting."""

from __future__ import annotations

import itertools

from backstop.chain.deploy import MarketSpec, System
from backstop.chain.orders import Order, sign_order
from backstop.units import WAD, market_id, to_usdc, to_wad

MARKET = "OM-USD"
MID = market_id(MARKET)
OTHER = "ETH-USD"
OID = market_id(OTHER)
START_PRICE = "6"
FAR_FUTURE = 2**40
_nonces = itertools.count(1)

SPECS = [
    MarketSpec(MARKET, START_PRICE, fund_seed=10_000),
    MarketSpec(OTHER, "2000", venues=("venue-a",), fund_seed=0),
]


def set_price(system: System, market: str, price: int | str) -> None:
    """Moves every venue of `market` to `price` ([wad] int, or a decimal string)."""
    wad = price if isinstance(price, int) else to_wad(price)
    for src in system.sources[market].values():
        decimals = src.decimals()
        src.setAnswer(wad // 10 ** (18 - decimals), sender=system_admin(system))


def system_admin(system: System):
    from ape import accounts  # noqa: PLC0415

    return accounts.test_accounts[0]


def fund_account(system: System, account, amount: int) -> None:
    admin = system_admin(system)
    system.usdc.mint(account, amount, sender=admin)
    system.usdc.approve(system.clearinghouse, amount, sender=account)
    system.clearinghouse.deposit(amount, sender=account)


def make_order(account, market: bytes, size_delta: int, limit_price: int, margin: int, deadline: int = FAR_FUTURE) -> Order:
    return Order(str(account.address), market, size_delta, limit_price, margin, next(_nonces), deadline)


def sign(system: System, order: Order, account) -> bytes:
    from ape import chain  # noqa: PLC0415

    return sign_order(order, account.private_key, chain.chain_id, str(system.clearinghouse.address))


def trade(system: System, maker, taker, size: int, price: int, maker_margin: int, taker_margin: int, market: bytes = MID, sender=None):
    """`maker` buys `size` [wad] from `taker` at `price` (a negative size sells); both sign, `sender` submits."""
    mo = make_order(maker, market, size, price, maker_margin)
    to = make_order(taker, market, -size, price, taker_margin)
    submitter = sender or system_admin(system)
    return system.clearinghouse.trade(mo.as_tuple(), sign(system, mo, maker), to.as_tuple(), sign(system, to, taker), sender=submitter)


def position(system: System, account, market: bytes = MID) -> tuple[int, int, int]:
    p = system.clearinghouse.getPosition(market, account)
    return (p.size, p.entryPrice, p.margin)


def open_underwater(system: System, trader, counterparty) -> None:
    """`trader` long 8,000 units at $6 with $2,500 margin against `counterparty`; then the price falls to $5.72,
    below the trader's maintenance margin (equity $260 < $1,144)."""
    trade(system, trader, counterparty, units(8_000), to_wad(6), to_usdc(2_500), to_usdc(30_000))
    set_price(system, MARKET, "5.72")


def funded_system(accounts, funded: int, fund_seed: float, global_seed: float, deposit: int = to_usdc(200_000)) -> System:
    """A one-market system ($6 OM) whose accounts 1..`funded` hold `deposit` [usdc] each in the clearinghouse."""
    from backstop.chain.deploy import deploy_system  # noqa: PLC0415

    system = deploy_system(accounts[0], [MarketSpec(MARKET, START_PRICE, fund_seed=fund_seed)], global_seed=global_seed)
    for a in accounts[1 : funded + 1]:
        fund_account(system, a, deposit)
    return system


def param(name: str) -> bytes:
    """A `file(market, what, value)` parameter name as bytes32."""
    return name.encode().ljust(32, b"\0")


def units(n: float | int | str) -> int:
    """Base-asset units [wad]."""
    return to_wad(n)


__all__ = ["WAD"]
