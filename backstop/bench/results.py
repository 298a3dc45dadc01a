"""The benchmark's results file: its records, the targets computed from them, validation and Markdown.

Pure Python (no chain, no Ape): `make bench` fills these records from real receipts and timings; the tests
check the writer, the validator and the target arithmetic with given figures. The schema is documented in
docs/benchmarks.md. Nothing here measures and nothing asserts a figure: a target that is not met is recorded
as not met.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

RESULTS_SCHEMA = 2
ADL_PER_COUNTERPARTY = "adl_per_counterparty"  # key prefix; the key ends in "@<open positions>"


@dataclass
class GasFigure:
    """Gas of one operation [gas], from a mined transaction's receipt (or a sum of receipts, said in `note`)."""

    operation: str
    gas: int
    note: str = ""
    key: str = ""  # stable identifier for figures that targets read; "" for the others


@dataclass
class Figure:
    """A figure that is not gas per operation: a count, a rate, a time."""

    key: str
    name: str
    value: float | int
    unit: str
    command: str  # the command that measured it
    note: str = ""


@dataclass
class Target:
    """One target (issues #10, #19 and #23): its rule, the figure measured against it and whether it is met."""

    key: str
    name: str
    rule: str  # the target in words, e.g. "<= 200,000 gas"
    measured: float | None  # None: not measured in this run
    unit: str
    met: bool | None  # None: not measured
    basis: str  # which figure the measured value is


@dataclass
class Results:
    """One benchmark run: the command, date and machine, its gas figures and its other figures."""

    command: str
    date: str
    machine: dict[str, Any]
    gas: list[GasFigure] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    quick: bool = False  # the OM replay was skipped

    def targets(self) -> list[Target]:
        """The targets (issues #10, #19 and #23), judged from this run's figures."""
        return compute_targets(self.gas, self.figures)

    def record(self) -> dict[str, Any]:
        """The run as the JSON record of the results file (schema RESULTS_SCHEMA, docs/benchmarks.md)."""
        return {
            "schema": RESULTS_SCHEMA,
            "command": self.command,
            "date": self.date,
            "machine": self.machine,
            "quick": self.quick,
            "targets": [asdict(t) for t in self.targets()],
            "figures": [asdict(f) for f in self.figures],
            "gas": [asdict(g) for g in self.gas],
        }


def machine() -> dict[str, Any]:
    """Cores, memory [GiB], platform and Python of this machine."""
    mem_gib = None
    try:
        with open("/proc/meminfo") as fh:
            mem_gib = round(int(fh.readline().split()[1]) / 2**20, 1)
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "memory_gib": mem_gib,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_avg_1m_start": load_average(),  # the machine may be shared: timings depend on it
    }


def load_average() -> float | None:
    """The 1-minute load average (runnable processes), or None where the system has none."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def now_iso() -> str:
    """The time now in UTC, ISO 8601 to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# ------------------------------------------------------------------ targets (issues #10, #19 and #23)

AUCTION_GAS_MAX = 200_000
STANDING_BID_GAS_MAX = 100_000
LIQUIDATE_MANY_GAS_MAX = 40_000  # issue #19: per liquidation, a batch of 50 of one market absorbed by standing bids
ADL_FLAT_BAND = (0.9, 1.1)  # largest / smallest market, per matched counterparty
THROUGHPUT_RATIO_MIN = 0.5
EMBEDDED_SPEEDUP_MIN = 10.0  # issue #23: the OM time loop on the embedded EVM against Anvil's


def _gas_by_key(gas: list[GasFigure]) -> dict[str, GasFigure]:
    return {g.key: g for g in gas if g.key}


def _at_most(key: str, name: str, basis_key: str, limit: int) -> Callable[[dict[str, GasFigure], dict[str, Figure]], Target]:
    def target(gas: dict[str, GasFigure], _: dict[str, Figure]) -> Target:
        g = gas.get(basis_key)
        measured = float(g.gas) if g else None
        return Target(key, name, f"<= {limit:,} gas", measured, "gas", None if g is None else g.gas <= limit, g.operation if g else basis_key)

    return target


def adl_flatness(gas: list[GasFigure]) -> tuple[float, int, int] | None:
    """(largest / smallest per-counterparty gas, smallest n, largest n) over the ADL markets measured."""
    per = sorted((int(g.key.split("@")[1]), g.gas) for g in gas if g.key.startswith(ADL_PER_COUNTERPARTY + "@"))
    if len(per) < 2 or per[0][1] <= 0:
        return None
    return per[-1][1] / per[0][1], per[0][0], per[-1][0]


def _adl_target(gas: dict[str, GasFigure], _: dict[str, Figure]) -> Target:
    lo, hi = ADL_FLAT_BAND
    flat = adl_flatness(list(gas.values()))
    rule = f"largest / smallest market within {lo:.2f}..{hi:.2f} (±10%), 10 to 10,000 positions"
    if flat is None:
        return Target("adl_flat", "ADL gas per matched counterparty, flat in the market's size", rule, None, "ratio", None, "not measured")
    ratio, small, large = flat
    basis = f"ADL: each extra counterparty, {large:,} / {small:,} positions"
    return Target("adl_flat", "ADL gas per matched counterparty, flat in the market's size", rule, round(ratio, 4), "ratio", lo <= ratio <= hi, basis)


def _throughput_target(_: dict[str, GasFigure], figures: dict[str, Figure]) -> Target:
    f = figures.get("replay_throughput_ratio")
    name = "replay throughput / raw Anvil throughput, same run"
    rule = f">= {THROUGHPUT_RATIO_MIN}"
    if f is None:
        return Target("replay_throughput", name, rule, None, "ratio", None, "not measured")
    return Target("replay_throughput", name, rule, float(f.value), "ratio", float(f.value) >= THROUGHPUT_RATIO_MIN, f.name)


def _embedded_target(_: dict[str, GasFigure], figures: dict[str, Figure]) -> Target:
    """Met when the OM time loop is EMBEDDED_SPEEDUP_MIN times faster on the embedded EVM and the two reports
    agree figure for figure (a faster run that answers differently meets nothing)."""
    f, diff = figures.get("om_embedded_speedup"), figures.get("om_embedded_differences")
    name = "OM time loop, Anvil / embedded EVM, same run, reports equal"
    rule = f">= {EMBEDDED_SPEEDUP_MIN:g}, with 0 parts of the reports differing"
    if f is None or diff is None:
        return Target("embedded_speedup", name, rule, None, "ratio", None, "not measured")
    met = float(f.value) >= EMBEDDED_SPEEDUP_MIN and diff.value == 0
    return Target("embedded_speedup", name, rule, float(f.value), "ratio", met, f"{f.name}; {int(diff.value)} parts differ")


TARGETS = (
    _at_most("auction_liquidation", "full liquidation through the auction", "liquidation_auction_full", AUCTION_GAS_MAX),
    _at_most("standing_bid_liquidation", "liquidation filled by standing bids", "liquidation_standing_bid_batched", STANDING_BID_GAS_MAX),
    _at_most("liquidate_many", "liquidation filled by standing bids, in one liquidateMany of 50", "liquidation_standing_bid_liquidate_many",
             LIQUIDATE_MANY_GAS_MAX),
    _adl_target,
    _throughput_target,
    _embedded_target,
)


def compute_targets(gas: list[GasFigure], figures: list[Figure]) -> list[Target]:
    """Every target (issues #10, #19 and #23), from the measured figures; a figure missing from this run is 'not measured'."""
    by_gas = _gas_by_key(gas)
    by_key = {f.key: f for f in figures}
    return [t(by_gas, by_key) for t in TARGETS]


# ------------------------------------------------------------------ validation

_FIELDS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "gas": {"operation": str, "gas": int, "note": str, "key": str},
    "figures": {"key": str, "name": str, "value": (int, float), "unit": str, "command": str, "note": str},
    "targets": {"key": str, "name": str, "rule": str, "measured": (int, float, type(None)), "unit": str, "met": (bool, type(None)), "basis": str},
}
_TOP: dict[str, type | tuple[type, ...]] = {"schema": int, "command": str, "date": str, "machine": dict, "quick": bool, "targets": list, "figures": list, "gas": list}


def validate_results(record: dict[str, Any]) -> list[str]:
    """Problems with a results record: missing or mistyped fields, targets that do not follow from its figures.
    An empty list means valid."""
    errors = [f"missing field {k!r}" for k in _TOP if k not in record]
    errors += [f"field {k!r} is not {t}" for k, t in _TOP.items() if k in record and not isinstance(record[k], t)]
    if errors:
        return errors
    if record["schema"] != RESULTS_SCHEMA:
        errors.append(f"schema {record['schema']} is not {RESULTS_SCHEMA}")
    for k in ("cores", "memory_gib"):
        if k not in record["machine"]:
            errors.append(f"machine has no {k!r}")
    try:
        datetime.fromisoformat(record["date"])
    except ValueError:
        errors.append(f"date {record['date']!r} is not ISO 8601")
    for section, fields in _FIELDS.items():
        for i, row in enumerate(record[section]):
            for k, t in fields.items():
                if k not in row:
                    errors.append(f"{section}[{i}] has no {k!r}")
                elif not isinstance(row[k], t) or (t is int and isinstance(row[k], bool)):
                    errors.append(f"{section}[{i}].{k} is not {t}")
    if errors:
        return errors
    gas = [GasFigure(**g) for g in record["gas"]]
    figures = [Figure(**f) for f in record["figures"]]
    expected = [asdict(t) for t in compute_targets(gas, figures)]
    if record["targets"] != expected:
        errors.append("targets do not follow from the figures")
    return errors


# ------------------------------------------------------------------ Markdown and files


def _fmt(value: float | int | None, unit: str) -> str:
    if value is None:
        return "not measured"
    if unit == "ratio":
        return f"{value:.3f}"
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


def _met(met: bool | None) -> str:
    return "not measured" if met is None else ("met" if met else "**not met**")


def render_markdown(record: dict[str, Any]) -> str:
    """The README's results tables: targets, other figures, gas per operation, with the run's provenance."""
    m = record["machine"]
    load = f"; load average {m.get('load_avg_1m_start')} at the start, {m.get('load_avg_1m_end')} at the end" if "load_avg_1m_start" in m else ""
    lines = [
        f"Produced by `{record['command']}` on {record['date']} ({m['cores']} cores, {m['memory_gib']} GiB; {m['platform']}; "
        f"Python {m['python']}{load}){' — quick run: the OM replay was skipped' if record['quick'] else ''}.",
        "",
        "#### Targets (issues #10, #19 and #23)",
        "",
        "| target | rule | measured | status | from |",
        "| --- | --- | ---: | --- | --- |",
    ]
    for t in record["targets"]:
        lines.append(f"| {t['name']} | {t['rule']} | {_fmt(t['measured'], t['unit'])}{' ' + t['unit'] if t['measured'] is not None else ''} | {_met(t['met'])} | {t['basis']} |")
    lines += ["", "#### Throughput, times, liquidations per block", "", "| figure | value | unit | note | command |", "| --- | ---: | --- | --- | --- |"]
    for f in record["figures"]:
        lines.append(f"| {f['name']} | {_fmt(f['value'], f['unit'])} | {f['unit']} | {f['note']} | `{f['command']}` |")
    lines += ["", "#### Gas per operation", "", "| operation | gas | note |", "| --- | ---: | --- |"]
    lines += [f"| {g['operation']} | {g['gas']:,} | {g['note']} |" for g in record["gas"]]
    return "\n".join(lines) + "\n"


def write_results(results: Results, out: Path) -> Path:
    """Writes `out` (JSON) and the Markdown beside it (same name, .md); refuses a record that does not validate."""
    record = results.record()
    errors = validate_results(record)
    if errors:
        raise ValueError("results do not validate: " + "; ".join(errors))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n")
    out.with_suffix(".md").write_text(render_markdown(record))
    return out
