"""A scenario's traders: explicit positions or a population drawn at random, the positions they open, and when
they open and close them during the replay.

Sizes in USD of notional at the entry price, prices in USD per base unit, rates in [bps] or fractions 0..1,
times in scenario [seconds]. :func:`draw_traders` is the one place traders are drawn: same seed, same traders.
A population's opening times and exits draw from random streams of their own, so adding them to a population
leaves its traders (side, leverage, size, entry) as they were.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field, model_validator

from backstop.scenario.errors import field_problem
from backstop.scenario.fields import Float, Fraction, Int, Name, ScenarioModel, Seconds
from backstop.scenario.market import MarketScenario
from backstop.units import BPS

__all__ = [
    "Exits",
    "ExplicitPopulation",
    "GeneratedPopulation",
    "OpenWindow",
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

    @model_validator(mode="before")
    @classmethod
    def _single_value(cls, data: object) -> object:
        """A plain number x is the range {min: x, max: x}: every draw is x."""
        if isinstance(data, (int, float)) and not isinstance(data, bool):
            return {"min": data, "max": data}
        return data

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
    - ``opens_at`` [seconds], default None = before the replay starts (at set-up, at ``entry_price``). A time
      in the scenario opens the position at that second during the replay, at the oracle mark then (so it
      excludes ``entry_price``); at most the scenario's ``duration``.
    """

    side: Literal["long", "short"]
    size_usd: Annotated[Float, Field(gt=0)]
    leverage: Annotated[Float, Field(ge=1)]
    entry_price: Annotated[Float, Field(gt=0)] | None = None
    opens_at: Seconds | None = None

    @model_validator(mode="after")
    def _one_entry(self) -> PositionScenario:
        if self.opens_at is not None and self.entry_price is not None:
            raise field_problem(("entry_price",), "no entry_price with opens_at (a position opened during the replay trades at the oracle mark)")
        return self


class OpenWindow(ScenarioModel):
    """When a generated population's traders open during the replay: each at a second drawn uniformly in
    ``start`` <= t <= ``end`` [seconds], at the oracle mark of that second (``entry_spread_bps`` does not
    apply). ``end`` is at most the scenario's ``duration``."""

    start: Seconds
    end: Seconds

    @model_validator(mode="after")
    def _ordered(self) -> OpenWindow:
        if self.end < self.start:
            raise field_problem(("end",), f"end >= start ({self.end} < {self.start})")
        return self


class Exits(ScenarioModel):
    """When a population's traders close during the replay, each by a market order to its market maker at the
    oracle mark (through the venue's book where the market has ``liquidity``). Each trader's levels are drawn
    once; it closes at the first second a level holds, once.

    - ``stop_loss_bps`` [bps]: a panic close when the mark has moved this far against the position's entry
      price: a :class:`Range` (or one number), > 0 and < 10,000.
    - ``take_profit_bps`` [bps]: profit taking when the mark has moved this far in the position's favour: a
      :class:`Range` (or one number), > 0.
    - ``fraction`` = 1: the share of the position closed, 0 < fraction <= 1.

    A trader whose position is in liquidation, or whose equity at the mark is not positive (a stop set beyond
    its liquidation price), does not close: that position is the liquidators'. At least one level is given.
    """

    stop_loss_bps: Range | None = None
    take_profit_bps: Range | None = None
    fraction: Annotated[Float, Field(gt=0, le=1)] = 1.0

    @model_validator(mode="after")
    def _some_level(self) -> Exits:
        if self.stop_loss_bps is None and self.take_profit_bps is None:
            raise field_problem(("stop_loss_bps",), "stop_loss_bps or take_profit_bps (an exit with neither never closes)")
        if self.stop_loss_bps is not None and self.stop_loss_bps.max >= BPS:
            raise field_problem(("stop_loss_bps", "max"), f"a stop below 10,000 bps (got {self.stop_loss_bps.max:g})")
        return self

    def draw(self, rng: random.Random) -> tuple[int | None, int | None]:
        """(stop loss, take profit) [bps] of one trader: one draw of `rng` per level given, stop first."""
        stop = max(1, round(self.stop_loss_bps.draw(rng))) if self.stop_loss_bps else None
        take = max(1, round(self.take_profit_bps.draw(rng))) if self.take_profit_bps else None
        return stop, take


class ExplicitPopulation(ScenarioModel):
    """Traders listed one by one: ``kind`` = "explicit", ``market`` (a market's name), ``positions`` (a
    non-empty list of :class:`PositionScenario`), ``exits`` (:class:`Exits`, default None: nobody closes)."""

    kind: Literal["explicit"]
    market: Name
    positions: Annotated[list[PositionScenario], Field(min_length=1)]
    exits: Exits | None = None


class GeneratedPopulation(ScenarioModel):
    """Traders drawn at random (deterministic from the scenario's ``seed``).

    - ``kind`` = "generated"; ``market``: a market's name; ``count`` > 0 traders.
    - ``long_share`` = 0.5: probability that a trader is long, 0..1.
    - ``leverage``: :class:`Range` with ``min`` >= 1. A draw above the max leverage of the drawn size's tier
      is capped at that maximum (and every leverage is rounded down to 0.01).
    - ``size_usd``: :class:`Range` [USD]; ``max`` at most the top tier's ``max_notional``; rounded to cents.
    - ``entry_spread_bps`` [bps] = 0: entries uniform within +/- this around the t = 0 oracle price; < 10,000.
    - ``opens`` (:class:`OpenWindow`), default None: everyone opens before the replay starts. With a window the
      population's open interest arrives during the replay (open interest that doubles in a day).
    - ``exits`` (:class:`Exits`), default None: nobody closes (panic closes, profit taking).
    """

    kind: Literal["generated"]
    market: Name
    count: Annotated[Int, Field(gt=0)]
    long_share: Fraction = 0.5
    leverage: Range
    size_usd: Range
    entry_spread_bps: Annotated[Int, Field(ge=0, lt=BPS)] = 0
    opens: OpenWindow | None = None
    exits: Exits | None = None

    @model_validator(mode="after")
    def _leverage_at_least_one(self) -> GeneratedPopulation:
        if self.leverage.min < 1:
            raise field_problem(("leverage", "min"), f"a leverage >= 1 (got {self.leverage.min:g})")
        return self


PopulationSpec = Annotated[ExplicitPopulation | GeneratedPopulation, Field(discriminator="kind")]
"""One item of a scenario's ``population``: explicit or generated, told apart by ``kind``."""


@dataclass(frozen=True)
class TraderPosition:
    """One trader's opening position and its exits, as the replay engine opens and closes it.

    ``size_usd`` [USD] is the notional at ``entry_price`` [USD per base unit]; margin = size_usd / leverage.
    ``opens_at`` [seconds]: None = at set-up at ``entry_price``; else at that second at the oracle mark
    (``entry_price`` is then the t = 0 oracle price, a placeholder). ``stop_loss_bps`` / ``take_profit_bps``
    [bps]: its exit levels (None: none); ``close_fraction``: the share an exit closes.
    """

    market: str
    side: str  # "long" or "short"
    size_usd: float
    leverage: float
    entry_price: float
    opens_at: int | None = None
    stop_loss_bps: int | None = None
    take_profit_bps: int | None = None
    close_fraction: float = 1.0

    @property
    def trades_in_replay(self) -> bool:
        """Whether the replay opens or closes this position (an open time or an exit level)."""
        return self.opens_at is not None or self.stop_loss_bps is not None or self.take_profit_bps is not None


def draw_traders(
    seed: int,
    population: Sequence[ExplicitPopulation | GeneratedPopulation],
    market: Callable[[str], MarketScenario],
    start_price: Callable[[str], float],
) -> list[TraderPosition]:
    """Every trader's position, population by population in order. Generated populations draw from one
    ``random.Random(seed)`` in that order: per trader side, leverage, size, entry. Population i's opening times
    draw from ``random.Random(f"{seed}:opens:{i}")`` and its exits from ``random.Random(f"{seed}:exits:{i}")``,
    trader by trader. `market` and `start_price` look a market and its t = 0 oracle price [USD] up by name."""
    rng = random.Random(seed)
    out: list[TraderPosition] = []
    for index, pop in enumerate(population):
        first = len(out)
        _draw_population(pop, rng, market(pop.market), start_price(pop.market), out)
        opens_rng, exits_rng = random.Random(f"{seed}:opens:{index}"), random.Random(f"{seed}:exits:{index}")
        for j in range(first, len(out)):
            update: dict[str, object] = {}
            if isinstance(pop, GeneratedPopulation) and pop.opens is not None:
                update["opens_at"] = round(opens_rng.uniform(pop.opens.start, pop.opens.end))
            if pop.exits is not None:
                update["stop_loss_bps"], update["take_profit_bps"] = pop.exits.draw(exits_rng)
                update["close_fraction"] = pop.exits.fraction
            if update:
                out[j] = dataclasses.replace(out[j], **update)  # type: ignore[arg-type]
    return out


def _draw_population(
    pop: ExplicitPopulation | GeneratedPopulation, rng: random.Random, m: MarketScenario, p0: float, out: list[TraderPosition]
) -> None:
    """Appends the traders of one population to `out`; a generated one draws from `rng`."""
    if isinstance(pop, ExplicitPopulation):
        for pos in pop.positions:
            out.append(TraderPosition(pop.market, pos.side, pos.size_usd, pos.leverage, pos.entry_price or p0, pos.opens_at))
        return
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
