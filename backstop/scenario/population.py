"""A scenario's traders: explicit positions or a population drawn at random, and the positions they open.

Sizes in USD of notional at the entry price, prices in USD per base unit, rates in [bps] or fractions 0..1.
:func:`draw_traders` is the one place traders are drawn: same seed, same traders.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field, model_validator

from backstop.scenario.errors import field_problem
from backstop.scenario.fields import Float, Fraction, Int, Name, ScenarioModel
from backstop.scenario.market import MarketScenario
from backstop.units import BPS

__all__ = [
    "ExplicitPopulation",
    "GeneratedPopulation",
    "PopulationSpec",
    "PositionScenario",
    "Range",
    "TraderPosition",
    "draw_traders",
]


class Range(ScenarioModel):
    """A range to draw from: ``min`` <= ``max`` (both > 0), ``distribution`` "uniform" (default) or
    "loguniform" (uniform in log space: as many 1-2x as 10-20x)."""

    min: Annotated[Float, Field(gt=0)]
    max: Annotated[Float, Field(gt=0)]
    distribution: Literal["uniform", "loguniform"] = "uniform"

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.max < self.min:
            raise field_problem(("max",), f"max >= min ({self.max:g} < {self.min:g})")
        return self

    def draw(self, rng: random.Random) -> float:
        """One draw from the range with `rng` (one ``rng.uniform`` call)."""
        if self.distribution == "loguniform":
            return math.exp(rng.uniform(math.log(self.min), math.log(self.max)))
        return rng.uniform(self.min, self.max)


class PositionScenario(ScenarioModel):
    """One explicit position.

    - ``side``: "long" or "short".
    - ``size_usd`` [USD] > 0: notional at the entry price; at most the top tier's ``max_notional``.
    - ``leverage`` >= 1: notional / margin; at most the tier's max leverage (10,000 / initial_margin_bps).
    - ``entry_price`` [USD] > 0, default None = the market's oracle price at t = 0.
    """

    side: Literal["long", "short"]
    size_usd: Annotated[Float, Field(gt=0)]
    leverage: Annotated[Float, Field(ge=1)]
    entry_price: Annotated[Float, Field(gt=0)] | None = None


class ExplicitPopulation(ScenarioModel):
    """Traders listed one by one: ``kind`` = "explicit", ``market`` (a market's name), ``positions`` (a
    non-empty list of :class:`PositionScenario`)."""

    kind: Literal["explicit"]
    market: Name
    positions: Annotated[list[PositionScenario], Field(min_length=1)]


class GeneratedPopulation(ScenarioModel):
    """Traders drawn at random (deterministic from the scenario's ``seed``).

    - ``kind`` = "generated"; ``market``: a market's name; ``count`` > 0 traders.
    - ``long_share`` = 0.5: probability that a trader is long, 0..1.
    - ``leverage``: :class:`Range` with ``min`` >= 1. A draw above the max leverage of the drawn size's tier
      is capped at that maximum (and every leverage is rounded down to 0.01).
    - ``size_usd``: :class:`Range` [USD]; ``max`` at most the top tier's ``max_notional``; rounded to cents.
    - ``entry_spread_bps`` [bps] = 0: entries uniform within +/- this around the t = 0 oracle price; < 10,000.
    """

    kind: Literal["generated"]
    market: Name
    count: Annotated[Int, Field(gt=0)]
    long_share: Fraction = 0.5
    leverage: Range
    size_usd: Range
    entry_spread_bps: Annotated[Int, Field(ge=0, lt=BPS)] = 0

    @model_validator(mode="after")
    def _leverage_at_least_one(self) -> GeneratedPopulation:
        if self.leverage.min < 1:
            raise field_problem(("leverage", "min"), f"a leverage >= 1 (got {self.leverage.min:g})")
        return self


PopulationSpec = Annotated[ExplicitPopulation | GeneratedPopulation, Field(discriminator="kind")]
"""One item of a scenario's ``population``: explicit or generated, told apart by ``kind``."""


@dataclass(frozen=True)
class TraderPosition:
    """One trader's opening position, as the replay engine opens it at t = 0.

    ``size_usd`` [USD] is the notional at ``entry_price`` [USD per base unit]; margin = size_usd / leverage.
    """

    market: str
    side: str  # "long" or "short"
    size_usd: float
    leverage: float
    entry_price: float


def draw_traders(
    seed: int,
    population: Sequence[ExplicitPopulation | GeneratedPopulation],
    market: Callable[[str], MarketScenario],
    start_price: Callable[[str], float],
) -> list[TraderPosition]:
    """Every trader's position, population by population in order. Generated populations draw from one
    ``random.Random(seed)`` in that order: per trader side, leverage, size, entry. `market` and `start_price`
    look a market and its t = 0 oracle price [USD] up by name."""
    rng = random.Random(seed)
    out: list[TraderPosition] = []
    for pop in population:
        m = market(pop.market)
        p0 = start_price(pop.market)
        if isinstance(pop, ExplicitPopulation):
            for pos in pop.positions:
                out.append(TraderPosition(pop.market, pos.side, pos.size_usd, pos.leverage, pos.entry_price or p0))
            continue
        for _ in range(pop.count):
            side = "long" if rng.random() < pop.long_share else "short"
            leverage = pop.leverage.draw(rng)
            size = min(max(round(pop.size_usd.draw(rng), 2), pop.size_usd.min), pop.size_usd.max)
            spread = rng.uniform(-pop.entry_spread_bps, pop.entry_spread_bps) / BPS
            tier = m.tier_for(size)
            assert tier is not None  # size_usd.max <= top tier, checked on load
            leverage = max(1.0, math.floor(min(leverage, tier.max_leverage()) * 100) / 100)
            entry = float(f"{p0 * (1 + spread):.10g}")
            out.append(TraderPosition(pop.market, side, size, leverage, entry))
    return out
