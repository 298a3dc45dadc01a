"""`ape run bench`: every benchmark of issue #10 on a fresh local Anvil; writes benchmarks/results.json and .md.

Gas per operation, liquidations per 30M-gas block (unbatched and packed), ADL scaling, compile and deploy time,
replay throughput next to raw Anvil, and the full OM replay (skipped with --quick). Schema: docs/benchmarks.md.
"""

import shlex
import sys
from pathlib import Path

import click
from ape.cli import ConnectedProviderCommand, network_option

from backstop.bench.gas import BLOCK_GAS, ledger_gas
from backstop.bench.adl import SIZES, adl_scaling
from backstop.bench.bids import SIZES as BID_SIZES, bid_scaling
from backstop.bench.results import ADL_PER_COUNTERPARTY, Figure, GasFigure, Results, load_average, machine, now_iso, write_results
from backstop.bench.speed import OM_SCENARIO, ReplaySpeed, compile_time, deploy_time, full_replay, replay_throughput


def _command() -> str:
    args = sys.argv[sys.argv.index("bench") + 1 :] if "bench" in sys.argv else []
    return shlex.join(["ape", "run", "bench", *args])


def _sizes(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",") if x.strip())


def _adl_figures(sizes: tuple[int, ...]) -> list[GasFigure]:
    scaling = adl_scaling(sizes, log=click.echo) if sizes else []
    figures = []
    for r in scaling:
        figures.append(GasFigure(f"ADL: execution, {r.counterparties} counterparties, {r.positions:,} positions", r.execution_gas))
        figures.append(GasFigure(f"ADL: each extra counterparty, {r.positions:,} positions", r.per_counterparty,
                                 "(5-counterparty − 1-counterparty execution) / 4; includes checkpoints",
                                 key=f"{ADL_PER_COUNTERPARTY}@{r.positions}"))
    return figures


def _bid_figures(sizes: tuple[int, ...]) -> list[GasFigure]:
    scaling = bid_scaling(sizes, log=click.echo) if sizes else []
    figures = [GasFigure(f"liquidation: filled by a standing bid, {r.bids:,} bids in the book", r.gas,
                         "the head bid absorbs it; the others of distinct accounts over 8 levels; own Anvil") for r in scaling]
    if len(scaling) >= 2:
        small, large = scaling[0], scaling[-1]
        ratio = large.gas / small.gas
        figures.append(GasFigure(f"standing-bid fill, gas ratio {large.bids:,} / {small.bids:,} bids (x1000)", round(ratio * 1_000), f"{ratio:.3f}"))
    return figures


def _replay_figures(speed: ReplaySpeed, prefix: str, keyed: bool) -> list[Figure]:
    """tx/s, raw tx/s and their ratio of one replay; `keyed`: the ones the throughput target reads."""
    key = (lambda k: k) if keyed else (lambda k: f"{prefix}_{k}")  # noqa: E731
    name = f"{speed.scenario}: "
    out = [Figure(key("replay_tx_per_s"), name + "replay throughput (time loop)", speed.tx_per_s, "tx/s", speed.command,
                  f"{speed.transactions:,} transactions in {speed.loop_seconds:.1f} s")]
    if speed.raw_tx_per_s is not None and speed.ratio is not None:
        out.append(Figure(key("raw_anvil_tx_per_s"), name + "raw Anvil throughput, same node, after the replay", speed.raw_tx_per_s, "tx/s",
                          speed.command, "2,000 pre-signed ERC-20 transfers in blocks of 500"))
        out.append(Figure(key("replay_throughput_ratio"), name + "replay / raw Anvil throughput", speed.ratio, "ratio", speed.command, "target >= 0.5"))
    return out


@click.command(cls=ConnectedProviderCommand)
@network_option()
@click.option("--out", type=click.Path(path_type=Path), default=Path("benchmarks/results.json"), show_default=True)
@click.option("--adl-sizes", default=",".join(map(str, SIZES)), show_default=True,
              help="open positions per market for the ADL scaling figures (comma-separated; '' skips them)")
@click.option("--bid-sizes", default=",".join(map(str, BID_SIZES)), show_default=True,
              help="standing bids in the book for the fill-gas scaling figures (comma-separated; '' skips them)")
@click.option("--quick", is_flag=True, help="skip the full OM replay (1.5-5 min); the throughput target then uses the small fixture")
def cli(out, adl_sizes, bid_sizes, quick):
    command = _command()
    results = Results(command, now_iso(), machine(), quick=quick)
    figures = results.figures

    timed = compile_time()
    figures.append(Figure("compile_seconds", "compile every contract from scratch", round(timed.seconds, 1), "s", timed.command))
    click.echo(f"compile: {timed.seconds:.1f} s")

    gas, packing = ledger_gas()
    results.gas += gas
    auction = next(g for g in gas if g.key == "liquidation_auction_full")
    figures.append(Figure("liquidations_per_block_unbatched", "liquidations per 30M-gas block, unbatched (start auction + full take each)",
                          BLOCK_GAS // auction.gas, "liquidations", command, f"30M / {auction.gas:,} gas"))
    figures.append(Figure("liquidations_per_block_packed",
                          "liquidations per 30M-gas block, best batched form (standing bids absorb each; one tx each, packed in one block)",
                          packing.per_block, "liquidations", command,
                          f"30M / {packing.per_liquidation:,} gas: {packing.liquidations} mined in {packing.blocks} block(s), automine off, {packing.gas:,} gas in sum"))
    click.echo(f"packed block: {packing.liquidations} standing-bid liquidations, {packing.gas:,} gas, {packing.per_block} per 30M block")

    timed = deploy_time()
    figures.append(Figure("deploy_seconds", "deploy a one-market system (Ape, local Anvil)", round(timed.seconds, 1), "s", timed.command))
    click.echo(f"deploy: {timed.seconds:.1f} s")

    results.gas += _bid_figures(_sizes(bid_sizes))
    results.gas += _adl_figures(_sizes(adl_sizes))

    mini = replay_throughput()
    figures += _replay_figures(mini, "mini", keyed=quick)
    click.echo(f"mini-crash replay: {mini.tx_per_s} tx/s, raw {mini.raw_tx_per_s} tx/s, ratio {mini.ratio}")
    if not quick:
        click.echo(f"full OM replay ({OM_SCENARIO}): 1.5-5 min ...")
        om = full_replay()
        figures.append(Figure("om_replay_seconds", f"full OM replay, whole command ({om.scenario})", round(om.wall_seconds, 1), "s", om.command))
        figures += _replay_figures(om, "om", keyed=True)
        click.echo(f"OM replay: {om.wall_seconds:.0f} s; {om.tx_per_s} tx/s, raw {om.raw_tx_per_s} tx/s, ratio {om.ratio}")

    results.machine["load_avg_1m_end"] = load_average()
    path = write_results(results, out)
    click.echo(path.with_suffix(".md").read_text())
    click.echo(f"written: {path} and {path.with_suffix('.md')}")
