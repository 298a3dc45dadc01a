"""A scenario's keepers: who starts, takes and restarts auctions, with what capital, latency and outages.

Times in [seconds] from t = 0, capital in USD, rates in [bps] or fractions 0..1.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from backstop.scenario.errors import FieldProblem, field_problem
from backstop.scenario.fields import Float, Fraction, Int, Name, ScenarioModel, Seconds
from backstop.units import BPS

__all__ = ["ROLES", "CapitalStep", "KeeperScenario", "Outage", "StandingBid", "Unwind"]


ROLES = ("liquidate", "take", "restart", "adl", "release", "unwind")
Role = Literal["liquidate", "take", "restart", "adl", "release", "unwind"]


class Outage(ScenarioModel):
    """A window when a keeper is offline: ``start`` <= t < ``end`` [seconds], start < end.

    ``roles`` = None: every role. Otherwise only those roles are down (a liquidator bot down while the taker is
    up): ``liquidate`` (starting auctions), ``take``, ``restart`` (stale auctions), ``adl`` (executions),
    ``release`` (queued liquidations, ADL bonds) and ``unwind`` (a standing bidder selling what it holds)."""

    start: Seconds
    end: Seconds
    roles: Annotated[list[Role], Field(min_length=1)] | None = None

    def stops(self, t: float, role: str | None = None) -> bool:
        """Whether this outage holds `role` (None: the keeper as a whole) down at `t` [seconds]."""
        return self.start <= t < self.end and (self.roles is None or (role is not None and role in self.roles))

    @model_validator(mode="after")
    def _ordered(self) -> Outage:
        if self.end <= self.start:
            raise field_problem(("end",), f"end > start ({self.end} <= {self.start})")
        return self


class Unwind(ScenarioModel):
    """How a standing bidder sells what its bids absorbed: every ``every`` [seconds] (> 0, default 60) up to
    ``notional_usd`` [USD] > 0 at the oracle mark, against a market maker and, in a market with ``liquidity``,
    through the deepest venue's book (paying its slippage, moving its price, cut to the price band)."""

    notional_usd: Annotated[Float, Field(gt=0)]
    every: Annotated[Seconds, Field(gt=0)] = 60


class StandingBid(ScenarioModel):
    """A pre-funded bid a keeper keeps on the book: fills any auction of the market at ``discount_bps`` [bps]
    below the oracle (in the keeper's favour), up to ``max_notional_usd`` [USD] > 0 in total. ``unwind``
    (:class:`Unwind`) = None: the bidder holds what it absorbs to the end; else it sells it at that pace."""

    discount_bps: Annotated[Int, Field(ge=0, lt=BPS)]
    max_notional_usd: Annotated[Float, Field(gt=0)]
    unwind: Unwind | None = None


class CapitalStep(ScenarioModel):
    """From time ``t`` [seconds] on, ``fraction`` (0..1) of the keeper's capital is still committed.

    ``lost`` = false: what is no longer committed goes back to the keeper's wallet (withdrawn). True: it is lost
    (a failed venue, a hack): withdrawn from the clearinghouse and gone from the keeper's books."""

    t: Seconds
    fraction: Fraction
    lost: bool = False


class KeeperScenario(ScenarioModel):
    """A keeper (or ``count`` identical keepers) that starts, takes and restarts auctions.

    - ``name``: unique; expanded keepers are ``name-1``, ``name-2``, ... (see Scenario.keepers_expanded).
    - ``count`` = 1 (> 0): how many identical keepers.
    - ``capital`` [USD] > 0, each: what the keeper can put into takes; zero or negative is an error.
    - ``latency`` [seconds] = 0: delay between seeing a chance and acting on it.
    - ``failure_rate`` = 0 (0..1): probability that one of its transactions fails (congestion, bugs).
    - ``outages`` = []: :class:`Outage` windows when it is offline.
    - ``take_discount_bps`` [bps] = 0: takes only when the auction price is at least this much better for the
      keeper than the oracle price.
    - ``standing_bid`` = None: a :class:`StandingBid`, or none.
    - ``capital_schedule`` = []: :class:`CapitalStep` entries, strictly increasing ``t``; the share of
      capital still committed from each ``t`` on (liquidity withdrawal). Before the first entry: all of it.
    - ``batch`` = false: the liquidations it starts at one second in one market go in one
      ``LiquidationAuction.liquidateMany`` transaction instead of one ``liquidate`` each.
    """

    name: Name
    count: Annotated[Int, Field(gt=0)] = 1
    capital: Float
    latency: Seconds = 0
    failure_rate: Fraction = 0
    outages: list[Outage] = Field(default_factory=list)
    take_discount_bps: Annotated[Int, Field(ge=0, lt=BPS)] = 0
    standing_bid: StandingBid | None = None
    capital_schedule: list[CapitalStep] = Field(default_factory=list)
    batch: bool = False

    @field_validator("capital")
    @classmethod
    def _has_capital(cls, capital: float) -> float:
        if capital <= 0:
            raise field_problem((), f"capital > 0 [USD per keeper]: a keeper without capital cannot take (got {capital:g})")
        return capital

    @model_validator(mode="after")
    def _schedule_sorted(self) -> KeeperScenario:
        steps = self.capital_schedule
        problems = [
            (("capital_schedule", i, "t"), f"times strictly increasing (t = {steps[i].t} after t = {steps[i - 1].t})")
            for i in range(1, len(steps))
            if steps[i].t <= steps[i - 1].t
        ]
        if problems:
            raise FieldProblem(problems)
        return self

    def online(self, t: float, role: str | None = None) -> bool:
        """False while `t` [seconds] is inside an outage of the whole keeper or, with `role`, of that role."""
        return not any(o.stops(t, role) for o in self.outages)

    def capital_at(self, t: float) -> float:
        """Capital [USD] still committed at `t` [seconds]: ``capital`` x the latest schedule fraction."""
        fraction = 1.0
        for s in self.capital_schedule:
            if s.t <= t:
                fraction = s.fraction
        return self.capital * fraction
