"""A scenario's markets: venues' price paths and the protocol's configuration of each (oracle, tiers, auction).

Defaults are those of the deploy specs (backstop.chain.specs: OracleSpec, AuctionSpec, MarketSpec,
DEFAULT_TIERS), limits those of the contracts (backstop.model: MAX_SOURCES, MAX_SOURCE_DECIMALS, MAX_TIERS).
Money in USD (floats), rates in [bps], times in [seconds].
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from backstop.chain.specs import DEFAULT_TIERS, AuctionSpec, MarketSpec, OracleSpec
from backstop.model.ledger import MAX_PRICE_BAND_BPS, MAX_TIERS
from backstop.model.oracle import MAX_SOURCE_DECIMALS, MAX_SOURCES
from backstop.scenario.errors import FieldProblem, Loc, field_problem
from backstop.scenario.fields import UINT16_MAX, Bps, Float, Int, Name, ScenarioModel, Seconds, Usd
from backstop.scenario.liquidity import LiquidityScenario
from backstop.scenario.prices import PricePoint, VenuePath, check_points, interpolate, read_csv
from backstop.units import BPS, from_usdc

__all__ = ["AuctionScenario", "MarketScenario", "OracleScenario", "TierScenario", "VenueHalt", "default_tiers"]


class OracleScenario(ScenarioModel):
    """How PriceOracle reads the market (PriceOracle.setMarketConfig); defaults as backstop.chain.specs.OracleSpec.

    - ``max_age`` [seconds] = 3600: oldest usable venue answer, > 0.
    - ``max_deviation_bps`` [bps] = 1000: farthest a venue may sit from the first median and still count.
    - ``min_sources`` = 1: fewest venues the median needs, 1..16 and at most the number of venues.
    - ``max_jump_bps`` [bps] = 0: largest move from the last accepted price within ``jump_window``; 0 = off.
    - ``jump_window`` [seconds] = 0.
    """

    max_age: Annotated[Seconds, Field(gt=0)] = OracleSpec.max_age
    max_deviation_bps: Annotated[Int, Field(ge=0, le=UINT16_MAX)] = OracleSpec.max_deviation_bps
    min_sources: Annotated[Int, Field(ge=1, le=MAX_SOURCES)] = OracleSpec.min_sources
    max_jump_bps: Annotated[Int, Field(ge=0, le=UINT16_MAX)] = OracleSpec.max_jump_bps
    jump_window: Seconds = OracleSpec.jump_window


class TierScenario(ScenarioModel):
    """One leverage bracket (Clearinghouse tiers), in USD.

    - ``max_notional`` [USD] > 0: the bracket covers notionals up to this (inclusive).
    - ``initial_margin_bps`` [bps]: margin to open; max leverage = 10,000 / this. > maintenance, <= 10,000.
    - ``maintenance_margin_bps`` [bps] > 0: below this the position is liquidated.
    - ``tail_risk_fee_bps`` [bps] = 0: fee on added notional, to the market's sub-pool.
    Brackets are listed with strictly increasing ``max_notional`` and non-decreasing margins (1..8 of them).
    """

    max_notional: Annotated[Float, Field(gt=0)]
    initial_margin_bps: Annotated[Int, Field(gt=0, le=BPS)]
    maintenance_margin_bps: Annotated[Int, Field(gt=0, le=BPS)]
    tail_risk_fee_bps: Bps = 0

    @model_validator(mode="after")
    def _margins(self) -> TierScenario:
        if self.initial_margin_bps <= self.maintenance_margin_bps:
            raise field_problem(
                ("initial_margin_bps",),
                f"initial_margin_bps > maintenance_margin_bps ({self.initial_margin_bps} <= {self.maintenance_margin_bps})",
            )
        return self

    def max_leverage(self) -> float:
        """The bracket's max leverage: 10,000 / initial_margin_bps."""
        return BPS / self.initial_margin_bps


def default_tiers() -> list[TierScenario]:
    """backstop.chain.specs.DEFAULT_TIERS in USD."""
    return [
        TierScenario(
            max_notional=float(from_usdc(t.max_notional)),
            initial_margin_bps=t.initial_margin_bps,
            maintenance_margin_bps=t.maintenance_margin_bps,
            tail_risk_fee_bps=t.tail_risk_fee_bps,
        )
        for t in DEFAULT_TIERS
    ]


class AuctionScenario(ScenarioModel):
    """How the market's liquidations are auctioned (LiquidationAuction.file and the curve contracts).

    Defaults as backstop.chain.specs.AuctionSpec:
    - ``curve`` = "linear": "linear" (top to 0 in ``tau``) or "stairstep" (times ``cut`` every ``step``).
    - ``tau`` [seconds] = 1800, > 0 (linear).  ``cut`` = 0.99, in (0, 1] (stairstep).
    - ``step`` [seconds] = 60, > 0 (stairstep).
    - ``penalty_bps`` [bps] = 100: of each fill's notional, to the market's sub-pool.
    - ``buf_bps`` [bps] = 200: the auction starts this far in the protocol's favour.
    - ``stale_bps`` [bps] = 2000: restartable once the price is this far from the oracle.
    - ``tail`` [seconds] = 1800: restartable once this old.
    - ``chip_bps`` [bps] = 5: share of notional to whoever starts or restarts an auction.
    - ``tip`` [USD] = 5 flat incentive; ``tip_cap`` [USD] = 500 the most one incentive pays.
    - ``dust`` [USD] = 10: the least notional a partial take may leave.
    - ``risk_window`` [seconds] = 3600: liquidity risk lasts this long after an unfilled auction.
    - ``hole`` [USD] = 0: the most notional in auction at once in the market (0: no cap); the overflow waits
      in the market's queue.
    - ``drop_bps`` [bps] = 0: a fall this large from the highest oracle price within ``drop_window`` starts a
      buffer period (0: never). The replay then pokes the oracle in every price block.
    - ``drop_window`` [seconds] = 900, at least 2 (the oracle's high window); ``buffer_base`` [seconds] = 300:
      buffer length for a fall of exactly ``drop_bps`` (proportionally longer for faster falls); ``buffer_max`` [seconds] = 3600.
    """

    curve: Literal["linear", "stairstep"] = "linear"
    tau: Annotated[Seconds, Field(gt=0)] = AuctionSpec.tau
    cut: Annotated[Float, Field(gt=0, le=1)] = AuctionSpec.cut
    step: Annotated[Seconds, Field(gt=0)] = AuctionSpec.step
    penalty_bps: Bps = AuctionSpec.penalty_bps
    buf_bps: Bps = AuctionSpec.buf_bps
    stale_bps: Bps = AuctionSpec.stale_bps
    tail: Seconds = AuctionSpec.tail
    chip_bps: Bps = AuctionSpec.chip_bps
    tip: Usd = AuctionSpec.tip
    tip_cap: Usd = AuctionSpec.tip_cap
    dust: Usd = AuctionSpec.dust
    risk_window: Seconds = AuctionSpec.risk_window
    hole: Usd = AuctionSpec.hole
    drop_bps: Bps = AuctionSpec.drop_bps
    drop_window: Annotated[Seconds, Field(ge=2)] = AuctionSpec.drop_window
    buffer_base: Seconds = AuctionSpec.buffer_base
    buffer_max: Seconds = AuctionSpec.buffer_max


class VenueHalt(ScenarioModel):
    """A window ``start`` < t < ``end`` [seconds] in which one venue's price feed stops following its path.

    - ``venue``: one of the market's venues.
    - ``mode`` = "stale": the venue stops answering. Its last answer (the path's price at ``start``, stamped
      ``start``) stays, so the oracle drops it once it is older than ``oracle.max_age``.
    - ``mode`` = "stuck": the venue keeps re-stamping the price at ``start`` as fresh (a halted book whose feed
      still reports). ``max_age`` cannot catch it; only the median of the other venues can.

    From ``end`` on the venue follows its path again. A halt changes what the venue *publishes*. Its book (the
    liquidity model) still takes keepers' unwinds at the path's price."""

    venue: Name
    start: Seconds
    end: Seconds
    mode: Literal["stale", "stuck"] = "stale"

    @model_validator(mode="after")
    def _ordered(self) -> VenueHalt:
        if self.end <= self.start:
            raise field_problem(("end",), f"end > start ({self.end} <= {self.start})")
        return self

    def covers(self, t: float) -> bool:
        return self.start < t < self.end


class MarketScenario(ScenarioModel):
    """One market: its venues' price paths and the protocol's configuration of it.

    - ``name``: 1-32 ASCII characters, unique, e.g. "OM-USD" (the bytes32 market id).
    - ``venues``: venue name -> price path, at least one and at most 16 venues. A path is either a list of
      :class:`PricePoint` (strictly increasing ``t``, first at 0) or the path of a CSV file with a ``t,price``
      header, relative to the YAML file. Between points the price is linear; after the last, it holds.
    - ``source_decimals`` = 8: decimals of the mock price sources (0..36); every price must be at least one
      unit at this precision (1e-8 by default).
    - ``oracle``: :class:`OracleScenario` (defaults as OracleSpec).
    - ``tiers``: list of :class:`TierScenario`; defaults to backstop.chain.specs.DEFAULT_TIERS (converted to USD).
    - ``price_band_bps`` [bps] = 500: trades must be this close to the oracle mark; 1..5000.
    - ``auction``: :class:`AuctionScenario` (defaults as AuctionSpec).
    - ``fund_seed`` [USD] = 0: seeded into the market's sub-pool of the insurance fund.
    - ``liquidity`` = None: :class:`~backstop.scenario.liquidity.LiquidityScenario`, the venues' depth and the
      flows that move their prices; none: infinite depth, the venues trade at their paths exactly.
    - ``halts`` = []: :class:`VenueHalt` windows in which a venue's feed goes stale or sticks; a venue's
      halts must not overlap.
    """

    name: Name
    venues: Annotated[dict[Name, VenuePath], Field(min_length=1, max_length=MAX_SOURCES)]
    source_decimals: Annotated[Int, Field(ge=0, le=MAX_SOURCE_DECIMALS)] = MarketSpec.source_decimals
    oracle: OracleScenario = Field(default_factory=OracleScenario)
    tiers: Annotated[list[TierScenario], Field(min_length=1, max_length=MAX_TIERS)] = Field(default_factory=default_tiers)
    price_band_bps: Annotated[Int, Field(ge=1, le=MAX_PRICE_BAND_BPS)] = MarketSpec.price_band_bps
    auction: AuctionScenario = Field(default_factory=AuctionScenario)
    fund_seed: Usd = 0
    liquidity: LiquidityScenario | None = None
    halts: list[VenueHalt] = Field(default_factory=list)

    _points: dict[str, list[PricePoint]] = PrivateAttr(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _ascii_name(cls, name: str) -> str:
        if not name.isascii() or len(name) > 32:
            raise field_problem((), f"1-32 ASCII characters, the bytes32 market id (got {name!r})")
        return name

    @model_validator(mode="after")
    def _paths(self, info: ValidationInfo) -> MarketScenario:
        base = Path((info.context or {}).get("base_dir", "."))
        problems = self._venue_problems(base)
        if self.oracle.min_sources > len(self.venues):
            problems.append(
                (("oracle", "min_sources"), f"at most the number of venues ({len(self.venues)}), got {self.oracle.min_sources}")
            )
        if self.liquidity is not None:
            problems += [(("liquidity",) + loc, msg) for loc, msg in self.liquidity.venue_problems(list(self.venues))]
        problems += self._halt_problems()
        for i in range(1, len(self.tiers)):
            prev, t = self.tiers[i - 1], self.tiers[i]
            if t.max_notional <= prev.max_notional:
                problems.append((("tiers", i, "max_notional"), f"brackets with strictly increasing max_notional ({t.max_notional:g} after {prev.max_notional:g})"))
            if t.initial_margin_bps < prev.initial_margin_bps or t.maintenance_margin_bps < prev.maintenance_margin_bps:
                problems.append((("tiers", i), "margins that do not decrease from one bracket to the next"))
        if problems:
            raise FieldProblem(problems)
        return self

    def _venue_problems(self, base: Path) -> list[tuple[Loc, str]]:
        """Reads every venue's path (CSV files relative to `base`) into ``_points``; the problems found."""
        min_price = 10.0**-self.source_decimals
        problems: list[tuple[Loc, str]] = []
        for venue, path in self.venues.items():
            if isinstance(path, str):
                try:
                    points, lines = read_csv(base / path)
                except ValueError as exc:
                    problems.append((("venues", venue), str(exc)))
                    continue
                for i, _field, expected in check_points(points, min_price):
                    problems.append((("venues", venue), f"{expected} (CSV file {base / path} line {lines[i]})"))
            else:
                points = path
                for i, fld, expected in check_points(points, min_price):
                    problems.append((("venues", venue) + ((i, fld) if i >= 0 else ()), expected))
            self._points[venue] = points
        return problems

    def _halt_problems(self) -> list[tuple[Loc, str]]:
        problems: list[tuple[Loc, str]] = []
        for i, h in enumerate(self.halts):
            if h.venue not in self.venues:
                problems.append((("halts", i, "venue"), f"one of the market's venues ({', '.join(self.venues)}), got {h.venue!r}"))
            for j, other in enumerate(self.halts[:i]):
                if other.venue == h.venue and h.start < other.end and other.start < h.end:
                    problems.append((("halts", i), f"a window that does not overlap halts[{j}] of venue {h.venue}"))
        return problems

    def halt_at(self, venue: str, t: float) -> VenueHalt | None:
        """The halt of `venue` covering `t` [seconds], if any."""
        return next((h for h in self.halts if h.venue == venue and h.covers(t)), None)

    def published(self, venue: str, t: float, price: float) -> tuple[float, float]:
        """What the venue's feed shows at `t` [seconds] when its book trades at `price` [USD]: (price [USD], the
        second it is stamped). Outside a halt, (price, t); in a stale halt, the path's price at its start
        stamped at its start; in a stuck one, that price stamped t."""
        h = self.halt_at(venue, t)
        if h is None:
            return price, t
        return self.price(venue, h.start), (h.start if h.mode == "stale" else t)

    def tier_for(self, notional_usd: float) -> TierScenario | None:
        """The bracket of a position of `notional_usd` [USD], None above the top bracket."""
        for t in self.tiers:
            if notional_usd <= t.max_notional:
                return t
        return None

    def points(self, venue: str) -> list[PricePoint]:
        """The venue's price points as given (from the YAML list or its CSV file), in time order."""
        if venue not in self._points:
            raise KeyError(f"market {self.name} has no venue {venue!r} (venues: {', '.join(self.venues)})")
        return list(self._points[venue])

    def price(self, venue: str, t: float) -> float:
        """The venue's price at `t` [seconds]: linear between points, the last price after the last point."""
        points = self.__pydantic_private__["_points"].get(venue)  # not via pydantic's __getattr__: a replay's hot path
        if points is None:
            raise KeyError(f"market {self.name} has no venue {venue!r} (venues: {', '.join(self.venues)})")
        if t < 0:
            raise ValueError(f"t must be >= 0 seconds, got {t}")
        return interpolate(points, t)
