"""Crash scenario files: the YAML format that describes a crash to replay, its validation, and helpers.

A scenario says what the market did (one price path per venue), how the protocol is configured (oracle,
leverage tiers, auction, fund seeds), who trades (a trader population) and who liquidates (keepers). The
replay engine reads it through :func:`load_scenario` and the methods of :class:`Scenario`; it never reads the
YAML itself. The format, every field, its unit and its default are described in ``docs/scenarios.md``.

Units: times are whole [seconds] from t = 0 (the scenario's ``start``), prices are USD per base unit (floats),
money is USD (floats; :meth:`Scenario.market_specs` converts to [usdc] integers), rates are [bps]
(10,000 = 100%) or fractions in 0..1 where the field name says so.

Every problem in a file raises :class:`ScenarioError` naming the file, the field path
(``markets[0].venues.venue-a[3].t``) and what was expected there.
"""

from __future__ import annotations

import bisect
import copy
import csv
import hashlib
import math
import random
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from backstop.chain.deploy import DEFAULT_TIERS, AuctionSpec, MarketSpec, OracleSpec
from backstop.errors import BackstopError
from backstop.model.ledger import Tier
from backstop.units import BPS, from_usdc, to_usdc

__all__ = [
    "AuctionScenario",
    "CapitalStep",
    "ExplicitPopulation",
    "FundScenario",
    "GeneratedPopulation",
    "KeeperScenario",
    "MarketScenario",
    "OracleScenario",
    "Outage",
    "PopulationSpec",
    "PositionScenario",
    "PricePoint",
    "Range",
    "Scenario",
    "ScenarioError",
    "StandingBid",
    "TierScenario",
    "TraderPosition",
    "load_scenario",
    "parse_overrides",
]

MAX_SOURCES = 16  # PriceOracle.MAX_SOURCES: most venues per market
MAX_SOURCE_DECIMALS = 36  # PriceOracle.MAX_SOURCE_DECIMALS
MAX_TIERS = 8  # Clearinghouse.MAX_TIERS
UINT16_MAX = 2**16 - 1
UINT32_MAX = 2**32 - 1


# --------------------------------------------------------------------------- errors


class ScenarioError(BackstopError, ValueError):
    """A scenario file (or an override of it) is not valid.

    ``file`` is the file as given to :func:`load_scenario`; ``problems`` is a list of ``(field path, what was
    expected)`` pairs; the message has one line ``<file>: <field path>: <expected>`` per problem.
    """

    def __init__(self, file: str, problems: list[tuple[str, str]]):
        self.file = file
        self.problems = problems
        super().__init__("\n".join(f"{file}: {path}: {expected}" for path, expected in problems))


class _FieldProblem(ValueError):
    """Raised inside validators: problems at paths relative to the model being validated."""

    def __init__(self, problems: list[tuple[tuple[str | int, ...], str]]):
        self.problems = problems
        super().__init__("; ".join(msg for _, msg in problems))


def _problem(loc: tuple[str | int, ...], expected: str) -> _FieldProblem:
    return _FieldProblem([(loc, expected)])


def _format_path(parts: Iterable[str | int]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "<top level>"


# union tags pydantic puts into error locations; they are not part of the file's field path
_UNION_TAGS = {"explicit", "generated", "points", "csv"}


def _file_path(loc: tuple[Any, ...], data: Any) -> list[str | int]:
    """The location of a pydantic error as a path through the input, dropping union tags."""
    parts: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, Mapping) and part in node:
            parts.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            parts.append(part)
            node = node[part]
        elif part in _UNION_TAGS:
            continue
        elif part == "[key]":
            parts[-1] = f"{parts[-1]} (the key)" if parts else "(a key)"
            node = None
        else:
            parts.append(part)
            node = None
    return parts


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _expected(err: Mapping[str, Any]) -> str:
    """What pydantic's error says was expected, in the scenario format's words."""
    kind, ctx = err["type"], err.get("ctx") or {}
    got = f" (got {_short(err['input'])})" if "input" in err else ""
    if kind == "missing":
        return "a value: this field is required"
    if kind == "greater_than":
        return f"a value > {ctx['gt']}{got}"
    if kind == "greater_than_equal":
        return f"a value >= {ctx['ge']}{got}"
    if kind == "less_than":
        return f"a value < {ctx['lt']}{got}"
    if kind == "less_than_equal":
        return f"a value <= {ctx['le']}{got}"
    if kind in ("int_from_float", "int_parsing", "int_type"):
        return f"a whole number{got}"
    if kind in ("float_parsing", "float_type"):
        return f"a number{got}"
    if kind == "finite_number":
        return f"a finite number{got}"
    if kind in ("list_type",):
        return f"a list{got}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"a mapping of fields{got}"
    if kind == "string_type":
        return f"a string{got}"
    if kind == "literal_error":
        return f"one of {ctx['expected']}{got}"
    if kind == "too_short":
        return f"at least {ctx['min_length']} item(s){got}"
    if kind == "too_long":
        return f"at most {ctx['max_length']} item(s)"
    if kind == "union_tag_invalid":
        return f"'kind' to be one of {ctx['expected_tags']} (got {ctx.get('tag')!r})"
    if kind == "union_tag_not_found":
        return "a 'kind' field: 'explicit' or 'generated'"
    msg = err["msg"]
    for prefix in ("Value error, ", "Input should be "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    return msg + got


def _problems_of(exc: ValidationError, data: Any) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for err in exc.errors():
        base = _file_path(err["loc"], data)
        inner = (err.get("ctx") or {}).get("error")
        if isinstance(inner, _FieldProblem):
            for loc, expected in inner.problems:
                problems.append((_format_path([*base, *loc]), expected))
        else:
            problems.append((_format_path(base), _expected(err)))
    return problems


# --------------------------------------------------------------------------- field types


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a number, not true/false")
    return value


Int = Annotated[int, BeforeValidator(_not_bool)]
Float = Annotated[float, BeforeValidator(_not_bool)]
Seconds = Annotated[int, BeforeValidator(_not_bool), Field(ge=0, le=UINT32_MAX)]
Bps = Annotated[int, BeforeValidator(_not_bool), Field(ge=0, le=BPS)]
Fraction = Annotated[float, BeforeValidator(_not_bool), Field(ge=0, le=1)]
Usd = Annotated[float, BeforeValidator(_not_bool), Field(ge=0)]
Name = Annotated[str, Field(min_length=1)]


class _Model(BaseModel):
    """Base of every scenario model: unknown fields are errors that list the known ones."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _known_fields(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            known = list(cls.model_fields)
            unknown = [k for k in data if k not in cls.model_fields]
            if unknown:
                raise _FieldProblem(
                    [((k,), f"a known field; '{k}' is unknown here (known: {', '.join(known)})") for k in unknown]
                )
        return data


# --------------------------------------------------------------------------- prices


class PricePoint(_Model):
    """One published or interpolated price of one venue.

    - ``t`` [seconds] since the scenario's start, >= 0; a venue's points are strictly increasing in ``t`` and
      the first is at 0.
    - ``price`` [USD per base unit], finite and > 0.
    """

    t: Seconds
    price: Annotated[Float, Field(gt=0)]


def _venue_kind(value: Any) -> str | None:
    if isinstance(value, list):
        return "points"
    if isinstance(value, str):
        return "csv"
    if isinstance(value, PricePoint):
        return "points"
    return None


VenuePath = Annotated[
    Union[Annotated[list[PricePoint], Tag("points")], Annotated[str, Tag("csv")]],
    Discriminator(
        _venue_kind,
        custom_error_type="venue_path",
        custom_error_message="a list of {t, price} points or the path of a CSV file with a 't,price' header",
    ),
]


def _check_points(points: list[PricePoint], min_price: float) -> list[tuple[int, str, str]]:
    """Problems of one venue's path as (point index, field, expected)."""
    problems: list[tuple[int, str, str]] = []
    if not points:
        return [(-1, "", "at least one price point, the first at t = 0")]
    if points[0].t != 0:
        problems.append((0, "t", f"the first point at t = 0 (got t = {points[0].t})"))
    for i in range(1, len(points)):
        if points[i].t <= points[i - 1].t:
            what = "duplicate" if points[i].t == points[i - 1].t else "unsorted"
            problems.append((i, "t", f"times strictly increasing; {what}: t = {points[i].t} after t = {points[i - 1].t}"))
    for i, p in enumerate(points):
        if p.price < min_price:
            problems.append((i, "price", f"a price >= {min_price:g} (one unit at source_decimals; got {p.price:g})"))
    return problems


def _read_csv(path: Path) -> tuple[list[PricePoint], list[int]]:
    """A venue path from a CSV file with a 't,price' header, and each point's line number; raises ValueError
    naming the line."""
    if not path.is_file():
        raise ValueError(f"an existing CSV file {path} (not found)")
    points: list[PricePoint] = []
    lines: list[int] = []
    with path.open(newline="") as f:
        rows = csv.reader(f)
        header = next(rows, None)
        if header is None or [h.strip() for h in header] != ["t", "price"]:
            raise ValueError(f"the CSV file {path} to start with the header 't,price' (got {header})")
        for row in rows:
            line = rows.line_num
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != 2:
                raise ValueError(f"2 columns t,price in CSV file {path} line {line} (got {row})")
            try:
                points.append(PricePoint(t=int(row[0].strip()), price=float(row[1].strip())))
                lines.append(line)
            except (ValueError, ValidationError) as exc:
                raise ValueError(
                    f"whole seconds >= 0 and a finite price > 0 in CSV file {path} line {line} (got {row})"
                ) from exc
    if not points:
        raise ValueError(f"at least one row in CSV file {path}")
    return points, lines


# --------------------------------------------------------------------------- market


class OracleScenario(_Model):
    """How PriceOracle reads the market (PriceOracle.setMarketConfig); defaults as backstop.chain.deploy.OracleSpec.

    - ``max_age`` [seconds] = 3600: oldest usable venue answer, > 0.
    - ``max_deviation_bps`` [bps] = 1000: farthest a venue may sit from the first median and still count.
    - ``min_sources`` = 1: fewest venues the median needs, 1..16 and at most the number of venues.
    - ``max_jump_bps`` [bps] = 0: largest move from the last accepted price within ``jump_window``; 0 = off.
    - ``jump_window`` [seconds] = 0.
    """

    max_age: Annotated[Seconds, Field(gt=0)] = 3_600
    max_deviation_bps: Annotated[Int, Field(ge=0, le=UINT16_MAX)] = 1_000
    min_sources: Annotated[Int, Field(ge=1, le=MAX_SOURCES)] = 1
    max_jump_bps: Annotated[Int, Field(ge=0, le=UINT16_MAX)] = 0
    jump_window: Seconds = 0


class TierScenario(_Model):
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
            raise _problem(
                ("initial_margin_bps",),
                f"initial_margin_bps > maintenance_margin_bps ({self.initial_margin_bps} <= {self.maintenance_margin_bps})",
            )
        return self

    def max_leverage(self) -> float:
        return BPS / self.initial_margin_bps


def _default_tiers() -> list[TierScenario]:
    return [
        TierScenario(
            max_notional=float(from_usdc(t.max_notional)),
            initial_margin_bps=t.initial_margin_bps,
            maintenance_margin_bps=t.maintenance_margin_bps,
            tail_risk_fee_bps=t.tail_risk_fee_bps,
        )
        for t in DEFAULT_TIERS
    ]


class AuctionScenario(_Model):
    """How the market's liquidations are auctioned (LiquidationAuction.file and the curve contracts).

    Defaults as backstop.chain.deploy.AuctionSpec:
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
    - ``drop_bps`` [bps] = 0: a fall this large within ``drop_window`` starts a buffer period (0: never).
    - ``drop_window`` [seconds] = 900; ``buffer_base`` [seconds] = 300: buffer length for a fall of exactly
      ``drop_bps`` (proportionally longer for faster falls); ``buffer_max`` [seconds] = 3600.
    """

    curve: Literal["linear", "stairstep"] = "linear"
    tau: Annotated[Seconds, Field(gt=0)] = 1_800
    cut: Annotated[Float, Field(gt=0, le=1)] = 0.99
    step: Annotated[Seconds, Field(gt=0)] = 60
    penalty_bps: Bps = 100
    buf_bps: Bps = 200
    stale_bps: Bps = 2_000
    tail: Seconds = 1_800
    chip_bps: Bps = 5
    tip: Usd = 5
    tip_cap: Usd = 500
    dust: Usd = 10
    risk_window: Seconds = 3_600
    hole: Usd = 0
    drop_bps: Bps = 0
    drop_window: Seconds = 900
    buffer_base: Seconds = 300
    buffer_max: Seconds = 3_600


class MarketScenario(_Model):
    """One market: its venues' price paths and the protocol's configuration of it.

    - ``name``: 1-32 ASCII characters, unique, e.g. "OM-USD" (the bytes32 market id).
    - ``venues``: venue name -> price path, at least one and at most 16 venues. A path is either a list of
      :class:`PricePoint` (strictly increasing ``t``, first at 0) or the path of a CSV file with a ``t,price``
      header, relative to the YAML file. Between points the price is linear; after the last, it holds.
    - ``source_decimals`` = 8: decimals of the mock price sources (0..36); every price must be at least one
      unit at this precision (1e-8 by default).
    - ``oracle``: :class:`OracleScenario` (defaults as OracleSpec).
    - ``tiers``: list of :class:`TierScenario`; defaults to backstop.chain.deploy.DEFAULT_TIERS (converted to USD).
    - ``price_band_bps`` [bps] = 500: trades must be this close to the oracle mark; 1..5000.
    - ``auction``: :class:`AuctionScenario` (defaults as AuctionSpec).
    - ``fund_seed`` [USD] = 0: seeded into the market's sub-pool of the insurance fund.
    """

    name: Name
    venues: Annotated[dict[Name, VenuePath], Field(min_length=1, max_length=MAX_SOURCES)]
    source_decimals: Annotated[Int, Field(ge=0, le=MAX_SOURCE_DECIMALS)] = 8
    oracle: OracleScenario = Field(default_factory=OracleScenario)
    tiers: Annotated[list[TierScenario], Field(min_length=1, max_length=MAX_TIERS)] = Field(default_factory=_default_tiers)
    price_band_bps: Annotated[Int, Field(ge=1, le=BPS // 2)] = 500
    auction: AuctionScenario = Field(default_factory=AuctionScenario)
    fund_seed: Usd = 0

    _points: dict[str, list[PricePoint]] = PrivateAttr(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _ascii_name(cls, name: str) -> str:
        if not name.isascii() or len(name) > 32:
            raise _problem((), f"1-32 ASCII characters, the bytes32 market id (got {name!r})")
        return name

    @model_validator(mode="after")
    def _paths(self, info: ValidationInfo) -> MarketScenario:
        base = Path((info.context or {}).get("base_dir", "."))
        min_price = 10.0**-self.source_decimals
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for venue, path in self.venues.items():
            if isinstance(path, str):
                try:
                    points, lines = _read_csv(base / path)
                except ValueError as exc:
                    problems.append((("venues", venue), str(exc)))
                    continue
                for i, _field, expected in _check_points(points, min_price):
                    problems.append((("venues", venue), f"{expected} (CSV file {base / path} line {lines[i]})"))
            else:
                points = path
                for i, fld, expected in _check_points(points, min_price):
                    problems.append((("venues", venue) + ((i, fld) if i >= 0 else ()), expected))
            self._points[venue] = points
        if self.oracle.min_sources > len(self.venues):
            problems.append(
                (("oracle", "min_sources"), f"at most the number of venues ({len(self.venues)}), got {self.oracle.min_sources}")
            )
        for i in range(1, len(self.tiers)):
            prev, t = self.tiers[i - 1], self.tiers[i]
            if t.max_notional <= prev.max_notional:
                problems.append((("tiers", i, "max_notional"), f"brackets with strictly increasing max_notional ({t.max_notional:g} after {prev.max_notional:g})"))
            if t.initial_margin_bps < prev.initial_margin_bps or t.maintenance_margin_bps < prev.maintenance_margin_bps:
                problems.append((("tiers", i), "margins that do not decrease from one bracket to the next"))
        if problems:
            raise _FieldProblem(problems)
        return self

    def tier_for(self, notional_usd: float) -> TierScenario | None:
        """The bracket of a position of `notional_usd` [USD], None above the top bracket."""
        for t in self.tiers:
            if notional_usd <= t.max_notional:
                return t
        return None

    def price(self, venue: str, t: float) -> float:
        """The venue's price at `t` [seconds]: linear between points, the last price after the last point."""
        if venue not in self._points:
            raise KeyError(f"market {self.name} has no venue {venue!r} (venues: {', '.join(self.venues)})")
        if t < 0:
            raise ValueError(f"t must be >= 0 seconds, got {t}")
        points = self._points[venue]
        times = [p.t for p in points]
        i = bisect.bisect_right(times, t) - 1
        if i >= len(points) - 1:
            return points[-1].price
        a, b = points[i], points[i + 1]
        return a.price + (b.price - a.price) * (t - a.t) / (b.t - a.t)


# --------------------------------------------------------------------------- traders


class Range(_Model):
    """A range to draw from: ``min`` <= ``max`` (both > 0), ``distribution`` "uniform" (default) or
    "loguniform" (uniform in log space: as many 1-2x as 10-20x)."""

    min: Annotated[Float, Field(gt=0)]
    max: Annotated[Float, Field(gt=0)]
    distribution: Literal["uniform", "loguniform"] = "uniform"

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.max < self.min:
            raise _problem(("max",), f"max >= min ({self.max:g} < {self.min:g})")
        return self

    def draw(self, rng: random.Random) -> float:
        if self.distribution == "loguniform":
            return math.exp(rng.uniform(math.log(self.min), math.log(self.max)))
        return rng.uniform(self.min, self.max)


class PositionScenario(_Model):
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


class ExplicitPopulation(_Model):
    """Traders listed one by one: ``kind`` = "explicit", ``market`` (a market's name), ``positions`` (a
    non-empty list of :class:`PositionScenario`)."""

    kind: Literal["explicit"]
    market: Name
    positions: Annotated[list[PositionScenario], Field(min_length=1)]


class GeneratedPopulation(_Model):
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
            raise _problem(("leverage", "min"), f"a leverage >= 1 (got {self.leverage.min:g})")
        return self


PopulationSpec = Annotated[Union[ExplicitPopulation, GeneratedPopulation], Field(discriminator="kind")]


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


# --------------------------------------------------------------------------- keepers


class Outage(_Model):
    """A window when a keeper is offline: ``start`` <= t < ``end`` [seconds], start < end."""

    start: Seconds
    end: Seconds

    @model_validator(mode="after")
    def _ordered(self) -> Outage:
        if self.end <= self.start:
            raise _problem(("end",), f"end > start ({self.end} <= {self.start})")
        return self


class StandingBid(_Model):
    """A pre-funded bid a keeper keeps on the book: fills any auction of the market at ``discount_bps`` [bps]
    below the oracle (in the keeper's favour), up to ``max_notional_usd`` [USD] > 0 in total."""

    discount_bps: Annotated[Int, Field(ge=0, lt=BPS)]
    max_notional_usd: Annotated[Float, Field(gt=0)]


class CapitalStep(_Model):
    """From time ``t`` [seconds] on, ``fraction`` (0..1) of the keeper's capital is still committed."""

    t: Seconds
    fraction: Fraction


class KeeperScenario(_Model):
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

    @field_validator("capital")
    @classmethod
    def _has_capital(cls, capital: float) -> float:
        if capital <= 0:
            raise _problem((), f"capital > 0 [USD per keeper]: a keeper without capital cannot take (got {capital:g})")
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
            raise _FieldProblem(problems)
        return self

    def online(self, t: float) -> bool:
        """False while `t` [seconds] is inside one of the outages."""
        return not any(o.start <= t < o.end for o in self.outages)

    def capital_at(self, t: float) -> float:
        """Capital [USD] still committed at `t` [seconds]: ``capital`` x the latest schedule fraction."""
        fraction = 1.0
        for s in self.capital_schedule:
            if s.t <= t:
                fraction = s.fraction
        return self.capital * fraction


# --------------------------------------------------------------------------- scenario


class FundScenario(_Model):
    """The insurance fund: ``global_seed`` [USD] = 0, seeded into the global pool (markets' sub-pools are
    seeded by each market's ``fund_seed``); the fund-risk thresholds that allow ADL: ``drawdown_bps`` = 3000
    (a sub-pool this far below its 8-hour peak), ``fast_drop_bps`` = 5000 (this far below its balance 8 hours
    ago), ``global_floor`` [USD] = 0 (the global pool at or below it)."""

    global_seed: Usd = 0
    drawdown_bps: Annotated[Int, Field(ge=0, le=BPS)] = 3_000
    fast_drop_bps: Annotated[Int, Field(ge=0, le=BPS)] = 5_000
    global_floor: Usd = 0


class AdlScenario(_Model):
    """ADL rules: ``loss_cap_bps`` = 5000, the most of a counterparty's unrealised profit one ADL may take
    (1..10000); ``challenge_window`` [seconds] = 3600; ``min_bond`` [USD] = 100, the executor's bond on top of
    the profit it took."""

    loss_cap_bps: Annotated[Int, Field(gt=0, le=BPS)] = 5_000
    challenge_window: Annotated[Int, Field(ge=0, le=7 * 24 * 3_600)] = 3_600
    min_bond: Usd = 100


class Scenario(_Model):
    """A crash to replay. Load one with :func:`load_scenario`.

    - ``name``, ``description``: free text.
    - ``sources``: citations of every published figure used (may be empty only for invented scenarios).
    - ``synthetic``: what is invented or interpolated (paths between points, venues, traders, keepers, funds).
    - ``seed`` = 0: seeds :meth:`traders` (``random.Random(seed)``).
    - ``start``: ISO 8601 time of t = 0, informational (e.g. "2025-04-13T16:00:00Z").
    - ``duration`` [seconds] > 0; ``step`` [seconds] > 0 and <= duration: the replay's time grid.
    - ``markets``: non-empty list of :class:`MarketScenario` with unique names.
    - ``fund``: :class:`FundScenario`.
    - ``adl``: :class:`AdlScenario`.
    - ``population``: list of :class:`ExplicitPopulation` / :class:`GeneratedPopulation`, each naming a market.
    - ``keepers``: list of :class:`KeeperScenario` with unique names.
    - ``variants`` = {}: name -> {dotted key: value} overrides (see :meth:`with_overrides`).
    """

    name: Name
    description: str
    sources: list[str]
    synthetic: list[str]
    seed: Int = 0
    start: str
    duration: Annotated[Int, Field(gt=0)]
    step: Annotated[Int, Field(gt=0)]
    markets: Annotated[list[MarketScenario], Field(min_length=1)]
    fund: FundScenario = Field(default_factory=FundScenario)
    adl: AdlScenario = Field(default_factory=AdlScenario)
    population: list[PopulationSpec]
    keepers: list[KeeperScenario]
    variants: dict[str, dict[str, Any]] = Field(default_factory=dict)

    _file: str = PrivateAttr(default="<scenario>")
    _base_dir: Path = PrivateAttr(default_factory=Path)
    _sha256: str | None = PrivateAttr(default=None)
    _overrides: dict[str, Any] = PrivateAttr(default_factory=dict)

    @field_validator("start", mode="before")
    @classmethod
    def _iso_start(cls, value: Any) -> Any:
        if isinstance(value, datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=timezone.utc)
            return value.isoformat().replace("+00:00", "Z")
        if isinstance(value, str):
            text = value.strip()
            try:
                datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
            except ValueError:
                raise _problem((), f"an ISO 8601 time such as 2025-04-13T16:00:00Z (got {value!r})") from None
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> Scenario:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        if self.step > self.duration:
            problems.append((("step",), f"step <= duration ({self.duration} s), got {self.step}"))
        names = [m.name for m in self.markets]
        for i, name in enumerate(names):
            if name in names[:i]:
                problems.append((("markets", i, "name"), f"a unique market name ({name!r} is listed twice)"))
        markets = {m.name: m for m in self.markets}
        for i, pop in enumerate(self.population):
            market = markets.get(pop.market)
            if market is None:
                problems.append((("population", i, "market"), f"one of the markets {names} (got {pop.market!r})"))
                continue
            top = market.tiers[-1].max_notional
            if isinstance(pop, GeneratedPopulation):
                if pop.size_usd.max > top:
                    problems.append((("population", i, "size_usd", "max"), f"at most the top tier's max_notional {top:g} USD (got {pop.size_usd.max:g})"))
                continue
            for j, pos in enumerate(pop.positions):
                tier = market.tier_for(pos.size_usd)
                if tier is None:
                    problems.append((("population", i, "positions", j, "size_usd"), f"at most the top tier's max_notional {top:g} USD (got {pos.size_usd:g})"))
                elif pos.leverage > tier.max_leverage():
                    problems.append((("population", i, "positions", j, "leverage"), f"at most {tier.max_leverage():g}x, the max leverage of the tier for {pos.size_usd:g} USD (got {pos.leverage:g})"))
        keepers = [k.name for k in self.keepers]
        for i, name in enumerate(keepers):
            if name in keepers[:i]:  # unique names give unique expanded names: the suffix is after the last "-"
                problems.append((("keepers", i, "name"), f"a unique keeper name ({name!r} is listed twice)"))
        if problems:
            raise _FieldProblem(problems)
        return self

    # ---------------------------------------------------------------- provenance

    @property
    def sha256(self) -> str | None:
        """SHA-256 (hex) of the scenario file's bytes, set by load_scenario; kept by with_overrides (see
        :attr:`overrides` for what was changed since)."""
        return self._sha256

    @property
    def file(self) -> str:
        """The file this scenario was loaded from, as given to load_scenario."""
        return self._file

    @property
    def overrides(self) -> dict[str, Any]:
        """Every override applied since loading, in order (dotted key -> value)."""
        return dict(self._overrides)

    # ---------------------------------------------------------------- time and prices

    def times(self) -> list[int]:
        """The replay grid [seconds]: 0, step, 2*step, ..., and duration (also when step does not divide it)."""
        grid = list(range(0, self.duration + 1, self.step))
        if grid[-1] != self.duration:
            grid.append(self.duration)
        return grid

    def market(self, name: str) -> MarketScenario:
        for m in self.markets:
            if m.name == name:
                return m
        raise KeyError(f"scenario {self.name!r} has no market {name!r} (markets: {', '.join(m.name for m in self.markets)})")

    def venue_price(self, market: str, venue: str, t: float) -> float:
        """Price [USD] of `venue` in `market` at `t` [seconds]: linear between points, after the last point
        the last price."""
        return self.market(market).price(venue, t)

    def oracle_start_price(self, market: str) -> float:
        """Median of the market's venue prices at t = 0 (an even count gives the mean of the middle two)."""
        m = self.market(market)
        return float(statistics.median(m.price(v, 0) for v in m.venues))

    # ---------------------------------------------------------------- for the engine

    def market_specs(self) -> list[MarketSpec]:
        """The markets as backstop.chain.deploy.MarketSpec: starting price = oracle_start_price, tiers in [usdc]."""
        specs = []
        for m in self.markets:
            specs.append(
                MarketSpec(
                    name=m.name,
                    price=self.oracle_start_price(m.name),
                    venues=tuple(m.venues),
                    source_decimals=m.source_decimals,
                    tiers=tuple(
                        Tier(to_usdc(t.max_notional), t.initial_margin_bps, t.maintenance_margin_bps, t.tail_risk_fee_bps)
                        for t in m.tiers
                    ),
                    price_band_bps=m.price_band_bps,
                    oracle=OracleSpec(**m.oracle.model_dump()),
                    fund_seed=m.fund_seed,
                    auction=AuctionSpec(**m.auction.model_dump()),
                )
            )
        return specs

    def traders(self) -> list[TraderPosition]:
        """Every trader's position, population by population in file order. Generated populations draw from
        one ``random.Random(seed)`` in that order: per trader side, leverage, size, entry. Same seed, same
        traders."""
        rng = random.Random(self.seed)
        out: list[TraderPosition] = []
        for pop in self.population:
            market = self.market(pop.market)
            p0 = self.oracle_start_price(pop.market)
            if isinstance(pop, ExplicitPopulation):
                for pos in pop.positions:
                    out.append(TraderPosition(pop.market, pos.side, pos.size_usd, pos.leverage, pos.entry_price or p0))
                continue
            for _ in range(pop.count):
                side = "long" if rng.random() < pop.long_share else "short"
                leverage = pop.leverage.draw(rng)
                size = min(max(round(pop.size_usd.draw(rng), 2), pop.size_usd.min), pop.size_usd.max)
                spread = rng.uniform(-pop.entry_spread_bps, pop.entry_spread_bps) / BPS
                tier = market.tier_for(size)
                assert tier is not None  # size_usd.max <= top tier, checked on load
                leverage = max(1.0, math.floor(min(leverage, tier.max_leverage()) * 100) / 100)
                entry = float(f"{p0 * (1 + spread):.10g}")
                out.append(TraderPosition(pop.market, side, size, leverage, entry))
        return out

    def keepers_expanded(self) -> list[KeeperScenario]:
        """One KeeperScenario per keeper: each entry with count n becomes n copies named name-1 .. name-n
        (also when n = 1), each with count 1."""
        return [
            k.model_copy(update={"name": f"{k.name}-{i}", "count": 1}, deep=True)
            for k in self.keepers
            for i in range(1, k.count + 1)
        ]

    # ---------------------------------------------------------------- overrides

    def with_overrides(self, overrides: Mapping[str, Any]) -> Scenario:
        """A new Scenario with dotted-key overrides applied and everything validated again.

        Keys walk the scenario's fields: ``markets.0.auction.tau``, ``keepers.0.outages``,
        ``markets.OM-USD.fund_seed`` (a list item may be named by its index or its ``name``). The value
        replaces what is there (a list or mapping as a whole). Raises ScenarioError naming the file and key.
        """
        label = f"{self._file} (with overrides)"
        data = self.model_dump(mode="python")
        for key, value in overrides.items():
            if not isinstance(key, str) or not key:
                raise ScenarioError(label, [(f"overrides[{key!r}]", "a dotted key string such as markets.0.auction.tau")])
            _set_dotted(data, key, copy.deepcopy(value), label)
        scenario = _validate(data, label, self._base_dir)
        scenario._file = self._file
        scenario._sha256 = self._sha256
        scenario._overrides = {**self._overrides, **dict(overrides)}
        return scenario

    def variant(self, name: str) -> Scenario:
        """This scenario with the overrides of ``variants[name]`` applied."""
        if name not in self.variants:
            raise ScenarioError(self._file, [(f"variants.{name}", f"one of the variants {sorted(self.variants)}")])
        return self.with_overrides(self.variants[name])


def _set_dotted(data: Any, key: str, value: Any, label: str) -> None:
    parts = key.split(".")
    node = data
    for depth, part in enumerate(parts):
        where = ".".join(parts[: depth + 1])
        last = depth == len(parts) - 1
        if isinstance(node, list):
            index = _list_index(node, part)
            if index is None:
                raise ScenarioError(
                    label, [(f"overrides[{key!r}]", f"at {where}: an index 0..{len(node) - 1} or the name of an item")]
                )
            if last:
                node[index] = value
            else:
                node = node[index]
        elif isinstance(node, dict):
            if last:
                node[part] = value
            elif part not in node:
                raise ScenarioError(label, [(f"overrides[{key!r}]", f"at {where}: one of {', '.join(map(str, node))}")])
            else:
                if node[part] is None:
                    node[part] = {}
                node = node[part]
        else:
            raise ScenarioError(label, [(f"overrides[{key!r}]", f"at {where}: a list or mapping to descend into (found {_short(node)})")])


def _list_index(items: list[Any], part: str) -> int | None:
    if part.isdigit():
        i = int(part)
        return i if i < len(items) else None
    for i, item in enumerate(items):
        if isinstance(item, Mapping) and item.get("name") == part:
            return i
    return None


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """Command-line overrides ``key=value`` to a dict; values are read as YAML (``600``, ``[]``, ``{a: 1}``)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"override {item!r}: expected key=value, e.g. markets.0.auction.tau=600")
        out[key.strip()] = yaml.safe_load(raw)
    return out


# --------------------------------------------------------------------------- loading


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects a mapping with the same key twice (PyYAML silently keeps the last)."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, f"found duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _validate(data: Any, label: str, base_dir: Path) -> Scenario:
    if not isinstance(data, Mapping):
        raise ScenarioError(label, [("<top level>", f"a mapping of scenario fields (got {_short(data)})")])
    try:
        return Scenario.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        raise ScenarioError(label, _problems_of(exc, data)) from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file. Raises ScenarioError (a ValueError) for every problem: missing
    file, YAML syntax, wrong types, unknown fields, bad prices or times, CSV venue files, cross-references."""
    label = str(path)
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ScenarioError(label, [("<file>", "an existing scenario file (not found)")]) from None
    except OSError as exc:
        raise ScenarioError(label, [("<file>", f"a readable scenario file ({exc.strerror})")]) from None
    try:
        data = yaml.load(raw.decode("utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except UnicodeDecodeError:
        raise ScenarioError(label, [("<file>", "UTF-8 text")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "<yaml>"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(label, [(where, f"valid YAML ({problem})")]) from None
    scenario = _validate(data, label, p.parent)
    scenario._file = label
    scenario._base_dir = p.parent
    scenario._sha256 = hashlib.sha256(raw).hexdigest()
    return scenario
