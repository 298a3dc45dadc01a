"""Stateful invariant hunt (issue #8): a Hypothesis RuleBasedStateMachine drives the real contracts with what
users, bidders and keepers do, and after every step checks the money laws and that every contract's state is
its reference model's.

Rules: deposit, withdraw, trade (a trader against the market maker, both EIP-712 signed), move one oracle
source, move every source (a crash or a rally), advance time, liquidate, a crash that liquidates and leaves
the auctions running, take, redo, execute ADL (with the reference ranking's candidate list) and release its
bond, a keeper round, snapshot the fund, donate to the fund, set the fund's drawdown threshold; standing bids:
place (any bidder, side, level, size, escrow around the least allowed), reduce, cancel (also by someone else,
who must be refused), withdraw released escrow, set the ADL loss cap; and `crash_into_adl_*` (one rule per
trigger), which make ADL happen: a trader opens a
~$30k 20x position, the market moves 15-45 % against it, everything below maintenance is liquidated (standing
bids first), and one trigger is brought about (an uncovered loss as it stands, liquidity risk by letting the
auction go stale and restarting it, or fund risk by a drawdown threshold of zero), then every running auction
is offered to ADL.

Invariants, after every step:

- USDC conservation per contract, to the unit: each contract's USDC balance equals its starting balance plus
  what its events say came in minus what they say went out (Clearinghouse: Deposited, Withdrawn, fund payouts
  to it, Inflows it paid to the fund; InsuranceFund: Inflow, LossCovered; LiquidationAuction and
  StandingBidBook hold none; AdlQueue holds exactly the bonds posted and not yet returned), and the USDC of all
  holders together never changes except by the minting the machine does itself;
- the standing-bid book: its free balance in the clearinghouse is the escrow its events say it holds
  (BidPlaced escrow − BidFilled escrow − Withdrawn) and equals Σ escrow of live bids + Σ withdrawable in the
  reference model (backstop.model.bidbook); every live bid (owner, side, level, left, escrow), every level's
  depth and count, each side's total depth, every bidder's withdrawable balance and the bid count equal the
  model's; every liquidation fills exactly the bids, sizes, prices and escrow shares the model's `absorb`
  chooses (bids of the trader or of a frozen owner cancelled);
- the clearinghouse equals the reference ledger (backstop.model.ledger.Ledger): every free balance (the
  book's too), every position (size, entry price, margin), the frozen flags, the bad debt and the USDC it
  holds. The ledger is driven by the clearinghouse's own events for *what* happened (Deposited, Withdrawn,
  TradeSettled with the orders the rule signed, LiquidationBegun, LiquidationFilled, MarginFunded,
  MarginAdded, Deleveraged) and computes *how* the state changes; each event's reported amounts (equity part,
  penalty, realised PnL, where the escrow went) must equal the model's, every shortfall the model realises
  must be one the contract reports (ShortfallSettled, in order) with the same amount, and a trade the contract
  refuses must be one the model refuses;
- every ADL execution closed the bankrupt part at its bankruptcy price, against exactly the counterparties and
  quantities the reference ranking (backstop.model.adl) chooses at that block's price, each within its loss
  cap; the contract's trigger (reason, quantity, price, uncovered loss) is the model's `plan`;
- the fund: USDC balance == totalPooled == Σ pools, every pool equal to the reference model's
  (backstop.model.fund), every cover split as the model's waterfall splits it, every hourly Snapshot event the
  one the model records, the fund-risk flags the model's;
- the oracle: PriceOracle.price equals backstop.model.oracle.oracle_price over the same source answers (or both
  refuse, for the same reason);
- the clearinghouse owes no more than it holds: USDC held + Σ bad debt ≥ Σ free balances + Σ margins + Σ PnL;
- no position left below zero equity after a keeper had the chance to act: right after a keeper round (one
  keeper with ample capital liquidates every position the oracle puts below maintenance, restarts every stale
  auction and takes every running auction in full at its price, with a keeper not in liquidation itself) no
  position has negative equity at the oracle price and no auction is left running — whenever the oracle can
  price the market, and but for an auction no keeper may take (both keepers are frozen themselves: found by the
  long run, a limit of the machine's two keepers, not of the contracts).

Not modelled exactly: the mark a trade or a keeper's margin check used is read right after its block (the
same block, so the same source answers and timestamp); the machine never queues liquidations (no buffer and
no hole are configured), so `release` is not exercised here (tests/test_liquidation_throttle.py covers it).

Each example starts from the same chain snapshot (evm_snapshot / evm_revert). Transactions go to the node as
raw JSON-RPC (unlocked test accounts, automine: send, then receipt and block in one batch) and every step's
reads are one batched request: a step costs milliseconds.

Size: BACKSTOP_PROPERTY_EXAMPLES examples (default 8) of at most BACKSTOP_STATEFUL_STEPS steps (default 30).
Long run (`make stateful-long`, 100,000 steps): BACKSTOP_PROPERTY_EXAMPLES=2000 BACKSTOP_STATEFUL_STEPS=50.
The run prints (and writes to BACKSTOP_STATEFUL_REPORT, if set) the steps executed, the count of every rule,
the ADL executions, the outcome of every transaction and the wall time.
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from web3 import Web3
from web3._utils.method_formatters import receipt_formatter

from backstop.chain.deploy import DEFAULT_TIERS, AuctionSpec, BookSpec, MarketSpec, deploy_system
from backstop.chain.fastchain import FastChain, web3_contract
from backstop.chain.orders import Order, sign_order
from backstop.chain.reverts import abi_selector
from backstop.model import adl as adl_model
from backstop.model import ledger as lm
from backstop.model import oracle as oracle_model
from backstop.model.bidbook import BidBook, escrow_required
from backstop.model.fund import GLOBAL, InsuranceFundModel
from backstop.units import WAD, market_id, to_usdc, to_wad

NONCES = itertools.count(1)
OUTCOMES: Counter[str] = Counter()  # "function ok|reverted" -> transactions, over the whole run
RULES: Counter[str] = Counter()  # rule -> times executed, over the whole run
SECONDS: Counter[str] = Counter()  # where the wall time goes: "transactions", "invariant reads"
RUN: dict[str, float] = {"examples": 0, "start": 0.0}
PROGRESS_EVERY = 100  # examples between progress lines (and report rewrites) in a long run
EXAMPLES = int(os.environ.get("BACKSTOP_PROPERTY_EXAMPLES", "8"))
STEPS = int(os.environ.get("BACKSTOP_STATEFUL_STEPS", "30"))
REPORT = os.environ.get("BACKSTOP_STATEFUL_REPORT", "")
MARKET = "OM-USD"
MID = market_id(MARKET)
GAS = 3_000_000
WALLET = to_usdc(2_000_000)  # each actor's starting USDC
SUB_SEED, GLOBAL_SEED = 3_000, 2_000  # a small fund, so that losses reach the global pool and bad debt happens
ORACLE_CFG = oracle_model.OracleConfig(max_age=3_600, max_deviation_bps=1_000, min_sources=1)
DECIMALS = 8
TIERS = list(DEFAULT_TIERS)
LEVELS = list(BookSpec().levels)
MAX_MATCHES = BookSpec().max_matches
PENALTY_BPS = AuctionSpec().penalty_bps
BAND_BPS = MarketSpec(MARKET, "6").price_band_bps
REASONS = {0: "uncovered", 1: "fund_risk", 2: "liquidity_risk"}  # AdlQueue.Reason -> adl_model.Plan.reason
CONTRACTS = ("USDC", "Clearinghouse", "InsuranceFund", "LiquidationAuction", "PriceOracle", "AdlQueue", "StandingBidBook")


def _b32(text: str) -> bytes:
    return text.encode().ljust(32, b"\0")


@dataclass
class World:
    """The deployment and the actors, shared by every example (reset by chain snapshot)."""

    fast: FastChain
    c: dict[str, Any]  # name -> web3 contract
    sources: list[Any]
    traders: list[str]
    maker: str  # the market maker, every trader's counterparty
    keepers: list[str]
    donor: str
    admin: str
    keys: dict[str, str]  # address -> private key (to sign orders)
    chain_id: int
    decoders: dict[tuple[str, bytes], tuple[str, Any]] = field(default_factory=dict)  # (address, topic) -> (contract, event)
    house0: int = 0
    fund0: int = 0
    held0: int = 0
    free0: dict[str, int] = field(default_factory=dict)  # free balances in the clearinghouse at the snapshot
    snapshot: str = ""
    holders: list[str] = field(default_factory=list)
    seeds: list[tuple[bytes, int, int]] = field(default_factory=list)  # (pool, amount, timestamp) of the seeding


@pytest.fixture(scope="module")
def world(accounts, chain) -> World:
    admin = accounts[0]
    system = deploy_system(admin, [MarketSpec(MARKET, "6", fund_seed=SUB_SEED)], global_seed=GLOBAL_SEED)
    actors = list(accounts[1:8])  # 3 traders, the market maker, 2 keepers, a donor
    for a in actors:
        system.usdc.mint(a, WALLET, sender=admin)
        for spender in (system.clearinghouse, system.fund, system.adl, system.book):  # deposits, donations, bonds, escrow
            system.usdc.approve(spender, 2**256 - 1, sender=a)
    for a in actors[:6]:
        system.clearinghouse.deposit(to_usdc(200_000), sender=a)
    fast = FastChain.connect(chain.provider.uri)
    c = {
        name: web3_contract(fast.w3, str(inst.address), [abi.model_dump(by_alias=True, mode="json") for abi in inst.contract_type.abi])
        for name, inst in {
            "USDC": system.usdc,
            "Clearinghouse": system.clearinghouse,
            "InsuranceFund": system.fund,
            "LiquidationAuction": system.auction,
            "PriceOracle": system.oracle,
            "AdlQueue": system.adl,
            "StandingBidBook": system.book,
        }.items()
    }
    order = Order(str(actors[0].address), MID, -5, 7, 9, 1, 2).as_tuple()
    for name, fn, args in (  # FastChain.encode is web3's encoding, without the cost
        ("Clearinghouse", "trade", [order, b"\x01" * 65, order, b""]),
        ("AdlQueue", "execute", [3, [], [str(a.address) for a in actors[:3]]]),
        ("LiquidationAuction", "take", [1, 2, 3, 4, str(actors[1].address), b""]),
    ):
        assert fast.encode(c[name], fn, args) == c[name].encode_abi(fn, args)
    for name, contract in c.items():
        fast.register(name, contract)  # for the names of custom errors (events are decoded by address here)
    venues = list(system.sources[MARKET].values())
    sources = [web3_contract(fast.w3, str(s.address), [abi.model_dump(by_alias=True, mode="json") for abi in s.contract_type.abi]) for s in venues]
    addr = [str(a.address) for a in actors]
    w = World(
        fast=fast,
        c=c,
        sources=sources,
        traders=addr[:3],
        maker=addr[3],
        keepers=addr[4:6],
        donor=addr[6],
        admin=str(admin.address),
        keys={str(a.address): a.private_key for a in actors},
        chain_id=chain.chain_id,
    )
    for name, contract in [*c.items(), *(("MockPriceSource", s) for s in sources)]:
        for item in contract.abi:
            if item.get("type") == "event":
                w.decoders[(contract.address.lower(), abi_selector(item))] = (name, getattr(contract.events, item["name"])())
    w.holders = [*addr, w.admin]
    w.house0 = c["USDC"].functions.balanceOf(c["Clearinghouse"].address).call()
    w.fund0 = c["USDC"].functions.balanceOf(c["InsuranceFund"].address).call()
    w.held0 = sum(fast.view([(c["USDC"], "balanceOf", [o]) for o in _usdc_owners(w)]))
    book = c["StandingBidBook"].address
    w.free0 = dict(zip([*addr[:6], book], fast.view([(c["Clearinghouse"], "freeBalance", [a]) for a in [*addr[:6], book]])))
    for log in c["InsuranceFund"].events.Inflow().get_logs(from_block=0):
        ts = fast.w3.eth.get_block(log["blockNumber"])["timestamp"]
        w.seeds.append((bytes(log["args"]["pool"]), log["args"]["amount"], ts))
    return w


def _usdc_owners(w: World) -> list[str]:
    return [*w.holders, *(w.c[n].address for n in CONTRACTS[1:] if n != "PriceOracle")]


def _clamp(answer: int) -> int:
    """Venue prices stay within $0.30..$30 (8 decimals): beyond, positions outgrow the top bracket."""
    return min(max(answer, 30_000_000), 3_000_000_000)


def counted(fn: Callable[..., None]) -> Callable[..., None]:
    """Counts a rule's executions in RULES (a step is one rule)."""

    @functools.wraps(fn)
    def wrapper(self: "BackstopMachine", *args: Any, **kwargs: Any) -> None:
        RULES[fn.__name__] += 1
        fn(self, *args, **kwargs)

    return wrapper


class BackstopMachine(RuleBasedStateMachine):
    world: World  # set by the test before running

    def __init__(self) -> None:
        super().__init__()
        w = self.w = self.world
        w.snapshot = w.fast.rpc("evm_snapshot")
        self.fund_model = InsuranceFundModel()
        self.fund_model.add_market(MID)
        for pool, amount, ts in w.seeds:  # the deployment's seeding, at the times it happened
            self.fund_model.deposit(pool, amount, ts)
        self.ledger = lm.Ledger(cover=self._reported_cover, tiers={MID: TIERS}, bands={MID: BAND_BPS})
        self.ledger.free = dict(w.free0)
        self.ledger.usdc_held = w.house0
        self.bids = BidBook(LEVELS, MAX_MATCHES)
        self.shortfalls: list[tuple[int, int]] = []  # (shortfall, uncovered) the contract reported, not yet modelled
        self.expected_fills: list[Any] = []  # the book model's fills of the liquidation being processed
        self.orders: tuple[Order, Order] | None = None  # the trade being sent
        self.house_in = self.house_out = self.fund_in = self.fund_out = 0
        self.book_held = 0  # [usdc] escrow the book's events say it holds in the clearinghouse
        self.bonds: dict[int, int] = {}  # ADL execution -> bond still held
        self.minted = 0
        self.answers = [to_wad(6) // 10 ** (18 - DECIMALS)] * len(w.sources)
        self.keeper_acted = False
        self.last_revert = b""  # the hash of the last transaction that reverted
        self.left_running: list[str] = []  # what the last keeper round could not finish, and why
        self.untakeable: set[str] = set()  # traders whose auction no keeper could take (both keepers frozen)

    def teardown(self) -> None:
        self.w.fast.rpc("evm_revert", [self.w.snapshot])
        RUN["examples"] += 1
        if RUN["examples"] % PROGRESS_EVERY == 0:  # a long run shows its progress, and a cut-short one its figures
            summary = _summary(time.perf_counter() - RUN["start"])
            print(f"\n[{summary['examples_run']} examples] {summary['steps']} steps, {summary['adl_executions']} ADL executions, "
                  f"{summary['wall_seconds']} s", flush=True)
            _report(summary)

    # -------------------------------------------------------------- plumbing

    def _send(self, sender: str, name: str | Any, fn: str, *args: Any) -> dict | None:
        """One transaction, mined at once (automine); its events are accounted for. None if it reverted."""
        fast = self.w.fast
        contract = self.w.c[name] if isinstance(name, str) else name
        start = time.perf_counter()
        tx = {"from": sender, "to": contract.address, "data": fast.encode(contract, fn, args), "gas": hex(GAS)}
        (tx_hash,) = fast.batch([("eth_sendTransaction", [tx])])  # through the session: no web3 middleware
        assert isinstance(tx_hash, str), f"the node refused {fn}: {tx_hash}"
        raw, block = fast.batch([("eth_getTransactionReceipt", [tx_hash]), ("eth_getBlockByNumber", ["latest", False])])
        while not isinstance(raw, dict) or "blockNumber" not in raw:  # automine answers at once; just in case
            time.sleep(0.01)
            raw, block = fast.batch([("eth_getTransactionReceipt", [tx_hash]), ("eth_getBlockByNumber", ["latest", False])])
        receipt = receipt_formatter(raw)
        SECONDS["transactions"] += time.perf_counter() - start
        assert int(block["number"], 16) == receipt["blockNumber"]
        label = name if isinstance(name, str) else "MockPriceSource"
        OUTCOMES[f"{label}.{fn} {'ok' if receipt['status'] == 1 else 'reverted'}"] += 1
        if receipt["status"] != 1:
            self.last_revert = bytes.fromhex(tx_hash[2:])
            return None
        self._account(receipt, int(block["timestamp"], 16))
        return receipt

    def _events(self, receipt: dict) -> list[tuple[str, str, dict[str, Any]]]:
        """(contract, event, args) of every log, decoded with the ABI of the contract at the log's address (two
        contracts may declare events of the same signature: Clearinghouse's and the book's Withdrawn)."""
        out = []
        for log in receipt["logs"]:
            contract, event = self.w.decoders[(log["address"].lower(), bytes(log["topics"][0]))]
            decoded = event.process_log(log)
            out.append((contract, decoded["event"], dict(decoded["args"])))
        return out

    def _reported_cover(self, market: bytes, amount: int) -> int:
        """The ledger model's fund: each shortfall the model realises must be the next one the clearinghouse
        reported (ShortfallSettled), for the same amount; the fund model splits it (see `_account`)."""
        assert market == MID and self.shortfalls, f"the model realised a shortfall of {amount} the contract did not"
        shortfall, uncovered = self.shortfalls.pop(0)
        assert shortfall == amount, f"shortfall {amount} in the model, {shortfall} on chain"
        return uncovered

    def _account(self, receipt: dict, ts: int) -> None:
        """Books the USDC each contract's events say moved, replays the fund's events on its model and the
        clearinghouse's and the book's on theirs, checking what each event reports against the models."""
        w, model = self.w, self.fund_model
        house = w.c["Clearinghouse"].address
        events = self._events(receipt)
        predicted: list[tuple[bytes, int, int]] = []  # the hourly snapshots the model records
        covered = incentives = 0
        self.shortfalls = [(a["shortfall"], a["uncovered"]) for c, n, a in events if (c, n) == ("Clearinghouse", "ShortfallSettled")]
        marks: list[int | None] = []  # the mark of this block, read once if needed

        def mark() -> int:
            if not marks:
                marks.append(self._mark())
            assert marks[0] is not None
            return marks[0]

        for contract, name, args in events:
            key = (contract, name)
            if key == ("Clearinghouse", "Deposited"):
                self.house_in += args["amount"]
                self.ledger.deposit(args["account"], args["amount"])
            elif key == ("Clearinghouse", "Withdrawn"):
                self.house_out += args["amount"]
                self.ledger.withdraw(args["account"], args["amount"])
            elif key == ("Clearinghouse", "TradeSettled"):
                assert self.orders is not None
                maker, taker = self.orders
                assert (args["size"], args["price"]) == (abs(maker.size_delta), maker.limit_price)
                self.ledger.trade(MID, maker.account, taker.account, maker.size_delta, maker.limit_price, (maker.margin, taker.margin), mark())
            elif key == ("Clearinghouse", "LiquidationBegun"):
                trader, size = args["account"], args["size"]
                assert size == self.ledger.position(MID, trader).size
                self.ledger.begin_liquidation(MID, trader)
                frozen = {a for m, a in self.ledger.frozen if m == MID}
                self.expected_fills = self.bids.absorb(trader, size > 0, abs(size), args["mark"], frozen)
            elif key == ("StandingBidBook", "BidFilled"):
                f = self.expected_fills.pop(0)
                assert (args["id"], args["owner"], args["qty"], args["price"], args["notional"], args["escrow"]) == (
                    f.bid, f.owner, f.qty, f.price, f.notional, f.escrow)
                self.book_held -= args["escrow"]
            elif key == ("Clearinghouse", "LiquidationFilled"):
                got = self.ledger.liquidation_fill(MID, args["account"], args["keeper"], args["qty"], args["price"], PENALTY_BPS)
                assert got == (args["equityPart"], args["penalty"])
            elif key == ("Clearinghouse", "MarginFunded"):
                assert self.ledger.fund_margin(MID, args["from"], args["account"], args["amount"]) == args["toPosition"]
            elif key == ("Clearinghouse", "MarginAdded"):  # settleKeeper, after a take
                self.ledger.settle_keeper(MID, args["account"], args["amount"], mark())
            elif key == ("Clearinghouse", "Deleveraged"):
                got = self.ledger.adl_fill(MID, args["account"], args["counterparty"], args["qty"], args["price"])
                assert got == (args["equityPart"], args["counterpartyRealized"])
            elif key == ("StandingBidBook", "BidPlaced"):
                bid = self.bids.place(args["owner"], args["long"], args["level"], args["notional"], args["escrow"])
                assert bid == args["id"] and args["discountBps"] == LEVELS[args["level"]]
                self.book_held += args["escrow"]
            elif key == ("StandingBidBook", "Withdrawn"):
                self.bids.withdrawable[args["owner"]] -= args["amount"]
                self.book_held -= args["amount"]
            elif key == ("InsuranceFund", "Inflow"):
                pool = bytes(args["pool"])
                predicted += [(pool, h, b) for h, b in model.pool(pool).record(ts)]
                assert model.deposit(pool, args["amount"], ts) == args["poolBalance"]
                self.fund_in += args["amount"]
                if args["from"] == house:
                    self.house_out += args["amount"]
            elif key == ("InsuranceFund", "LossCovered"):
                market = bytes(args["market"])
                for pool in (market, GLOBAL):
                    predicted += [(pool, h, b) for h, b in model.pool(pool).record(ts)]
                cover = model.cover_loss(market, args["requested"], ts)
                assert (cover.from_sub_pool, cover.from_global, cover.uncovered) == (args["fromSubPool"], args["fromGlobal"], args["uncovered"])
                covered += cover.covered
            elif key == ("InsuranceFund", "ParameterSet"):
                setattr(model, {b"drawdownBps": "drawdown_bps", b"fastDropBps": "fast_drop_bps", b"globalFloor": "global_floor"}[bytes(args["what"]).rstrip(b"\0")], args["data"])
            elif key in (("LiquidationAuction", "IncentivePaid"), ("LiquidationAuction", "BatchIncentivePaid")):
                incentives += args["amount"]
            elif key == ("AdlQueue", "AdlExecuted"):
                self.bonds[args["execution"]] = args["bond"]
            elif key == ("AdlQueue", "BondReleased"):
                assert self.bonds.pop(args["execution"]) == args["amount"]
        assert not self.shortfalls, f"the contract realised shortfalls the model did not: {self.shortfalls}"
        assert not self.expected_fills, f"the book model fills bids the contract did not: {self.expected_fills}"
        self.fund_out += covered
        self.house_in += covered - incentives  # every cover but an incentive is paid to the clearinghouse
        actual = [(bytes(a["pool"]), a["hour"], a["balance"]) for c, n, a in events if (c, n) == ("InsuranceFund", "Snapshot")]
        for pool in {a[0] for a in actual if a not in predicted}:  # an explicit snapshot() call
            predicted += [(pool, h, b) for h, b in model.pool(pool).record(ts)]
        assert sorted(actual) == sorted(predicted)

    def _mark(self) -> int | None:
        """The oracle price [wad], or None while it cannot price the market."""
        return self.w.fast.view([(self.w.c["PriceOracle"], "price", [MID])])[0]

    def _everyone(self) -> list[str]:
        return [*self.w.traders, self.w.maker, *self.w.keepers]

    # -------------------------------------------------------------- rules: users

    @rule(who=st.integers(0, 5), dollars=st.integers(1, 50_000))
    @counted
    def deposit(self, who: int, dollars: int) -> None:
        self._send(self._everyone()[who], "Clearinghouse", "deposit", to_usdc(dollars))

    @rule(who=st.integers(0, 5), dollars=st.integers(1, 250_000))
    @counted
    def withdraw(self, who: int, dollars: int) -> None:
        self._send(self._everyone()[who], "Clearinghouse", "withdraw", to_usdc(dollars))

    @initialize(sides=st.lists(st.booleans(), min_size=3, max_size=3), margin_bps=st.integers(500, 1_200))
    @counted
    def open_positions(self, sides: list[bool], margin_bps: int) -> None:
        """Every trader starts with a leveraged position (8x-20x): a few percent of price move liquidates it."""
        for trader, long in enumerate(sides):
            self._trade(trader, 4_000 if long else -4_000, 0, margin_bps)

    @rule(
        trader=st.integers(0, 2),
        units=st.integers(-6_000, 6_000).filter(bool),
        offset_bps=st.integers(-300, 300),
        margin_bps=st.integers(0, 3_000),  # of the notional
    )
    @counted
    def trade(self, trader: int, units: int, offset_bps: int, margin_bps: int) -> None:
        self._trade(trader, units, offset_bps, margin_bps)

    def _trade(self, trader: int, units: int, offset_bps: int, margin_bps: int) -> bool:
        """A trader's order against the market maker's; the ledger model must accept it iff the contract does."""
        mark = self._mark()
        if mark is None:
            return False
        price = mark + mark * offset_bps // 10_000
        w = self.w
        who = w.traders[trader]
        nonce = next(NONCES)
        margin = abs(units) * price * margin_bps // 10_000 // 10**12  # [usdc]
        mine = Order(who, MID, to_wad(units), price, margin, nonce, 2**40)
        theirs = Order(w.maker, MID, -to_wad(units), price, to_usdc(abs(units) * 2), nonce, 2**40)
        house = w.c["Clearinghouse"].address
        sig = lambda o: sign_order(o, w.keys[o.account], w.chain_id, house)  # noqa: E731
        self.orders = (mine, theirs)
        ok = self._send(w.maker, "Clearinghouse", "trade", mine.as_tuple(), sig(mine), theirs.as_tuple(), sig(theirs)) is not None
        if not ok and (after := self._mark()) is not None:  # the model must refuse it too
            trial = copy.deepcopy(self.ledger, memo={id(self.ledger.cover): lambda m, a: 0})
            with pytest.raises(lm.LedgerError):
                trial.trade(MID, mine.account, theirs.account, mine.size_delta, price, (mine.margin, theirs.margin), after)
        self.orders = None
        return ok

    @rule(dollars=st.integers(1, 2_000), to_market=st.booleans())
    @counted
    def donate(self, dollars: int, to_market: bool) -> None:
        self._send(self.w.donor, "InsuranceFund", "deposit", MID if to_market else GLOBAL, 4, to_usdc(dollars))

    @rule(to_market=st.booleans())
    @counted
    def snapshot_fund(self, to_market: bool) -> None:
        self._send(self.w.donor, "InsuranceFund", "snapshot", MID if to_market else GLOBAL)

    # -------------------------------------------------------------- rules: standing bids

    @rule(
        who=st.integers(0, 5),
        long=st.booleans(),
        level=st.integers(0, len(LEVELS) - 1),
        dollars=st.integers(50, 40_000),
        escrow_pct=st.integers(95, 140),  # of the least escrow allowed
    )
    @counted
    def place_bid(self, who: int, long: bool, level: int, dollars: int, escrow_pct: int) -> None:
        notional = to_usdc(dollars)
        least = escrow_required(notional, lm.tier_for(TIERS, notional).initial_margin_bps)
        escrow = least * escrow_pct // 100
        ok = self._send(self._everyone()[who], "StandingBidBook", "placeBid", MID, long, level, notional, escrow) is not None
        assert ok == (escrow >= least), f"placeBid of ${dollars} with escrow {escrow} (least {least}): ok={ok}"

    @rule(pick=st.integers(0, 63), percent=st.integers(1, 100), imposter=st.booleans())
    @counted
    def reduce_bid(self, pick: int, percent: int, imposter: bool) -> None:
        """The owner lowers a bid by `percent` (all of it cancels); anyone else is refused."""
        if not self.bids.bids:
            return
        bid = self.bids.bids[sorted(self.bids.bids)[pick % len(self.bids.bids)]]
        notional = max(1, bid.left * percent // 100)
        sender = self._other(bid.owner) if imposter else bid.owner
        receipt = self._send(sender, "StandingBidBook", "reduceBid", bid.id, notional)
        assert (receipt is not None) == (not imposter)
        if receipt is not None:
            released = self.bids.reduce(bid.id, notional)
            got = [a["released"] for c, n, a in self._events(receipt) if n in ("BidReduced", "BidCancelled")]
            assert got == [released]

    @rule(pick=st.integers(0, 63), imposter=st.booleans())
    @counted
    def cancel_bid(self, pick: int, imposter: bool) -> None:
        if not self.bids.bids:
            return
        bid = self.bids.bids[sorted(self.bids.bids)[pick % len(self.bids.bids)]]
        receipt = self._send(self._other(bid.owner) if imposter else bid.owner, "StandingBidBook", "cancelBid", bid.id)
        assert (receipt is not None) == (not imposter)
        if receipt is not None:
            released = self.bids.cancel(bid.id)
            assert [a["released"] for c, n, a in self._events(receipt) if n == "BidCancelled"] == [released]

    @rule(who=st.integers(0, 5), percent=st.integers(1, 110))
    @counted
    def withdraw_escrow(self, who: int, percent: int) -> None:
        """A bidder takes released escrow out of the book; more than it has is refused."""
        owner = self._everyone()[who]
        have = self.bids.withdrawable.get(owner, 0)
        amount = max(1, have * percent // 100)
        ok = self._send(owner, "StandingBidBook", "withdraw", amount) is not None
        assert ok == (amount <= have)

    def _other(self, owner: str) -> str:
        people = self._everyone()
        return people[(people.index(owner) + 1) % len(people)]

    # -------------------------------------------------------------- rules: the world

    @rule(venue=st.integers(0, 2), bps=st.integers(-2_500, 2_000))
    @counted
    def move_source(self, venue: int, bps: int) -> None:
        answer = _clamp(self.answers[venue] + self.answers[venue] * bps // 10_000)
        if self._send(self.w.admin, self.w.sources[venue], "setAnswer", answer):
            self.answers[venue] = answer

    @rule(bps=st.integers(-1_500, 1_000))
    @counted
    def move_all(self, bps: int) -> None:
        self._move_all(bps)

    def _move_all(self, bps: int) -> None:
        for venue in range(len(self.w.sources)):
            answer = _clamp(self.answers[venue] + self.answers[venue] * bps // 10_000)
            if self._send(self.w.admin, self.w.sources[venue], "setAnswer", answer):
                self.answers[venue] = answer

    @rule(seconds=st.integers(1, 1_800))
    @counted
    def advance(self, seconds: int) -> None:
        self._advance(seconds)

    def _advance(self, seconds: int) -> None:
        self.w.fast.rpc("evm_increaseTime", [seconds])
        self.w.fast.rpc("evm_mine")

    @rule(bps=st.sampled_from([0, 1_000, 3_000, 10_000]))
    @counted
    def set_drawdown(self, bps: int) -> None:
        """The fund's drawdown threshold for fund risk (0: any balance at or below the 8-hour peak)."""
        self._send(self.w.admin, "InsuranceFund", "file", _b32("drawdownBps"), bps)

    @rule(bps=st.sampled_from([2_500, 5_000, 10_000]))
    @counted
    def set_loss_cap(self, bps: int) -> None:
        """The most of a counterparty's unrealised profit one ADL may take (deployed at 5,000)."""
        self._send(self.w.admin, "AdlQueue", "file", _b32("lossCapBps"), bps)

    # -------------------------------------------------------------- rules: keepers

    @rule(who=st.integers(0, 5))
    @counted
    def liquidate(self, who: int) -> None:
        self._send(self.w.keepers[0], "LiquidationAuction", "liquidate", MID, self._everyone()[who])

    @rule(picks=st.lists(st.integers(0, 5), min_size=1, max_size=4))
    @counted
    def liquidate_many(self, picks: list[int]) -> None:
        """Several at once (repeats allowed): each pick is either liquidated (LiquidationBegun) or skipped with its
        revert (LiquidationSkipped), in order; the invariants hold after it as after single liquidations."""
        people = self._everyone()
        receipt = self._send(self.w.keepers[0], "LiquidationAuction", "liquidateMany", MID, [people[i] for i in picks])
        if receipt is not None:
            outcome = [(e, a["account"] if e == "LiquidationBegun" else a["trader"]) for _, e, a in self._events(receipt)
                       if e in ("LiquidationBegun", "LiquidationSkipped")]
            assert [who for _, who in outcome] == [people[i] for i in picks], outcome
            OUTCOMES["liquidateMany liquidated"] += sum(1 for e, _ in outcome if e == "LiquidationBegun")
            OUTCOMES["liquidateMany skipped"] += sum(1 for e, _ in outcome if e == "LiquidationSkipped")

    @rule(pick=st.integers(0, 7), percent=st.integers(1, 100))
    @counted
    def take(self, pick: int, percent: int) -> None:
        active = self._active()
        if active:
            self._take(active[pick % len(active)], percent)

    @rule(pick=st.integers(0, 7))
    @counted
    def redo(self, pick: int) -> None:
        active = self._active()
        if active:
            self._send(self.w.keepers[1], "LiquidationAuction", "redo", active[pick % len(active)])

    def _active(self) -> list[int]:
        return list(self.w.fast.view([(self.w.c["LiquidationAuction"], "active", [])])[0] or [])

    def _take(self, id_: int, percent: int) -> dict | None:
        auction = self.w.c["LiquidationAuction"]
        status, sale = self.w.fast.view([(auction, "getStatus", [id_]), (auction, "sale", [id_])])
        if status is None:
            return None
        price, _, left = status
        trader = Web3.to_checksum_address(sale[1])
        able = [k for k in self.w.keepers if k != trader and (MID, k) not in self.ledger.frozen]  # (the contract refuses the rest)
        if not able:
            self.left_running.append(f"auction {id_}: no keeper able to take (each is the trader or in liquidation)")
            self.untakeable.add(trader)
            return None
        keeper = able[0]
        qty = left if percent == 100 else max(1, left * percent // 100)
        margin = min(to_usdc(300_000), qty * price // 10**30 // 2 + 1)  # half the notional
        return self._send(keeper, "LiquidationAuction", "take", id_, qty, price, margin, keeper, b"")

    @rule(pick=st.integers(0, 7))
    @counted
    def deleverage(self, pick: int) -> None:
        active = self._active()
        if active:
            self._deleverage(active[pick % len(active)])

    def _deleverage(self, id_: int) -> None:
        """ADL of a running liquidation: the contract's trigger must be the model's plan and, where one holds, the
        contract must accept the reference ranking's candidate list and do exactly what the model says."""
        w, auction, adl, fund = self.w, self.w.c["LiquidationAuction"], self.w.c["AdlQueue"], self.w.c["InsuranceFund"]
        others = sorted(i for i in self._active() if i != id_)
        sale, cap, liquidity, hour, mark, *rest = w.fast.view([
            (auction, "sale", [id_]),
            (adl, "lossCapBps", []),
            (auction, "inLiquidityRisk", [MID]),
            (fund, "currentHour", []),
            (w.c["PriceOracle"], "price", [MID]),
            *[(auction, "sale", [i]) for i in others],
        ])
        if mark is None:
            OUTCOMES["AdlQueue.execute no price"] += 1
            return
        # every other running auction with a shortfall at the mark is listed: the trigger judges this one after them
        claims = [adl_model.Claim(i, MID, self.ledger.position(MID, Web3.to_checksum_address(o[1])), o[4], mark) for i, o in zip(others, rest)]
        claims = [c for c in claims if c.shortfall > 0]
        listed = [c.id for c in claims]
        plan = w.fast.view([(adl, "trigger", [id_, listed])])[0]
        trader, long, qty = Web3.to_checksum_address(sale[1]), sale[2], sale[4]
        available, claimed = adl_model.available_after_claims(
            MID, {MID: self.fund_model.pool_balance(MID)}, self.fund_model.pool_balance(GLOBAL), claims)
        risk = self.fund_model.adl_allowed(MID, hour * 3_600)
        try:
            expected = adl_model.plan(copy.copy(self.ledger.position(MID, trader)), qty, mark, available, risk, bool(liquidity), claimed)
        except adl_model.NoTrigger:
            expected = None
        if plan is None:  # no trigger, or not underwater
            assert expected is None, f"the model plans {expected}, the contract has no trigger"
            OUTCOMES["AdlQueue.execute no trigger"] += 1
            return
        reason, qty, price, plan_mark, uncovered, plan_claimed = plan
        assert expected is not None and (REASONS[reason], qty, price, plan_mark, uncovered, plan_claimed) == (
            expected.reason, expected.qty, expected.price, expected.mark, expected.uncovered, expected.claimed)
        if claimed:
            OUTCOMES["AdlQueue.execute after other auctions' claims"] += 1
        people = self._everyone()
        book = {p: copy.copy(self.ledger.position(MID, p)) for p in people}
        frozen = {a for m, a in self.ledger.frozen if m == MID}
        try:
            fills = adl_model.choose(book, long, qty, price, mark, cap, exclude=frozen)
        except ValueError:  # the other side cannot absorb it within the cap: the contract must refuse too
            everyone_listed = adl_model.ranking(book, long, mark, exclude=frozen)
            assert self._send(w.keepers[1], "AdlQueue", "execute", id_, listed, everyone_listed) is None
            OUTCOMES["AdlQueue.execute cannot absorb"] += 1
            return
        receipt = self._send(w.keepers[1], "AdlQueue", "execute", id_, listed, [f.account for f in fills])
        assert receipt is not None, "the contract refused the reference ranking's candidate list"
        OUTCOMES[f"ADL executed ({REASONS[reason]})"] += 1
        got = [(a["counterparty"], a["qty"], a["price"], a["profitTaken"]) for c, n, a in self._events(receipt) if n == "ADL"]
        assert got == [(f.account, f.qty, price, f.profit_taken) for f in fills]
        for f in fills:
            assert f.profit_taken <= adl_model.unrealised_profit(book[f.account], mark) * cap // 10_000

    @rule()
    @counted
    def release_bonds(self) -> None:
        """After the challenge window every bond goes back to its executor."""
        if not self.bonds:
            return
        self._advance(3_601)
        for execution in list(self.bonds):
            self._send(self.w.keepers[0], "AdlQueue", "releaseBond", execution)

    @rule(bps=st.integers(300, 2_000), wait=st.sampled_from([0, 600, 1_801]), batch=st.booleans())
    @counted
    def crash_and_liquidate(self, bps: int, wait: int, batch: bool) -> None:
        """Every venue falls by `bps`, every position below maintenance is liquidated (one by one, or in
        `liquidateMany` batches) and nobody takes yet; after `wait` seconds the auctions are still running, priced
        lower, or stale (past the 30-minute tail), for the take and redo rules."""
        self._move_all(-bps)
        self._liquidate_all(batch)
        if wait:
            self._advance(wait)

    def _liquidate_all(self, batch: bool = False) -> None:
        house = self.w.c["Clearinghouse"]
        people = self._everyone()
        due = [who for who, flag in zip(people, self.w.fast.view([(house, "isLiquidatable", [MID, p]) for p in people])) if flag]
        if not batch:
            for who in due:
                self._send(self.w.keepers[0], "LiquidationAuction", "liquidate", MID, who)
            return
        for i in range(0, len(due), 4):  # four fit the machine's 3M gas a transaction
            receipt = self._send(self.w.keepers[0], "LiquidationAuction", "liquidateMany", MID, due[i : i + 4])
            begun = [a["account"] for _, e, a in self._events(receipt) if e == "LiquidationBegun"] if receipt else []
            OUTCOMES["liquidateMany liquidated"] += len(begun)
            assert receipt is None or begun == due[i : i + 4], (begun, due[i : i + 4])  # all of them were due

    @rule(trader=st.integers(0, 2), long=st.booleans(), depth=st.integers(0, 100))
    @counted
    def crash_into_adl_uncovered(self, trader: int, long: bool, depth: int) -> None:
        self._crash_into_adl(trader, long, depth, "uncovered")

    @rule(trader=st.integers(0, 2), long=st.booleans(), depth=st.integers(0, 100))
    @counted
    def crash_into_adl_liquidity(self, trader: int, long: bool, depth: int) -> None:
        self._crash_into_adl(trader, long, depth, "liquidity")

    @rule(trader=st.integers(0, 2), long=st.booleans(), depth=st.integers(0, 100))
    @counted
    def crash_into_adl_fund(self, trader: int, long: bool, depth: int) -> None:
        self._crash_into_adl(trader, long, depth, "fund")

    def _crash_into_adl(self, trader: int, long: bool, depth: int, trigger: str) -> None:
        """Drives the market into ADL: the trader opens a ~$30k position at 20x (the maker on the other side),
        the market moves against it (30-45 % for "uncovered", 15-45 % otherwise; `depth` % of the range),
        everything below maintenance is liquidated (standing bids first), then the trigger is brought about —
        "uncovered": none (the move leaves a loss beyond the fund), "liquidity": the auctions go stale and are
        restarted (an unfilled auction), "fund": a drawdown threshold of zero (restored after) — and every
        running auction is offered to ADL."""
        low = 3_000 if trigger == "uncovered" else 1_500
        bps = low + (4_500 - low) * depth // 100
        mark = self._mark()
        if mark is None:
            return
        units = max(1, 30_000 * WAD // mark)
        if (MID, self.w.traders[trader]) not in self.ledger.frozen:
            self._trade(trader, units if long else -units, 0, 520)
        self._move_all(-bps if long else bps)
        self._liquidate_all()
        if trigger == "liquidity":
            self._advance(1_801)
            for id_ in self._active():
                self._send(self.w.keepers[1], "LiquidationAuction", "redo", id_)
        elif trigger == "fund":
            self._send(self.w.admin, "InsuranceFund", "file", _b32("drawdownBps"), 0)
        for id_ in self._active():
            self._deleverage(id_)
        if trigger == "fund":
            self._send(self.w.admin, "InsuranceFund", "file", _b32("drawdownBps"), 3_000)

    @rule()
    @counted
    def keeper_round(self) -> None:
        """A keeper with ample capital does everything it may: liquidate, restart, take in full."""
        w, auction, house = self.w, self.w.c["LiquidationAuction"], self.w.c["Clearinghouse"]
        for keeper, free in zip(w.keepers, w.fast.view([(house, "freeBalance", [k]) for k in w.keepers])):
            if free < to_usdc(600_000):  # ample capital: topped up to at least $600k free
                self._send(w.admin, "USDC", "mint", keeper, to_usdc(600_000))
                self.minted += to_usdc(600_000)
                self._send(keeper, "Clearinghouse", "deposit", to_usdc(600_000))
        self._liquidate_all()
        self.left_running = []
        self.untakeable = set()
        keepers_first = lambda id_: Web3.to_checksum_address(sales[id_][1]) not in w.keepers  # noqa: E731 - frees a frozen keeper first
        active = self._active()
        sales = dict(zip(active, w.fast.view([(auction, "sale", [i]) for i in active])))
        for id_ in sorted(active, key=keepers_first):
            status = w.fast.view([(auction, "getStatus", [id_])])[0]
            if status is not None and status[1]:
                self._send(w.keepers[1], "LiquidationAuction", "redo", id_)
            before = len(self.left_running)
            if self._take(id_, 100) is None and len(self.left_running) == before:
                reason = w.fast.revert_reason(self.last_revert) if self.last_revert else "not active"
                if reason.startswith("ShortfallBeyondFund("):
                    self._beyond_fund(id_, reason, Web3.to_checksum_address(sales[id_][1]))
                else:
                    self.left_running.append(f"auction {id_}: take refused ({reason})")
        self.keeper_acted = True

    def _beyond_fund(self, id_: int, reason: str, trader: str) -> None:
        """A take refused because the fund cannot pay the shortfall it would realise: right only if the shortfall
        does exceed the sub-pool and the global pool together; the sale then waits for ADL."""
        sale_id, shortfall, available = (int(x) for x in reason[len("ShortfallBeyondFund("):-1].split(","))
        fund = self.w.c["InsuranceFund"]
        sub, glob = self.w.fast.view([(fund, "poolBalance", [MID]), (fund, "poolBalance", [GLOBAL])])
        assert sale_id == id_ and available == sub + glob and shortfall > available, reason
        OUTCOMES["keeper round: take beyond what the fund can pay, left to ADL"] += 1
        self.left_running.append(f"auction {id_}: the fund cannot pay its shortfall ({reason}): waits for ADL")
        self.untakeable.add(trader)

    # -------------------------------------------------------------- invariants

    def _reads(self) -> tuple[dict[str, Any], int]:
        """Everything the invariants compare, in one batched request, and the block's timestamp."""
        w, usdc, house, fund, book = self.w, self.w.c["USDC"], self.w.c["Clearinghouse"], self.w.c["InsuranceFund"], self.w.c["StandingBidBook"]
        people = self._everyone()
        accounts = [*people, book.address]
        live = sorted(self.bids.bids)
        sections: dict[str, list[tuple[Any, str, list]]] = {
            "usdc": [(usdc, "balanceOf", [o]) for o in _usdc_owners(w)],
            "head": [
                (fund, "totalPooled", []),
                (fund, "poolBalance", [GLOBAL]),
                (fund, "poolBalance", [MID]),
                (fund, "fundRisk", [MID]),
                (fund, "currentHour", []),
                (house, "badDebt", [MID]),
                (w.c["LiquidationAuction"], "activeCount", []),
                (w.c["PriceOracle"], "price", [MID]),
                (book, "totalDepth", [MID, True]),
                (book, "totalDepth", [MID, False]),
                (book, "bidCount", []),
            ],
            "free": [(house, "freeBalance", [a]) for a in accounts],
            "positions": [(house, "getPosition", [MID, p]) for p in people],
            "frozen": [(house, "inLiquidation", [MID, p]) for p in people],
            "equity": [(house, "equity", [MID, p]) for p in people],
            "withdrawable": [(book, "withdrawable", [p]) for p in people],
            "depth": [(book, "depth", [MID, long, level]) for long in (True, False) for level in range(len(LEVELS))],
            "bids": [(book, "bid", [i]) for i in live],
            "rounds": [(src, "latestRoundData", []) for src in w.sources],
        }
        flat = [c for calls in sections.values() for c in calls]
        start = time.perf_counter()
        values, block = w.fast.view_with_block(flat)
        SECONDS["invariant reads"] += time.perf_counter() - start
        out: dict[str, Any] = {}
        i = 0
        for name, calls in sections.items():
            out[name] = values[i : i + len(calls)]
            i += len(calls)
        return out, int(block["timestamp"], 16)

    @invariant()
    def money_laws(self) -> None:
        OUTCOMES["steps checked"] += 1
        r, now = self._reads()
        w = self.w
        usdc = dict(zip(_usdc_owners(w), r["usdc"]))
        pooled, global_, sub, risk, hour, bad_debt, active, mark, depth_long, depth_short, bid_count = r["head"]
        house_usdc = usdc[w.c["Clearinghouse"].address]
        fund_usdc = usdc[w.c["InsuranceFund"].address]
        # USDC conservation per contract, to the unit
        assert house_usdc == w.house0 + self.house_in - self.house_out
        assert fund_usdc == w.fund0 + self.fund_in - self.fund_out
        assert usdc[w.c["LiquidationAuction"].address] == 0
        assert usdc[w.c["StandingBidBook"].address] == 0
        assert usdc[w.c["AdlQueue"].address] == sum(self.bonds.values())
        assert sum(r["usdc"]) == w.held0 + self.minted
        # the fund holds exactly its pools, each as the model has it, with the model's risk flags
        assert fund_usdc == pooled == global_ + sub
        assert (global_, sub) == (self.fund_model.pool_balance(GLOBAL), self.fund_model.pool_balance(MID))
        assert risk == self.fund_model.fund_risk(MID, hour * 3_600)
        # the clearinghouse is the ledger model
        people = self._everyone()
        ledger = self.ledger
        book_address = w.c["StandingBidBook"].address
        assert r["free"] == [ledger.free.get(a, 0) for a in [*people, book_address]]
        for p, pos, frozen in zip(people, r["positions"], r["frozen"]):
            model = ledger.position(MID, p)
            assert tuple(pos) == (model.size, model.entry_price, model.margin), f"{p}: {pos} on chain, {model} in the model"
            assert frozen == ((MID, p) in ledger.frozen)
        assert bad_debt == ledger.bad_debt.get(MID, 0)
        assert house_usdc == ledger.usdc_held
        # the standing-bid book holds the escrow its events say, and is its model
        bids = self.bids
        assert r["free"][-1] == self.book_held == sum(b.escrow for b in bids.bids.values()) + sum(bids.withdrawable.values())
        assert r["withdrawable"] == [bids.withdrawable.get(p, 0) for p in people]
        assert bid_count == bids.next_id - 1
        assert (depth_long, depth_short) == (bids.total_depth(True), bids.total_depth(False))
        levels = [(long, level) for long in (True, False) for level in range(len(LEVELS))]
        for (long, level), (discount, notional, count, head) in zip(levels, r["depth"]):
            queue = bids.queues.get((long, level), [])
            assert (discount, notional, count, head) == (LEVELS[level], bids.depth(long, level), len(queue), queue[0] if queue else 0)
        for bid_id, onchain in zip(sorted(bids.bids), r["bids"]):
            b = bids.bids[bid_id]
            assert (onchain[0], onchain[1].lower(), onchain[2], onchain[3], onchain[6], onchain[7]) == (MID, b.owner.lower(), b.long, b.level, b.left, b.escrow)
        # the oracle equals its model
        answers = [oracle_model.SourceAnswer(rd[1], DECIMALS, rd[3]) for rd in r["rounds"]]
        try:
            expected = oracle_model.oracle_price(answers, now, ORACLE_CFG)
        except oracle_model.OracleError:
            expected = None
        assert mark == expected
        # the clearinghouse owes no more than it holds (equity = margin + PnL at the mark)
        if mark is not None:
            owed = sum(r["free"]) + sum(r["equity"])
            assert house_usdc + bad_debt >= owed
            # no position below zero equity once a keeper had the chance to act
            if self.keeper_acted:  # (an auction no keeper may take — each is its trader or frozen — may stay, and its position)
                unable = [x for x in self.left_running if "no keeper able" in x or "waits for ADL" in x]
                OUTCOMES["keeper round: auction no keeper may take"] += len(unable)
                assert active == len(unable), f"{active} auctions left running after a keeper round: {self.left_running}"
                for p, pos, eq in zip(people, r["positions"], r["equity"]):
                    assert pos[0] == 0 or eq >= 0 or p in self.untakeable, f"{p} left open with equity {eq} after a keeper round"
        self.keeper_acted = False


def _summary(wall: float) -> dict[str, Any]:
    steps = sum(RULES.values())
    return {
        "examples": EXAMPLES,
        "max_steps_per_example": STEPS,
        "examples_run": RUN["examples"],
        "steps": steps,
        "invariant_checks": OUTCOMES["steps checked"],
        "adl_executions": sum(n for k, n in OUTCOMES.items() if k.startswith("ADL executed")),
        "wall_seconds": round(wall, 1),
        "ms_per_step": round(1_000 * wall / max(steps, 1), 1),
        "seconds": {k: round(v, 1) for k, v in SECONDS.items()},
        "transactions": sum(n for k, n in OUTCOMES.items() if k.endswith((" ok", " reverted"))),
        "rules": dict(sorted(RULES.items())),
        "outcomes": dict(sorted(OUTCOMES.items())),
    }


def _report(summary: dict[str, Any]) -> None:
    if REPORT:
        Path(REPORT).parent.mkdir(parents=True, exist_ok=True)
        Path(REPORT).write_text(json.dumps(summary, indent=2) + "\n")


def test_random_users_keepers_and_prices_keep_every_money_law(world):
    BackstopMachine.world = world
    RUN["start"] = time.perf_counter()
    run_state_machine_as_test(
        BackstopMachine,
        settings=settings(max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, suppress_health_check=list(HealthCheck)),
    )
    summary = _summary(time.perf_counter() - RUN["start"])
    summary["finished"] = True
    print(
        f"\nstateful run: {EXAMPLES} examples x <= {STEPS} steps: {summary['steps']} steps, {summary['invariant_checks']} "
        f"invariant checks, {summary['adl_executions']} ADL executions, {summary['wall_seconds']} s wall "
        f"({summary['ms_per_step']} ms/step)"
    )
    print("seconds:", summary["seconds"], "over", summary["transactions"], "transactions")
    print("rules:", summary["rules"])
    print("outcomes:", summary["outcomes"])
    _report(summary)
    assert OUTCOMES["steps checked"] > 0 and OUTCOMES["Clearinghouse.trade ok"] > 0
