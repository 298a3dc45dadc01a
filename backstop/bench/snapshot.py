"""The gas snapshot (issue #19): gas per named operation, committed in snapshots/gas.json, re-measured by
`make gas` and compared operation by operation, as Uniswap v4's and Aave v3's `snapshots/` are.

`measure` runs the gas benchmarks that take seconds, not minutes: every ledger, auction, fund and standing-bid
operation of backstop.bench.gas on the connected chain, the packed block of standing-bid liquidations, a
standing-bid fill with 10 bids in the book and an ADL execution in a market of 10 positions (these two on their
own Anvil). Each figure is one receipt's gasUsed (or a sum, said in the operation's name), on a fresh
deterministic chain: the same contracts give the same numbers on every run.

`compare` sets a snapshot beside a measurement: an operation more than `TOLERANCE` above its snapshot is a
regression; one below is an improvement (the snapshot should be updated, `make gas-update`, so that the gain is
kept); an operation measured but not in the snapshot, or in the snapshot but no longer measured, is an error
too: the snapshot names exactly what is measured.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

__all__ = ["SNAPSHOT", "TOLERANCE", "GasComparison", "compare", "measure", "read_snapshot", "render", "write_snapshot"]

SNAPSHOT = Path("snapshots/gas.json")
TOLERANCE = 0.01  # an operation may cost at most 1% more than its snapshot
BID_SIZE = 10  # standing bids in the book for the snapshot's fill figure
ADL_SIZE = 10  # open positions in the market for the snapshot's ADL figures


def measure(log: Callable[[str], None] = print) -> dict[str, int]:
    """Gas [gas] per operation name, measured now. Needs an Ape provider connected to a fresh local chain."""
    from backstop.bench.gas import ledger_gas  # noqa: PLC0415
    from backstop.bench.run import adl_figures, bid_figures  # noqa: PLC0415

    gas, _packing = ledger_gas()
    log(f"ledger, auction, fund and standing-bid operations: {len(gas)} figures")
    gas += bid_figures((BID_SIZE,), log)
    gas += adl_figures((ADL_SIZE,), log)
    out: dict[str, int] = {}
    for g in gas:
        if g.operation in out:
            raise ValueError(f"gas snapshot: operation {g.operation!r} is measured twice")
        out[g.operation] = int(g.gas)
    return out


@dataclass
class GasComparison:
    """A measurement beside its snapshot: (operation, snapshot gas, measured gas) by outcome."""

    regressions: list[tuple[str, int, int]] = field(default_factory=list)
    improvements: list[tuple[str, int, int]] = field(default_factory=list)
    unchanged: list[tuple[str, int, int]] = field(default_factory=list)
    new: list[tuple[str, int]] = field(default_factory=list)
    missing: list[tuple[str, int]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No regression, and the snapshot names exactly the operations measured."""
        return not (self.regressions or self.new or self.missing)

    def problems(self) -> list[str]:
        """One line per reason the check fails."""
        out = [f"{op}: {now:,} gas, {now / was - 1:+.2%} against the snapshot's {was:,} (at most +{TOLERANCE:.0%})" for op, was, now in self.regressions]
        out += [f"{op}: measured ({now:,} gas) but not in the snapshot" for op, now in self.new]
        out += [f"{op}: in the snapshot ({was:,} gas) but no longer measured" for op, was in self.missing]
        return out


def compare(snapshot: Mapping[str, int], measured: Mapping[str, int], tolerance: float = TOLERANCE) -> GasComparison:
    """`measured` beside `snapshot`, operation by operation (see the module's docstring)."""
    result = GasComparison()
    for op, now in measured.items():
        was = snapshot.get(op)
        if was is None:
            result.new.append((op, now))
        elif now > was * (1 + tolerance):
            result.regressions.append((op, was, now))
        elif now < was:
            result.improvements.append((op, was, now))
        else:
            result.unchanged.append((op, was, now))
    result.missing = [(op, was) for op, was in snapshot.items() if op not in measured]
    return result


def render(snapshot: Mapping[str, int], measured: Mapping[str, int]) -> str:
    """A Markdown table: every operation, its snapshot gas, the measured gas and the change."""
    lines = ["| operation | snapshot [gas] | now [gas] | change |", "| --- | ---: | ---: | ---: |"]
    for op in list(snapshot) + [op for op in measured if op not in snapshot]:
        was, now = snapshot.get(op), measured.get(op)
        change = f"{now / was - 1:+.2%}" if was and now is not None else "new" if was is None else "gone"
        lines.append(f"| {op} | {'' if was is None else f'{was:,}'} | {'' if now is None else f'{now:,}'} | {change} |")
    return "\n".join(lines) + "\n"


def read_snapshot(path: Path = SNAPSHOT) -> dict[str, int]:
    """The snapshot's operations [gas]; ValueError naming the file when it cannot be read."""
    try:
        data: Any = json.loads(Path(path).read_text())
        operations = data["operations"]
        if not isinstance(operations, dict) or not all(isinstance(v, int) for v in operations.values()):
            raise TypeError("operations is not an object of whole numbers")
    except FileNotFoundError:
        raise ValueError(f"{path}: no gas snapshot (write one with `make gas-update`)") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a gas snapshot ({exc})") from None
    return dict(operations)


def write_snapshot(measured: Mapping[str, int], command: str, path: Path = SNAPSHOT) -> Path:
    """Writes the snapshot file: the command that measures it, what it holds, and the operations [gas]."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "command": command,
        "what": "gasUsed of each named operation's receipt on a fresh local chain (backstop.bench.snapshot); "
        f"`make gas` fails when one costs more than {TOLERANCE:.0%} above this",
        "operations": dict(measured),
    }
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path
