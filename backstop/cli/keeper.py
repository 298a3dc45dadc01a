"""`backstop keeper` (a live keeper bot) and `backstop adl-queue` (the ADL ranking), both against a deployment."""

from __future__ import annotations

from pathlib import Path

import click

from backstop.cli.connect import check_deployed, connected, http_uri, load_account, network_option, read_deployment
from backstop.cli.errors import BackstopCommand

DEPLOYMENT_HELP = "Deployment file written by `backstop deploy` (e.g. deployments/local-31337.json)."
KEEPER_CONTRACTS = ("Clearinghouse", "LiquidationAuction", "PriceOracle", "USDC")
QUEUE_CONTRACTS = ("Clearinghouse", "PriceOracle")


@click.command(cls=BackstopCommand)
@network_option
@click.option("--deployment", type=click.Path(path_type=Path), required=True, help=DEPLOYMENT_HELP)
@click.option("--account", "account_alias", default=None, metavar="ALIAS",
              help="Ape account alias the keeper signs with (default: Ape's test account 1); it needs USDC to take auctions.")
@click.option("--discount-bps", default=100, show_default=True, type=click.IntRange(min=0),
              help="Take an auction only at least this much below the oracle price [bps].")
@click.option("--latency", default=0.0, show_default=True, type=click.FloatRange(min=0),
              help="Seconds to wait before acting on something new (a slow keeper).")
@click.option("--failure-rate", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Chance [0-1] of skipping a round (an unreliable keeper).")
@click.option("--interval", default=2.0, show_default=True, type=click.FloatRange(min=0), help="Seconds between rounds.")
@click.option("--rounds", default=None, type=click.IntRange(min=0), help="Stop after this many rounds (default: run until Ctrl-C).")
def keeper(network: str | None, deployment: Path, account_alias: str | None, discount_bps: int, latency: float, failure_rate: float, interval: float, rounds: int | None) -> None:
    """Run a keeper against a deployment.

    Each round it reads every position, liquidates those below maintenance margin, restarts stale auctions,
    takes attractive ones and deleverages (ADL) the sales that qualify for it. Prints its address, the markets
    and, when it stops, the actions it took.
    """
    from backstop.keeper.bot import KeeperConfig, bot_for_deployment  # noqa: PLC0415

    d = read_deployment(deployment)
    with connected(network) as provider:
        check_deployed(provider, d, deployment, KEEPER_CONTRACTS)
        uri = http_uri(provider)
        account = load_account(account_alias, 1)
        config = KeeperConfig(discount_bps=discount_bps, latency=latency, failure_rate=failure_rate, interval=interval)
        bot = bot_for_deployment(deployment, uri, account, config, log=lambda line: click.echo(f"keeper: {line}", err=True))
        click.echo(f"keeper {account.address} on {uri}, markets {sorted(bot.markets)}; Ctrl-C stops")
        try:
            bot.run(rounds)
        except KeyboardInterrupt:
            pass
        click.echo(f"actions: {bot.actions}")
        if bot.failed:
            click.echo("reverted: " + ", ".join(f"{what} x{n}" for what, n in sorted(bot.failed.items())))


@click.command("adl-queue", cls=BackstopCommand)
@network_option
@click.option("--deployment", type=click.Path(path_type=Path), required=True, help=DEPLOYMENT_HELP)
@click.option("--market", required=True, metavar="NAME", help="Market name as deployed, e.g. OM-USD.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1), help="Ranks shown per side.")
def adl_queue(network: str | None, deployment: Path, market: str, limit: int) -> None:
    """Print the ADL queue of a market of a deployment.

    Every candidate position's rank and its 1-5 lights on each side, computed with the reference ranking that
    AdlQueue checks on-chain (backstop.keeper.queue), as Markdown tables.
    """
    from backstop.chain.deploy import attach  # noqa: PLC0415
    from backstop.chain.fastchain import FastChain  # noqa: PLC0415
    from backstop.keeper.queue import read_queue, render_queue  # noqa: PLC0415
    from backstop.units import market_id  # noqa: PLC0415

    d = read_deployment(deployment)
    names = [m["name"] for m in d.parameters["markets"]]
    if market not in names:
        raise click.BadParameter(f"unknown market {market!r}; the deployment lists {', '.join(names)}", param_hint="--market")
    with connected(network) as provider:
        check_deployed(provider, d, deployment, QUEUE_CONTRACTS)
        chain = FastChain.connect(http_uri(provider))
        house, oracle = attach(chain.w3, d, "Clearinghouse"), attach(chain.w3, d, "PriceOracle")
        mark, entries = read_queue(chain, house, oracle, market_id(market))
        click.echo(render_queue(market, mark, entries, limit))
