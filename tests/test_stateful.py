"""Stateful invariant hunt (issue #8): a Hypothesis RuleBasedStateMachine drives the real contracts with what
users and keepers do, and after every step checks the money laws.

Rules: deposit, withdraw, trade (a trader against the market maker, both EIP-712 signed), move one oracle
source, move every source (a crash or a rally), advance time, liquidate, a crash that liquidates and leaves
the auctions running, take, redo, execute ADL (with the reference ranking's candidate list) and release its
bond, a keeper round, snapshot the fund, donate to the fund. Invariants:

- USDC conservation per contract, to the unit: each contract's USDC balance equals its starting balance plus
  what its events say came in minus what they say went out (Clearinghouse: Deposited, Withdrawn, fund payouts
  to it, Inflows it paid to the fund; InsuranceFund: Inflow, LossCovered; LiquidationAuction holds none), and
  the USDC of all holders together never changes except by the minting the machine does itself; AdlQueue
  holds exactly the bonds posted and not yet returned;
- every ADL execution closed the bankrupt part at its bankruptcy price, against exactly the counterparties and
  quantities the reference ranking (backstop.model.adl) chooses at that block's price, each within its loss cap;
- the fund: USDC balance == totalPooled == Σ pools, every pool equal to the reference model's
  (backstop.model.fund), every cover split as the model's waterfall splits it, every hourly Snapshot event the
  one the model records;
- the oracle: PriceOracle.price equals backstop.model.oracle.oracle_price over the same source answers (or both
  refuse, for the same reason);
- the clearinghouse owes no more than it holds: USDC held + Σ bad debt ≥ Σ free balances + Σ margins + Σ PnL;
- no position left below zero equity after a keeper had the chance to act: right after a keeper round (one
  keeper with ample capital liquidates every position the oracle puts below maintenance, restarts every stale
  auction and takes every running auction in full at its price) no position has negative equity at the oracle
  price and no auction is left running — whenever the oracle can price the market.

Each example starts from the same chain snapshot (evm_snapshot / evm_revert). Transactions go to the node
through web3 directly (unlocked test accounts, automine) and reads are batched: a step costs milliseconds.

Size: BACKSTOP_PROPERTY_EXAMPLES examples (default 6) of BACKSTOP_STATEFUL_STEPS steps (default 25). Long run
(100,000 steps): BACKSTOP_PROPERTY_EXAMPLES=2000 BACKSTOP_STATEFUL_STEPS=50 ape test tests/test_stateful.py.

To extend (ADL queue, standing bids): add a @rule per user action, account for the new contract's USDC events
in `_account`, and add its invariants beside the others.
"""

from __future__ import annotations

import itertools
from collections import Counter
import os
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from backstop.deploy import MarketSpec, deploy_system
from backstop.fastchain import FastChain, web3_contract
from backstop.model import adl as adl_model
from backstop.model import oracle as oracle_model
from backstop.model.ledger import Position
from backstop.model.fund import GLOBAL, InsuranceFundModel
from backstop.orders import Order, sign_order
from backstop.units import market_id, to_usdc, to_wad

NONCES = itertools.count(1)
OUTCOMES: Counter[str] = Counter()  # "function ok|reverted" -> transactions, over the whole run
EXAMPLES = int(os.environ.get("BACKSTOP_PROPERTY_EXAMPLES", "6"))
STEPS = int(os.environ.get("BACKSTOP_STATEFUL_STEPS", "25"))
MARKET = "OM-USD"
MID = market_id(MARKET)
GAS = 3_000_000
WALLET = to_usdc(2_000_000)  # each actor's starting USDC
SUB_SEED, GLOBAL_SEED = 3_000, 2_000  # a small fund, so that losses reach the global pool and bad debt happens
ORACLE_CFG = oracle_model.OracleConfig(max_age=3_600, max_deviation_bps=1_000, min_sources=1)
DECIMALS = 8


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
    house0: int = 0
    fund0: int = 0
    held0: int = 0
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
        system.usdc.approve(system.clearinghouse, 2**256 - 1, sender=a)
        system.usdc.approve(system.fund, 2**256 - 1, sender=a)
        system.usdc.approve(system.adl, 2**256 - 1, sender=a)  # ADL bonds
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
        }.items()
    }
    for name, contract in c.items():
        fast.register(name, contract)
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
    w.holders = [*addr, w.admin]
    w.house0 = c["USDC"].functions.balanceOf(c["Clearinghouse"].address).call()
    w.fund0 = c["USDC"].functions.balanceOf(c["InsuranceFund"].address).call()
    w.held0 = _all_usdc(w)
    for log in c["InsuranceFund"].events.Inflow().get_logs(from_block=0):
        ts = fast.w3.eth.get_block(log["blockNumber"])["timestamp"]
        w.seeds.append((bytes(log["args"]["pool"]), log["args"]["amount"], ts))
    return w


def _all_usdc(w: World) -> int:
    usdc = w.c["USDC"]
    owners = [*w.holders, *(w.c[n].address for n in ("Clearinghouse", "InsuranceFund", "LiquidationAuction", "AdlQueue"))]
    return sum(w.fast.view([(usdc, "balanceOf", [o]) for o in owners]))


def _clamp(answer: int) -> int:
    """Venue prices stay within $0.30..$30 (8 decimals): beyond, positions outgrow the top bracket."""
    return min(max(answer, 30_000_000), 3_000_000_000)


class BackstopMachine(RuleBasedStateMachine):
    world: World  # set by the test before running

    def __init__(self) -> None:
        super().__init__()
        w = self.world
        self.w = w
        w.snapshot = w.fast.rpc("evm_snapshot")
        self.fund_model = InsuranceFundModel()
        self.fund_model.add_market(MID)
        for pool, amount, ts in w.seeds:  # the deployment's seeding, at the times it happened
            self.fund_model.deposit(pool, amount, ts)
        self.house_in = self.house_out = self.fund_in = self.fund_out = 0
        self.bonds: dict[int, int] = {}  # ADL execution -> bond still held
        self.minted = 0
        self.answers = [to_wad(6) // 10 ** (18 - DECIMALS)] * len(w.sources)
        self.keeper_acted = False

    def teardown(self) -> None:
        self.w.fast.rpc("evm_revert", [self.w.snapshot])

    # -------------------------------------------------------------- plumbing

    def _send(self, sender: str, name: str, fn: str, *args: Any) -> dict | None:
        """One transaction, mined at once; its USDC events are accounted for. None if it reverted."""
        contract = self.w.c[name] if isinstance(name, str) else name
        tx = {"from": sender, "to": contract.address, "data": contract.encode_abi(fn, list(args)), "gas": GAS}
        receipt = self.w.fast.w3.eth.wait_for_transaction_receipt(self.w.fast.w3.eth.send_transaction(tx))
        label = name if isinstance(name, str) else "MockPriceSource"
        OUTCOMES[f"{label}.{fn} {'ok' if receipt['status'] == 1 else 'reverted'}"] += 1
        if receipt["status"] != 1:
            return None
        self._account(receipt)
        return receipt

    def _account(self, receipt: dict) -> None:
        """Books the USDC each contract's events say moved, and replays the fund's events on its model."""
        w, model = self.w, self.fund_model
        house = w.c["Clearinghouse"].address
        ts = w.fast.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
        events = w.fast.decode(receipt)
        predicted: list[tuple[bytes, int, int]] = []  # the hourly snapshots the model records
        covered = incentives = 0
        for contract, name, args, _ in events:
            if (contract, name) == ("Clearinghouse", "Deposited"):
                self.house_in += args["amount"]
            elif (contract, name) == ("Clearinghouse", "Withdrawn"):
                self.house_out += args["amount"]
            elif (contract, name) == ("InsuranceFund", "Inflow"):
                pool = bytes(args["pool"])
                predicted += [(pool, h, b) for h, b in model.pool(pool).record(ts)]
                assert model.deposit(pool, args["amount"], ts) == args["poolBalance"]
                self.fund_in += args["amount"]
                if args["from"] == house:
                    self.house_out += args["amount"]
            elif (contract, name) == ("InsuranceFund", "LossCovered"):
                market = bytes(args["market"])
                for pool in (market, GLOBAL):
                    predicted += [(pool, h, b) for h, b in model.pool(pool).record(ts)]
                cover = model.cover_loss(market, args["requested"], ts)
                assert (cover.from_sub_pool, cover.from_global, cover.uncovered) == (args["fromSubPool"], args["fromGlobal"], args["uncovered"])
                covered += cover.covered
            elif (contract, name) == ("LiquidationAuction", "IncentivePaid"):
                incentives += args["amount"]
            elif (contract, name) == ("AdlQueue", "AdlExecuted"):
                self.bonds[args["execution"]] = args["bond"]
            elif (contract, name) == ("AdlQueue", "BondReleased"):
                assert self.bonds.pop(args["execution"]) == args["amount"]
        self.fund_out += covered
        self.house_in += covered - incentives  # every cover but an incentive is paid to the clearinghouse
        actual = [(bytes(a["pool"]), a["hour"], a["balance"]) for c, n, a, _ in events if (c, n) == ("InsuranceFund", "Snapshot")]
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
    def deposit(self, who: int, dollars: int) -> None:
        self._send(self._everyone()[who], "Clearinghouse", "deposit", to_usdc(dollars))

    @rule(who=st.integers(0, 5), dollars=st.integers(1, 250_000))
    def withdraw(self, who: int, dollars: int) -> None:
        self._send(self._everyone()[who], "Clearinghouse", "withdraw", to_usdc(dollars))

    @initialize(sides=st.lists(st.booleans(), min_size=3, max_size=3), margin_bps=st.integers(500, 1_200))
    def open_positions(self, sides: list[bool], margin_bps: int) -> None:
        """Every trader starts with a leveraged position (8x-20x): a few percent of price move liquidates it."""
        for trader, long in enumerate(sides):
            self.trade(trader, 4_000 if long else -4_000, 0, margin_bps)

    @rule(
        trader=st.integers(0, 2),
        units=st.integers(-6_000, 6_000).filter(bool),
        offset_bps=st.integers(-300, 300),
        margin_bps=st.integers(0, 3_000),  # of the notional
    )
    def trade(self, trader: int, units: int, offset_bps: int, margin_bps: int) -> None:
        mark = self._mark()
        if mark is None:
            return
        price = mark + mark * offset_bps // 10_000
        w = self.w
        who = w.traders[trader]
        nonce = next(NONCES)
        margin = abs(units) * price * margin_bps // 10_000 // 10**12  # [usdc]
        mine = Order(who, MID, to_wad(units), price, margin, nonce, 2**40)
        theirs = Order(w.maker, MID, -to_wad(units), price, to_usdc(abs(units) * 2), nonce, 2**40)
        house = w.c["Clearinghouse"].address
        sig = lambda o: sign_order(o, w.keys[o.account], w.chain_id, house)  # noqa: E731
        self._send(w.maker, "Clearinghouse", "trade", mine.as_tuple(), sig(mine), theirs.as_tuple(), sig(theirs))

    @rule(dollars=st.integers(1, 2_000), to_market=st.booleans())
    def donate(self, dollars: int, to_market: bool) -> None:
        self._send(self.w.donor, "InsuranceFund", "deposit", MID if to_market else GLOBAL, 4, to_usdc(dollars))

    @rule(to_market=st.booleans())
    def snapshot_fund(self, to_market: bool) -> None:
        self._send(self.w.donor, "InsuranceFund", "snapshot", MID if to_market else GLOBAL)

    # -------------------------------------------------------------- rules: the world

    @rule(venue=st.integers(0, 2), bps=st.integers(-2_500, 2_000))
    def move_source(self, venue: int, bps: int) -> None:
        answer = _clamp(self.answers[venue] + self.answers[venue] * bps // 10_000)
        if self._send(self.w.admin, self.w.sources[venue], "setAnswer", answer):
            self.answers[venue] = answer

    @rule(bps=st.integers(-1_500, 1_000))
    def move_all(self, bps: int) -> None:
        for venue in range(len(self.w.sources)):
            answer = _clamp(self.answers[venue] + self.answers[venue] * bps // 10_000)
            if self._send(self.w.admin, self.w.sources[venue], "setAnswer", answer):
                self.answers[venue] = answer

    @rule(seconds=st.integers(1, 1_800))
    def advance(self, seconds: int) -> None:
        self.w.fast.rpc("evm_increaseTime", [seconds])
        self.w.fast.rpc("evm_mine")

    # -------------------------------------------------------------- rules: keepers

    @rule(who=st.integers(0, 5))
    def liquidate(self, who: int) -> None:
        self._send(self.w.keepers[0], "LiquidationAuction", "liquidate", MID, self._everyone()[who])

    @rule(pick=st.integers(0, 7), percent=st.integers(1, 100))
    def take(self, pick: int, percent: int) -> None:
        active = self.w.fast.view([(self.w.c["LiquidationAuction"], "active", [])])[0] or []
        if active:
            self._take(active[pick % len(active)], percent)

    @rule(pick=st.integers(0, 7))
    def redo(self, pick: int) -> None:
        active = self.w.fast.view([(self.w.c["LiquidationAuction"], "active", [])])[0] or []
        if active:
            self._send(self.w.keepers[1], "LiquidationAuction", "redo", active[pick % len(active)])

    def _take(self, id_: int, percent: int) -> dict | None:
        auction = self.w.c["LiquidationAuction"]
        status, sale = self.w.fast.view([(auction, "getStatus", [id_]), (auction, "sale", [id_])])
        if status is None:
            return None
        price, _, left = status
        trader = sale[1]
        keeper = self.w.keepers[1] if trader == self.w.keepers[0] else self.w.keepers[0]
        qty = left if percent == 100 else max(1, left * percent // 100)
        margin = min(to_usdc(300_000), qty * price // 10**30 // 2 + 1)  # half the notional
        return self._send(keeper, "LiquidationAuction", "take", id_, qty, price, margin, keeper, b"")

    @rule(pick=st.integers(0, 7))
    def deleverage(self, pick: int) -> None:
        """ADL of a running liquidation, where a trigger holds, with the reference ranking's candidate list; the
        contract must accept it and do exactly what the model says."""
        w, auction, house, adl = self.w, self.w.c["LiquidationAuction"], self.w.c["Clearinghouse"], self.w.c["AdlQueue"]
        active = w.fast.view([(auction, "active", [])])[0] or []
        if not active:
            return
        id_ = active[pick % len(active)]
        plan, sale, cap = w.fast.view([(adl, "trigger", [id_]), (auction, "sale", [id_]), (adl, "lossCapBps", [])])
        if plan is None:  # no trigger, or not underwater
            OUTCOMES["AdlQueue.execute no trigger"] += 1
            return
        _, qty, price, mark, _ = plan
        people = self._everyone()
        values = w.fast.view([(house, "getPosition", [MID, p]) for p in people] + [(house, "inLiquidation", [MID, p]) for p in people])
        book = {p: Position(*v) for p, v in zip(people, values[: len(people)])}
        frozen = {p for p, flag in zip(people, values[len(people) :]) if flag}
        try:
            fills = adl_model.choose(book, sale[2], qty, price, mark, cap, exclude=frozen)
        except ValueError:  # the other side cannot absorb it within the cap: the contract must refuse too
            OUTCOMES["AdlQueue.execute cannot absorb"] += 1
            return
        receipt = self._send(w.keepers[1], "AdlQueue", "execute", id_, [f.account for f in fills])
        assert receipt is not None, "the contract refused the reference ranking's candidate list"
        got = [(a["counterparty"], a["qty"], a["price"], a["profitTaken"]) for c, n, a, _ in w.fast.decode(receipt) if n == "ADL"]
        assert got == [(f.account, f.qty, price, f.profit_taken) for f in fills]
        for f in fills:
            assert f.profit_taken <= adl_model.unrealised_profit(book[f.account], mark) * cap // 10_000

    @rule()
    def release_bonds(self) -> None:
        """After the challenge window every bond goes back to its executor."""
        if not self.bonds:
            return
        self.advance(3_601)
        for execution in list(self.bonds):
            self._send(self.w.keepers[0], "AdlQueue", "releaseBond", execution)

    @rule(bps=st.integers(300, 2_000), wait=st.sampled_from([0, 600, 1_801]))
    def crash_and_liquidate(self, bps: int, wait: int) -> None:
        """Every venue falls by `bps`, every position below maintenance is liquidated and nobody takes yet;
        after `wait` seconds the auctions are still running, priced lower, or stale (past the 30-minute tail),
        for the take and redo rules."""
        self.move_all(-bps)
        house = self.w.c["Clearinghouse"]
        for who in self._everyone():
            if self.w.fast.view([(house, "isLiquidatable", [MID, who])])[0]:
                self._send(self.w.keepers[0], "LiquidationAuction", "liquidate", MID, who)
        if wait:
            self.advance(wait)

    @rule()
    def keeper_round(self) -> None:
        """A keeper with ample capital does everything it may: liquidate, restart, take in full."""
        w, auction, house = self.w, self.w.c["LiquidationAuction"], self.w.c["Clearinghouse"]
        for keeper in w.keepers:  # ample capital: topped up to at least $600k free
            if w.fast.view([(house, "freeBalance", [keeper])])[0] < to_usdc(600_000):
                self._send(w.admin, "USDC", "mint", keeper, to_usdc(600_000))
                self.minted += to_usdc(600_000)
                self._send(keeper, "Clearinghouse", "deposit", to_usdc(600_000))
        for who in self._everyone():
            if w.fast.view([(house, "isLiquidatable", [MID, who])])[0]:
                self._send(w.keepers[0], "LiquidationAuction", "liquidate", MID, who)
        for id_ in w.fast.view([(auction, "active", [])])[0] or []:
            status = w.fast.view([(auction, "getStatus", [id_])])[0]
            if status is not None and status[1]:
                self._send(w.keepers[1], "LiquidationAuction", "redo", id_)
            self._take(id_, 100)
        self.keeper_acted = True

    # -------------------------------------------------------------- invariants

    def _reads(self) -> dict[str, Any]:
        w, usdc, house, fund = self.w, self.w.c["USDC"], self.w.c["Clearinghouse"], self.w.c["InsuranceFund"]
        people = self._everyone()
        calls = [
            (usdc, "balanceOf", [house.address]),
            (usdc, "balanceOf", [fund.address]),
            (usdc, "balanceOf", [w.c["LiquidationAuction"].address]),
            (usdc, "balanceOf", [w.c["AdlQueue"].address]),
            (fund, "totalPooled", []),
            (fund, "poolBalance", [GLOBAL]),
            (fund, "poolBalance", [MID]),
            (house, "badDebt", [MID]),
            (w.c["LiquidationAuction"], "activeCount", []),
            *[(house, "freeBalance", [p]) for p in people],
            *[(house, "getPosition", [MID, p]) for p in people],
            *[(house, "equity", [MID, p]) for p in people],
            *[(src, "latestRoundData", []) for src in w.sources],
        ]
        r = w.fast.view(calls)
        n = len(people)
        head, rest = r[:9], r[9:]
        return {
            "house": head[0], "fund": head[1], "auction": head[2], "adl": head[3], "pooled": head[4], "global": head[5],
            "sub": head[6], "bad_debt": head[7], "active": head[8],
            "free": rest[:n], "positions": rest[n : 2 * n], "equity": rest[2 * n : 3 * n], "rounds": rest[3 * n :],
        }

    @invariant()
    def money_laws(self) -> None:
        OUTCOMES["steps checked"] += 1
        r = self._reads()
        w = self.w
        # USDC conservation per contract, to the unit
        assert r["house"] == w.house0 + self.house_in - self.house_out
        assert r["fund"] == w.fund0 + self.fund_in - self.fund_out
        assert r["auction"] == 0
        assert r["adl"] == sum(self.bonds.values())
        assert _all_usdc(w) == w.held0 + self.minted
        # the fund holds exactly its pools, each as the model has it
        assert r["fund"] == r["pooled"] == r["global"] + r["sub"]
        assert (r["global"], r["sub"]) == (self.fund_model.pool_balance(GLOBAL), self.fund_model.pool_balance(MID))
        # the oracle equals its model
        now = w.fast.now()
        answers = [oracle_model.SourceAnswer(rd[1], DECIMALS, rd[3]) for rd in r["rounds"]]
        try:
            expected = oracle_model.oracle_price(answers, now, ORACLE_CFG)
        except oracle_model.OracleError:
            expected = None
        mark = self._mark()
        assert mark == expected
        # the clearinghouse owes no more than it holds (equity = margin + PnL at the mark)
        if mark is not None:
            owed = sum(r["free"]) + sum(r["equity"])
            assert r["house"] + r["bad_debt"] >= owed
            # no position below zero equity once a keeper had the chance to act
            if self.keeper_acted:
                assert r["active"] == 0
                for p, pos, eq in zip(self._everyone(), r["positions"], r["equity"]):
                    assert pos[0] == 0 or eq >= 0, f"{p} left open with equity {eq} after a keeper round"
        self.keeper_acted = False


def test_random_users_keepers_and_prices_keep_every_money_law(world):
    BackstopMachine.world = world
    run_state_machine_as_test(
        BackstopMachine,
        settings=settings(max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, suppress_health_check=list(HealthCheck)),
    )
    print("stateful outcomes:", dict(sorted(OUTCOMES.items())))
    assert OUTCOMES["steps checked"] > 0 and OUTCOMES["Clearinghouse.trade ok"] > 0
