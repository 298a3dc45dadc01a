"""Variants of one crash scenario for side-by-side comparison (``backstop compare``).

A variant is a name and a set of dotted-key overrides (``Scenario.with_overrides``) applied to the base
scenario. Three sources:

- ``--vary KEY=V1,V2,...``: one variant per value, each changing only KEY (one factor at a time);
- ``--variant NAME``: a named variant of the scenario file (``variants:``);
- ``--builtin NAME``: a built-in transform that removes one of Backstop's mechanisms (:data:`BUILTINS`),
  computed from the scenario itself, so it always names real fields.

The seed and the trader population never vary: every variant replays the same crash against the same
traders (keys under ``seed`` and ``population`` are refused), who may only behave otherwise: a variant may set
a population's ``exits`` (``population.<i>.exits``: stop losses and take profits, drawn from a stream of their
own, so the traders stay the same). Every variant is validated before anything is
replayed; a problem raises :class:`VariantError` (a BackstopError and a ValueError) naming the variant and
the key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from backstop.errors import BackstopError
from backstop.scenario.document import Scenario
from backstop.scenario.errors import ScenarioError
from backstop.scenario.fields import UINT32_MAX
from backstop.units import BPS

__all__ = [
    "BUILTINS",
    "Builtin",
    "Variant",
    "VariantError",
    "builtin_variant",
    "describe_builtins",
    "describe_named",
    "named_variant",
    "plan_variants",
    "population_fingerprint",
    "split_values",
    "vary_variants",
]

FIXED_KEYS = ("seed", "population")  # what every variant of a comparison shares
BEHAVIOUR_KEYS = ("exits",)  # ...but for what a population's traders do when the price moves (Exits)


def fixes_the_population(key: str) -> bool:
    """Whether dotted `key` changes who trades (FIXED_KEYS), not only what they do (``population.<i>.exits``)."""
    parts = key.split(".")
    if parts[0] not in FIXED_KEYS:
        return False
    return not (parts[0] == "population" and len(parts) >= 3 and parts[2] in BEHAVIOUR_KEYS)


class VariantError(BackstopError, ValueError):
    """A variant that cannot be built: unknown key or builtin, empty value list, a fixed field changed."""


@dataclass(frozen=True)
class Variant:
    """One run of a comparison: ``overrides`` applied to the base scenario (after the base's own ``--set``).

    ``kind`` is "base", "vary", "named" or "builtin"; ``notes`` say when a variant changes nothing.
    """

    name: str
    kind: str
    description: str
    overrides: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


# ------------------------------------------------------------------------------------ built-in variants


@dataclass(frozen=True)
class Builtin:
    """A built-in variant: ``transform(scenario, arg)`` returns the overrides that remove one mechanism."""

    name: str
    description: str
    transform: Callable[[Scenario, str | None], dict[str, Any]]


def _no_standing_bids(sc: Scenario, arg: str | None) -> dict[str, Any]:
    return {f"keepers.{i}.standing_bid": None for i, k in enumerate(sc.keepers) if k.standing_bid is not None}


def _no_buffer(sc: Scenario, arg: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, m in enumerate(sc.markets):
        if m.auction.drop_bps:
            out[f"markets.{i}.auction.drop_bps"] = 0
        if m.auction.hole:
            out[f"markets.{i}.auction.hole"] = 0
    return out


def _single_venue(sc: Scenario, arg: str | None) -> dict[str, Any]:
    data = sc.model_dump(mode="python")
    out: dict[str, Any] = {}
    for i, m in enumerate(sc.markets):
        venue = arg or next(iter(m.venues))
        if venue not in m.venues:
            raise VariantError(f"builtin single_venue:{arg}: market {m.name} has no venue {arg!r} (venues: {', '.join(m.venues)})")
        if len(m.venues) > 1:
            out[f"markets.{i}.venues"] = {venue: data["markets"][i]["venues"][venue]}
        if m.oracle.min_sources != 1:
            out[f"markets.{i}.oracle.min_sources"] = 1
        liq = m.liquidity
        if liq is not None and len(m.venues) > 1:  # the kept venue's book; flows on the others go with them
            if isinstance(liq.depth_usd, dict):
                out[f"markets.{i}.liquidity.depth_usd"] = {venue: liq.depth_usd[venue]}
            if any(f.venue != venue for f in liq.flows):
                out[f"markets.{i}.liquidity.flows"] = [f.model_dump() for f in liq.flows if f.venue == venue]
    return out


def _fixed_leverage(sc: Scenario, arg: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, m in enumerate(sc.markets):
        if len(m.tiers) > 1:
            first, top = m.tiers[0], m.tiers[-1]
            out[f"markets.{i}.tiers"] = [{**first.model_dump(), "max_notional": top.max_notional}]
    return out


def _maker_1_2(sc: Scenario, arg: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, m in enumerate(sc.markets):
        a = m.auction
        if a.curve != "linear":
            out[f"markets.{i}.auction.curve"] = "linear"
        if a.tail != UINT32_MAX:
            out[f"markets.{i}.auction.tail"] = UINT32_MAX
        if a.stale_bps != BPS:
            out[f"markets.{i}.auction.stale_bps"] = BPS
    return out


def _no_impact(sc: Scenario, arg: str | None) -> dict[str, Any]:
    return {f"markets.{i}.liquidity": None for i, m in enumerate(sc.markets) if m.liquidity is not None}


BUILTINS: dict[str, Builtin] = {
    b.name: b
    for b in (
        Builtin(
            "no_standing_bids",
            "without standing bids: every keeper's standing_bid removed (liquidations wait for auction takers)",
            _no_standing_bids,
        ),
        Builtin(
            "no_buffer",
            "without the buffer: auction.drop_bps = 0 and auction.hole = 0 in every market (no buffer period, no "
            "throttle cap, so no queue: every liquidation starts its auction at once)",
            _no_buffer,
        ),
        Builtin(
            "single_venue",
            "a single-venue oracle instead of the median: each market keeps one venue's source (the first listed, "
            "or single_venue:VENUE) and oracle.min_sources = 1",
            _single_venue,
        ),
        Builtin(
            "fixed_leverage",
            "fixed leverage instead of tiers: one bracket up to the top tier's max_notional with the first "
            "(most lenient) tier's margins and fee, so large positions keep small-position leverage",
            _fixed_leverage,
        ),
        Builtin(
            "maker_1_2",
            "a Maker-1.2-style auction: a linear curve of fixed duration (tau) that is never reset "
            f"(auction.tail = {UINT32_MAX}, the most; auction.stale_bps = 10000: no redo unless the price is "
            "more than twice the oracle's) - an auction nobody takes in time ends at a price of zero",
            _maker_1_2,
        ),
        Builtin(
            "no_impact",
            "without price impact: every market's liquidity removed (infinite depth), so the venues trade at their "
            "scripted paths and no flow moves a price",
            _no_impact,
        ),
    )
}


def builtin_variant(base: Scenario, spec: str) -> Variant:
    """The built-in variant ``spec`` ("NAME" or "NAME:ARG", e.g. "single_venue:venue-b") of `base`."""
    name, _, arg = spec.partition(":")
    builtin = BUILTINS.get(name)
    if builtin is None:
        raise VariantError(f"unknown builtin variant {name!r}; known: {', '.join(BUILTINS)}")
    if arg and name != "single_venue":
        raise VariantError(f"builtin {name} takes no argument (got {spec!r})")
    overrides = builtin.transform(base, arg or None)
    notes = () if overrides else (f"{spec}: the scenario already lacks this mechanism; the run equals the base",)
    return Variant(spec, "builtin", builtin.description, overrides, notes)


# ------------------------------------------------------------------------------------ --vary and --variant


def split_values(text: str) -> list[str]:
    """Comma-separated values, keeping commas inside brackets, braces and quotes: "1,[a, b],{x: 1}"."""
    parts: list[str] = []
    depth, quote, start = 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def vary_variants(item: str) -> list[Variant]:
    """``KEY=V1,V2,...`` to one variant per value (values read as YAML, as ``--set`` reads them)."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise VariantError(f"--vary {item!r}: expected KEY=V1,V2,..., e.g. markets.0.auction.tau=600,1800,3600")
    values = split_values(raw)
    if not raw.strip() or any(not v for v in values):
        raise VariantError(f"--vary {item!r}: an empty value list or an empty value; give KEY=V1,V2,...")
    return [Variant(f"{key}={v}", "vary", f"{key} = {v}", {key: yaml.safe_load(v)}) for v in values]


def named_variant(base: Scenario, name: str) -> Variant:
    """The scenario file's variant ``name`` (``variants:``)."""
    if name not in base.variants:
        known = ", ".join(sorted(base.variants)) or "none"
        raise VariantError(f"{base.file}: no variant {name!r} in the scenario (its variants: {known})")
    overrides = dict(base.variants[name])
    return Variant(name, "named", "scenario variant: " + ", ".join(f"{k} = {_brief(v)}" for k, v in overrides.items()), overrides)


def _brief(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


# ------------------------------------------------------------------------------------ planning


def population_fingerprint(sc: Scenario) -> str:
    """SHA-256 of the seed and the population spec but its traders' exits: equal for every variant of a comparison."""
    data = {"seed": sc.seed, "population": [p.model_dump(mode="json", exclude=set(BEHAVIOUR_KEYS)) for p in sc.population]}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def plan_variants(
    base: Scenario,
    vary: Iterable[str] = (),
    named: Iterable[str] = (),
    builtins: Iterable[str] = (),
) -> list[tuple[Variant, Scenario]]:
    """The base run first, then every requested variant with its validated scenario.

    Raises VariantError for an unknown key, builtin or named variant, an empty value list, a key under
    ``seed`` or ``population``, or two variants with the same name; nothing has run when it raises.
    """
    variants = [Variant("base", "base", "the scenario as given")]
    for item in vary:
        variants += vary_variants(item)
    variants += [named_variant(base, n) for n in named]
    variants += [builtin_variant(base, b) for b in builtins]
    if len(variants) == 1:
        raise VariantError("nothing to compare: give at least one --vary, --variant or --builtin")
    seen: set[str] = set()
    planned: list[tuple[Variant, Scenario]] = []
    base_dump = base.model_dump(mode="json")
    for v in variants:
        if v.name in seen:
            raise VariantError(f"variant {v.name!r} is listed twice")
        seen.add(v.name)
        fixed = [k for k in v.overrides if fixes_the_population(k)]
        if fixed:
            raise VariantError(
                f"variant {v.name!r} changes {', '.join(fixed)}: a comparison replays the same seed and population "
                "(only `population.<i>.exits` may change; use `backstop replay --set` to replay another population)"
            )
        try:
            sc = base.with_overrides(v.overrides)
        except ScenarioError as exc:
            raise VariantError(f"variant {v.name!r}: {exc}") from None
        if v.kind != "base" and not v.notes and sc.model_dump(mode="json") == base_dump:
            v = Variant(v.name, v.kind, v.description, v.overrides, (f"{v.name}: changes nothing in this scenario; the run equals the base",))
        planned.append((v, sc))
    return planned


def describe_builtins() -> Sequence[tuple[str, str]]:
    """(name, description) of every built-in variant, for `backstop compare --list`."""
    return [(b.name, b.description) for b in BUILTINS.values()]


def describe_named(base: Scenario) -> Mapping[str, str]:
    """name -> overrides in words, for every named variant of the scenario file."""
    return {name: named_variant(base, name).description for name in sorted(base.variants)}
