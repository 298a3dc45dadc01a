"""`Lab`: drive a deployed Backstop from a test or a notebook in a few typed calls.

Amounts go in as people write them — dollars, base units, USD prices (int, float, decimal string or Decimal) —
and come out in the contracts' units: [usdc] (6 decimals) and [wad] (18 decimals), as in backstop.model, so
that results compare with the reference models to the unit. Accounts are Ape accounts; orders are signed with
their keys (Ape's test accounts have them), and an account without one submits its own side itself.
"""

from __future__ import annotations

import itertools
import time
from decimal import ROUND_CEILING, Decimal
from typing import Any, Callable, Sequence

from ape import accounts as ape_accounts
from ape import chain
from ape.api import AccountAPI, ReceiptAPI

from backstop.chain.deploy import AdlSpec, MarketSpec, System, deploy_system
from backstop.chain.orders import Order, sign_order
from backstop.lab.adl import AdlExecution, AdlPlan, decode_execution, plan_adl
from backstop.lab.errors import LabError
from backstop.lab.ledger import GLOBAL_NAME, LedgerReader, LedgerSnapshot
from backstop.model.fund import GLOBAL
from backstop.model.ledger import Position, average_entry, pnl, reduce_position
from backstop.units import bps_up, market_id, market_name, notional_up, to_usdc, to_wad

Amount = int | float | str | Decimal
FAR_FUTURE = 2**40  # [seconds] order deadline
SEED = 0  # InsuranceFund.InflowKind.Seed
SALE_EVENTS = ("AuctionStarted", "LiquidationQueued", "StandingBidsFilled")  # one of them names a new liquidation


def b32(name: str) -> bytes:
    """A name ("OM-USD") as bytes32, right-padded with zeros as Solidity's bytes32("OM-USD")."""
    return market_id(name)


class Lab:
    """A deployment with its admin, and the few calls a worked example needs. Every call sends its transactions
    through Ape and waits for them; `check_conservation` can follow any of them."""

    def __init__(self, system: System, admin: AccountAPI | None = None, since_block: int = 0) -> None:
        """Wraps `system`, deployed by `admin` (default: Ape's first test account), which holds every admin role
        and the mock USDC's minter role. `since_block`: the first block the ledger's event sums read."""
        self.system = system
        self.admin = admin if admin is not None else ape_accounts.test_accounts[0]
        self.since_block = since_block
        self._nonces = itertools.count(time.time_ns())
        self._known: set[str] = set()
        self._reader: LedgerReader | None = None

    @classmethod
    def deploy(
        cls,
        markets: Sequence[MarketSpec],
        global_seed: Amount = 0,
        adl: AdlSpec | None = None,
        admin: AccountAPI | None = None,
    ) -> "Lab":
        """Deploys a fresh system (mock USDC) listing `markets`, the global pool seeded with `global_seed`
        dollars, under the ADL rules `adl` (see backstop.chain.deploy.deploy_system)."""
        deployer = admin if admin is not None else ape_accounts.test_accounts[0]
        start = chain.blocks.height + 1
        return cls(deploy_system(deployer, list(markets), global_seed=str(global_seed), adl=adl), deployer, start)

    # ------------------------------------------------------------------ names and handles

    b32 = staticmethod(b32)

    @property
    def markets(self) -> tuple[str, ...]:
        """The listed markets' names."""
        return tuple(self.system.sources)

    def market(self, name: str) -> bytes:
        """`name`'s bytes32 id; LabError if it is not one of this deployment's markets."""
        if name not in self.system.sources:
            raise LabError(f"unknown market {name!r}: this deployment lists {', '.join(self.markets)}")
        return b32(name)

    def pool(self, name: str | None) -> bytes:
        """A fund pool's id: None or "global" is the global pool (bytes32(0)), otherwise a market's sub-pool."""
        return GLOBAL if name in (None, GLOBAL_NAME) else self.market(name)

    # ------------------------------------------------------------------ USDC

    def mint(self, account: AccountAPI, usd: Amount) -> int:
        """Mints `usd` dollars of mock USDC to `account`'s wallet; returns the amount [usdc]."""
        amount = _amount(usd, "amount", positive=True)
        if not self.system.deployment.usdc_is_mock:
            raise LabError("this deployment uses a real USDC: it cannot be minted")
        self.system.usdc.mint(account, amount, sender=self.admin)
        return amount

    def fund(self, account: AccountAPI, usd: Amount) -> int:
        """Mints `usd` dollars to `account` (a real USDC: it must hold them), which approves and deposits them
        into its clearinghouse free balance; returns the amount [usdc]."""
        amount = self._wallet(account, usd)
        self.system.usdc.approve(self.system.clearinghouse, amount, sender=account)
        self.system.clearinghouse.deposit(amount, sender=account)
        self._known.add(str(account.address))
        return amount

    def seed(self, pool: str | None, usd: Amount) -> int:
        """Seeds `usd` dollars, minted to the admin (a real USDC: from its wallet), into the insurance fund's
        `pool` (None or "global": the global pool; a market name: its sub-pool); returns the pool's balance
        [usdc]."""
        pool_id, amount = self.pool(pool), self._wallet(self.admin, usd)
        self.system.usdc.approve(self.system.fund, amount, sender=self.admin)
        self.system.fund.deposit(pool_id, SEED, amount, sender=self.admin)
        return int(self.system.fund.poolBalance(pool_id))

    def _wallet(self, account: AccountAPI, usd: Amount) -> int:
        """`usd` dollars [usdc] in `account`'s wallet: minted with the mock USDC, checked with a real one."""
        if self.system.deployment.usdc_is_mock:
            return self.mint(account, usd)
        amount, held = _amount(usd, "amount", positive=True), int(self.system.usdc.balanceOf(account))
        if held < amount:
            raise LabError(f"{account.address} holds {held} USDC units, less than the {amount} asked")
        return amount

    # ------------------------------------------------------------------ prices

    def set_price(self, market: str, usd: Amount) -> int:
        """Sets every venue of `market` to `usd` and pokes the oracle; returns the accepted mark [wad]."""
        mid, wad = self.market(market), _amount(usd, "price", to_wad, positive=True)
        for source in self.system.sources[market].values():
            source.setAnswer(wad // 10 ** (18 - int(source.decimals())), sender=self.admin)
        self.system.oracle.poke(mid, sender=self.admin)
        return self.mark(market)

    def mark(self, market: str) -> int:
        """The oracle's price of `market` [wad]."""
        return int(self.system.oracle.price(self.market(market)))

    # ------------------------------------------------------------------ trades and positions

    def trade(
        self,
        market: str,
        buyer: AccountAPI,
        seller: AccountAPI,
        size: Amount,
        price: Amount | None = None,
        buyer_margin: Amount = 0,
        seller_margin: Amount = 0,
    ) -> ReceiptAPI:
        """`buyer` (the maker) buys `size` base units from `seller` at `price` (default: the mark), each moving
        its margin [dollars] from its free balance into its position. Both orders are EIP-712 signed; the
        admin submits as the matcher, or an account without a key submits itself."""
        mid, qty = self.market(market), _amount(size, "size", to_wad, positive=True)
        px = _amount(price, "price", to_wad, positive=True) if price is not None else self.mark(market)
        return self._trade(mid, buyer, seller, qty, px, (_amount(buyer_margin, "buyer_margin"), _amount(seller_margin, "seller_margin")))

    def open(
        self,
        market: str,
        *,
        long: AccountAPI,
        short: AccountAPI,
        size: Amount,
        price: Amount | None = None,
        leverage: Amount | tuple[Amount, Amount] | None = None,
        margin: Amount | tuple[Amount, Amount] | None = None,
    ) -> ReceiptAPI:
        """`long` buys `size` base units of `market` from `short` at `price` (default: the mark). Each side's
        margin is `margin` dollars, or its notional at `price` divided by `leverage`, rounded up to the unit;
        a pair gives (long's, short's)."""
        if (leverage is None) == (margin is None):
            raise LabError("open takes exactly one of leverage= and margin=")
        mid, qty = self.market(market), _amount(size, "size", to_wad, positive=True)
        px = _amount(price, "price", to_wad, positive=True) if price is not None else self.mark(market)
        if margin is not None:
            pair = margin if isinstance(margin, tuple) else (margin, margin)
            margins = (_amount(pair[0], "margin"), _amount(pair[1], "margin"))
        else:
            pair = leverage if isinstance(leverage, tuple) else (leverage, leverage)
            notional = notional_up(qty, px)
            margins = (_ceil_div(notional, _leverage(pair[0])), _ceil_div(notional, _leverage(pair[1])))
        return self._trade(mid, long, short, qty, px, margins)

    def position(self, market: str, account: AccountAPI | str) -> Position:
        """`account`'s position in `market` (size [wad], entry price [wad], margin [usdc])."""
        p = self.system.clearinghouse.getPosition(self.market(market), _address(account))
        return Position(int(p.size), int(p.entryPrice), int(p.margin))

    def equity(self, market: str, account: AccountAPI | str) -> int:
        """`account`'s margin plus unrealised PnL in `market` at the mark [usdc] (the contract's view)."""
        return int(self.system.clearinghouse.equity(self.market(market), _address(account)))

    def free(self, account: AccountAPI | str) -> int:
        """`account`'s free balance in the clearinghouse [usdc]."""
        return int(self.system.clearinghouse.freeBalance(_address(account)))

    # ------------------------------------------------------------------ liquidations

    def liquidate(self, market: str, trader: AccountAPI | str, keeper: AccountAPI) -> int:
        """`keeper` liquidates `trader`'s position in `market` (standing bids first, then an auction or the
        queue); returns the liquidation's sale id, read from the auction's events."""
        auction = self.system.auction
        receipt = auction.liquidate(self.market(market), _address(trader), sender=keeper)
        self._known.add(str(keeper.address))
        for log in receipt.events:
            if log.contract_address == auction.address and log.event_name in SALE_EVENTS:
                return int(log.event_arguments["id"])
        raise LabError(f"liquidation of {_address(trader)} in {market} emitted no sale event")

    def take(self, sale: int, keeper: AccountAPI, size: Amount | None = None, margin: Amount | None = None) -> tuple[int, int]:
        """`keeper` takes `size` base units (default: all that is left) of auction `sale` at its current price,
        moving `margin` dollars from its free balance into its position (default: just enough for the keeper's
        position afterwards to meet initial margin at the mark). Returns (qty [wad], price [wad]) from the
        AuctionTaken event."""
        auction = self.system.auction
        s = auction.sale(sale)
        if s.qty == 0 or s.tic == 0:
            state = "queued (LiquidationAuction.release starts it)" if s.qty else "not running: finished, or never started"
            raise LabError(f"auction {sale} is {state}")
        price, stale, left = auction.getStatus(sale)
        if stale:
            raise LabError(f"auction {sale} is stale: restart it (LiquidationAuction.redo) before taking")
        qty = int(left) if size is None else _amount(size, "size", to_wad, positive=True)
        if margin is None:
            mid = bytes(s.market)
            held, mark = self.position(market_name(mid), keeper), int(self.system.oracle.price(mid))
            paid = _keeper_margin(self.system.clearinghouse, mid, held, bool(s.long), min(qty, int(left)), int(price), mark)
        else:
            paid = _amount(margin, "margin")
        receipt = auction.take(sale, qty, int(price), paid, keeper, b"", sender=keeper)
        self._known.add(str(keeper.address))
        taken = next(log.event_arguments for log in receipt.events if log.event_name == "AuctionTaken")
        return int(taken["qty"]), int(taken["price"])

    # ------------------------------------------------------------------ ADL

    def plan_adl(self, sale: int) -> AdlPlan:
        """The reference ADL plan of liquidation `sale` (backstop.model.adl: the trigger, ranking and loss cap
        the queue checks). Unpacks as ``plan, candidates``; `.fills` has each counterparty's qty and profit."""
        return plan_adl(self.system, sale, self.snapshot())

    def execute_adl(self, sale: int, executor: AccountAPI, plan: AdlPlan | None = None, mint_bond: bool = False) -> AdlExecution:
        """`executor` runs ADL on liquidation `sale` with `plan`'s candidates (default: planned now), posting
        the bond (the queue's minimum plus the profit taken) from its wallet, minted first if `mint_bond`.
        Returns the execution as its events record it."""
        adl = self.system.adl
        chosen = plan if plan is not None else self.plan_adl(sale)
        bond = int(adl.minBond()) + chosen.profit_taken
        short = bond - int(self.system.usdc.balanceOf(executor))
        if short > 0:
            if not mint_bond:
                raise LabError(f"the executor's wallet is ${short / 10**6:,.6f} short of the ${bond / 10**6:,.6f} bond: "
                               "lab.mint(executor, ...) first, or pass mint_bond=True")
            self.mint(executor, Decimal(short) / 10**6)
        self.system.usdc.approve(adl, bond, sender=executor)
        receipt = adl.execute(sale, list(chosen.plan.claims), chosen.candidates, sender=executor)
        return decode_execution(self.system, receipt)

    # ------------------------------------------------------------------ the ledger

    @property
    def reader(self) -> LedgerReader:
        """The batched reader behind `snapshot`, connected on first use to the node Ape is connected to."""
        if self._reader is None:
            self._reader = LedgerReader(self.system)
        return self._reader

    def snapshot(self) -> LedgerSnapshot:
        """What every contract holds and owes now (see backstop.lab.ledger)."""
        return self.reader.snapshot(sorted(self._known), self.since_block)

    def check_conservation(self) -> LedgerSnapshot:
        """Reads a snapshot and checks every USDC conservation law of backstop.lab.ledger; raises
        ConservationError (an AssertionError) naming each broken one, or returns the snapshot."""
        return self.snapshot().check()

    # ------------------------------------------------------------------ internals

    def _trade(self, mid: bytes, buyer: AccountAPI, seller: AccountAPI, qty: int, px: int, margins: tuple[int, int]) -> ReceiptAPI:
        """The trade of `trade` in contract units: `qty` [wad] at `px` [wad], margins [usdc]."""
        keyless = [a for a in (buyer, seller) if not hasattr(a, "private_key")]
        if len(keyless) > 1:
            raise LabError("neither trader has a private key to sign with: one of them must be a test account")
        maker = self._order(buyer, mid, qty, px, margins[0])
        taker = self._order(seller, mid, -qty, px, margins[1])
        self._known.update((str(buyer.address), str(seller.address)))
        return self.system.clearinghouse.trade(
            maker.as_tuple(), self._sign(maker, buyer), taker.as_tuple(), self._sign(taker, seller),
            sender=keyless[0] if keyless else self.admin,
        )

    def _order(self, account: AccountAPI, mid: bytes, delta: int, price: int, margin: int) -> Order:
        return Order(str(account.address), mid, delta, price, margin, next(self._nonces), FAR_FUTURE)

    def _sign(self, order: Order, account: AccountAPI) -> bytes:
        key: Any = getattr(account, "private_key", None)
        if key is None:
            return b""  # the account submits the trade itself
        return sign_order(order, key, chain.chain_id, str(self.system.clearinghouse.address))


def _amount(value: Amount, what: str, convert: Callable[[Any], int] = to_usdc, positive: bool = False) -> int:
    """`value` in contract units by `convert` ([usdc] by default); LabError naming `what` if it is no number,
    or not positive when it must be."""
    try:
        units = int(convert(value))
    except (ArithmeticError, ValueError, TypeError) as e:
        raise LabError(f"{what} must be a number, got {value!r}") from e
    if positive and units <= 0:
        raise LabError(f"{what} must be positive, got {value!r}")
    return units


def _leverage(value: Amount) -> Decimal:
    try:
        x = Decimal(str(value))
    except ArithmeticError as e:
        raise LabError(f"leverage must be a number, got {value!r}") from e
    if not x > 0:
        raise LabError(f"leverage must be positive, got {value!r}")
    return x


def _keeper_margin(house: Any, mid: bytes, p: Position, long: bool, qty: int, price: int, mark: int) -> int:
    """Margin [usdc] a keeper holding `p` must add, after buying (`long`) or selling `qty` [wad] at `price`
    [wad], for its position to meet initial margin at `mark` (the auction's price only improves for the keeper
    until the take is mined). Follows Clearinghouse._changePosition through the reference ledger's steps."""
    held = abs(p.size)
    if p.size and (p.size > 0) != long:  # the take first reduces an opposite position
        closed = min(qty, held)
        reduce_position(p, closed, price)
        qty, held = qty - closed, held - closed
    if qty:
        p.entry_price = price if held == 0 else average_entry(long, held, p.entry_price, qty, price)
        p.size = held + qty if long else -(held + qty)
    if p.size == 0:
        return 0
    notional = notional_up(p.size, mark)
    required = bps_up(notional, int(house.tierFor(mid, notional).initialMarginBps))
    return max(required - p.margin - pnl(p.size > 0, abs(p.size), p.entry_price, mark), 0)


def _ceil_div(amount: int, by: Decimal) -> int:
    return int((Decimal(amount) / by).to_integral_value(rounding=ROUND_CEILING))


def _address(account: AccountAPI | str) -> str:
    return str(account) if isinstance(account, str) else str(account.address)
