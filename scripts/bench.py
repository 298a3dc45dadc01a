"""`ape run bench`: gas per ledger operation on a fresh local Anvil; writes benchmarks/results.json and .md."""

from pathlib import Path

import click
from ape.cli import ConnectedProviderCommand, network_option

from backstop.bench import ledger_gas, render_markdown, write_results


@click.command(cls=ConnectedProviderCommand)
@network_option()
@click.option("--out", type=click.Path(path_type=Path), default=Path("benchmarks/results.json"), show_default=True)
def cli(out):
    figures = ledger_gas()
    click.echo(render_markdown(figures))
    click.echo(f"written: {write_results(figures, out, 'make bench')}")
