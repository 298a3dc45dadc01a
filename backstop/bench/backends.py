"""The embedded EVM beside Anvil (issue #23), side by side in one run: the OM replay's time loop on each backend
(the two reports must agree figure for figure), and the cost per step at 1,000 / 3,000 / 10,000 traders on each.

Every replay is `backstop replay` in a subprocess (backstop.bench.speed.full_replay), timed as a user runs it.
The per-step figures replay OM's first 30 minutes (31 steps of 60 s, before the fall: each step moves the
venues' prices and the keepers watch; nothing is liquidated) with the trader population scaled: the floor a
step costs on each backend as the state grows. Steps of the crash cost more (the OM figures show a whole run).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from backstop.bench.results import Figure
from backstop.bench.speed import OM_SCENARIO, ReplaySpeed, full_replay
from backstop.replay.runner import EMBEDDED
from backstop.report.digest import digest_differences

__all__ = ["STEP_WINDOW", "TRADER_SIZES", "StepCost", "backend_figures", "step_cost_figures", "step_costs"]

Log = Callable[[str], None]

BACKENDS = ("anvil", EMBEDDED)
TRADER_SIZES = (1_000, 3_000, 10_000)
STEP_WINDOW = 1800  # [s] OM from 16:00 to 16:30 UTC: 31 steps, prices drifting, no liquidation


def backend_figures(om: ReplaySpeed, log: Log = print) -> list[Figure]:
    """The OM replay on the embedded EVM, run right after `om` (the same replay on Anvil, this run): both time
    loops, their ratio, the whole commands' ratio and how many parts of the two reports differ."""
    log(f"full OM replay on the embedded EVM ({OM_SCENARIO}): ~0.5-1 min ...")
    revm = full_replay(OM_SCENARIO, network=EMBEDDED)
    differences = digest_differences(om.digest, revm.digest) if om.digest and revm.digest else ["no digest"]
    loop_ratio = om.loop_seconds / revm.loop_seconds if revm.loop_seconds else 0.0
    wall_ratio = om.wall_seconds / revm.wall_seconds if revm.wall_seconds else 0.0
    agree = "the two reports agree figure for figure" if not differences else "the reports differ in " + ", ".join(differences)
    log(f"OM time loop: Anvil {om.loop_seconds:.1f} s, embedded EVM {revm.loop_seconds:.1f} s ({loop_ratio:.1f}x); {agree}")
    return [
        Figure("om_embedded_loop_seconds", "full OM replay on the embedded EVM: time loop", round(revm.loop_seconds, 1), "s", revm.command,
               f"{revm.transactions:,} transactions, {revm.steps} steps"),
        Figure("om_embedded_replay_seconds", "full OM replay on the embedded EVM, whole command", round(revm.wall_seconds, 1), "s", revm.command),
        Figure("om_embedded_speedup", "OM time loop, Anvil / embedded EVM (same run)", round(loop_ratio, 2), "ratio", f"{om.command}; {revm.command}",
               f"{om.loop_seconds:.1f} s / {revm.loop_seconds:.1f} s; {agree}"),
        Figure("om_embedded_command_speedup", "OM whole command, Anvil / embedded EVM (same run)", round(wall_ratio, 2), "ratio",
               f"{om.command}; {revm.command}", f"{om.wall_seconds:.1f} s / {revm.wall_seconds:.1f} s: deploy, set-up, loop, raw measurement, report"),
        Figure("om_embedded_differences", "parts of the OM report that differ between Anvil and the embedded EVM", len(differences), "parts",
               f"{om.command}; {revm.command}", ", ".join(differences) or "none: series, liquidations, ADL, buffers, keepers, fund flows, totals, failed transactions, steps"),
    ]


@dataclass
class StepCost:
    """What a step of OM's first 30 minutes cost on one backend with `traders` traders."""

    traders: int
    network: str  # anvil or revm
    steps: int
    transactions: int
    loop_seconds: float
    wall_seconds: float  # the whole command: deploy, set-up (the traders' deposits and orders), loop, report
    command: str

    @property
    def ms_per_step(self) -> float:
        """[ms] the time loop's wall time per step."""
        return 1_000 * self.loop_seconds / self.steps if self.steps else 0.0


def step_costs(sizes: tuple[int, ...] = TRADER_SIZES, log: Log = print) -> list[StepCost]:
    """OM's first STEP_WINDOW seconds with each population size in `sizes` on Anvil, then on the embedded EVM."""
    out = []
    for traders in sizes:
        for network in BACKENDS:
            log(f"OM's first {STEP_WINDOW // 60} minutes, {traders:,} traders, on {network} ...")
            run = full_replay(OM_SCENARIO, (f"duration={STEP_WINDOW}", f"population.0.count={traders}"), network=network)
            cost = StepCost(traders, network, run.steps, run.transactions, run.loop_seconds, run.wall_seconds, run.command)
            log(f"  {cost.ms_per_step:.1f} ms per step ({cost.steps} steps, {cost.transactions:,} transactions; whole command {cost.wall_seconds:.0f} s)")
            out.append(cost)
    return out


def step_cost_figures(costs: list[StepCost]) -> list[Figure]:
    """Per population size: ms per step on each backend and their ratio (Anvil / embedded)."""
    figures = []
    by = {(c.traders, c.network): c for c in costs}
    for traders in sorted({c.traders for c in costs}):
        for network in BACKENDS:
            c = by.get((traders, network))
            if c is not None:
                figures.append(Figure(f"step_ms_{network}@{traders}", f"cost per step, {traders:,} traders, on {_node(network)}", round(c.ms_per_step, 1),
                                      "ms", c.command, f"OM's first {STEP_WINDOW // 60} minutes: {c.steps} steps, {c.transactions:,} transactions, "
                                      f"loop {c.loop_seconds:.2f} s, whole command {c.wall_seconds:.0f} s"))
        anvil, revm = by.get((traders, "anvil")), by.get((traders, EMBEDDED))
        if anvil and revm and revm.ms_per_step > 0:
            figures.append(Figure(f"step_speedup@{traders}", f"cost per step, {traders:,} traders, Anvil / embedded EVM", round(anvil.ms_per_step / revm.ms_per_step, 2),
                                  "ratio", f"{anvil.command}; {revm.command}", "same run"))
    return figures


def _node(network: str) -> str:
    return "the embedded EVM" if network == EMBEDDED else "Anvil"
