"""The market a replay trades into: each venue's traded price is its scripted (exogenous) path moved by the
flows that hit its book, and those moves decay and spread between venues (backstop.scenario.liquidity has the
model and its parameters).

Displacements are kept in log price, in layers that add up: layer ``exogenous`` holds the scenario's own
flows (a holder selling a block), precomputed at load; layer g = 0, 1, ... holds the flows of liquidations of
cascade generation g (a keeper unwinding what it took). A liquidation is of generation 0 when the position
would be liquidatable on the exogenous prices alone, of generation k + 1 when it needs the displacement of
generations 0..k to be (see `Market.generation`).

Traders' own opens and closes during the replay (a panic close, profit taking: backstop.replay.traders) go to
layer ``traders``, which counts with the exogenous layer in a liquidation's generation: a liquidation that the
traders' selling alone makes liquidatable is of generation 0, as one the scripted path makes.

Each layer is a list of checkpoints, one per impulse in time order. Between impulses the state decays in
closed form: with weights w_v = depth_v / sum of depths, the depth-weighted mean M decays at the resilience
rate r and each venue's deviation from it at r + a (a: the arbitrage rate), so an impulse of d on venue A
leaves, after age s, ``w_A d e^(-r s) + (1[v = A] - w_A) d e^(-(r + a) s)`` on venue v. A query at second t
reads the last checkpoint at or before t: the replay asks for any second, in any order, and the answer
depends only on the impulses up to t.

Without ``liquidity`` a market is not modelled: its prices are the scripted paths, bit for bit.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from typing import Any

from backstop.model import oracle as oracle_model
from backstop.scenario.liquidity import LiquidityScenario
from backstop.units import BPS, WAD

ONE_PERCENT = 0.01  # the log move a trade of one depth_usd makes
EXOGENOUS_SAMPLE = 10  # [seconds] how often the exogenous marks are sampled for `impact_only`
CACHED_SECONDS = 64  # seconds of displacements kept at most between impulses (the clock's search asks for few)
EXOGENOUS = "exogenous"


class Layer:
    """Displacements [log price] of one market's venues by one kind of flow: checkpoints after each impulse."""

    def __init__(self, venues: list[str], weights: list[float], resilience: float, arbitrage: float) -> None:
        self.venues = venues
        self.weights = weights
        self.r = resilience
        self.ra = resilience + arbitrage
        self.times: list[int] = []
        self.states: list[tuple[float, list[float]]] = []  # (mean, deviations by venue index) after the impulse

    def _state(self, t: float) -> tuple[float, list[float]] | None:
        i = bisect.bisect_right(self.times, t) - 1
        if i < 0:
            return None
        age = t - self.times[i]
        mean, devs = self.states[i]
        if age == 0:
            return mean, devs
        a, b = math.exp(-self.r * age), math.exp(-self.ra * age)
        return mean * a, [d * b for d in devs]

    def at(self, t: float) -> list[float]:
        """Each venue's displacement [log price] at second `t`."""
        state = self._state(t)
        if state is None:
            return [0.0] * len(self.venues)
        mean, devs = state
        return [mean + d for d in devs]

    def add(self, t: int, venue: int, delta: float) -> None:
        """An impulse of `delta` [log price] on venue index `venue` at second `t` (not before the last one)."""
        if self.times and t < self.times[-1]:
            raise ValueError(f"impulse at t = {t} before the last one at t = {self.times[-1]}")
        mean, devs = self._state(t) or (0.0, [0.0] * len(self.venues))
        w = self.weights[venue]
        devs = [d - w * delta for d in devs]
        devs[venue] += delta
        self.times.append(t)
        self.states.append((mean + w * delta, devs))

    def __len__(self) -> int:
        return len(self.times)


@dataclass
class VenueFigures:
    """What the report says of one venue: its start, lowest exogenous and traded prices [USD], the
    liquidation-driven volume and the slippage keepers paid [USD]."""

    start: float
    min_exogenous: float
    min_traded: float
    volume: float = 0.0
    slippage: float = 0.0
    unwinds: int = 0
    min_depth: float = math.inf
    trader_volume: float = 0.0  # [USD] traders' opens and closes during the replay
    hedge_volume: float = 0.0  # [USD] market makers' hedges unwound after ADL (liquidity.hedging)

    def row(self) -> dict[str, Any]:
        fall = self.start - self.min_traded
        share = (self.min_exogenous - self.min_traded) / fall if fall > 0 else 0.0
        return {
            "start": self.start,
            "min_exogenous": self.min_exogenous,
            "min_traded": self.min_traded,
            "endogenous_share": max(0.0, share),
            "liquidation_volume": self.volume,
            "slippage": self.slippage,
            "unwinds": self.unwinds,
            "min_depth": self.min_depth,
            **({"trader_volume": self.trader_volume} if self.trader_volume else {}),
            **({"hedge_volume": self.hedge_volume} if self.hedge_volume else {}),
        }


class VenueBook:
    """One market's venues with liquidity: exogenous path, displacement layers, depth and figures."""

    def __init__(self, market: Any, liquidity: LiquidityScenario) -> None:
        self.market = market
        self.liq = liquidity
        self.venues = list(market.venues)
        self.index = {v: i for i, v in enumerate(self.venues)}
        depths = [liquidity.depth(v) for v in self.venues]
        self.weights = [d / sum(depths) for d in depths]
        self.exogenous = self._layer()
        for t, venue, notional in self._flow_slices():
            self.exogenous.add(t, self.index[venue], self.delta(venue, t, notional))
        self.generations: list[Layer] = []
        self.traders = self._layer()  # traders' own trades during the replay
        self._offsets: dict[tuple, list[list[float]]] = {}  # (t, impulses) -> the displacement of every prefix
        self._prices: dict[tuple, float] = {}  # (venue, t, upto, impulses) -> traded price [USD]
        self._impulses = 0  # impulses added to the generations: what invalidates both
        self._worst: tuple[list[int], list[int | None], list[int | None]] | None = None  # exogenous marks' suffix extremes
        self.figures = {v: VenueFigures(market.price(v, 0), market.price(v, 0), market.price(v, 0)) for v in self.venues}

    def _layer(self) -> Layer:
        return Layer(self.venues, self.weights, self.liq.resilience, self.liq.arbitrage)

    def _flow_slices(self) -> list[tuple[int, str, float]]:
        slices = []
        for flow in self.liq.flows:
            n = max(1, math.ceil(flow.duration / flow.slice))
            slices += [(flow.start + i * flow.slice, flow.venue, flow.notional_usd / n) for i in range(n)]
        return sorted(slices, key=lambda s: s[0])

    def depth(self, venue: str, t: float) -> float:
        """The venue's 1% depth [USD] at second `t`."""
        return self.liq.depth(venue) * self.liq.remaining(t)

    def delta(self, venue: str, t: float, notional: float) -> float:
        """The log move [log price] of a trade of signed `notional` [USD] on `venue` at `t`."""
        return ONE_PERCENT * notional / self.depth(venue, t)

    def exogenous_price(self, venue: str, t: float) -> float:
        return self.market.price(venue, t) * math.exp(self.exogenous.at(t)[self.index[venue]])

    def offsets(self, t: float, upto: int | None = None) -> list[float]:
        """Every venue's displacement [log price] at `t` by the exogenous flows and the generations below
        `upto` (all by default). Every prefix of the generations is summed at once and kept for the second `t`
        until the next impulse: the engine asks for every venue at the same second (the keepers' clock and their
        actions alternate between two), and a cascade's generation search for every prefix."""
        key = (t, self._impulses)
        prefix = self._offsets.get(key)
        if prefix is None:
            if len(self._offsets) >= CACHED_SECONDS:
                self._offsets.clear()
            total = self.exogenous.at(t)
            if len(self.traders):
                total = [a + b for a, b in zip(total, self.traders.at(t))]
            prefix = [total]
            for layer in self.generations:
                state = layer._state(t)
                if state is not None:  # a layer with no impulse yet adds nothing
                    mean, devs = state
                    total = [a + (mean + d) for a, d in zip(total, devs)]
                prefix.append(total)
            self._offsets[key] = prefix
        return prefix[-1] if upto is None else prefix[min(max(upto, 0), len(prefix) - 1)]

    def price(self, venue: str, t: float, upto: int | None = None) -> float:
        """The venue's traded price [USD] at `t`: the exogenous price moved by the generations below `upto`
        (all of them by default). Kept until the next impulse."""
        key = (venue, t, upto, self._impulses)
        price = self._prices.get(key)
        if price is None:
            if len(self._prices) >= CACHED_SECONDS * 8:
                self._prices.clear()
            price = self._prices[key] = self.market.price(venue, t) * math.exp(self.offsets(t, upto)[self.index[venue]])
        return price

    def worst_exogenous_mark(self, t: int, long: bool, config: Any, decimals: int, duration: int) -> int | None:
        """The lowest (for a long; highest for a short) oracle mark [wad] the exogenous prices reach from `t`
        to `duration`, sampled every EXOGENOUS_SAMPLE seconds and at every path point and flow slice."""
        if self._worst is None:
            times = set(range(0, duration + 1, EXOGENOUS_SAMPLE)) | set(self.exogenous.times)
            times |= {p.t for v in self.venues for p in self.market.points(v) if p.t <= duration}
            ts = sorted(times)
            marks = [reference_mark([self.exogenous_price(v, x) for v in self.venues], x, config, decimals) for x in ts]
            lows: list[int | None] = [None] * len(ts)
            highs: list[int | None] = [None] * len(ts)
            low = high = None
            for i in range(len(ts) - 1, -1, -1):
                if marks[i] is not None:
                    low = marks[i] if low is None else min(low, marks[i])
                    high = marks[i] if high is None else max(high, marks[i])
                lows[i], highs[i] = low, high
            self._worst = (ts, lows, highs)
        ts, lows, highs = self._worst
        i = bisect.bisect_left(ts, t)
        if i >= len(ts):
            return None
        return lows[i] if long else highs[i]

    def deepest(self, t: float) -> str:
        """The venue with the most depth at `t` (the first listed on a tie): where keepers unwind."""
        return max(self.venues, key=lambda v: (self.depth(v, t), -self.index[v]))

    def most_to_unwind(self, venue: str, t: int, long: bool, price: int, mark: int, discount_bps: int, band_bps: int) -> int:
        """The most units [wad] a keeper takes of an auction of a `long` (or short) at `price` [wad], given
        the book it unwinds into: the slippage of selling them on `venue` at `t` (buying back, for a short)
        must leave the take `discount_bps` [bps] in its favour against the oracle `mark` [wad], and keep the
        unwind within the market's price band `band_bps` [bps]. 0: none."""
        if long:  # sells: needs vwap_factor >= ratio
            ratio = max(price * BPS / (mark * (BPS - discount_bps)), 1 - (band_bps - 1) / BPS)
            if ratio >= 1:
                return 0
        else:  # buys back: needs vwap_factor <= ratio
            ratio = min(price * BPS / (mark * (BPS + discount_bps)), 1 + (band_bps - 1) / BPS)
            if ratio <= 1:
                return 0
        notional = abs(delta_for_factor(ratio)) / ONE_PERCENT * self.depth(venue, t)  # [USD] the largest unwind accepted
        return int(notional / self.price(venue, t) * WAD)

    def unwind_price(self, venue: str, t: int, size: int, mark: int) -> tuple[int, float]:
        """(price [wad], notional [USD, signed]) of an unwind of `size` units [wad, signed] on `venue` at `t`:
        the oracle `mark` moved by the slippage the trade pays on the venue's book."""
        notional = size * self.price(venue, t) / WAD
        return int(mark * vwap_factor(self.delta(venue, t, notional))), notional

    def trade(self, venue: str, t: int, notional: float, generation: int) -> float:
        """A liquidation flow of signed `notional` [USD at the pre-trade price] on `venue` at `t`, of cascade
        `generation`: moves the book, counts volume and slippage. Returns the slippage paid [USD]."""
        delta = self.delta(venue, t, notional)
        slippage = abs(notional) * abs(1 - vwap_factor(delta))
        fig = self.figures[venue]
        fig.volume += abs(notional)
        fig.slippage += slippage
        fig.unwinds += 1
        self._impulse(self._generation(generation), venue, t, delta)
        return slippage

    def hedge(self, venue: str, t: int, notional: float, generation: int) -> None:
        """A market maker unwinding a hedge of signed `notional` [USD] on `venue` at `t` after an ADL fill
        (``liquidity.hedging``): liquidation flow of cascade `generation`, counted as the venue's hedge volume."""
        self.figures[venue].hedge_volume += abs(notional)
        self._impulse(self._generation(generation), venue, t, self.delta(venue, t, notional))

    def flow(self, venue: str, t: int, notional: float) -> None:
        """A trader's own trade of signed `notional` [USD at the pre-trade price] on `venue` at `t` (layer
        ``traders``): moves the book and counts the venue's trader volume."""
        self.figures[venue].trader_volume += abs(notional)
        self._impulse(self.traders, venue, t, self.delta(venue, t, notional))

    def _generation(self, generation: int) -> Layer:
        """The layer of cascade `generation`, with the ones below it (created empty as needed)."""
        while len(self.generations) <= generation:
            self.generations.append(self._layer())
        return self.generations[generation]

    def _impulse(self, layer: Layer, venue: str, t: int, delta: float) -> None:
        """An impulse of `delta` [log price] on `venue` at `t` in `layer`; the lows count the prices after it."""
        layer.add(t, self.index[venue], delta)
        self._impulses += 1
        self.sample(t)

    def most_in_band(self, venue: str, t: int, sell: bool, band_bps: int) -> int:
        """The most units [wad] a market order can sell (buy, if not `sell`) on `venue` at `t` with its average
        price within `band_bps` [bps] (less one) of the pre-trade price: what the price band lets through."""
        factor = 1 - (band_bps - 1) / BPS if sell else 1 + (band_bps - 1) / BPS
        notional = abs(delta_for_factor(factor)) / ONE_PERCENT * self.depth(venue, t)
        return int(notional / self.price(venue, t) * WAD)

    def sample(self, t: float) -> None:
        """Counts the prices and depths at `t` into the venues' lows."""
        for v in self.venues:
            fig = self.figures[v]
            fig.min_exogenous = min(fig.min_exogenous, self.exogenous_price(v, t))
            fig.min_traded = min(fig.min_traded, self.price(v, t))
            fig.min_depth = min(fig.min_depth, self.depth(v, t))


def vwap_factor(delta: float) -> float:
    """Average price of a trade that moves the log price by `delta`, relative to the pre-trade price: the
    block-shaped book's (e^delta - 1) / delta (below 1 for a sale, above for a purchase)."""
    return math.expm1(delta) / delta if delta else 1.0


def delta_for_factor(factor: float) -> float:
    """The log move whose vwap_factor is `factor` (> 0): Newton's method on e^d - 1 - factor * d."""
    if factor == 1:
        return 0.0
    d = 2 * (factor - 1)  # vwap_factor(d) ~ 1 + d / 2
    for _ in range(50):
        g = math.expm1(d) - factor * d
        step = g / (math.exp(d) - factor)
        d -= step
        if abs(step) < 1e-12:
            break
    return d


@dataclass
class Market:
    """Every market of a replay: traded prices, liquidation flows, cascade generations."""

    sc: Any  # backstop.scenario.Scenario
    books: dict[str, VenueBook] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for m in self.sc.markets:
            if getattr(m, "liquidity", None) is not None:
                self.books[m.name] = VenueBook(m, m.liquidity)

    @property
    def active(self) -> bool:
        return bool(self.books)

    @property
    def version(self) -> int:
        """Impulses added to every market's generations so far: a traded price at a given second changes only
        when this does."""
        return sum(book._impulses for book in self.books.values())

    def price(self, market: str, venue: str, t: float) -> float:
        """The venue's traded price [USD] at `t` (the scripted path where the market has no liquidity)."""
        book = self.books.get(market)
        return book.price(venue, t) if book else self.sc.venue_price(market, venue, t)

    def feed(self, market: str, venue: str, t: int) -> tuple[float, int]:
        """What the venue's price feed shows at `t`: (price [USD], its age [seconds]). Its traded price, unless a
        halt of the scenario (MarketScenario.halts) holds it at the price of the halt's start."""
        price, stamped = self.sc.market(market).published(venue, t, self.price(market, venue, t))
        return price, int(t - stamped)

    def cascade(self, market: str, t: int, liquidatable: Any, long: bool, spec: Any) -> tuple[int, bool]:
        """(generation, impact_only) of a liquidation at `t` of a position that is `liquidatable(mark)`, marks
        by the reference oracle as the market's `spec` (MarketSpec) reads it. The generation is the fewest
        generations of displacement under which it is liquidatable at `t`; impact_only says that the exogenous
        prices never make it liquidatable, at `t` or later: impact did not bring it forward, it caused it."""
        book = self.books.get(market)
        if book is None:
            return 0, False
        o = spec.oracle
        config = oracle_model.OracleConfig(o.max_age, o.max_deviation_bps, o.min_sources)
        generation = len(book.generations)
        for k in range(len(book.generations) + 1):
            mark = reference_mark([book.price(v, t, upto=k) for v in book.venues], t, config, spec.source_decimals)
            if mark is not None and liquidatable(mark):
                generation = k
                break
        worst = book.worst_exogenous_mark(t, long, config, spec.source_decimals, self.sc.duration)
        return generation, generation > 0 and (worst is None or not liquidatable(worst))

    def report(self) -> dict[str, Any] | None:
        """report.json's ``impact`` section (None without liquidity)."""
        if not self.books:
            return None
        out: dict[str, Any] = {}
        for name, book in self.books.items():
            liq = book.liq
            out[name] = {
                "model": "Obizhaeva-Wang block-shaped book in log price, exponential resilience, arbitrage to the depth-weighted mean",
                "resilience": liq.resilience,
                "arbitrage": liq.arbitrage,
                "depth_usd": {v: liq.depth(v) for v in book.venues},
                "venues": {v: book.figures[v].row() for v in book.venues},
                "generations": len(book.generations),
                "exogenous_flows": [f.model_dump() for f in liq.flows],
            }
        return out


def reference_mark(prices: list[float], t: int, config: Any, decimals: int, ages: list[int] | None = None) -> int | None:
    """The oracle's price [wad] at `t` over answers `prices` [USD] by the reference model, None if it has none;
    `ages` [seconds] says how old each answer is (none: all fresh)."""
    ages = ages or [0] * len(prices)
    answers = [oracle_model.SourceAnswer(max(1, round(p * 10**decimals)), decimals, t - a) for p, a in zip(prices, ages)]
    try:
        return oracle_model.median_with_band(answers, t, config)[0]
    except oracle_model.OracleError:
        return None
