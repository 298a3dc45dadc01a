"""A keeper bot that runs the keeper rules (backstop.keeper.rules) against a deployment.

`backstop keeper` runs it against any deployment (Anvil, Hardhat or a real RPC). The bot watches positions
(from `PositionChanged` events), liquidates those below maintenance margin (several of one market in one
`liquidateMany`), restarts stale auctions and takes
attractive ones, and executes ADL (backstop.keeper.adl, against the reference ranking) where AdlQueue's
trigger holds, with settable latency and failure rate so that slow or unreliable keepers can be modelled on a
live chain too.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from backstop.keeper.adl import AdlExecutor, CannotAbsorb
from backstop.keeper.rules import take_is_attractive, take_size
from backstop.model import adl as adl_model
from backstop.model import ledger as lm

LIQUIDATE_BATCH = 50  # traders per liquidateMany at most (about 8M gas when standing bids absorb them)
BATCH_TX_GAS = 500_000  # [gas] of a liquidateMany beyond its liquidations
LIQUIDATION_GAS = 600_000  # [gas] allowed per liquidation in it (one through the auction costs about 450k)


@dataclass
class KeeperConfig:
    """A live keeper's behaviour."""

    discount_bps: int = 100  # take only at least this much better than the oracle
    capital: int = 0  # [usdc] the most it keeps committed in the clearinghouse (0: whatever it holds)
    latency: float = 0.0  # [seconds] wait before acting on something new
    failure_rate: float = 0.0  # chance of skipping a round, as a flaky node would
    interval: float = 2.0  # [seconds] between rounds
    seed: int = 0


@dataclass
class KeeperBot:
    """Runs the keeper rules against a deployment through backstop.chain.fastchain (one batched read per round)."""

    chain: Any  # FastChain
    wallet: Any  # fastchain.Wallet
    house: Any  # web3 Contract
    auction: Any
    oracle: Any
    markets: dict[str, bytes]  # name -> id
    tiers: dict[str, list[Any]]  # name -> [model Tier]
    dust: dict[str, int]  # name -> [usdc]
    config: KeeperConfig = field(default_factory=KeeperConfig)
    adl: Any = None  # web3 Contract of the AdlQueue (None: the bot does not deleverage)
    usdc: Any = None
    accounts: set[tuple[str, str]] = field(default_factory=set)
    seen: dict[Any, float] = field(default_factory=dict)
    next_block: int = 0
    actions: dict[str, int] = field(default_factory=lambda: {"liquidate": 0, "take": 0, "redo": 0, "adl": 0})
    failed: dict[str, int] = field(default_factory=dict)  # "action: error name" -> reverted transactions
    log: Callable[[str], None] | None = None  # told each reverted transaction, its error with its arguments
    _approved: bool = False
    _executor: AdlExecutor | None = None

    def __post_init__(self) -> None:
        self._rng = random.Random(self.config.seed)
        self._names = {mid: name for name, mid in self.markets.items()}

    def discover(self) -> None:
        """Learns the accounts with positions from `PositionChanged` logs since the last round."""
        latest = int(self.chain.rpc("eth_blockNumber"), 16)
        if latest < self.next_block:
            return
        for log in self.house.events.PositionChanged().get_logs(from_block=self.next_block, to_block=latest):
            name = self._names.get(bytes(log["args"]["market"]))
            if name:
                self.accounts.add((name, log["args"]["account"]))
        self.next_block = latest + 1

    def round(self, now: float | None = None) -> dict[str, int]:
        """One round: discover, then liquidate, restart and take. Returns the actions sent this round."""
        now = time.monotonic() if now is None else now
        sent = {"liquidate": 0, "take": 0, "redo": 0, "adl": 0}
        if self._rng.random() < self.config.failure_rate:
            return sent
        self.discover()
        accounts = sorted(self.accounts)
        ids = list(self.chain.view([(self.auction, "active", [])])[0] or [])
        queued = self.chain.view([(self.auction, "queued", [mid]) for mid in self.markets.values()]) if self.adl is not None else []
        pending = sorted({int(i) for i in ids} | {int(i) for q in queued for i in (q or [])})  # every claim on the fund
        if self.adl is not None and ids:
            pending = self._owing(pending)
        reads = [(self.house, "isLiquidatable", [self.markets[m], a]) for m, a in accounts]
        reads += [(self.auction, "getStatus", [i]) for i in ids] + [(self.auction, "sale", [i]) for i in ids]
        reads += [(self.oracle, "price", [mid]) for mid in self.markets.values()]
        reads.append((self.house, "freeBalance", [self.wallet.address]))
        values = self.chain.view(reads)
        n, k = len(accounts), len(ids)
        liquidatable, status, sales = values[:n], values[n : n + k], values[n + k : n + 2 * k]
        marks = dict(zip(self.markets, values[n + 2 * k : n + 2 * k + len(self.markets)]))
        free = values[-1] or 0
        if self.config.capital:
            free = min(free, self.config.capital)

        due: dict[str, list[str]] = {}
        for (m, account), flag in zip(accounts, liquidatable):
            if flag and self._ready(("liq", m, account), now):
                due.setdefault(m, []).append(account)
        for m, traders in due.items():
            sent["liquidate"] += len(traders)
            self._liquidate(self.markets[m], traders)
        for i, st, sale in zip(ids, status, sales):
            if st is None or sale is None:
                continue
            price, stale, qty = st
            market, long = self._names.get(bytes(sale[0])), sale[2]
            mark = marks.get(market) if market else None
            if mark is None or not self._ready(("auction", i), now):
                continue
            if self.adl is not None and self._deleverage(i, market, long, [c for c in pending if c != i]):
                sent["adl"] += 1
            elif stale:
                self.chain.call_fn(self.wallet, self.auction, "redo", i, label="redo")
                sent["redo"] += 1
            elif take_is_attractive(price, mark, long, self.config.discount_bps):
                im = max(t.initial_margin_bps for t in self.tiers[market])
                size, margin = take_size(free, qty, price, mark, long, im, self.dust[market])
                if size:
                    self.chain.call_fn(self.wallet, self.auction, "take", i, size, price, margin, self.wallet.address, b"", label="take")
                    free -= margin
                    sent["take"] += 1
        for key, value in sent.items():
            self.actions[key] += value
        self._failures(self.chain.wait())
        return sent

    def _liquidate(self, mid: bytes, traders: list[str]) -> None:
        """One `liquidate`, or `liquidateMany` for several traders of one market (one oracle reading, one
        transaction: half the gas per liquidation), LIQUIDATE_BATCH at most per transaction."""
        if len(traders) == 1:
            self.chain.call_fn(self.wallet, self.auction, "liquidate", mid, traders[0], label="liquidate")
            return
        for i in range(0, len(traders), LIQUIDATE_BATCH):
            batch = traders[i : i + LIQUIDATE_BATCH]
            data = self.chain.encode(self.auction, "liquidateMany", [mid, batch])
            self.chain.send(self.wallet, self.auction.address, data, "liquidateMany", gas=BATCH_TX_GAS + LIQUIDATION_GAS * len(batch))

    def _failures(self, receipts: list[tuple[Any, Any]]) -> None:
        """Counts the reverted transactions by action and error name, and logs each with the error's arguments."""
        for sent, receipt in receipts:
            if receipt["status"] == 1:
                continue
            reason = self.chain.revert_reason(sent.tx_hash)
            key = f"{sent.label}: {reason.split('(')[0]}"
            self.failed[key] = self.failed.get(key, 0) + 1
            if self.log:
                self.log(f"{sent.label} reverted: {reason} (tx 0x{sent.tx_hash.hex()})")

    def _owing(self, pending: list[int]) -> list[int]:
        """The liquidations of `pending` whose rest has a shortfall at its market's oracle price: the only claims
        worth listing to AdlQueue (the contract counts zero for the others, and each listed claim costs gas).
        A claim the bot cannot read is kept: the contract judges it."""
        sales = self.chain.view([(self.auction, "sale", [i]) for i in pending])
        known = [(i, sale) for i, sale in zip(pending, sales) if sale is not None]
        values = self.chain.view([(self.house, "getPosition", [sale[0], sale[1]]) for _, sale in known]
                                 + [(self.oracle, "price", [sale[0]]) for _, sale in known])
        read = {i: (pos, mark) for (i, _), pos, mark in zip(known, values[: len(known)], values[len(known) :])}
        owing = []
        for i, sale in zip(pending, sales):
            pos, mark = read.get(i, (None, None))
            if sale is None or pos is None or mark is None:
                owing.append(i)  # unreadable: the contract judges it
            elif adl_model.Claim(i, "", lm.Position(pos[0], pos[1], pos[2]), sale[4], mark).shortfall > 0:
                owing.append(i)
        return owing

    def _deleverage(self, sale: int, market: str, long: bool, claims: list[int]) -> bool:
        """Executes ADL on liquidation `sale` if AdlQueue's trigger holds after `claims` (every other running
        or queued liquidation, ids ascending: the contract counts zero for one that needs nothing): the
        candidates are every known position of the market, read fresh, ranked by the reference model
        (backstop.keeper.adl). The bond comes from the keeper's wallet (approved once). Returns whether it sent one."""
        trigger, = self.chain.view([(self.adl, "trigger", [sale, claims])])
        if trigger is None:  # no trigger (the view reverts NoAdlTrigger, NotUnderwater, ...)
            return False
        reason, qty, price, mark, uncovered, claimed = trigger
        plan = adl_model.Plan(adl_model.REASONS[reason], qty, price, mark, uncovered, claimed, tuple(claims))
        if self._executor is None:
            cap, = self.chain.view([(self.adl, "lossCapBps", [])])
            self._executor = AdlExecutor(self.chain, self.adl, cap)
        accounts = sorted(a for m, a in self.accounts if m == market)
        book, frozen = self._executor.read_book(self.house, self.markets[market], accounts, frozen=True)
        try:
            fills = self._executor.choose(book, long, plan.qty, plan.price, plan.mark, frozen)
        except CannotAbsorb:
            return False  # the known positions cannot absorb it: leave it to the auction
        if not self._approved:
            self.chain.call_fn(self.wallet, self.usdc, "approve", self.adl.address, 2**256 - 1, label="approve")
            self._approved = True
        self._executor.send(self.wallet, sale, fills, claims=plan.claims)
        return True

    def run(self, rounds: int | None = None) -> None:
        """Rounds every `interval` seconds, forever or `rounds` times."""
        done = 0
        while rounds is None or done < rounds:
            self.round()
            done += 1
            time.sleep(self.config.interval)

    def _ready(self, key: Any, now: float) -> bool:
        first = self.seen.setdefault(key, now)
        return now - first >= self.config.latency


def bot_for_deployment(path: Any, uri: str, account: Any, config: KeeperConfig | None = None, log: Callable[[str], None] | None = None) -> KeeperBot:
    """A bot for the deployment recorded in `path` (see backstop.chain.deploy.Deployment), signing with `account`
    (an Ape account that exposes its private key: a test account or an imported one); `log` is told each of its
    transactions that reverts."""
    from eth_account import Account  # noqa: PLC0415

    from backstop.chain.deploy import Deployment, attach  # noqa: PLC0415
    from backstop.chain.fastchain import FastChain  # noqa: PLC0415
    from backstop.model.ledger import Tier  # noqa: PLC0415
    from backstop.units import market_id, to_usdc  # noqa: PLC0415

    deployment = Deployment.read(path)
    chain = FastChain.connect(uri)
    markets = {m["name"]: market_id(m["name"]) for m in deployment.parameters["markets"]}
    has_adl = "AdlQueue" in deployment.contracts
    return KeeperBot(
        chain=chain,
        wallet=chain.wallet(Account.from_key(account.private_key)),
        house=attach(chain.w3, deployment, "Clearinghouse"),
        auction=attach(chain.w3, deployment, "LiquidationAuction"),
        oracle=attach(chain.w3, deployment, "PriceOracle"),
        markets=markets,
        tiers={m["name"]: [Tier(*t) for t in m["tiers"]] for m in deployment.parameters["markets"]},
        dust={m["name"]: to_usdc(m["auction"]["dust"]) for m in deployment.parameters["markets"]},
        config=config or KeeperConfig(),
        adl=attach(chain.w3, deployment, "AdlQueue") if has_adl else None,
        usdc=attach(chain.w3, deployment, "USDC", abi="MockUSDC"),
        log=log,
    )
