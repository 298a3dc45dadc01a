"""A crash scenario as a whole: the top-level :class:`Scenario`, its methods for the replay engine, and loading.

A scenario says what the market did (one price path per venue), how the protocol is configured (oracle,
leverage tiers, auction, fund seeds), who trades (a trader population) and who liquidates (keepers). The
replay engine reads it through :func:`load_scenario` and the methods of :class:`Scenario`; it never reads the
YAML itself. The format, every field, its unit and its default are described in ``docs/scenarios.md``.

Units: times are whole [seconds] from t = 0 (the scenario's ``start``), prices are USD per base unit (floats),
money is USD (floats; :meth:`Scenario.market_specs` converts to [usdc] integers), rates are [bps]
(10,000 = 100%) or fractions in 0..1 where the field name says so.

Every problem in a file raises :class:`ScenarioError` naming the file, the field path
(``markets[0].venues.venue-a[3].t``) and what was expected there; every named variant is checked on load.
What is valid but probably a mistake is a :class:`ScenarioWarning`.
"""

from __future__ import annotations

import copy
import hashlib
import statistics
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any
from warnings import warn

from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator

from backstop.chain.specs import AdlSpec, AuctionSpec, MarketSpec, OracleSpec
from backstop.model.adl import MAX_CHALLENGE_WINDOW
from backstop.model.fund import InsuranceFundModel
from backstop.model.ledger import Tier
from backstop.scenario.errors import (
    FieldProblem,
    Loc,
    ScenarioError,
    ScenarioWarning,
    field_problem,
    format_path,
    problems_of,
    short,
)
from backstop.scenario.fields import Int, Name, ScenarioModel, Usd
from backstop.scenario.keepers import KeeperScenario
from backstop.scenario.loader import read_scenario_file
from backstop.scenario.market import MarketScenario
from backstop.scenario.overrides import apply_overrides, parse_overrides, set_dotted
from backstop.scenario.population import GeneratedPopulation, PopulationSpec, TraderPosition, draw_traders
from backstop.units import BPS, to_usdc

__all__ = [
    "AdlScenario",
    "ChainScenario",
    "FundScenario",
    "PublishedFigure",
    "Scenario",
    "ScenarioError",
    "check_variants",
    "load_scenario",
    "parse_overrides",
    "validate_scenario",
]


class FundScenario(ScenarioModel):
    """The insurance fund: ``global_seed`` [USD] = 0, seeded into the global pool (markets' sub-pools are
    seeded by each market's ``fund_seed``); the fund-risk thresholds that allow ADL: ``drawdown_bps`` = 3000
    (a sub-pool this far below its 8-hour peak), ``fast_drop_bps`` = 5000 (this far below its balance 8 hours
    ago), ``global_floor`` [USD] = 0 (the global pool at or below it). Defaults as the InsuranceFund's."""

    global_seed: Usd = 0
    drawdown_bps: Annotated[Int, Field(ge=0, le=BPS)] = InsuranceFundModel.drawdown_bps
    fast_drop_bps: Annotated[Int, Field(ge=0, le=BPS)] = InsuranceFundModel.fast_drop_bps
    global_floor: Usd = 0


class ChainScenario(ScenarioModel):
    """The settlement chain's block space: ``block_gas_limit`` [gas] = 30,000,000 (at least 1,000,000) per block,
    a block every ``block_time`` [seconds] = 2 (1..60; an OP-Stack rollup's). The replay packs the actors'
    transactions into blocks of that gas (each at the gas its kind last used); what does not fit waits for the
    next block, ``block_time`` later, and the report's ``settlement`` says who waited how long."""

    block_gas_limit: Annotated[Int, Field(ge=1_000_000)] = 30_000_000
    block_time: Annotated[Int, Field(ge=1, le=60)] = 2


class AdlScenario(ScenarioModel):
    """ADL rules: ``loss_cap_bps`` = 5000, the most of a counterparty's unrealised profit one ADL may take
    (1..10000); ``challenge_window`` [seconds] = 3600; ``min_bond`` [USD] = 100, the executor's bond on top of
    the profit it took. Defaults as backstop.chain.specs.AdlSpec."""

    loss_cap_bps: Annotated[Int, Field(gt=0, le=BPS)] = AdlSpec.loss_cap_bps
    challenge_window: Annotated[Int, Field(ge=0, le=MAX_CHALLENGE_WINDOW)] = AdlSpec.challenge_window
    min_bond: Usd = AdlSpec.min_bond


PUBLISHED_METRICS = ("liquidations", "liquidated_notional", "shortfall", "bad_debt", "fund_used", "adl_notional")


class PublishedFigure(ScenarioModel):
    """A published figure of the real crash, set beside the replay's: ``figure`` (what it is, in words),
    ``metric`` (the report's `totals` key it compares with, one of PUBLISHED_METRICS), ``low`` and ``high``
    (the published value or range; ``high`` defaults to ``low``), ``source`` (the citation, as in `sources`)
    and ``note`` (how the published figure's scope differs from the replay's: venues, window, population)."""

    figure: str
    metric: str
    low: Annotated[float, Field(ge=0)]
    high: Annotated[float | None, Field(ge=0)] = None
    source: str
    note: str = ""

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        if value not in PUBLISHED_METRICS:
            raise ValueError(f"expected one of {', '.join(PUBLISHED_METRICS)}, got {value!r}")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> PublishedFigure:
        if self.high is not None and self.high < self.low:
            raise ValueError(f"high {self.high:g} is below low {self.low:g}")
        return self

    def compare(self, replayed: float) -> dict[str, Any]:
        """The report's row: the published range, the replay's value, the gap to the range (0 inside it) and
        replayed / the middle of the range."""
        high = self.low if self.high is None else self.high
        gap = replayed - high if replayed > high else replayed - self.low if replayed < self.low else 0.0
        middle = (self.low + high) / 2
        return {
            "figure": self.figure, "metric": self.metric, "low": self.low, "high": high, "source": self.source,
            "note": self.note, "replayed": replayed, "gap": round(gap, 6),
            "ratio": round(replayed / middle, 6) if middle > 0 else None,
        }


class StepChange(ScenarioModel):
    """From scenario second ``at`` on, the grid's step is ``step`` [seconds] (until the next change)."""

    at: Annotated[Int, Field(gt=0)]
    step: Annotated[Int, Field(gt=0)]


class Scenario(ScenarioModel):
    """A crash to replay. Load one with :func:`load_scenario`.

    - ``name``, ``description``: free text.
    - ``sources``: citations of every published figure used (may be empty only for invented scenarios).
    - ``synthetic``: what is invented or interpolated (paths between points, venues, traders, keepers, funds).
    - ``seed`` = 0: seeds :meth:`traders` (``random.Random(seed)``).
    - ``start``: ISO 8601 time of t = 0, informational (e.g. "2025-04-13T16:00:00Z").
    - ``duration`` [seconds] > 0; ``step`` [seconds] > 0 and <= duration: the replay's time grid (where the
      series is sampled and the venues' sources are moved on schedule; keepers act in continuous time).
    - ``steps`` = []: :class:`StepChange` entries (``at``, ``step``), ``at`` increasing and < duration: a grid
      fine around the crash and coarse elsewhere.
    - ``markets``: non-empty list of :class:`MarketScenario` with unique names.
    - ``fund``: :class:`FundScenario`.
    - ``adl``: :class:`AdlScenario`.
    - ``chain``: :class:`ChainScenario`, the settlement chain's block space.
    - ``population``: list of :class:`ExplicitPopulation` / :class:`GeneratedPopulation`, each naming a market.
    - ``keepers``: list of :class:`KeeperScenario` with unique names.
    - ``variants`` = {}: name -> {dotted key: value} overrides (see :meth:`with_overrides`).
    - ``published`` = []: :class:`PublishedFigure` entries, published figures of the real crash that the
      report sets beside the replay's.
    """

    name: Name
    description: str
    sources: list[str]
    synthetic: list[str]
    seed: Int = 0
    start: str
    duration: Annotated[Int, Field(gt=0)]
    step: Annotated[Int, Field(gt=0)]
    steps: list[StepChange] = Field(default_factory=list)
    markets: Annotated[list[MarketScenario], Field(min_length=1)]
    fund: FundScenario = Field(default_factory=FundScenario)
    adl: AdlScenario = Field(default_factory=AdlScenario)
    chain: ChainScenario = Field(default_factory=ChainScenario)
    population: list[PopulationSpec]
    keepers: list[KeeperScenario]
    variants: dict[str, dict[str, Any]] = Field(default_factory=dict)
    published: list[PublishedFigure] = Field(default_factory=list)

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
                raise field_problem((), f"an ISO 8601 time such as 2025-04-13T16:00:00Z (got {value!r})") from None
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> Scenario:
        problems: list[tuple[Loc, str]] = []
        if self.step > self.duration:
            problems.append((("step",), f"step <= duration ({self.duration} s), got {self.step}"))
        for i, change in enumerate(self.steps):
            if change.at >= self.duration:
                problems.append((("steps", i, "at"), f"a time before the end (duration = {self.duration} s), got {change.at}"))
            elif i and change.at <= self.steps[i - 1].at:
                problems.append((("steps", i, "at"), f"a time after steps[{i - 1}].at = {self.steps[i - 1].at} s, got {change.at}"))
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
                if pop.opens is not None and pop.opens.end > self.duration:
                    problems.append((("population", i, "opens", "end"), f"a time by the scenario's end (duration = {self.duration} s), got {pop.opens.end}"))
                if pop.size_usd.max > top:
                    problems.append((("population", i, "size_usd", "max"), f"at most the top tier's max_notional {top:g} USD (got {pop.size_usd.max:g})"))
                continue
            for j, pos in enumerate(pop.positions):
                if pos.opens_at is not None and pos.opens_at > self.duration:
                    problems.append((("population", i, "positions", j, "opens_at"), f"a time by the scenario's end (duration = {self.duration} s), got {pos.opens_at}"))
                tier = market.tier_for(pos.size_usd)
                if tier is None:
                    problems.append((("population", i, "positions", j, "size_usd"), f"at most the top tier's max_notional {top:g} USD (got {pos.size_usd:g})"))
                elif pos.leverage > tier.max_leverage():
                    problems.append(
                        (
                            ("population", i, "positions", j, "leverage"),
                            f"at most {tier.max_leverage():g}x, the max leverage of the tier for {pos.size_usd:g} USD (got {pos.leverage:g})",
                        )
                    )
        keepers = [k.name for k in self.keepers]
        for i, name in enumerate(keepers):
            if name in keepers[:i]:  # unique names give unique expanded names: the suffix is after the last "-"
                problems.append((("keepers", i, "name"), f"a unique keeper name ({name!r} is listed twice)"))
        if problems:
            raise FieldProblem(problems)
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

    @property
    def warnings(self) -> list[str]:
        """What is valid but probably a mistake, one line ``<file>: <field path>: <what is odd>`` each: a
        duration that is not a multiple of the step (the last step is shorter), a venue with a single price
        point (its price never moves), an outage that starts after the scenario's end (it never applies)."""
        out: list[str] = []
        if self.duration % self.step:
            last = self.duration - self.duration % self.step
            out.append(
                f"{self._file}: duration: {self.duration} s is not a multiple of step = {self.step} s: the replay steps every "
                f"{self.step} s up to t = {last} s, then once more at t = {self.duration} s (a last step of {self.duration - last} s)"
            )
        for i, market in enumerate(self.markets):
            for venue in market.venues:
                points = market.points(venue)
                if len(points) == 1:
                    out.append(
                        f"{self._file}: markets[{i}].venues.{venue}: a single price point (t = 0, price = {points[0].price:g}): "
                        f"the venue's price stays {points[0].price:g} for the whole scenario"
                    )
        for i, keeper in enumerate(self.keepers):
            for j, outage in enumerate(keeper.outages):
                if outage.start > self.duration:
                    out.append(
                        f"{self._file}: keepers[{i}].outages[{j}]: an outage that starts by the scenario's end "
                        f"(duration = {self.duration} s; got start = {outage.start}): it never applies"
                    )
        return out

    # ---------------------------------------------------------------- time and prices

    def times(self) -> list[int]:
        """The replay grid [seconds]: 0, step, 2*step, ..., and duration (also when step does not divide it);
        from each ``steps`` entry's ``at`` (itself a grid point) on, its own step."""
        changes = [(c.at, c.step) for c in self.steps]
        grid, t, step = [0], 0, self.step
        while t < self.duration:
            nxt = t + step
            if changes and changes[0][0] <= nxt:
                nxt, step = changes.pop(0)
            t = min(nxt, self.duration)
            if t != grid[-1]:
                grid.append(t)
        return grid

    def halved(self) -> Scenario:
        """This scenario with every step of its grid halved (at least 1 s): what `backstop replay --check-step`
        compares against."""
        changes = [{"at": c.at, "step": max(1, c.step // 2)} for c in self.steps]
        return self.with_overrides({"step": max(1, self.step // 2), "steps": changes})

    def market(self, name: str) -> MarketScenario:
        """The market named `name`; KeyError listing the markets if there is none."""
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
        """The markets as backstop.chain.specs.MarketSpec: starting price = oracle_start_price, tiers in [usdc]."""
        specs = []
        for m in self.markets:
            specs.append(
                MarketSpec(
                    name=m.name,
                    price=self.oracle_start_price(m.name),
                    venues=tuple(m.venues),
                    source_decimals=m.source_decimals,
                    tiers=tuple(Tier(to_usdc(t.max_notional), t.initial_margin_bps, t.maintenance_margin_bps, t.tail_risk_fee_bps) for t in m.tiers),
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
        return draw_traders(self.seed, self.population, self.market, self.oracle_start_price)

    def keepers_expanded(self) -> list[KeeperScenario]:
        """One KeeperScenario per keeper: each entry with count n becomes n copies named name-1 .. name-n
        (also when n = 1), each with count 1."""
        return [k.model_copy(update={"name": f"{k.name}-{i}", "count": 1}, deep=True) for k in self.keepers for i in range(1, k.count + 1)]

    # ---------------------------------------------------------------- overrides

    def with_overrides(self, overrides: Mapping[str, Any]) -> Scenario:
        """A new Scenario with dotted-key overrides applied and everything validated again.

        Keys walk the scenario's fields: ``markets.0.auction.tau``, ``keepers.0.outages``,
        ``markets.OM-USD.fund_seed`` (a list item may be named by its index or its ``name``). The value
        replaces what is there (a list or mapping as a whole). Raises ScenarioError naming the file and key;
        issues a ScenarioWarning for each warning the overrides add (see :attr:`warnings`).
        """
        label = f"{self._file} (with overrides)"
        data = self.model_dump(mode="python")
        apply_overrides(data, overrides, label)
        scenario = validate_scenario(data, label, self._base_dir)
        scenario._file = self._file
        scenario._base_dir = self._base_dir
        scenario._sha256 = self._sha256
        scenario._overrides = {**self._overrides, **dict(overrides)}
        known = set(self.warnings)
        for message in scenario.warnings:
            if message not in known:
                warn(message, ScenarioWarning, stacklevel=2)
        return scenario

    def variant(self, name: str) -> Scenario:
        """This scenario with the overrides of ``variants[name]`` applied."""
        if name not in self.variants:
            raise ScenarioError(self._file, [(f"variants.{name}", f"one of the variants {sorted(self.variants)}")])
        return self.with_overrides(self.variants[name])


def validate_scenario(data: Any, label: str, base_dir: Path) -> Scenario:
    """`data` (a scenario file's YAML document) as a Scenario; CSV venue files are read relative to
    `base_dir`. Raises ScenarioError (file `label`) listing every problem."""
    if not isinstance(data, Mapping):
        raise ScenarioError(label, [("<top level>", f"a mapping of scenario fields (got {short(data)})")])
    try:
        return Scenario.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        raise ScenarioError(label, problems_of(exc, data)) from None


def check_variants(scenario: Scenario) -> list[tuple[str, str]]:
    """The problems of every named variant of `scenario` (its overrides applied and validated), each at
    ``variants.<name>.<key>`` (``variants.<name>`` when no one key is to blame) and, when the problem is
    elsewhere than the key's own field, saying ``at <field path>``."""
    problems: list[tuple[str, str]] = []
    for name, overrides in scenario.variants.items():
        problems += _variant_problems(scenario, name, overrides)
    return problems


def _variant_problems(scenario: Scenario, name: str, overrides: Mapping[str, Any]) -> list[tuple[str, str]]:
    data = scenario.model_dump(mode="python")
    where: dict[str, str] = {}
    for key, value in overrides.items():
        if not key:
            return [(f"variants.{name}", "a dotted key string such as markets.0.auction.tau (got '')")]
        try:
            where[key] = format_path(set_dotted(data, key, copy.deepcopy(value), scenario.file))
        except ScenarioError as exc:
            return [(f"variants.{name}.{key}", expected) for _, expected in exc.problems]
    try:
        validate_scenario(data, scenario.file, scenario._base_dir)
    except ScenarioError as exc:
        return [_blame(name, where, path, expected) for path, expected in exc.problems]
    return []


def _blame(name: str, where: Mapping[str, str], path: str, expected: str) -> tuple[str, str]:
    """A variant's problem at field `path`, put on the key that set that field (or a field around it)."""

    def covers(field: str) -> bool:
        return path == field or path.startswith((f"{field}.", f"{field}[", f"{field} "))

    keys = sorted((k for k, field in where.items() if covers(field)), key=lambda k: len(where[k]), reverse=True)
    key = keys[0] if keys else (next(iter(where)) if len(where) == 1 else None)
    if key is None:
        return (f"variants.{name}", f"at {path}: {expected}")
    return (f"variants.{name}.{key}", expected if path == where[key] else f"at {path}: {expected}")


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file. Raises ScenarioError (a ValueError) for every problem: missing
    file, YAML syntax, wrong types, unknown fields, bad prices or times, CSV venue files, cross-references,
    and named variants whose overrides do not apply or do not validate. Issues a ScenarioWarning for each of
    the scenario's :attr:`Scenario.warnings`."""
    label = str(path)
    base_dir = Path(path).parent
    data, raw = read_scenario_file(path)
    scenario = validate_scenario(data, label, base_dir)
    scenario._file = label
    scenario._base_dir = base_dir
    scenario._sha256 = hashlib.sha256(raw).hexdigest()
    problems = check_variants(scenario)
    if problems:
        raise ScenarioError(label, problems)
    for message in scenario.warnings:
        warn(message, ScenarioWarning, stacklevel=2)
    return scenario
