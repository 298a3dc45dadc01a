"""Every benchmark of issue #10 in one run (what `backstop bench` and `ape run bench` do).

Gas per operation, liquidations per 30M-gas block (unbatched and packed), ADL and standing-bid scaling, compile
and deploy time, replay throughput next to raw Anvil, the full OM replay with and without price impact and on
the embedded EVM, and the cost per step on each backend (these skipped with `quick`); written to a JSON results
file and its Markdown twin. Schema: docs/benchmarks.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from backstop.bench.adl import SIZES as ADL_SIZES
from backstop.bench.adl import adl_scaling
from backstop.bench.backends import TRADER_SIZES, backend_figures, step_cost_figures, step_costs
from backstop.bench.bids import SIZES as BID_SIZES
from backstop.bench.bids import bid_scaling
from backstop.bench.gas import BLOCK_GAS, ledger_gas
from backstop.bench.results import ADL_PER_COUNTERPARTY, Figure, GasFigure, Results, load_average, machine, now_iso, write_results
from backstop.bench.speed import OM_SCENARIO, ReplaySpeed, compile_time, deploy_time, full_replay, replay_throughput

__all__ = ["ADL_SIZES", "BID_SIZES", "TRADER_SIZES", "run_benchmarks"]

Log = Callable[[str], None]


def run_benchmarks(
    out: Path,
    command: str,
    adl_sizes: tuple[int, ...] = ADL_SIZES,
    bid_sizes: tuple[int, ...] = BID_SIZES,
    quick: bool = False,
    log: Log = print,
    trader_sizes: tuple[int, ...] = TRADER_SIZES,
) -> Path:
    """Runs every benchmark and writes `out` (JSON) and `out` with suffix .md; returns `out`.

    Needs an Ape provider connected to a local chain (the gas and deploy figures are measured there); the ADL
    and standing-bid scaling and the replays start their own Anvil. `command` is recorded as the command that
    produced the figures; `adl_sizes` are open positions per market and `bid_sizes` standing bids in the book
    at which the scaling figures are measured (empty: skipped); `quick` skips the full OM replays (the
    throughput target then reads the mini crash) and the cost per step; `trader_sizes` are the populations at
    which the cost per step is measured on Anvil and on the embedded EVM (empty: skipped); `log` gets one line
    per finished measurement."""
    results = Results(command, now_iso(), machine(), quick=quick)
    figures = results.figures

    timed = compile_time()
    figures.append(Figure("compile_seconds", "compile every contract from scratch", round(timed.seconds, 1), "s", timed.command))
    log(f"compile: {timed.seconds:.1f} s")

    gas, packing = ledger_gas()
    results.gas += gas
    auction = next(g for g in gas if g.key == "liquidation_auction_full")
    figures.append(Figure("liquidations_per_block_unbatched", "liquidations per 30M-gas block, unbatched (start auction + full take each)",
                          BLOCK_GAS // auction.gas, "liquidations", command, f"30M / {auction.gas:,} gas"))
    figures.append(Figure("liquidations_per_block_packed",
                          "liquidations per 30M-gas block, best batched form (standing bids absorb each; one tx each, packed in one block)",
                          packing.per_block, "liquidations", command,
                          f"30M / {packing.per_liquidation:,} gas: {packing.liquidations} mined in {packing.blocks} block(s), automine off, {packing.gas:,} gas in sum"))
    log(f"packed block: {packing.liquidations} standing-bid liquidations, {packing.gas:,} gas, {packing.per_block} per 30M block")
    many = next((g for g in gas if g.key == "liquidation_standing_bid_liquidate_many"), None)
    if many is not None:
        figures.append(Figure("liquidations_per_block_liquidate_many",
                              "liquidations per 30M-gas block, in liquidateMany batches (standing bids absorb each)",
                              BLOCK_GAS // many.gas, "liquidations", command, f"30M / {many.gas:,} gas ({many.operation})"))
        log(f"liquidateMany: {many.gas:,} gas per liquidation, {BLOCK_GAS // many.gas} per 30M block")

    timed = deploy_time()
    figures.append(Figure("deploy_seconds", "deploy a one-market system (Ape, local Anvil)", round(timed.seconds, 1), "s", timed.command))
    log(f"deploy: {timed.seconds:.1f} s")

    results.gas += bid_figures(bid_sizes, log)
    results.gas += adl_figures(adl_sizes, log)

    mini = replay_throughput()
    figures += replay_figures(mini, "mini", keyed=quick)
    log(f"mini-crash replay: {mini.tx_per_s} tx/s, raw {mini.raw_tx_per_s} tx/s, ratio {mini.ratio}")
    if not quick:
        log(f"full OM replay ({OM_SCENARIO}): 1.5-5 min ...")
        om = full_replay()
        figures.append(Figure("om_replay_seconds", f"full OM replay, whole command ({om.scenario})", round(om.wall_seconds, 1), "s", om.command))
        figures += replay_figures(om, "om", keyed=True)
        log(f"OM replay: {om.wall_seconds:.0f} s; {om.tx_per_s} tx/s, raw {om.raw_tx_per_s} tx/s, ratio {om.ratio}")
        figures += impact_figures(om, log)
        figures += backend_figures(om, log)
        figures += step_cost_figures(step_costs(trader_sizes, log))

    results.machine["load_avg_1m_end"] = load_average()
    return write_results(results, out)


NO_IMPACT_SETS = ("markets.0.liquidity=null",)  # OM without its venues' books: the engine before price impact


def impact_figures(om: ReplaySpeed, log: Log = print) -> list[Figure]:
    """The OM replay's time loop with price impact (`om`, as bundled) beside the same replay without it, run
    right after on the same machine: what the market model costs."""
    log("full OM replay without price impact: 1.5-5 min ...")
    flat = full_replay(OM_SCENARIO, NO_IMPACT_SETS)
    ratio = om.loop_seconds / flat.loop_seconds if flat.loop_seconds else 0.0
    per_tx = (om.loop_seconds / max(om.transactions, 1)) / (flat.loop_seconds / max(flat.transactions, 1)) if flat.loop_seconds else 0.0
    log(f"OM time loop: {om.loop_seconds:.1f} s with impact, {flat.loop_seconds:.1f} s without ({ratio:.2f}x)")
    return [
        Figure("om_no_impact_loop_seconds", "full OM replay without price impact: time loop", round(flat.loop_seconds, 1), "s", flat.command,
               f"{flat.transactions:,} transactions"),
        Figure("om_impact_loop_seconds", "full OM replay with price impact: time loop", round(om.loop_seconds, 1), "s", om.command,
               f"{om.transactions:,} transactions"),
        Figure("om_impact_loop_ratio", "OM time loop with / without price impact (same run)", round(ratio, 3), "ratio", om.command,
               "target <= 1.10"),
        Figure("om_impact_per_tx_ratio", "OM time loop per transaction, with / without price impact (same run)",
               round(per_tx, 3), "ratio", om.command, "the model's own cost: keepers sized by slippage send more, smaller takes"),
    ]


def adl_figures(sizes: tuple[int, ...], log: Log = print) -> list[GasFigure]:
    """The ADL scaling figures at each market size in `sizes` (open positions): the gas of an execution against
    five counterparties and of each extra counterparty. Starts its own Anvil; nothing when `sizes` is empty."""
    scaling = adl_scaling(sizes, log=log) if sizes else []
    figures = []
    for r in scaling:
        figures.append(GasFigure(f"ADL: execution, {r.counterparties} counterparties, {r.positions:,} positions", r.execution_gas))
        figures.append(GasFigure(f"ADL: each extra counterparty, {r.positions:,} positions", r.per_counterparty,
                                 "(5-counterparty − 1-counterparty execution) / 4; includes checkpoints",
                                 key=f"{ADL_PER_COUNTERPARTY}@{r.positions}"))
    return figures


def bid_figures(sizes: tuple[int, ...], log: Log = print) -> list[GasFigure]:
    """The standing-bid fill gas with each number of bids in `sizes` resting in the book, and the ratio of the
    largest to the smallest (x1000). Starts its own Anvil; nothing when `sizes` is empty."""
    scaling = bid_scaling(sizes, log=log) if sizes else []
    figures = [GasFigure(f"liquidation: filled by a standing bid, {r.bids:,} bids in the book", r.gas,
                         "the head bid absorbs it; the others of distinct accounts over 8 levels; own Anvil") for r in scaling]
    if len(scaling) >= 2:
        small, large = scaling[0], scaling[-1]
        ratio = large.gas / small.gas
        figures.append(GasFigure(f"standing-bid fill, gas ratio {large.bids:,} / {small.bids:,} bids (x1000)", round(ratio * 1_000), f"{ratio:.3f}"))
    return figures


def replay_figures(speed: ReplaySpeed, prefix: str, keyed: bool) -> list[Figure]:
    """tx/s, raw tx/s and their ratio of one replay; `keyed`: the ones the throughput target reads (their keys
    carry no `prefix`)."""
    key = (lambda k: k) if keyed else (lambda k: f"{prefix}_{k}")  # noqa: E731
    name = f"{speed.scenario}: "
    out = [Figure(key("replay_tx_per_s"), name + "replay throughput (time loop)", speed.tx_per_s, "tx/s", speed.command,
                  f"{speed.transactions:,} transactions in {speed.loop_seconds:.1f} s")]
    if speed.raw_tx_per_s is not None and speed.ratio is not None:
        out.append(Figure(key("raw_anvil_tx_per_s"), name + "raw Anvil throughput, same node, after the replay", speed.raw_tx_per_s, "tx/s",
                          speed.command, "2,000 pre-signed ERC-20 transfers in blocks of 500"))
        out.append(Figure(key("replay_throughput_ratio"), name + "replay / raw Anvil throughput", speed.ratio, "ratio", speed.command, "target >= 0.5"))
    return out
