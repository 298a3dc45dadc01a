"""What to deploy: a market's oracle, tiers, auction, standing-bid book and fund seed, and the ADL rules.

Plain data, no Ape and no web3: scenario files (backstop.scenario) build these, backstop.chain.deploy deploys
them. Units: [usdc] for tiers' notional brackets, dollars where a field says so, [bps], [seconds].
"""

from __future__ import annotations

from dataclasses import dataclass, field

from backstop.model.ledger import Tier
from backstop.units import to_usdc

__all__ = ["DEFAULT_TIERS", "AdlSpec", "AuctionSpec", "BookSpec", "MarketSpec", "OracleSpec"]

DEFAULT_TIERS: tuple[Tier, ...] = (
    # notional bracket [usdc], initial margin (max leverage = 10_000 / bps), maintenance, tail-risk fee
    Tier(to_usdc(50_000), 500, 250, 0),  # up to $50k: 20x, 2.5% maintenance
    Tier(to_usdc(250_000), 1_000, 500, 5),  # up to $250k: 10x, 5%, 0.05% tail-risk margin
    Tier(to_usdc(1_000_000), 2_000, 1_000, 20),  # up to $1M: 5x, 10%, 0.2%
    Tier(to_usdc(10_000_000), 5_000, 2_500, 50),  # up to $10M: 2x, 25%, 0.5%
)


@dataclass
class OracleSpec:
    """How the oracle reads a market: staleness, outlier and jump rules (see PriceOracle.setMarketConfig)."""

    max_age: int = 3_600  # [seconds]
    max_deviation_bps: int = 1_000  # [bps] from the first median
    min_sources: int = 1
    max_jump_bps: int = 0  # [bps] 0 = no jump bound
    jump_window: int = 0  # [seconds]


@dataclass
class AuctionSpec:
    """How a market's liquidations are auctioned (see LiquidationAuction.file and the curve contracts)."""

    curve: str = "linear"  # "linear" or "stairstep"
    tau: int = 1_800  # [seconds] linear: time for the price to fall from top to zero
    cut: float = 0.99  # stairstep: price factor per step
    step: int = 60  # [seconds] stairstep: length of one step
    penalty_bps: int = 100  # [bps] of each fill's notional, to the sub-pool
    buf_bps: int = 200  # [bps] start this far in the protocol's favour
    stale_bps: int = 2_000  # [bps] restartable once the price is this far from the oracle
    tail: int = 1_800  # [seconds] restartable once this old
    chip_bps: int = 5  # [bps] of notional to whoever starts or restarts an auction
    tip: float = 5  # [usdc, dollars] flat incentive
    tip_cap: float = 500  # [usdc, dollars] the most one incentive pays
    dust: float = 10  # [usdc, dollars] the least notional a partial take may leave
    risk_window: int = 3_600  # [seconds] liquidity risk lasts this long after an unfilled auction
    hole: float = 0  # [usdc, dollars] the most notional in auction at once (0: no cap)
    drop_bps: int = 0  # [bps] a fall this large from the oracle's high over drop_window starts a buffer (0: never)
    drop_window: int = 900  # [seconds] the oracle's high window (PriceOracle.setHighWindow), set when drop_bps > 0
    buffer_base: int = 300  # [seconds] buffer for a fall of exactly drop_bps; longer for faster falls
    buffer_max: int = 3_600  # [seconds]


@dataclass
class BookSpec:
    """A market's standing-bid book (see StandingBidBook.setLevels and setMaxMatches)."""

    levels: tuple[int, ...] = (50, 100, 200, 300, 500, 1_000, 2_000, 5_000)  # [bps] discounts, ascending, at most 8
    max_matches: int = 8  # bids one liquidation may visit; what they leave goes to the auction


@dataclass
class AdlSpec:
    """System-wide ADL rules (see AdlQueue.file)."""

    loss_cap_bps: int = 5_000  # [bps] the most of a counterparty's unrealised profit one ADL may take
    challenge_window: int = 3_600  # [seconds] how long anyone may prove a better-ranked position was skipped
    min_bond: float = 100  # [usdc, dollars] the executor's bond on top of the profit it took


@dataclass
class MarketSpec:
    """One market to list: its venues (one mock price source each), starting price, tiers and fund seed."""

    name: str
    price: str | float  # starting price, USD per base unit
    venues: tuple[str, ...] = ("venue-a", "venue-b", "venue-c")
    source_decimals: int = 8
    tiers: tuple[Tier, ...] = DEFAULT_TIERS
    price_band_bps: int = 500
    oracle: OracleSpec = field(default_factory=OracleSpec)
    fund_seed: str | float = 0  # USDC seeded into the market's sub-pool
    auction: AuctionSpec = field(default_factory=AuctionSpec)
    book: BookSpec = field(default_factory=BookSpec)

