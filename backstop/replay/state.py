"""The one replay state every part of the engine shares: the scenario, the chain handles, the mirror of the
positions and auctions, the keepers, and the report's running records.

The engine is carved by object: `Population` (set-up), `KeeperActors` (keepers' decisions), `EventMirror`
(what comes back from the chain) and the report builder each hold a `ReplayContext` and nothing of each other
but what it exposes, so no import cycle appears.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from backstop.chain.fastchain import FastChain, Wallet
from backstop.model import ledger as lm
from backstop.model.auction import auction_price
from backstop.model.curves import linear_down, stairstep_down
from backstop.replay.flows import GLOBAL, FundFlows
from backstop.replay.market import Market
from backstop.units import RAY, market_id

MM_NOTIONAL_CAP = 4_000_000  # [USD] per market-maker account and market (the top tier allows $10M at 2x)
MM_MARGIN_SHARE = 0.75  # margin a market maker posts per unit of notional it takes on (the top bracket needs 0.5)
ADL_BOND_RESERVE = 5_000_000  # [USD] mock USDC each keeper holds outside the clearinghouse for ADL bonds
ADL_ROUNDS = 2  # ADL rounds per step at most (one catches up on what the first could not foresee)
CONTRACTS = (  # the engine's name of each contract -> the attribute of backstop.chain.deploy.System
    ("usdc", "usdc"),
    ("oracle", "oracle"),
    ("fund", "fund"),
    ("house", "clearinghouse"),
    ("auction", "auction"),
    ("book", "book"),
    ("adl", "adl"),
)


@dataclass
class AuctionMirror:
    """A running auction as the engine last saw it (from its events)."""

    id: int
    market: str
    trader: str
    long: bool
    qty: int  # [wad] left
    anchor: int  # [wad]
    top: int  # [wad]
    tic: int  # [chain seconds] of the last (re)start
    start_t: int  # [scenario seconds]
    record: dict[str, Any]  # its entry of the report's `liquidations`


@dataclass
class KeeperState:
    """One keeper actor: its scenario entry, wallet, capital and counts."""

    spec: Any  # backstop.scenario KeeperScenario
    wallet: Wallet
    capital: int  # [usdc] committed at start
    deposited: int  # [usdc] currently in the clearinghouse (free + margin)
    taken: int = 0
    liquidations: int = 0
    restarts: int = 0
    online_steps: int = 0
    incentives: int = 0  # [usdc] paid to it by the fund (IncentivePaid, BatchIncentivePaid)
    slippage: float = 0.0  # [USD] paid unwinding into the venues' books (with liquidity)
    escrow: int = 0  # [usdc] minted for its standing bids on top of its capital
    lost: int = 0  # [usdc] capital lost (CapitalStep.lost): withdrawn and sent away
    bids: list[int] = field(default_factory=list)  # ids of the standing bids it placed (BidPlaced)
    peak_used: int = 0  # [usdc] the most capital tied up at one action: margin still locked + margin of the takes sent
    sending: int = 0  # [usdc] margin of the takes sent in the current action
    unwound: int = 0  # [usdc] notional its standing bid's absorptions it sold (StandingBid.unwind)

    @property
    def name(self) -> str:
        return self.spec.name

    def online(self, t: int, role: str | None = None) -> bool:
        """Up at `t`: as a whole (no `role`) or in `role` (see backstop.scenario.keepers.Outage)."""
        if not self.spec.outages:  # most keepers: never down (and a replay asks a million times)
            return True
        return self.spec.online(t, role)

    def acted(self, free: int) -> None:
        """Ends an action in which its free balance [usdc] was `free` when it looked: what its capital had to cover
        (margin not free, and the margin of the takes it sent) counts towards `peak_used`."""
        self.peak_used = max(self.peak_used, max(0, self.deposited - free) + self.sending)
        self.sending = 0

    def committed_fraction(self, t: int) -> float:
        return self.spec.capital_at(t) / self.spec.capital

    def losing(self, t: int) -> bool:
        """Whether the capital schedule's step in force at `t` loses what it takes out (CapitalStep.lost)."""
        return next((p.lost for p in reversed(self.spec.capital_schedule) if p.t <= t), False)


@dataclass
class TraderSlot:
    """A trader who opens or closes during the replay: its scenario position, wallet, market maker and progress."""

    index: int  # in the scenario's traders
    pos: Any  # backstop.scenario.TraderPosition
    wallet: Wallet
    mm: Wallet  # its counterparty, assigned at set-up (whose capital was sized for it)
    opened: bool = False  # its opening trade was mined (at set-up, or during the replay)
    closed: bool = False  # its exit was mined
    tries: int = 0  # trades sent for the step it is at (opening, then closing) without success
    sent: bytes | None = None  # its last trade's transaction (it sends no other while that one is unmined)

    @property
    def key(self) -> tuple[str, str]:
        return self.pos.market, self.wallet.address


@dataclass
class ReplayState:
    """What the engine knows of the chain (from receipts and events) and the report's running records."""

    t: int = 0
    positions: dict[tuple[str, str], lm.Position] = field(default_factory=dict)  # (market, address) -> mirror
    auctions: dict[int, AuctionMirror] = field(default_factory=dict)
    liquidations: list[dict[str, Any]] = field(default_factory=list)
    series: list[dict[str, Any]] = field(default_factory=list)
    failed_txs: dict[str, int] = field(default_factory=dict)
    gas: dict[str, dict[str, int]] = field(default_factory=dict)  # action -> {"transactions", "gas"} of every receipt
    totals: dict[str, float] = field(default_factory=dict)
    first_liquidatable: dict[tuple[str, str], int] = field(default_factory=dict)
    pending_liquidation: set[tuple[str, str]] = field(default_factory=set)
    in_auction: set[tuple[str, str]] = field(default_factory=set)
    queued: dict[str, list[int]] = field(default_factory=dict)  # market -> queued liquidation ids
    buffer_until: dict[str, int] = field(default_factory=dict)  # market -> [chain seconds]
    buffers: list[dict[str, Any]] = field(default_factory=list)
    adl: list[dict[str, Any]] = field(default_factory=list)  # one entry per ADL fill (report `adl[]`)
    adl_executions: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> executor, time, reason, ...
    flows: FundFlows = field(default_factory=FundFlows)  # the fund's inflows and outflows by pool and kind
    adl_scores: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)  # (market, account) -> (score, lights) when last named
    generations: dict[tuple[str, str], tuple[int, bool]] = field(default_factory=dict)  # (market, trader) -> (generation, impact_only) of its liquidation sent
    on_mined: dict[bytes, Any] = field(default_factory=dict)  # tx hash -> called with the receipt once mined successfully
    trades: list[dict[str, Any]] = field(default_factory=list)  # traders' opens and closes during the replay (report `trading.trades`)

    def count_failure(self, label: str) -> None:
        self.failed_txs[label] = self.failed_txs.get(label, 0) + 1

    def count_gas(self, action: str, gas_used: int) -> None:
        row = self.gas.setdefault(action, {"transactions": 0, "gas": 0})
        row["transactions"] += 1
        row["gas"] += gas_used


@dataclass
class ReplayContext:
    """The scenario and the chain as every part of one replay sees them."""

    sc: Any  # backstop.scenario.Scenario
    path: Path | None
    chain: FastChain
    c: dict[str, Any]  # engine name (see CONTRACTS) -> web3 contract
    sources: dict[str, dict[str, Any]]  # market -> venue -> web3 contract of its price source
    admin: Wallet
    specs: dict[str, Any] = field(default_factory=dict)  # market -> backstop.chain.specs.MarketSpec
    state: ReplayState = field(default_factory=ReplayState)
    keepers: list[KeeperState] = field(default_factory=list)
    mms: dict[str, list[tuple[Wallet, float]]] = field(default_factory=dict)  # market -> market makers
    t0: int = 0  # [chain seconds] of the scenario's t = 0
    bid_markets: set[str] = field(default_factory=set)  # markets with standing bids: `release` offers them liquidations
    market: Market | None = None  # the venues' traded prices (backstop.replay.market)
    bands: dict[tuple[str, int, int, int], tuple[int, int]] = field(default_factory=dict)  # (market, size, margin, entry) -> safe band [wad]: see `liquidatable`

    def __post_init__(self) -> None:
        if not self.specs:
            self.specs = {s.name: s for s in self.sc.market_specs()}
        self.mids = {name: market_id(name) for name in self.specs}
        self.names = {mid: name for name, mid in self.mids.items()}
        if self.market is None:
            self.market = Market(self.sc)

    def pool_name(self, pool: bytes) -> str:
        """``global`` for the global pool (bytes32(0)), else the market's name."""
        return GLOBAL if pool == bytes(32) else self.names[pool]

    def pool_balances(self) -> dict[str, int]:
        """Every pool's balance [usdc] read from the chain now, by pool name."""
        pools = (("global", bytes(32)), *self.mids.items())
        values = self.chain.view([(self.c["fund"], "poolBalance", [pool]) for _name, pool in pools])
        if any(v is None for v in values):
            raise RuntimeError("InsuranceFund.poolBalance reverted")
        return {name: v for (name, _pool), v in zip(pools, values)}

    def keeper_name(self, address: str) -> str:
        return next((k.name for k in self.keepers if k.wallet.address == address), address)

    def liquidatable(self, m: str, p: lm.Position, mark: int) -> bool:
        """Clearinghouse.isLiquidatable by the reference model; the position's safe band (lm.safe_band, kept while
        the position does not change) answers most asks without the exact test."""
        key = (m, p.size, p.margin, p.entry_price)
        band = self.bands.get(key)
        if band is None:
            if len(self.bands) > 100_000:
                self.bands.clear()
            band = self.bands[key] = lm.safe_band(p, list(self.specs[m].tiers))
        if band[0] < mark < band[1]:
            return False
        try:
            return lm.below_maintenance(p, list(self.specs[m].tiers), mark)
        except lm.NotionalAboveTopTier:
            return True  # grown past the top bracket by the price: let the contract decide

    def auction_price(self, a: AuctionMirror, ts: int) -> int:
        """The auction's price [wad] at chain time `ts`, by the market's curve (the reference model)."""
        spec = self.specs[a.market].auction
        if spec.curve == "linear":
            curve = lambda top, e: linear_down(top, e, spec.tau)  # noqa: E731
        else:
            cut = int(round(spec.cut * RAY))
            curve = lambda top, e: stairstep_down(top, e, spec.step, cut)  # noqa: E731
        return auction_price(a.long, a.anchor, a.top, max(0, ts - a.tic), curve)

    def start(self) -> datetime:
        try:
            return datetime.fromisoformat(str(self.sc.start).replace("Z", "+00:00"))
        except ValueError:
            return datetime(1970, 1, 1, tzinfo=timezone.utc)

    def iso(self, t: int) -> str:
        """The scenario's UTC time at scenario second `t`."""
        return (self.start() + timedelta(seconds=t)).isoformat()
