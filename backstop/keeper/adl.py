"""The one ADL executor: used by the replay's keepers, the keeper bot and the ADL benchmark.

An ADL execution (AdlQueue.execute) names the counterparties of a liquidation in rank order; the contract
checks eligibility, strict order at this block's price and exact quantity, and slashes the executor's bond when
anyone proves a better-ranked position was skipped. The executor therefore picks the counterparties with the
reference ranking (backstop.model.adl.choose, which the contract mirrors) from a book of positions it read,
optionally applies the fills to that book (so the next execution in the same block is ranked on the state this
one leaves) and sends the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from backstop.model import adl as adl_model
from backstop.model.ledger import Position

ADL_TX_GAS = 20_000_000  # gas limit of one execution: its cost grows with the counterparties it names


class CannotAbsorb(ValueError):
    """The positions the executor knows cannot absorb the liquidation within the loss cap."""


@dataclass
class AdlExecutor:
    """Chooses and sends ADL executions on one AdlQueue."""

    chain: Any  # backstop.chain.fastchain.FastChain (or any object with its encode/send/view)
    adl: Any  # the AdlQueue contract (web3)
    loss_cap_bps: int  # [bps] AdlQueue.lossCapBps
    last_scores: dict[str, tuple[int, int]] = field(default_factory=dict)  # account -> (score [wad], lights) of the last execute

    def read_book(self, house: Any, market: bytes, accounts: Iterable[str], frozen: bool = False) -> tuple[dict[str, Position], set[str]]:
        """The positions of `accounts` in `market`, read from the chain in one batch, and (with `frozen`) which
        of them are in liquidation (they cannot be counterparties)."""
        accounts = list(accounts)
        reads = [(house, "getPosition", [market, a]) for a in accounts]
        if frozen:
            reads += [(house, "inLiquidation", [market, a]) for a in accounts]
        values = self.chain.view(reads)
        n = len(accounts)
        book = {a: Position(*p) for a, p in zip(accounts, values[:n]) if p is not None}
        return book, {a for a, flag in zip(accounts, values[n:]) if flag}

    def choose(
        self, book: dict[str, Position], long: bool, qty: int, price: int, mark: int, exclude: Iterable[str] = ()
    ) -> list[adl_model.Fill]:
        """The counterparties in reference rank order for `qty` [wad] of a bankrupt `long` (or short) position at
        bankruptcy price `price` [wad], the oracle at `mark` [wad]. Raises CannotAbsorb."""
        try:
            return adl_model.choose(book, long, qty, price, mark, self.loss_cap_bps, exclude=exclude)
        except ValueError as exc:
            raise CannotAbsorb(str(exc)) from None

    def execute(
        self,
        wallet: Any,
        sale: int,
        book: dict[str, Position],
        plan: adl_model.Plan,
        long: bool,
        exclude: Iterable[str] = (),
        bankrupt: Position | None = None,
        label: str = "adl",
    ) -> list[adl_model.Fill]:
        """Sends the execution of `plan` for liquidation `sale` from `wallet` (which must have approved the queue
        for its bond) and returns the fills it names. With `bankrupt` (a copy of the liquidated position), the
        fills are applied to it and to `book`, so a following execution is ranked on the state this one leaves.
        Raises CannotAbsorb (and sends nothing)."""
        fills = self.choose(book, long, plan.qty, plan.price, plan.mark, exclude)
        eligible = len(adl_model.ranking(book, long, plan.mark, exclude))
        self.last_scores = {  # each named counterparty's score [wad] and lights, as ranked for this execution
            f.account: (adl_model.score(book[f.account], plan.mark), adl_model.lights(f.rank, eligible)) for f in fills
        }
        if bankrupt is not None:
            for f in fills:
                if f.qty:
                    adl_model.apply_fill(bankrupt, book[f.account], f.qty, plan.price)
        self.send(wallet, sale, fills, label, plan.claims)
        return fills

    def send(self, wallet: Any, sale: int, fills: list[adl_model.Fill], label: str = "adl", claims: Iterable[int] = ()) -> bytes:
        """Sends AdlQueue.execute(sale, claims, the fills' accounts in order) from `wallet`; returns the
        transaction hash."""
        data = self.chain.encode(self.adl, "execute", [sale, sorted(claims), [f.account for f in fills]])
        return self.chain.send(wallet, self.adl.address, data, label, gas=ADL_TX_GAS)
