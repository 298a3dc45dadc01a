"""`ape run adl_queue --deployment deployments/local-31337.json --market OM-USD [--network ...] [--limit 50]`

Prints the ADL queue of a market of a deployment: every candidate position's rank and 1–5 lights on each
side, computed with the reference ranking that AdlQueue checks on-chain (see backstop.keeper.queue).
"""

from pathlib import Path

import click
from ape.cli import ConnectedProviderCommand, network_option

from backstop.keeper.queue import read_queue, render_queue
from backstop.chain.deploy import Deployment, attach
from backstop.chain.fastchain import FastChain
from backstop.units import market_id


@click.command(cls=ConnectedProviderCommand)
@network_option()
@click.option("--deployment", type=click.Path(exists=True, path_type=Path), required=True, help="Deployment file written by `ape run deploy`.")
@click.option("--market", required=True, help="Market name, e.g. OM-USD.")
@click.option("--limit", default=50, show_default=True, help="Ranks shown per side.")
def cli(provider, deployment, market, limit):
    d = Deployment.read(deployment)
    names = [m["name"] for m in d.parameters["markets"]]
    if market not in names:
        raise click.BadParameter(f"unknown market {market!r}; the deployment lists {', '.join(names)}", param_hint="--market")
    chain = FastChain.connect(provider.http_uri)
    house, oracle = attach(chain.w3, d, "Clearinghouse"), attach(chain.w3, d, "PriceOracle")
    mark, entries = read_queue(chain, house, oracle, market_id(market))
    click.echo(render_queue(market, mark, entries, limit))
