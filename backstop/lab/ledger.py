"""A ledger snapshot of a deployment, and the USDC conservation laws it must satisfy.

What each contract holds, and what its books say it owes, all in [usdc]:

- **InsuranceFund**: USDC held = ``totalPooled`` = Σ pool balances (the global pool and every market's sub-pool).
- **LiquidationAuction**: holds none.
- **StandingBidBook**: holds none in its wallet; its free balance in the clearinghouse = Σ escrow of live bids +
  Σ released escrow not yet withdrawn (``withdrawable``).
- **AdlQueue**: USDC held = Σ bonds of executions not yet released + Σ compensation not yet claimed after a
  successful challenge.
- **Clearinghouse, cash**: USDC held = Σ ``Deposited`` − Σ ``Withdrawn`` + Σ shortfalls the fund paid into it
  (``ShortfallSettled.covered``) − Σ penalties and tail-risk fees it paid to the fund (``Inflow`` from it).
- **Clearinghouse, balance sheet**: USDC held + Σ bad debt = Σ free balances + Σ margins + Σ unrealised PnL at
  the mark + dust, with 0 ≤ dust < the number of position changes recorded.

All but the last hold to the unit. In the last, unrealised PnL is rounded per position as the contract rounds it
(profit down, loss up). Its sum over a market does not depend on the mark, because sizes net to zero: it is
−Σ size·entry / 10^30, zero when every open position entered at one price, and in general minus the PnL that
closes already moved into free balances and margins. Dust is what the roundings of position changes left to the
system: each realised PnL (profit down, loss up) and each average entry (a long's up, a short's down) rounds in
the system's favour by less than one unit (for positions under 10^12 base units), and every such rounding is
recorded by a ``PositionChanged``, ``LiquidationFilled`` or ``Deleveraged`` event. The snapshot computes dust
exactly (a Fraction): the balance-sheet slack minus the rounding of the unrealised PnL themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any, Iterable

from ape import chain
from eth_utils import to_checksum_address
from eth_utils.abi import get_abi_output_types

from backstop.chain.deploy import System, attach
from backstop.chain.fastchain import FastChain
from backstop.chain.reverts import abi_selector
from backstop.lab.errors import ConservationError, LabError
from backstop.model.fund import GLOBAL
from backstop.model.ledger import Position, pnl
from backstop.units import NOTIONAL_SCALE, USDC, market_id, market_name

GLOBAL_NAME = "global"  # the global pool's name in `LedgerSnapshot.pools`
MONEY_EVENTS = {  # (contract, event) decoded for the cash flows and the accounts they name
    ("Clearinghouse", "Deposited"),
    ("Clearinghouse", "Withdrawn"),
    ("Clearinghouse", "ShortfallSettled"),
    ("InsuranceFund", "Inflow"),
    ("StandingBidBook", "BidPlaced"),
}
PER_MARKET = (  # the views `LedgerReader.snapshot` reads per market in its first round trip
    ("Clearinghouse", "accountCount"),
    ("PriceOracle", "lastPrice"),
    ("InsuranceFund", "poolBalance"),
    ("Clearinghouse", "badDebt"),
)
ROUNDING_EVENTS = {("Clearinghouse", "PositionChanged"), ("Clearinghouse", "LiquidationFilled"), ("Clearinghouse", "Deleveraged")}


@dataclass(frozen=True)
class PositionLine:
    """One position at the snapshot's oracle mark: open, or closed with margin left in it (a closing order's
    margin stays in the flat position until the account trades again)."""

    market: str
    account: str
    size: int  # [wad] signed: > 0 long
    entry_price: int  # [wad]
    margin: int  # [usdc]
    unrealised: int  # [usdc] PnL at the mark as the contract rounds it (profit down, loss up)
    frozen: bool  # in liquidation

    @property
    def equity(self) -> int:
        """Margin plus unrealised PnL [usdc]; negative past the bankruptcy price."""
        return self.margin + self.unrealised

    @property
    def position(self) -> Position:
        """The position as the reference models take it (backstop.model.ledger.Position)."""
        return Position(self.size, self.entry_price, self.margin)

    def exact_unrealised(self, mark: int) -> Fraction:
        """Unrealised PnL [usdc] at `mark` without rounding."""
        return Fraction(self.size * (mark - self.entry_price), NOTIONAL_SCALE)


@dataclass(frozen=True)
class CashFlows:
    """The clearinghouse's USDC in and out as the chain's events record them [usdc]."""

    deposited: int  # Σ Deposited
    withdrawn: int  # Σ Withdrawn
    covered: int  # Σ ShortfallSettled.covered: shortfalls the fund paid in
    paid_to_fund: int  # Σ Inflow from the clearinghouse: penalties and tail-risk fees
    roundings: int  # position changes recorded (PositionChanged, LiquidationFilled, Deleveraged)

    @property
    def balance(self) -> int:
        """What the clearinghouse should hold by these flows [usdc]."""
        return self.deposited - self.withdrawn + self.covered - self.paid_to_fund


@dataclass(frozen=True)
class Law:
    """One conservation law, checked: what a contract holds against what its books account for [usdc]."""

    name: str
    held: int
    accounted: int | Fraction
    ok: bool
    rule: str  # the law in words

    def __str__(self) -> str:
        gap = Fraction(self.held) - Fraction(self.accounted)
        return f"{self.name}: holds ${_usd(self.held)}, accounted ${_usd(self.accounted)} ({_usd(gap, sign=True)}; {self.rule})"


@dataclass(frozen=True)
class LedgerSnapshot:
    """What a deployment holds and owes at one block. Amounts [usdc], sizes and prices [wad], accounts as
    checksummed addresses, markets and pools by name (the global pool is ``"global"``)."""

    block: int
    marks: dict[str, int]  # market -> oracle price [wad] (its last accepted price if the oracle is stale)
    free: dict[str, int]  # account -> free balance in the clearinghouse (the book's too), non-zero only
    positions: tuple[PositionLine, ...]  # positions with a size or a margin, market by market
    pools: dict[str, int]  # pool -> balance
    total_pooled: int  # InsuranceFund.totalPooled
    bad_debt: dict[str, int]  # market -> losses neither margin nor the fund covered
    usdc: dict[str, int]  # contract name -> USDC it holds
    book: str  # the standing-bid book's address (its free balance is the bidders' escrow)
    escrow: int  # Σ escrow of live standing bids
    withdrawable: int  # Σ released escrow the book still owes its bidders
    bonds: int  # USDC the ADL queue owes: bonds not yet released, compensation not yet claimed
    flows: CashFlows

    def position(self, market: str, account: str) -> PositionLine | None:
        """`account`'s position in `market` (open, or flat with margin left in it), or None."""
        key = to_checksum_address(account)
        return next((p for p in self.positions if p.market == market and p.account == key), None)

    @property
    def margins(self) -> int:
        """Σ margins of every position [usdc]."""
        return sum(p.margin for p in self.positions)

    def unrealised(self, market: str | None = None) -> int:
        """Σ unrealised PnL [usdc] of `market`'s positions (all markets: None) at the mark, as the contract
        rounds it: −Σ size·entry / 10^30 rounded per position, the same at any mark (sizes net to zero)."""
        return sum(p.unrealised for p in self.positions if market in (None, p.market))

    @property
    def owed(self) -> int:
        """What the clearinghouse owes its accounts: Σ free + Σ margins + Σ unrealised PnL [usdc]."""
        return sum(self.free.values()) + self.margins + self.unrealised()

    @property
    def slack(self) -> int:
        """Clearinghouse USDC + Σ bad debt − what it owes [usdc]: dust plus the unrealised PnL's rounding."""
        return self.usdc["Clearinghouse"] + sum(self.bad_debt.values()) - self.owed

    @property
    def dust(self) -> Fraction:
        """The part of `slack` that past roundings of position changes left to the system [usdc], exact."""
        rounding = sum(p.exact_unrealised(self.marks[p.market]) - p.unrealised for p in self.positions)
        return self.slack - rounding

    def laws(self) -> tuple[Law, ...]:
        """Every conservation law of the module docstring, checked on this snapshot."""
        u, book_free, pooled, dust = self.usdc, self.free.get(self.book, 0), sum(self.pools.values()), self.dust
        house, book_owes = u["Clearinghouse"], self.escrow + self.withdrawable
        house_owes = self.owed - sum(self.bad_debt.values())
        return (
            Law("InsuranceFund", u["InsuranceFund"], pooled, u["InsuranceFund"] == pooled == self.total_pooled,
                f"Σ pool balances; totalPooled ${_usd(self.total_pooled)}"),
            Law("LiquidationAuction", u["LiquidationAuction"], 0, u["LiquidationAuction"] == 0, "holds none"),
            Law("StandingBidBook", u["StandingBidBook"], 0, u["StandingBidBook"] == 0, "holds none in its wallet"),
            Law("StandingBidBook escrow", book_free, book_owes, book_free == book_owes,
                "its free balance = live escrow + withdrawable"),
            Law("AdlQueue", u["AdlQueue"], self.bonds, u["AdlQueue"] == self.bonds, "bonds + unclaimed compensation"),
            Law("Clearinghouse", house, self.flows.balance, house == self.flows.balance,
                "deposited − withdrawn + covered by the fund − paid to the fund"),
            Law("Clearinghouse balance sheet", house, house_owes, 0 <= dust and (dust == 0 or dust < self.flows.roundings),
                f"free + margins + unrealised − bad debt; the gap is dust ${_usd(dust)} + the unrealised PnL's rounding, "
                f"and 0 <= dust < {self.flows.roundings} roundings"),
        )

    def check(self) -> "LedgerSnapshot":
        """Raises ConservationError naming every broken law; returns the snapshot when all hold."""
        broken = [str(law) for law in self.laws() if not law.ok]
        if broken:
            raise ConservationError(f"USDC conservation broken at block {self.block}: " + "; ".join(broken))
        return self


class LedgerReader:
    """Reads LedgerSnapshots of one deployment in six JSON-RPC round trips (batched views and one log query),
    all at one block (through backstop.chain.fastchain: Ape's calls would take seconds a snapshot)."""

    CONTRACTS = ("Clearinghouse", "InsuranceFund", "LiquidationAuction", "StandingBidBook", "AdlQueue", "PriceOracle")

    def __init__(self, system: System, uri: str | None = None) -> None:
        """Connects to `uri` (default: the node Ape is connected to) for the contracts of `system`."""
        self.system = system
        self.fast = FastChain.connect(uri or chain.provider.http_uri)
        deployment = system.deployment
        missing = [n for n in self.CONTRACTS if n not in deployment.contracts]
        if missing:
            raise LabError(f"the deployment has no {', '.join(missing)}; redeploy with this version of Backstop")
        self.c = {name: attach(self.fast.w3, deployment, name) for name in self.CONTRACTS}
        self.c["USDC"] = attach(self.fast.w3, deployment, "USDC", "MockUSDC")
        self._abis: dict[tuple[str, str], dict[str, Any]] = {}
        # (address, topic) -> (contract name, event): topics alone are ambiguous (two contracts emit Withdrawn)
        self._events = {
            (contract.address, abi_selector(item)): (name, item["name"], getattr(contract.events, item["name"])())
            for name, contract in self.c.items()
            for item in contract.abi
            if item.get("type") == "event"
        }

    def snapshot(self, accounts: Iterable[str] = (), since_block: int = 0) -> LedgerSnapshot:
        """The LedgerSnapshot at the chain's head. Free balances are read for every account that deposited into
        the clearinghouse or ever held a position (its events and `accountAt`) and for `accounts`; the event
        sums start at `since_block` (the deployment's first block, or earlier)."""
        c, block = self.c, int(self.fast.rpc("eth_blockNumber"), 16)
        markets = tuple(self.system.sources)
        mids = [market_id(m) for m in markets]
        flows, depositors, owners = self._flows(since_block, block)
        holdings = [(c["USDC"], "balanceOf", [c[n].address]) for n in self.CONTRACTS[:5]]
        heads = self.views(block, [
            *holdings, (c["InsuranceFund"], "poolBalance", [GLOBAL]), (c["InsuranceFund"], "totalPooled", []),
            (c["AdlQueue"], "executions", []), (c["StandingBidBook"], "bidCount", []),
            *[(c[n], f, [mid]) for mid in mids for n, f in PER_MARKET],
        ])
        prices = self.views(block, [(c["PriceOracle"], "price", [mid]) for mid in mids], strict=False)
        usdc, (global_pool, pooled, executions, bids), per_market = heads[:5], heads[5:9], heads[9:]
        counts, last, pools, bad = (dict(zip(markets, per_market[i :: len(PER_MARKET)])) for i in range(len(PER_MARKET)))
        # a stale oracle reverts `price`: its last accepted price serves (the laws do not depend on the mark)
        marks = {m: p if p is not None else last[m]["priceWad"] for m, p in zip(markets, prices)}
        pairs = [(m, i) for m in markets for i in range(counts[m])]
        second = self.views(block, [
            *[(c["Clearinghouse"], "accountAt", [market_id(m), i]) for m, i in pairs],
            *[(c["AdlQueue"], "execution", [i]) for i in range(1, executions + 1)],
            *[(c["StandingBidBook"], "bid", [i]) for i in range(1, bids + 1)],
        ])
        holders = {m: [a for (hm, _), a in zip(pairs, second) if hm == m] for m in markets}
        runs, live = second[len(pairs) : len(pairs) + executions], second[len(pairs) + executions :]
        book = c["StandingBidBook"].address
        everyone = sorted({*depositors, *(a for hs in holders.values() for a in hs), *map(to_checksum_address, accounts), book})
        lines, free, withdrawable, taken = self._accounts(block, markets, holders, marks, everyone, sorted(owners), runs)
        return LedgerSnapshot(
            block=block, marks=marks, free=free, positions=lines,
            pools={GLOBAL_NAME: global_pool, **pools}, total_pooled=pooled, bad_debt=bad,
            usdc=dict(zip(self.CONTRACTS[:5], usdc)), book=book,
            escrow=sum(b["escrow"] for b in live), withdrawable=withdrawable,
            bonds=taken + sum(e["bond"] for e in runs if not e["challenged"] and not e["bondReleased"]),
            flows=flows,
        )

    def views(self, block: int, requests: list[tuple[Any, str, list]], strict: bool = True) -> list[Any]:
        """Batched eth_calls at `block`, decoded (several return values or a struct: a dict by name). A call that
        reverts raises LabError, or gives None unless `strict`."""
        calls = [("eth_call", [{"to": k.address, "data": self.fast.encode(k, fn, args)}, hex(block)]) for k, fn, args in requests]
        out: list[Any] = []
        for (k, fn, args), raw in zip(requests, self.fast.batch(calls)):
            if not isinstance(raw, str):
                if strict:
                    raise LabError(f"{fn}{tuple(args)} reverted at block {block}: {raw}")
                out.append(None)
                continue
            abi = self._abis.get((k.address, fn)) or self._abis.setdefault((k.address, fn), k.get_function_by_name(fn).abi)
            values = self.fast.w3.codec.decode(get_abi_output_types(abi), bytes.fromhex(raw[2:]))
            out.append(_named(abi["outputs"], values))
        return out

    def _accounts(self, block: int, markets: tuple[str, ...], holders: dict[str, list[str]], marks: dict[str, int],
                  everyone: list[str], owners: list[str], runs: list[dict[str, Any]]) -> tuple[Any, ...]:
        """Positions, free balances, the book's withdrawable total and the queue's unclaimed compensation."""
        c = self.c
        held = [(m, a) for m in markets for a in holders[m]]
        challenged = [(i, a) for i, e in enumerate(runs, start=1) if e["challenged"] for a in holders.get(market_name(e["market"]), [])]
        answers = self.views(block, [
            *[(c["Clearinghouse"], f, [market_id(m), a]) for m, a in held for f in ("getPosition", "inLiquidation")],
            *[(c["Clearinghouse"], "freeBalance", [a]) for a in everyone],
            *[(c["StandingBidBook"], "withdrawable", [o]) for o in owners],
            *[(c["AdlQueue"], "takenFrom", [i, a]) for i, a in challenged],
        ])
        n = 2 * len(held)
        lines = tuple(
            PositionLine(m, a, p["size"], p["entryPrice"], p["margin"], _unrealised(p, marks[m]), frozen)
            for (m, a), p, frozen in zip(held, answers[0:n:2], answers[1:n:2])
            if p["size"] != 0 or p["margin"] != 0  # a trade that closes a position may leave its order's margin there
        )
        free = {a: v for a, v in zip(everyone, answers[n : n + len(everyone)]) if v}
        rest = answers[n + len(everyone) :]
        return lines, free, sum(rest[: len(owners)]), sum(t["taken"] for t in rest[len(owners) :])

    def _flows(self, start: int, block: int) -> tuple[CashFlows, set[str], set[str]]:
        """The clearinghouse's cash flows from the events of blocks `start` .. `block`, its depositors and the
        standing-bid book's bidders. Only the money events are decoded; position changes are counted."""
        c = self.c
        addresses = [c[n].address for n in ("Clearinghouse", "InsuranceFund", "StandingBidBook")]
        wanted = {"0x" + t.hex() for (_, t), (name, event, _) in self._events.items() if (name, event) in MONEY_EVENTS | ROUNDING_EVENTS}
        logs = self.fast.w3.eth.get_logs({"fromBlock": start, "toBlock": block, "address": addresses, "topics": [sorted(wanted)]})
        events: dict[tuple[str, str], list[dict[str, Any]]] = {}
        roundings = 0
        for log in logs:
            name, event, decoder = self._events[(log["address"], bytes(log["topics"][0]))]
            if (name, event) in ROUNDING_EVENTS:
                roundings += 1
            else:
                events.setdefault((name, event), []).append(dict(decoder.process_log(log)["args"]))

        def args(name: str, event: str) -> list[dict[str, Any]]:
            """The decoded arguments of every `event` `name` emitted, in order."""
            return events.get((name, event), [])

        house = c["Clearinghouse"].address
        flows = CashFlows(
            deposited=sum(e["amount"] for e in args("Clearinghouse", "Deposited")),
            withdrawn=sum(e["amount"] for e in args("Clearinghouse", "Withdrawn")),
            covered=sum(e["covered"] for e in args("Clearinghouse", "ShortfallSettled")),
            paid_to_fund=sum(e["amount"] for e in args("InsuranceFund", "Inflow") if e["from"] == house),
            roundings=roundings,
        )
        depositors = {e["account"] for e in args("Clearinghouse", "Deposited")}
        return flows, depositors, {e["owner"] for e in args("StandingBidBook", "BidPlaced")}


def _unrealised(p: dict[str, int], mark: int) -> int:
    return pnl(p["size"] > 0, abs(p["size"]), p["entryPrice"], mark) if p["size"] else 0


def _named(outputs: list[dict[str, Any]], values: tuple[Any, ...]) -> Any:
    """A decoded return value: one value as itself, a struct or several values as a dict by name."""
    if len(outputs) == 1 and outputs[0]["type"] == "tuple":
        return dict(zip((x["name"] for x in outputs[0]["components"]), values[0]))
    if len(outputs) == 1:
        return _plain(values[0], outputs[0]["type"])
    return {o["name"]: _plain(v, o["type"]) for o, v in zip(outputs, values)}


def _plain(value: Any, abi_type: str) -> Any:
    return to_checksum_address(value) if abi_type == "address" else value


def _usd(amount: int | Fraction, sign: bool = False) -> str:
    """[usdc] as dollars with six decimals (an exact Fraction rounded to the nearest unit shown)."""
    f = Fraction(amount)
    value = Decimal(f.numerator) / Decimal(f.denominator) / USDC
    return f"{value:+,.6f}" if sign else f"{value:,.6f}"
