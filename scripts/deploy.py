"""`ape run deploy [--network ...] [--usdc 0x...] [--market NAME:PRICE ...] [--out FILE]`

Deploys Backstop's core ledger (oracle with one mock source per venue, insurance fund, clearinghouse),
lists the markets, seeds the fund and prints the addresses. With no --network, Ape starts a local Anvil
(ape-foundry) and stops it when the script ends.
"""

from pathlib import Path

import click
from ape import accounts
from ape.cli import ConnectedProviderCommand, network_option

from backstop.chain.deploy import MarketSpec, deploy_system


def _market(value: str) -> MarketSpec:
    name, _, price = value.partition(":")
    try:
        if float(price) <= 0:
            raise ValueError
    except ValueError:
        raise click.BadParameter(f"expected NAME:PRICE with a positive price, e.g. OM-USD:6, got {value!r}") from None
    return MarketSpec(name, price, fund_seed=100_000)


@click.command(cls=ConnectedProviderCommand)
@network_option()
@click.option("--usdc", "usdc_address", default=None, help="Address of an existing 6-decimal USDC (default: deploy the test-only mock).")
@click.option("--account", "account_alias", default=None, help="Ape account alias to deploy with (default: the first test account).")
@click.option("--market", "markets", multiple=True, default=("OM-USD:6", "ETH-USD:2000"), show_default=True, help="NAME:PRICE, repeatable.")
@click.option("--global-seed", default=1_000_000, show_default=True, help="USDC seeded into the global pool (mock USDC only).")
@click.option("--out", "out", type=click.Path(path_type=Path), default=None, help="Deployment file (default: deployments/local-<chain id>.json).")
def cli(ecosystem, network, provider, usdc_address, account_alias, markets, global_seed, out):
    deployer = accounts.load(account_alias) if account_alias else accounts.test_accounts[0]
    specs = [_market(m) for m in markets]
    if usdc_address:  # a real USDC: seeding would need the deployer's own funds
        for s in specs:
            s.fund_seed = 0
        global_seed = 0
    system = deploy_system(deployer, specs, global_seed=global_seed, usdc_address=usdc_address)
    result = system.deployment
    path = result.write(out or Path("deployments") / f"local-{result.chain_id}.json")
    click.echo(f"network:  {result.network} (chain id {result.chain_id})")
    uri = getattr(provider, "http_uri", None)
    if uri:
        click.echo(f"rpc:      {uri}")
    for name, address in result.contracts.items():
        click.echo(f"{name + ':':<28} {address}")
    click.echo(f"written:  {path}")
