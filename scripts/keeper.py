"""`ape run keeper --deployment deployments/local-31337.json [--network ...] [--account ALIAS] ...`

Runs a keeper against a deployment: watches positions, liquidates those below maintenance margin, restarts
stale auctions and takes attractive ones. Latency and failure rate model slow or unreliable keepers.
"""

from pathlib import Path

import click
from ape import accounts
from ape.cli import ConnectedProviderCommand, network_option

from backstop.keeper.bot import KeeperConfig, bot_for_deployment


@click.command(cls=ConnectedProviderCommand)
@network_option()
@click.option("--deployment", type=click.Path(exists=True, path_type=Path), required=True, help="Deployment file written by `ape run deploy`.")
@click.option("--account", "account_alias", default=None, help="Ape account alias (default: test account 1).")
@click.option("--discount-bps", default=100, show_default=True, help="Take only at least this much better than the oracle.")
@click.option("--latency", default=0.0, show_default=True, help="Seconds to wait before acting on something new.")
@click.option("--failure-rate", default=0.0, show_default=True, help="Chance of skipping a round.")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between rounds.")
@click.option("--rounds", default=None, type=int, help="Stop after this many rounds (default: run until Ctrl-C).")
def cli(provider, deployment, account_alias, discount_bps, latency, failure_rate, interval, rounds):
    account = accounts.load(account_alias) if account_alias else accounts.test_accounts[1]
    config = KeeperConfig(discount_bps=discount_bps, latency=latency, failure_rate=failure_rate, interval=interval)
    bot = bot_for_deployment(deployment, provider.http_uri, account, config)
    click.echo(f"keeper {account.address} on {provider.http_uri}, markets {sorted(bot.markets)}; Ctrl-C stops")
    try:
        bot.run(rounds)
    except KeyboardInterrupt:
        pass
    click.echo(f"actions: {bot.actions}")
