"""A market's liquidity in a scenario: how deep each venue's book is, how fast it recovers, how the venues are
tied by arbitrage, how depth thins as market makers leave, and the flows that are not this platform's.

The model (backstop.replay.market) is Obizhaeva and Wang's block-shaped limit order book with exponential
resilience (Obizhaeva & Wang, "Optimal trading strategy and supply/demand dynamics", Journal of Financial
Markets 16(1), 2013), written in log price so that prices stay positive:

- a trade of signed notional q [USD] (negative: a sale) on venue v moves its log price by
  ``0.01 * q / depth_v(t)``: ``depth_usd`` is the notional that moves the venue 1% (the "1% market depth"
  that data vendors such as Kaiko publish per exchange);
- the displacement decays as ``exp(-resilience * age)``: ``resilience`` [1/s] is the book's recovery rate
  (half-life ln 2 / resilience);
- arbitrage pulls the venues toward their depth-weighted mean displacement at rate ``arbitrage`` [1/s]: a gap
  opened on one venue spreads to the others with a half-life of ln 2 / arbitrage, and the fall that remains
  is shared in proportion to depth (0 = venues uncoupled);
- ``withdrawal`` scales every venue's depth from each entry's ``t`` on (market makers pulling two-sided
  liquidity);
- ``flows`` are exogenous trades (a holder moving and selling a block), spread evenly over their duration in
  slices of ``slice`` seconds;
- ``hedging`` makes the market makers unwind, on the venues, the hedge of what ADL closes of their positions.

Money in USD, rates in [1/s], times in [seconds].
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from backstop.scenario.errors import field_problem
from backstop.scenario.fields import Float, Name, ScenarioModel, Seconds

__all__ = ["DepthStep", "FlowScenario", "LiquidityScenario", "MAX_RATE"]

MAX_RATE = 1.0  # [1/s] the fastest resilience or arbitrage: a displacement mostly gone within seconds


PositiveUsd = Annotated[Float, Field(gt=0)]


def _depth_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        return "each"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "one"
    return None


Depth = Annotated[
    Annotated[PositiveUsd, Tag("one")] | Annotated[dict[Name, PositiveUsd], Tag("each")],
    Discriminator(
        _depth_kind,
        custom_error_type="depth",
        custom_error_message="a depth [USD] > 0 for every venue, or a mapping venue -> depth [USD] > 0",
    ),
]
"""A market's 1% depth: one number for every venue, or one per venue."""


class DepthStep(ScenarioModel):
    """From time ``t`` [seconds] on, every venue's depth is ``fraction`` (> 0, at most 10) of its ``depth_usd``."""

    t: Seconds
    fraction: Annotated[Float, Field(gt=0, le=10)]


class FlowScenario(ScenarioModel):
    """An exogenous trade on one venue: ``notional_usd`` [USD] (negative: a sale, positive: a purchase; not 0)
    traded evenly from ``start`` for ``duration`` [seconds] (> 0) in slices of ``slice`` [seconds] (> 0);
    ``note`` says what it stands for."""

    venue: Name
    start: Seconds
    duration: Annotated[Seconds, Field(gt=0)]
    notional_usd: Float
    slice: Annotated[Seconds, Field(gt=0)] = 60
    note: str = ""

    @field_validator("notional_usd")
    @classmethod
    def _not_zero(cls, value: float) -> float:
        if value == 0:
            raise ValueError("a non-zero notional (negative: a sale, positive: a purchase)")
        return value


class LiquidityScenario(ScenarioModel):
    """A market's venue liquidity (no ``liquidity``: infinite depth, prices are the scripted paths exactly).

    - ``depth_usd`` [USD] > 0: the notional that moves a venue's price 1%; one number for every venue or a
      mapping venue -> number naming every venue.
    - ``resilience`` [1/s] in (0, 1]: the rate at which a venue's displacement decays.
    - ``arbitrage`` [1/s] in [0, 1] = 0.01: the rate at which gaps between venues close (0: uncoupled).
    - ``withdrawal`` = []: :class:`DepthStep` entries, strictly increasing ``t``.
    - ``flows`` = []: :class:`FlowScenario` entries, each on a venue of the market.
    - ``hedging`` = false: the market makers hedge on the venues what they hold against the platform's
      traders. Every trade they absorb already moves the book as if laid off at once (keepers' unwinds,
      traders' orders, bidders' sales); with ``hedging`` an ADL fill that closes part of a market maker's
      position also unwinds that part of its hedge on the deepest venue's book (a sale when ADL closed its
      short), as liquidation flow of the bankrupt position's cascade generation.
    """

    depth_usd: Depth
    resilience: Annotated[Float, Field(gt=0, le=MAX_RATE)]
    arbitrage: Annotated[Float, Field(ge=0, le=MAX_RATE)] = 0.01
    withdrawal: list[DepthStep] = Field(default_factory=list)
    flows: list[FlowScenario] = Field(default_factory=list)
    hedging: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> LiquidityScenario:
        for i in range(1, len(self.withdrawal)):
            if self.withdrawal[i].t <= self.withdrawal[i - 1].t:
                raise field_problem(("withdrawal", i, "t"), f"times strictly increasing (t = {self.withdrawal[i].t} after t = {self.withdrawal[i - 1].t})")
        return self

    def venue_problems(self, venues: list[str]) -> list[tuple[tuple, str]]:
        """Problems against the market's `venues`, located from ``liquidity``: a depth mapping that misses or
        adds a venue, a flow on an unknown venue."""
        problems: list[tuple[tuple, str]] = []
        if isinstance(self.depth_usd, dict):
            for v in venues:
                if v not in self.depth_usd:
                    problems.append((("depth_usd",), f"a depth for every venue ({v!r} has none; venues: {', '.join(venues)})"))
            for v in self.depth_usd:
                if v not in venues:
                    problems.append((("depth_usd", v), f"one of the market's venues {venues} (got {v!r})"))
        for i, flow in enumerate(self.flows):
            if flow.venue not in venues:
                problems.append((("flows", i, "venue"), f"one of the market's venues {venues} (got {flow.venue!r})"))
        return problems

    def depth(self, venue: str) -> float:
        """The venue's 1% depth [USD] before any withdrawal."""
        return self.depth_usd[venue] if isinstance(self.depth_usd, dict) else self.depth_usd

    def remaining(self, t: float) -> float:
        """The share of depth left at `t` [seconds] by the withdrawal schedule (1 before its first entry)."""
        fraction = 1.0
        for step in self.withdrawal:
            if step.t > t:
                break
            fraction = step.fraction
        return fraction

