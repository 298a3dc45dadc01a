"""`ape run bench`: gas per ledger operation on a fresh local Anvil; writes benchmarks/results.json and .md."""

from pathlib import Path

import click
from ape.cli import ConnectedProviderCommand, network_option

from backstop.bench import GasFigure, ledger_gas, render_markdown, write_results
from backstop.bench_adl import SIZES, adl_scaling


@click.command(cls=ConnectedProviderCommand)
@network_option()
@click.option("--out", type=click.Path(path_type=Path), default=Path("benchmarks/results.json"), show_default=True)
@click.option("--adl-sizes", default=",".join(map(str, SIZES)), show_default=True,
              help="open positions per market for the ADL scaling figures (comma-separated)")
def cli(out, adl_sizes):
    figures = ledger_gas()
    sizes = tuple(int(x) for x in adl_sizes.split(",") if x.strip())
    scaling = adl_scaling(sizes, log=click.echo) if sizes else []
    for r in scaling:
        figures.append(GasFigure(f"ADL: execution, {r.counterparties} counterparties, {r.positions:,} positions", r.execution_gas))
        figures.append(GasFigure(f"ADL: each extra counterparty, {r.positions:,} positions", r.per_counterparty,
                                 "(5-counterparty − 1-counterparty execution) / 4; includes checkpoints"))
    if len(scaling) > 1:
        per = [r.per_counterparty for r in scaling]
        figures.append(GasFigure("ADL: per-counterparty gas, largest / smallest market (x1000)",
                                 round(1000 * per[-1] / per[0]), f"{scaling[0].positions:,} to {scaling[-1].positions:,} positions; target within 900..1100"))
    click.echo(render_markdown(figures))
    click.echo(f"written: {write_results(figures, out, 'make bench')}")
