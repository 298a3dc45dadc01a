"""ADL in the lab: the reference plan and candidate list for a liquidation, and an execution's decoded record.

The plan comes from backstop.model.adl (``plan`` and ``choose``), the same trigger, ranking and loss cap that
AdlQueue.execute checks: its candidate list is the one the contract accepts, in rank order, closing exactly the
quantity the trigger requires.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from ape.api import ReceiptAPI
from ape.exceptions import ContractLogicError

from backstop.chain.deploy import System
from backstop.lab.errors import LabError
from backstop.lab.ledger import GLOBAL_NAME, LedgerSnapshot
from backstop.model import adl as model
from backstop.units import market_id, market_name


class AdlNotTriggered(LabError):
    """No ADL trigger holds for the liquidation (the contract would revert NoAdlTrigger or NotUnderwater)."""


@dataclass(frozen=True)
class AdlPlan:
    """What an ADL of one liquidation requires and whom it takes, by the reference model. Unpacks as
    ``plan, candidates = lab.plan_adl(sale)``."""

    plan: model.Plan  # reason, qty [wad], bankruptcy price [wad], mark [wad], uncovered and claimed [usdc], claims
    fills: tuple[model.Fill, ...]  # in rank order: account, qty [wad], profit taken [usdc], rank
    ranking: tuple[str, ...]  # every eligible counterparty, in rank order (the fills are a prefix of it)
    cap_bps: int  # the queue's loss cap when planned

    def __iter__(self) -> Iterator[Any]:
        """Tuple-style unpacking: the plan, then the candidate list."""
        return iter((self.plan, self.candidates))

    @property
    def candidates(self) -> list[str]:
        """The candidate list AdlQueue.execute takes."""
        return [f.account for f in self.fills]

    @property
    def profit_taken(self) -> int:
        """Σ profit the fills take [usdc]: what the executor's bond adds to the queue's minimum bond."""
        return sum(f.profit_taken for f in self.fills)


@dataclass(frozen=True)
class AdlExecution:
    """One ADL execution as its events record it."""

    id: int  # the queue's execution id
    sale: int
    trader: str
    reason: str  # one of backstop.model.adl.REASONS
    qty: int  # [wad] closed
    price: int  # [wad] the bankruptcy price
    mark: int  # [wad]
    profit_taken: int  # [usdc]
    uncovered: int  # [usdc] the loss the pools could not cover at the mark, after the listed claims
    claimed: int  # [usdc] what the listed claims (other liquidations' shortfalls) took from the pools first
    bond: int  # [usdc] posted by the executor
    fills: tuple[model.Fill, ...]  # decoded ADL events, in rank order
    receipt: ReceiptAPI


def plan_adl(system: System, sale: int, ledger: LedgerSnapshot) -> AdlPlan:
    """The reference plan of an ADL of liquidation `sale`, from the positions, pools and mark of `ledger` (a
    snapshot of the chain's head): the trigger (AdlQueue.trigger's), then the counterparties among every
    position of the market, frozen ones left out."""
    adl, auction = _queue(system), system.auction
    s = auction.sale(sale)
    if s.qty == 0:
        raise AdlNotTriggered(f"liquidation {sale} has nothing left to deleverage")
    mid = bytes(s.market)
    market, trader = market_name(mid), str(s.trader)
    line = ledger.position(market, trader)
    if line is None:
        raise AdlNotTriggered(f"liquidation {sale}: {trader} holds no position in {market}")
    mark = ledger.marks[market]
    claims = _claims(system, sale, ledger)
    available, claimed = model.available_after_claims(market, ledger.pools, ledger.pools[GLOBAL_NAME], claims)
    risk, liquidity = bool(system.fund.adlAllowed(mid)), bool(auction.inLiquidityRisk(mid))
    try:
        plan = model.plan(line.position, int(s.qty), mark, available, risk, liquidity, claimed, tuple(c.id for c in claims))
    except model.NoTrigger as e:
        raise AdlNotTriggered(f"no ADL trigger for liquidation {sale} in {market}: {e}") from e
    lines = [p for p in ledger.positions if p.market == market]
    positions = {p.account: p.position for p in lines}
    frozen = [trader, *(p.account for p in lines if p.frozen)]
    cap = int(adl.lossCapBps())
    try:
        fills = model.choose(positions, bool(s.long), plan.qty, plan.price, plan.mark, cap, exclude=frozen)
    except ValueError as e:
        raise LabError(f"ADL of liquidation {sale} in {market} cannot be filled: {e}") from e
    ranking = model.ranking(positions, bool(s.long), plan.mark, exclude=frozen)
    return AdlPlan(plan, tuple(fills), tuple(ranking), cap)


def _claims(system: System, sale: int, ledger: LedgerSnapshot) -> list[model.Claim]:
    """Every other liquidation (running or queued) with a shortfall at the oracle's prices: the claims the
    execution lists, so that the uncovered trigger judges `sale` after all of them (AdlQueue.execute)."""
    auction = system.auction
    ids = {int(i) for i in auction.active()}
    for m in system.sources:
        ids |= {int(i) for i in auction.queued(market_id(m))}
    ids.discard(sale)
    claims = []
    for i in sorted(ids):
        s = auction.sale(i)
        m = market_name(bytes(s.market))
        line = ledger.position(m, str(s.trader))
        if line is None or not s.qty:
            continue
        claim = model.Claim(i, m, line.position, int(s.qty), _live_price(system, m))
        if claim.shortfall > 0:
            claims.append(claim)
    return claims


def _live_price(system: System, market: str) -> int | None:
    """The oracle's price of `market` [wad], or None when it has none (stale, too few sources): such a market's
    claims count zero on chain."""
    try:
        return int(system.oracle.price(market_id(market)))
    except ContractLogicError:
        return None


def decode_execution(system: System, receipt: ReceiptAPI) -> AdlExecution:
    """The AdlExecuted and ADL events of an `AdlQueue.execute` receipt."""
    adl = _queue(system)
    logs = [log for log in receipt.events if log.contract_address == adl.address]
    done = next((log.event_arguments for log in logs if log.event_name == "AdlExecuted"), None)
    if done is None:
        raise LabError(f"transaction {receipt.txn_hash} executed no ADL")
    fills = tuple(
        model.Fill(str(a["counterparty"]), int(a["qty"]), int(a["profitTaken"]), int(a["rank"]))
        for a in (log.event_arguments for log in logs if log.event_name == "ADL")
    )
    return AdlExecution(
        id=int(done["execution"]),
        sale=int(done["saleId"]),
        trader=str(done["trader"]),
        reason=model.REASONS[int(done["reason"])],
        qty=int(done["qty"]),
        price=int(done["price"]),
        mark=int(done["mark"]),
        profit_taken=int(done["profitTaken"]),
        uncovered=int(done["uncovered"]),
        claimed=int(done["claimed"]),
        bond=int(done["bond"]),
        fills=fills,
        receipt=receipt,
    )


def _queue(system: System) -> Any:
    if system.adl is None:
        raise LabError("this deployment has no ADL queue; redeploy with this version of Backstop")
    return system.adl
