"""The ADL queue of a deployed market, as every holder can read it: each position's rank and lights.

Reads every account that ever held a position in the market (Clearinghouse.accountAt), their positions and
liquidation flags and the oracle price in one batched round trip, and ranks each side with the reference
ranking (backstop.model.adl) — the same one AdlQueue checks on-chain and its `rankPage` view computes.
Longs rank to absorb bankrupt shorts, shorts to absorb bankrupt longs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from web3 import Web3

from backstop.errors import BackstopError
from backstop.model import adl as adl_model
from backstop.model.ledger import Position
from backstop.units import USDC, WAD


class NoOraclePrice(BackstopError, ValueError):
    """The market's oracle has no valid price now: the queue, ranked at that price, cannot be read."""


@dataclass(frozen=True)
class QueueEntry:
    account: str
    side: str  # "long" | "short"
    rank: int  # 1 = first to be deleveraged on its side
    lights: int  # 1..5, 5 = first fifth
    score: float  # leveraged profit (profit ratio / margin ratio)
    size: float  # [units]
    entry: float  # [USD]
    margin: float  # [USD]
    unrealised_profit: float  # [USD]


def read_queue(chain: Any, house: Any, oracle: Any, market: bytes) -> tuple[float, list[QueueEntry]]:
    """(oracle price [USD], the ranked candidates of both sides) of `market` on the chain behind `chain`
    (a backstop.chain.fastchain.FastChain); positions frozen for liquidation are not candidates."""
    count, mark = chain.view([(house, "accountCount", [market]), (oracle, "price", [market])])
    if not mark:
        name = market.rstrip(b"\0").decode(errors="replace") or "0x" + market.hex()
        why = chain.call_error(oracle, "price", [market])
        answer = f"reverts with {why}" if why else "answers 0"
        raise NoOraclePrice(f"the oracle has no valid price for {name} now (PriceOracle.price {answer}); the ADL queue is ranked at that price")
    accounts = [Web3.to_checksum_address(a) for a in chain.view([(house, "accountAt", [market, i]) for i in range(count)])]
    reads = [(house, "getPosition", [market, a]) for a in accounts] + [(house, "inLiquidation", [market, a]) for a in accounts]
    values = chain.view(reads)
    positions = {a: Position(*p) for a, p in zip(accounts, values[:count])}
    frozen = {a for a, flag in zip(accounts, values[count:]) if flag}
    entries: list[QueueEntry] = []
    for side, bankrupt_long in (("short", True), ("long", False)):
        ranked = adl_model.ranking(positions, bankrupt_long, mark, exclude=frozen)
        for rank, a in enumerate(ranked, start=1):
            p = positions[a]
            entries.append(QueueEntry(
                a, side, rank, adl_model.lights(rank, len(ranked)), adl_model.score(p, mark) / WAD,
                abs(p.size) / WAD, p.entry_price / WAD, p.margin / USDC, adl_model.unrealised_profit(p, mark) / USDC,
            ))
    return mark / WAD, entries


def render_queue(market_name: str, mark: float, entries: list[QueueEntry], limit: int = 50) -> str:
    """A Markdown table per side, the first `limit` ranks of each."""
    lines = [f"ADL queue of {market_name} at oracle price {mark:,.6g} USD", ""]
    for side, absorbs in (("short", "bankrupt longs"), ("long", "bankrupt shorts")):
        rows = [e for e in entries if e.side == side]
        lines += [f"{side}s ({len(rows)} candidates; they absorb {absorbs})", ""]
        if not rows:
            lines += ["(none in profit)", ""]
            continue
        lines += ["| rank | lights | account | score | size | entry | margin | unrealised profit |",
                  "| ---: | :--- | --- | ---: | ---: | ---: | ---: | ---: |"]
        for e in rows[:limit]:
            lines.append(f"| {e.rank} | {'●' * e.lights}{'○' * (5 - e.lights)} | {e.account} | {e.score:.4f} | "
                         f"{e.size:,.4f} | {e.entry:,.6g} | {e.margin:,.2f} | {e.unrealised_profit:,.2f} |")
        if len(rows) > limit:
            lines.append(f"| … | | {len(rows) - limit} more | | | | | |")
        lines.append("")
    return "\n".join(lines)
