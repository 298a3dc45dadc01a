"""Benchmarks: gas per operation, measured from real receipts on a fresh local chain.

Figures are printed and written to a JSON file with the command, the date and the machine; the README's
gas table is copied from the Markdown this module renders. Nothing here asserts a figure: benchmarks
measure, tests judge.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from ape import accounts, chain

from backstop.deploy import MarketSpec, deploy_system
from backstop.orders import Order, sign_order
from backstop.units import market_id, to_usdc, to_wad

RESULTS_SCHEMA = 1


@dataclass
class GasFigure:
    operation: str
    gas: int
    note: str = ""


def _machine() -> dict[str, object]:
    mem_gib = None
    try:
        with open("/proc/meminfo") as fh:
            mem_gib = round(int(fh.readline().split()[1]) / 2**20, 1)
    except OSError:
        pass
    return {"cores": os.cpu_count(), "memory_gib": mem_gib, "platform": platform.platform(), "python": platform.python_version()}


def ledger_gas() -> list[GasFigure]:
    """Deploys a one-market system and measures each ledger and auction operation once, in a realistic state."""
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
    figures.append(GasFigure("trade: open with tail-risk fee", settle(carol, bob, to_wad(20_000), to_wad(6), to_usdc(13_000), to_usdc(13_000)).gas_used, "2nd bracket: fee into the sub-pool"))
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
    return figures


def _auction_gas(system, settle, mid: bytes) -> list[GasFigure]:
    """Liquidation through the Dutch auction: start, partial and full takes, a restart."""
    admin, alice, bob, carol, dave, erin = accounts.test_accounts[:6]
    house, auction, usdc, src = system.clearinghouse, system.auction, system.usdc, system.sources
    for who in (dave, erin):
        usdc.mint(who, to_usdc(1_000_000), sender=admin)
        usdc.approve(house, 2**256 - 1, sender=who)
        house.deposit(to_usdc(1_000_000), sender=who)
    figures: list[GasFigure] = []

    def set_price(dollars: str) -> None:
        for s in src["OM-USD"].values():
            s.setAnswer(to_wad(dollars) // 10**10, sender=admin)

    def underwater(trader) -> None:
        set_price("6")
        settle(trader, bob, to_wad(8_000), to_wad(6), to_usdc(2_500), to_usdc(30_000))
        set_price("5.72")

    underwater(alice)
    kick = auction.liquidate(mid, alice, sender=carol)
    figures.append(GasFigure("liquidation: start auction", kick.gas_used, "freeze position, start Dutch auction, pay incentive"))
    id_ = kick.return_value
    price = auction.getStatus(id_).price
    part = auction.take(id_, to_wad(3_000), price, to_usdc(3_000), dave, b"", sender=dave)
    figures.append(GasFigure("auction: partial take", part.gas_used, "3,000 of 8,000 units"))
    full = auction.take(id_, to_wad(5_000), price, to_usdc(5_000), dave, b"", sender=dave)
    figures.append(GasFigure("auction: take the rest", full.gas_used, "closes the auction"))
    figures.append(GasFigure("liquidation through the auction (start + full take)", kick.gas_used + full.gas_used, "target <= 200k"))
    per_block = 30_000_000 // (kick.gas_used + full.gas_used)
    figures.append(GasFigure("liquidations per 30M-gas block", per_block, "start + full take each; no batching yet"))

    underwater(erin)
    id2 = auction.liquidate(mid, erin, sender=alice).return_value
    chain.mine(timestamp=chain.pending_timestamp + 1_801)
    figures.append(GasFigure("auction: restart (redo)", auction.redo(id2, sender=alice).gas_used, "stale by age; pays incentive"))
    return figures


def render_markdown(figures: list[GasFigure]) -> str:
    lines = ["| operation | gas | note |", "| --- | ---: | --- |"]
    lines += [f"| {f.operation} | {f.gas:,} | {f.note} |" for f in figures]
    return "\n".join(lines) + "\n"


def write_results(figures: list[GasFigure], out: Path, command: str) -> Path:
    record = {
        "schema": RESULTS_SCHEMA,
        "command": command,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": _machine(),
        "gas": [asdict(f) for f in figures],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n")
    out.with_suffix(".md").write_text(render_markdown(figures))
    return out
